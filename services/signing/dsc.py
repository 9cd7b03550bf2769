"""Verification of exporters' DSCs and of their detached CMS signatures (architecture §4).

Plain Python, no nameko: the service entrypoints, the registration flow and tests call these.

``verify_dsc`` checks a certificate in a fixed order and stops at the first failure, raising
``RuleViolation`` with one of these codes and a message an exporter can act on:

    DSC_MALFORMED            not a PEM/DER X.509 certificate
    DSC_NOT_YET_VALID        its validity starts after the moment checked
    DSC_EXPIRED              its validity ended before the moment checked
    DSC_UNTRUSTED            no path to a trust anchor (services.signing.trust)
    DSC_KEY_USAGE            keyUsage allows neither digitalSignature nor nonRepudiation
    DSC_IEC_MISMATCH         no subject attribute equals the IEC (optionally "IEC", "IEC:"...)
    DSC_SIGNER_NOT_DIRECTOR  the subject common name is not one of the listed directors

``verify_signature`` checks a detached CMS SignedData over some bytes (DSC_SIGNATURE_INVALID on any
failure, malformed input included), then runs ``verify_dsc`` on the signer's certificate.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import re
import unicodedata
from collections.abc import Callable
from datetime import datetime, timezone

# tsp adds CMS attribute names (signingCertificateV2, which pyHanko's signers write) to a map that
# asn1crypto inverts once, on first use: imported here, before any parsing, so both agree.
from asn1crypto import (
    cms,
    core,
    pem,
    tsp,  # noqa: F401
)
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import PathBuildingError, PathError, ValidationError

from services.chassis.coroutines import run_to_completion
from services.chassis.errors import BadRequest, RuleViolation
from services.chassis.timestamps import iso_utc
from services.signing import trust

log = logging.getLogger(__name__)

DSC_MALFORMED = "DSC_MALFORMED"
DSC_NOT_YET_VALID = "DSC_NOT_YET_VALID"
DSC_EXPIRED = "DSC_EXPIRED"
DSC_UNTRUSTED = "DSC_UNTRUSTED"
DSC_KEY_USAGE = "DSC_KEY_USAGE"
DSC_IEC_MISMATCH = "DSC_IEC_MISMATCH"
DSC_SIGNER_NOT_DIRECTOR = "DSC_SIGNER_NOT_DIRECTOR"
DSC_SIGNATURE_INVALID = "DSC_SIGNATURE_INVALID"

HONORIFICS = ("mr", "mrs", "ms", "dr", "shri", "smt", "kumari")

_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_WEAK_HASHES = {"md2", "md5", "sha1"}
_IEC_RE = re.compile(r"[0-9A-Za-z]{10}")
_HONORIFIC_RE = re.compile(r"^(?:%s)(?:\.\s*|\s+)" % "|".join(HONORIFICS))


# --------------------------------------------------------------------------------------------------
# helpers


def _utc(moment: datetime | None) -> datetime:
    if moment is None:
        return datetime.now(timezone.utc)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def normalise_name(name: str) -> str:
    """A person's name for comparison: Unicode-normalised, casefolded, leading honorifics
    (Mr, Mrs, Ms, Dr, Shri, Smt, Kumari, with or without a dot) dropped, dots dropped, whitespace
    collapsed. Only leading honorifics go: "Kumari" is also a common surname."""
    text = " ".join(unicodedata.normalize("NFKC", name or "").casefold().split())
    while True:
        stripped = _HONORIFIC_RE.sub("", text, count=1)
        if stripped == text or not stripped.strip(" ."):
            break
        text = stripped
    return " ".join(text.replace(".", "").split())


def _iec_matches(value: str, iec: str) -> bool:
    value = unicodedata.normalize("NFKC", value).strip().casefold()
    return value == iec or re.fullmatch(r"iec\s*[:\-]?\s*" + re.escape(iec), value) is not None


def _load_certificates(value, what: str) -> list[tuple[x509.Certificate, asn1_x509.Certificate]]:
    """Certificates from PEM (str or bytes, one or more blocks), DER bytes, bare base64 DER, or
    already parsed ``cryptography``/``asn1crypto`` objects. Raises ValueError."""
    if isinstance(value, asn1_x509.Certificate):
        ders = [value.dump()]
    elif isinstance(value, x509.Certificate):
        ders = [value.public_bytes(Encoding.DER)]
    else:
        if isinstance(value, str):
            text = value.strip()
            if "-----BEGIN" in text:
                data = text.encode("ascii", "strict")
            else:
                try:
                    data = base64.b64decode("".join(text.split()), validate=True)
                except (binascii.Error, ValueError) as exc:
                    raise ValueError(f"{what} is neither PEM nor base64 DER") from exc
        elif isinstance(value, (bytes, bytearray, memoryview)):
            data = bytes(value)
        else:
            raise ValueError(f"{what} must be PEM text or DER bytes")
        if pem.detect(data):
            ders = [
                der
                for kind, _h, der in pem.unarmor(data, multiple=True)
                if kind in ("CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE")
            ]
        else:
            ders = [data]
    if not ders:
        raise ValueError(f"no certificate in {what}")
    out = []
    for der in ders:
        crypto_cert = x509.load_der_x509_certificate(der)
        asn1_cert = asn1_x509.Certificate.load(der, strict=True)
        asn1_cert.native  # parse everything now  # noqa: B018
        out.append((crypto_cert, asn1_cert))
    return out


def _names(cert: x509.Certificate, oid) -> list[str]:
    return [a.value for a in cert.subject.get_attributes_for_oid(oid) if isinstance(a.value, str)]


# --------------------------------------------------------------------------------------------------
# the DSC


def verify_dsc(
    certificate_pem,
    expected_iec: str,
    directors: list[str] | None,
    *,
    intermediates=(),
    at: datetime | None = None,
) -> dict:
    """Check an exporter's DSC (see the module docstring for the checks and their order).

    ``certificate_pem``: PEM text (further certificates in it are used as intermediates), DER bytes
    or base64 DER. ``intermediates``: certificates that may complete the path (PEM/DER/parsed).
    ``at``: the moment of validity (default now; naive means UTC). ``directors``: names of the
    IEC's directors/partners/proprietors; ``None`` skips that check.
    """
    if not isinstance(expected_iec, str) or not _IEC_RE.fullmatch(expected_iec.strip()):
        raise BadRequest(
            "The IEC must be 10 letters and digits.", fields={"expected_iec": "must be 10 letters and digits"}
        )
    iec = expected_iec.strip().casefold()
    if directors is not None and (
        not isinstance(directors, (list, tuple)) or not all(isinstance(d, str) for d in directors)
    ):
        raise BadRequest(
            "directors must be a list of names.", fields={"directors": "must be a list of names"}
        )
    moment = _utc(at)

    # 1. readable
    try:
        certs = _load_certificates(certificate_pem, "the certificate")
    except Exception as exc:
        log.info("DSC not readable: %s", exc)
        raise RuleViolation(
            "The DSC could not be read: it is not a PEM or DER X.509 certificate.", code=DSC_MALFORMED
        ) from None
    cert, asn1_cert = certs[0]
    extra = [a for _c, a in certs[1:]]
    for item in intermediates or ():
        try:
            extra += [a for _c, a in _load_certificates(item, "an intermediate certificate")]
        except Exception:
            raise RuleViolation(
                "An intermediate certificate sent with the DSC could not be read.", code=DSC_MALFORMED
            ) from None

    # 2. validity period
    not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
    if moment < not_before:
        raise RuleViolation(
            f"The DSC is not valid yet: its validity starts on {iso_utc(not_before)}.", code=DSC_NOT_YET_VALID
        )
    if moment > not_after:
        raise RuleViolation(
            f"The DSC expired on {iso_utc(not_after)}. Renew it with your certifying "
            "authority and try again.",
            code=DSC_EXPIRED,
        )

    # 3. chains to a trust anchor
    issuer = cert.issuer.rfc4514_string()
    untrusted = f"The DSC was not issued by a trusted certifying authority (issuer: {issuer})."
    anchors = trust.trust_anchors()
    if not anchors:  # never fall back to the operating system's TLS roots
        log.error("no trust anchors configured (dev CA missing and OPENCOO_TRUST_ANCHORS unset)")
        raise RuleViolation(untrusted, code=DSC_UNTRUSTED)
    context = ValidationContext(
        trust_roots=list(anchors), moment=moment, allow_fetching=False, revocation_mode="soft-fail"
    )
    validator = CertificateValidator(asn1_cert, intermediate_certs=extra, validation_context=context)
    try:
        run_to_completion(validator.async_validate_path())
    except (PathError, PathBuildingError, ValidationError) as exc:
        log.info("DSC path validation failed: %s", exc)
        raise RuleViolation(untrusted, code=DSC_UNTRUSTED) from None

    # 4. key usage (no keyUsage extension means no restriction, RFC 5280 §4.2.1.3)
    try:
        key_usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        key_usage = None
    if key_usage is not None and not (key_usage.digital_signature or key_usage.content_commitment):
        raise RuleViolation(
            "The DSC may not be used for signing: its key usage allows neither "
            "digital signature nor non-repudiation.",
            code=DSC_KEY_USAGE,
        )

    # 5. the IEC in the subject
    values = [a.value for a in cert.subject if isinstance(a.value, str)]
    if not any(_iec_matches(v, iec) for v in values):
        raise RuleViolation(
            f"The DSC does not carry the IEC {expected_iec.strip().upper()} in its "
            "subject. Use the DSC registered for this IEC.",
            code=DSC_IEC_MISMATCH,
        )

    # 6. the holder is a director
    common_names = _names(cert, x509.NameOID.COMMON_NAME)
    common_name = common_names[0] if common_names else None
    if directors is not None:
        wanted = {normalise_name(d) for d in directors} - {""}
        matching = [cn for cn in common_names if normalise_name(cn) in wanted]
        if not matching:
            raise RuleViolation(
                f"The DSC holder ({common_name or 'no common name'}) is not a listed director, "
                f"partner or proprietor of IEC {expected_iec.strip().upper()}.",
                code=DSC_SIGNER_NOT_DIRECTOR,
            )
        common_name = matching[0]

    return {
        "subject": cert.subject.rfc4514_string(),
        "common_name": common_name,
        "issuer": issuer,
        "serial_number": format(cert.serial_number, "x"),
        "not_before": iso_utc(not_before),
        "not_after": iso_utc(not_after),
        "fingerprint_sha256": cert.fingerprint(hashes.SHA256()).hex(),
        "certificate_pem": cert.public_bytes(Encoding.PEM).decode("ascii"),
    }


# --------------------------------------------------------------------------------------------------
# the detached CMS signature


class _Invalid(Exception):
    """A reason the signature is refused, worded for the exporter."""


def _attribute(signed_attrs, name: str):
    """The single value of signed attribute ``name``, None when absent; _Invalid when repeated."""
    found = [a for a in signed_attrs if a["type"].native == name]
    if not found:
        return None
    if len(found) > 1 or len(found[0]["values"]) != 1:
        raise _Invalid(f"the {name} attribute must occur once with one value")
    return found[0]["values"][0]


def _find_signer(sid, certificates: list[asn1_x509.Certificate]) -> asn1_x509.Certificate:
    if sid.name == "issuer_and_serial_number":
        issuer = sid.chosen["issuer"]
        serial = sid.chosen["serial_number"].native
        for cert in certificates:
            if cert.serial_number == serial and cert.issuer == issuer:
                return cert
    elif sid.name == "subject_key_identifier":
        ski = sid.chosen.native
        for cert in certificates:
            if cert.key_identifier == ski:
                return cert
    raise _Invalid("the signer's certificate is not included in the signature")


def _verify_raw(public_key, sig_algo, digest_name: str, signature: bytes, message: bytes) -> None:
    """Verify ``signature`` over ``message`` with ``cryptography``; _Invalid on failure."""
    algo = sig_algo.signature_algo
    try:
        declared_hash = sig_algo.hash_algo
    except ValueError:  # rsaEncryption names no hash: the digest algorithm rules
        declared_hash = None
    if declared_hash is not None and declared_hash != digest_name:
        raise _Invalid(
            f"the signature algorithm's hash ({declared_hash}) differs from the digest "
            f"algorithm ({digest_name})"
        )
    chosen_hash = _HASHES[digest_name]()
    try:
        if algo == "rsassa_pkcs1v15":
            if not isinstance(public_key, rsa.RSAPublicKey):
                raise _Invalid("an RSA signature with a non-RSA certificate")
            public_key.verify(signature, message, padding.PKCS1v15(), chosen_hash)
        elif algo == "rsassa_pss":
            if not isinstance(public_key, rsa.RSAPublicKey):
                raise _Invalid("an RSA-PSS signature with a non-RSA certificate")
            params = sig_algo["parameters"]
            mgf = params["mask_gen_algorithm"]
            if mgf["algorithm"].native != "mgf1":
                raise _Invalid("unsupported RSA-PSS mask generation function")
            mgf_hash = mgf["parameters"]["algorithm"].native
            if mgf_hash not in _HASHES:
                raise _Invalid(f"unsupported RSA-PSS MGF1 hash {mgf_hash}")
            public_key.verify(
                signature,
                message,
                padding.PSS(
                    mgf=padding.MGF1(_HASHES[mgf_hash]()), salt_length=int(params["salt_length"].native)
                ),
                chosen_hash,
            )
        elif algo == "ecdsa":
            if not isinstance(public_key, ec.EllipticCurvePublicKey):
                raise _Invalid("an ECDSA signature with a non-EC certificate")
            public_key.verify(signature, message, ec.ECDSA(chosen_hash))
        else:
            raise _Invalid(f"unsupported signature algorithm {algo}")
    except InvalidSignature:
        raise _Invalid("the signature does not match the signed data") from None


def _check_cms(data: bytes, cms_der: bytes):
    """Verify the CMS cryptographically. Returns (signer cert, other certs, signing time or None,
    digest algorithm name). Raises _Invalid, or anything else for unreadable input."""
    if not isinstance(cms_der, (bytes, bytearray, memoryview)):
        raise _Invalid("the signature must be bytes")
    cms_der = bytes(cms_der)
    if pem.detect(cms_der):
        _kind, _headers, cms_der = pem.unarmor(cms_der)
    info = cms.ContentInfo.load(cms_der, strict=True)
    if info["content_type"].native != "signed_data":
        raise _Invalid("it is not a CMS SignedData")
    signed_data = info["content"]
    encap = signed_data["encap_content_info"]
    content = encap["content"]
    if content is not None and not isinstance(content, core.Void) and content.native is not None:
        embedded = content.native if isinstance(content.native, bytes) else content.contents
        if embedded != data:
            raise _Invalid("it embeds content other than the signed data")

    signer_infos = signed_data["signer_infos"]
    if len(signer_infos) != 1:
        raise _Invalid(f"it must have exactly one signer, it has {len(signer_infos)}")
    signer_info = signer_infos[0]

    certificates = (
        [c.chosen for c in signed_data["certificates"] if c.name == "certificate"]
        if signed_data["certificates"].native is not None
        else []
    )
    signer_cert = _find_signer(signer_info["sid"], certificates)
    others = [c for c in certificates if c is not signer_cert]

    digest_name = signer_info["digest_algorithm"]["algorithm"].native
    if digest_name in _WEAK_HASHES:
        raise _Invalid(f"weak digest algorithm {digest_name}; use SHA-256 or stronger")
    if digest_name not in _HASHES:
        raise _Invalid(f"unsupported digest algorithm {digest_name}")
    digest = hashlib.new(digest_name, data).digest()

    signed_attrs = signer_info["signed_attrs"]
    signing_time = None
    if isinstance(signed_attrs, core.Void) or len(signed_attrs) == 0:
        message = data
    else:
        message_digest = _attribute(signed_attrs, "message_digest")
        if message_digest is None:
            raise _Invalid("the messageDigest attribute is missing")
        if not hmac.compare_digest(message_digest.native, digest):
            raise _Invalid("the signed data has been changed (digest mismatch)")
        content_type = _attribute(signed_attrs, "content_type")
        if content_type is not None and content_type.native != encap["content_type"].native:
            raise _Invalid("the contentType attribute does not match the content")
        when = _attribute(signed_attrs, "signing_time")
        if when is not None:
            signing_time = _utc(when.native)
        raw = signed_attrs.dump()
        if raw[:1] != b"\xa0":
            raise _Invalid("the signed attributes are not encoded as [0] IMPLICIT")
        message = b"\x31" + raw[1:]  # signed over as SET OF (RFC 5652 §5.4)

    public_key = x509.load_der_x509_certificate(signer_cert.dump()).public_key()
    _verify_raw(
        public_key, signer_info["signature_algorithm"], digest_name, signer_info["signature"].native, message
    )
    return signer_cert, others, signing_time, digest_name


def verify_signature(data: bytes, cms_der: bytes, expected_iec: str, directors: list[str] | None) -> dict:
    """Verify a detached CMS SignedData (DER, or PEM) over ``data`` made with an exporter's DSC.

    The signature is checked first (DSC_SIGNATURE_INVALID on any failure), then the signer's
    certificate with ``verify_dsc`` now, with the CMS's other certificates as intermediates.
    Now, not at the signingTime attribute: the signer writes that value, so the holder of an
    expired DSC's key could backdate it; and every signature the platform asks for covers fresh
    data (a nonce, a payload, a document being uploaded), so it was made moments ago. Returns verify_dsc's
    dict plus ``signed_at`` (the signingTime attribute, ISO 8601 Z, or None) and
    ``digest_algorithm``.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise BadRequest("The signed data must be bytes.", fields={"data": "must be bytes"})
    data = bytes(data)
    try:
        signer_cert, others, signing_time, digest_name = _check_cms(data, cms_der)
    except _Invalid as exc:
        raise RuleViolation(f"The signature is invalid: {exc}.", code=DSC_SIGNATURE_INVALID) from None
    except Exception as exc:  # unreadable bytes are the sender's fault, not a 500
        log.info("CMS signature not readable: %r", exc)
        raise RuleViolation(
            "The signature is invalid: it is not a readable CMS (PKCS#7) detached signature.",
            code=DSC_SIGNATURE_INVALID,
        ) from None

    result = verify_dsc(
        signer_cert.dump(), expected_iec, directors, intermediates=others, at=datetime.now(timezone.utc)
    )
    result["signed_at"] = iso_utc(signing_time) if signing_time is not None else None
    result["digest_algorithm"] = digest_name
    return result


__all__ = [
    "verify_dsc",
    "verify_signature",
    "normalise_name",
    "HONORIFICS",
    "DSC_MALFORMED",
    "DSC_NOT_YET_VALID",
    "DSC_EXPIRED",
    "DSC_UNTRUSTED",
    "DSC_KEY_USAGE",
    "DSC_IEC_MISMATCH",
    "DSC_SIGNER_NOT_DIRECTOR",
    "DSC_SIGNATURE_INVALID",
]
