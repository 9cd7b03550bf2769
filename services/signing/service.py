"""Signing service entrypoints. Thin: each RPC hands over to the service-layer modules.

Verification side: exporters' DSCs and their detached CMS signatures (services.signing.dsc, with
trust anchors from services.signing.trust). Certificates: PAdES signing with the agencies' keys on
the PKCS#11 token (services.signing.pades, through the PadesSigning dependency, which runs it off
the hub). What a signature must chain to and which keys are the agencies' go to the
verification service (``trust_material``), which validates certificates from outside.
Binary values travel as base64 strings, since RPC payloads are JSON."""

import base64
import binascii

from services.chassis import base
from services.chassis.entrypoints import rpc
from services.chassis.errors import BadRequest, RuleViolation
from services.signing import dsc, trust
from services.signing.dependencies import PadesSigning


def _b64decode(value, field: str) -> bytes:
    if not isinstance(value, str):
        raise BadRequest(f"{field} must be a base64 string.", fields={field: "must be a base64 string"})
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"{field} is not valid base64.", fields={field: "is not valid base64"}) from None


def _text(value, field: str, limit: int, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if isinstance(value, str) and len(value) <= limit and (value.strip() or not required):
        return value
    rule = f"must be {'non-empty ' if required else ''}text of at most {limit} characters"
    raise BadRequest(f"{field} {rule}.", fields={field: rule})


class SigningService(base.ServiceBase):
    name = "signing"

    pades = PadesSigning()

    @rpc
    def verify_dsc(self, certificate_pem, expected_iec, directors=None):
        """Check an exporter's DSC (PEM) for the IEC and, when given, its directors' names."""
        if not isinstance(certificate_pem, str):
            raise BadRequest(
                "certificate_pem must be PEM text.", fields={"certificate_pem": "must be PEM text"}
            )
        return dsc.verify_dsc(certificate_pem, expected_iec, directors)

    @rpc
    def verify_signature(self, data_b64, signature_b64, expected_iec, directors=None):
        """Check a detached CMS signature (base64 DER) over data (base64) and its signer's DSC."""
        data = _b64decode(data_b64, "data_b64")
        try:
            signature = _b64decode(signature_b64, "signature_b64")
        except BadRequest as exc:
            raise RuleViolation(
                "The signature is invalid: it is not valid base64.",
                code=dsc.DSC_SIGNATURE_INVALID,
                fields=exc.fields,
            ) from None
        return dsc.verify_signature(data, signature, expected_iec, directors)

    @rpc
    def sign_certificate(self, agency_code, pdf_b64, reason=None, location=None):
        """Sign a certificate PDF (base64) PAdES B-B with the issuing agency's key on the token;
        returns the signed PDF (base64). NotFound AGENCY_KEY_UNKNOWN for an agency without key."""
        agency_code = _text(agency_code, "agency_code", 32)
        reason = _text(reason, "reason", 200, required=False)
        location = _text(location, "location", 200, required=False)
        pdf = _b64decode(pdf_b64, "pdf_b64")
        signed = self.pades.sign(pdf, agency_code, reason=reason, location=location)
        return base64.b64encode(signed).decode("ascii")

    @rpc
    def trust_material(self):
        """Internal, for the verification service: the trust anchors (DER, base64) a signature
        must chain to, and which certificates are the agencies' (SHA-256 in hex -> agency)."""
        return {
            "anchors": [base64.b64encode(anchor.dump()).decode() for anchor in trust.trust_anchors()],
            "agency_certificates": {
                digest.hex(): code for digest, code in self.pades.agency_certificates().items()
            },
        }
