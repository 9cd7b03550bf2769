"""Verification service entrypoints: anyone's certificate PDF, checked for its signature, the
registry and the certificate's status.

A service of its own because the file comes from anyone on the internet: its own process, queue
and workers, so that a flood of hostile files never holds a worker that signing or issuance
needs. The file is first held against the structural caps of ``chassis.untrusted_pdf`` here,
then parsed and validated only in this process's sandbox (``chassis.sandbox``: capped memory, a
deadline, a low priority). What to trust comes from the signing service (``trust_material``,
kept a minute); the registry's entry from the certificate service. Verification by number is the
certificate service's: a database read, no file.
"""

import base64
import binascii
import hashlib
import logging
import time

from nameko.extensions import DependencyProvider

from services.chassis import base, untrusted_pdf
from services.chassis.entrypoints import rpc
from services.chassis.errors import ApiError, BadRequest, RuleViolation, ServiceUnavailable
from services.chassis.rpc import TimedRpcProxy
from services.chassis.sandbox import BoundsExceeded, Sandbox, SandboxBusy
from services.verification import pades_validation, verdict

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 10 * 1024 * 1024  # a certificate of 100 products is well under this
# Our certificate of 100 products, signed, has a few dozen objects (most in one object stream):
# a file of thousands cannot be one, and costs the sandbox seconds that others wait behind.
MAX_CERTIFICATE_OBJECTS = 2_000
TRUST_TTL = 60.0  # seconds: a new agency key verifies within a minute
_PRELOAD = ("services.verification.pades_validation", "pyhanko.sign.validation", "pyhanko_certvalidator")
# A certificate of ours is a few tens of KB and validates in milliseconds; a file of megabytes
# may take the sandbox seconds. Larger files queue in a sandbox of their own, so a flood of them
# never holds up the certificate-sized files behind it.
CERTIFICATE_SIZED = 256 * 1024
SANDBOX = Sandbox("verification", preload=_PRELOAD)
LARGE_FILES_SANDBOX = Sandbox("verification-large-files", preload=_PRELOAD)


class Kept(DependencyProvider):
    """A value the container's workers share (the trust material), with when it was fetched."""

    def setup(self):
        self.value, self.at = None, 0.0

    def get_dependency(self, worker_ctx):
        return self


class VerificationService(base.StatelessServiceBase):
    name = "verification"

    signing = TimedRpcProxy("signing")
    certificate = TimedRpcProxy("certificate")
    trust = Kept()

    def _trust_material(self) -> tuple:
        """The anchors (DER) and the agencies' certificates, asked of signing once a minute; the
        last answer serves while signing is away."""
        if self.trust.value is None or time.monotonic() - self.trust.at > TRUST_TTL:
            try:
                answer = self.signing.trust_material()
            except ApiError:
                if self.trust.value is None:
                    raise
                log.warning("signing did not give its trust material; the last one serves")
            else:
                self.trust.value = (
                    [base64.b64decode(der) for der in answer["anchors"]],
                    answer["agency_certificates"],
                )
                self.trust.at = time.monotonic()
        return self.trust.value

    @rpc
    def verify_file(self, pdf_b64):
        """The public check of a certificate PDF (base64): ``verdict.judge``'s answer. 422
        PDF_TOO_COMPLEX for a file past the caps or the sandbox's bounds; 503 VERIFICATION_BUSY
        while the sandbox has too many files waiting."""
        pdf = _decode(pdf_b64)
        sha256 = hashlib.sha256(pdf).hexdigest()
        try:
            untrusted_pdf.precheck(pdf, max_objects=MAX_CERTIFICATE_OBJECTS)
            anchors, agency_certificates = self._trust_material()
            sandbox = SANDBOX if len(pdf) <= CERTIFICATE_SIZED else LARGE_FILES_SANDBOX
            validation = sandbox.run(pades_validation.validate, pdf, anchors, agency_certificates)
        except untrusted_pdf.NotAPdf:
            validation = pades_validation.report(problem="not a PDF")
        except (untrusted_pdf.PdfTooComplex, BoundsExceeded) as exc:
            log.info("file refused unread: %s", exc)
            raise RuleViolation(
                f"This file is more than any certificate needs ({exc}); it was not checked.",
                code="PDF_TOO_COMPLEX",
                fields={"file": [str(exc)]},
            ) from None
        except SandboxBusy as exc:
            raise ServiceUnavailable(
                "Too many files are being verified just now; send it again in a moment.",
                code="VERIFICATION_BUSY",
                extra={"retry_after": exc.retry_after},
            ) from None
        if validation["signed"] and not validation["signature_valid"]:
            log.info("signed PDF not valid: %s", validation["problem"])
        return verdict.judge(sha256, validation, self.certificate.registry_entry(sha256))


def _decode(pdf_b64) -> bytes:
    if not isinstance(pdf_b64, str) or len(pdf_b64) > (MAX_FILE_BYTES // 3 + 1) * 4:
        raise BadRequest(
            "pdf_b64 must be base64 of at most 10 MiB", fields={"pdf_b64": ["base64 of at most 10 MiB"]}
        )
    try:
        return base64.b64decode(pdf_b64, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("pdf_b64 is not valid base64", fields={"pdf_b64": ["not valid base64"]}) from None
