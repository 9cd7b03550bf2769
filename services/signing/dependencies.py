"""The nameko edge of PAdES signing (services.signing.pades): one ``AgencySigner`` per service
container, which in production is one per process, so the agency token is opened once and its
key handles are kept.

Workers get a handle whose ``sign`` runs the CPU-bound work in eventlet's tpool (``offload``) so
the hub keeps serving other requests, and turns the signer's exceptions into the API errors of
services.chassis.errors. What must not run in a tpool thread stays here, in the worker's green
thread: logging (it takes eventlet's green locks), and opening the token on first use
(``AgencySigner.prepare``: a dictionary lookup afterwards).
"""

import logging

from nameko.extensions import DependencyProvider

from services.chassis.errors import BadRequest, NotFound, ServiceUnavailable
from services.chassis.offloading import offload
from services.signing import pades

log = logging.getLogger(__name__)


class PadesSigning(DependencyProvider):
    """Provides a :class:`PadesHandle` over the container's AgencySigner."""

    def __init__(self):
        self.signer = None

    def setup(self):
        self.signer = pades.AgencySigner()  # opens nothing until the first signature

    def stop(self):
        if self.signer is not None:
            self.signer.close()

    def kill(self):
        self.stop()

    def get_dependency(self, worker_ctx):
        return PadesHandle(self.signer)


class PadesHandle:
    def __init__(self, signer: pades.AgencySigner):
        self.signer = signer

    def sign(self, pdf: bytes, agency_code: str, *, reason: str, location: str) -> bytes:
        """The PDF signed PAdES B-B by the agency's key. NotFound AGENCY_KEY_UNKNOWN,
        BadRequest (not a PDF), ServiceUnavailable SIGNING_TOKEN_UNAVAILABLE."""
        signer = self.signer
        try:
            opened = signer.sessions_opened
            signer.prepare(agency_code)
            if signer.sessions_opened != opened:
                log.info("agency token %r opened for signing", signer.token_label)
            opened = signer.sessions_opened
            signed = offload(signer.sign, pdf, agency_code, reason=reason, location=location)
            if signer.sessions_opened != opened:
                log.warning("agency token %r was reset; signed with a fresh session", signer.token_label)
            return signed
        except pades.AgencyKeyUnknown as exc:
            log.info("signing refused: %s", exc)
            raise NotFound(
                f"There is no signing key for agency {str(agency_code)[:40]!r}.",
                code=pades.AGENCY_KEY_UNKNOWN,
            ) from None
        except pades.NotAPdf as exc:
            log.info("signing refused: %s", exc)
            raise BadRequest(
                "The document is not a PDF that can be signed.",
                fields={"pdf_b64": "is not a PDF that can be signed"},
            ) from None
        except pades.SigningUnavailable as exc:
            log.error("agency signing unavailable: %s", exc)
            raise ServiceUnavailable(
                "The agency signing token is not available.", code=pades.SIGNING_TOKEN_UNAVAILABLE
            ) from None

    def agency_certificates(self) -> dict[str, str]:
        """SHA-256 -> agency code of every certificate the platform holds for an agency."""
        return self.signer.agency_certificates()
