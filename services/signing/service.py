"""Signing service entrypoints. Thin: each RPC hands over to the service-layer modules.

Verification side: exporters' DSCs and their detached CMS signatures (services.signing.dsc, with
trust anchors from services.signing.trust). PAdES signing on PKCS#11 tokens arrives with its issue.
Binary values travel as base64 strings, since RPC payloads are JSON."""
import base64
import binascii

from services.chassis import base
from services.chassis.entrypoints import rpc
from services.chassis.errors import BadRequest, RuleViolation
from services.signing import dsc


def _b64decode(value, field: str) -> bytes:
    if not isinstance(value, str):
        raise BadRequest(f"{field} must be a base64 string.",
                         fields={field: "must be a base64 string"})
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"{field} is not valid base64.", fields={field: "is not valid base64"}) \
            from None


class SigningService(base.ServiceBase):
    name = "signing"

    @rpc
    def verify_dsc(self, certificate_pem, expected_iec, directors=None):
        """Check an exporter's DSC (PEM) for the IEC and, when given, its directors' names."""
        if not isinstance(certificate_pem, str):
            raise BadRequest("certificate_pem must be PEM text.",
                             fields={"certificate_pem": "must be PEM text"})
        return dsc.verify_dsc(certificate_pem, expected_iec, directors)

    @rpc
    def verify_signature(self, data_b64, signature_b64, expected_iec, directors=None):
        """Check a detached CMS signature (base64 DER) over data (base64) and its signer's DSC."""
        data = _b64decode(data_b64, "data_b64")
        try:
            signature = _b64decode(signature_b64, "signature_b64")
        except BadRequest as exc:
            raise RuleViolation("The signature is invalid: it is not valid base64.",
                                code=dsc.DSC_SIGNATURE_INVALID, fields=exc.fields) from None
        return dsc.verify_signature(data, signature, expected_iec, directors)
