"""What a signed certificate PDF from outside says about itself: PAdES validation with pyHanko,
run in the verification service's sandbox (``chassis.sandbox``), never in a service process.

Everything it needs comes in its arguments (the trust anchors and the agencies' certificates, as
the signing service holds them), so the child reads nothing of the platform's and fetches nothing
from the network: revocation is not checked (development certificates carry no CRL or OCSP
address; ``soft-fail`` without fetching), and the signature must cover the entire file.
"""

from __future__ import annotations

import asyncio
from typing import Mapping, Sequence

from services.chassis import untrusted_pdf
from services.chassis.timestamps import iso_utc

FIELD_NAME = "OpenCoO"  # the signature field the signing service writes


def report(**values) -> dict:
    """A report with every field, ``values`` over the defaults of an unsigned file."""
    result = {
        "signed": False,
        "signature_valid": False,
        "intact": False,
        "trusted": False,
        "covers_whole_file": False,
        "signer_subject": None,
        "signer_organization": None,
        "agency_code": None,
        "signed_at": None,
        "problem": None,
    }
    result.update(values)
    return result


def _signer_fields(cert, agency_certificates: Mapping[str, str]) -> dict:
    from cryptography import x509

    crypto = x509.load_der_x509_certificate(cert.dump())
    orgs = crypto.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)
    return {
        "signer_subject": crypto.subject.rfc4514_string(),
        "signer_organization": orgs[0].value if orgs else None,
        "agency_code": agency_certificates.get(cert.sha256.hex()),
    }


def _raise_if_too_complex(exc: Exception) -> None:
    refused = (
        exc
        if isinstance(exc, (untrusted_pdf.NotAPdf, untrusted_pdf.PdfTooComplex))
        else untrusted_pdf.refusal(exc)
    )
    if isinstance(refused, untrusted_pdf.PdfTooComplex):
        raise refused from None


def validate(pdf: bytes, anchors: Sequence[bytes], agency_certificates: Mapping[str, str]) -> dict:
    """The report on a PDF::

        {"signed", "signature_valid", "intact", "trusted", "covers_whole_file",
         "signer_subject", "signer_organization", "agency_code", "signed_at", "problem"}

    The signature looked at is the field "OpenCoO", else the first one. ``intact``: the signed
    bytes are unchanged and the signature value verifies with the embedded certificate;
    ``trusted``: that certificate chains to one of ``anchors`` (DER) and may sign documents;
    ``covers_whole_file``: nothing was added after the signature (no incremental update, no
    trailing bytes); ``signature_valid``: all three. ``signed_at``: the signing time the signer
    wrote (B-B has no trusted time). ``problem``: the first reason it is not valid, in words.
    ``agency_code``: by ``agency_certificates`` (SHA-256 of a certificate in hex -> agency): only a
    certificate the platform holds for an agency names one, never what a certificate says of
    itself, as any authority trusted for exporters' DSCs could write ``OU=agency-MPEDA``.

    Bytes that cannot be read give ``problem`` "not a PDF"; streams that inflate past the limits
    raise ``untrusted_pdf.PdfTooComplex``."""
    from asn1crypto import x509 as asn1_x509
    from pyhanko.sign.validation import SignatureCoverageLevel, async_validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    try:
        signatures = untrusted_pdf.open_reader(pdf).embedded_regular_signatures
    except Exception as exc:  # noqa: BLE001 - whatever a broken file makes the parser raise
        _raise_if_too_complex(exc)
        return report(problem="not a PDF")
    if not signatures:
        return report(problem="not signed")
    embedded = next((s for s in signatures if s.field_name == FIELD_NAME), signatures[0])

    # An empty list means "trust nothing" (None would mean the operating system's TLS roots).
    context = ValidationContext(
        trust_roots=[asn1_x509.Certificate.load(der) for der in anchors],
        allow_fetching=False,
        revocation_mode="soft-fail",
    )
    try:
        status = asyncio.run(
            async_validate_pdf_signature(embedded, signer_validation_context=context, skip_diff=True)
        )
    except Exception as exc:  # noqa: BLE001 - a malformed signature is a finding, not a crash
        _raise_if_too_complex(exc)
        values = {}
        try:
            values = _signer_fields(embedded.signer_cert, agency_certificates)
        except Exception:  # noqa: BLE001 - no readable signer either
            pass
        return report(signed=True, problem=f"the signature cannot be verified: {exc}"[:300], **values)

    intact = bool(status.intact and status.valid)
    trusted = status.trust_problem_indic is None and status.validation_path is not None
    covers = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    problem = None
    if not intact:
        problem = (
            "the document was changed after it was signed"
            if not status.intact
            else "the signature value does not verify with the signer's certificate"
        )
    elif not covers:
        problem = "content was added to the file after it was signed"
    elif not trusted:
        issuer = status.signing_cert.issuer.human_friendly
        problem = f"the signer's certificate is not from a trusted authority (issuer: {issuer})"
    return report(
        signed=True,
        signature_valid=intact and covers and trusted,
        intact=intact,
        trusted=trusted,
        covers_whole_file=covers,
        signed_at=iso_utc(status.signer_reported_dt),
        problem=problem,
        **_signer_fields(status.signing_cert, agency_certificates),
    )
