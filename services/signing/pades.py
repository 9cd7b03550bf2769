"""PAdES signatures on certificates of origin: signing with the issuing agency's key on the
PKCS#11 token. (Validating a signed PDF from outside is the verification service's, in its
sandbox.)

Plain Python, no nameko. ``services.signing.dependencies`` gives the service one ``AgencySigner``
per process and runs ``AgencySigner.sign`` through ``offload`` (eventlet's tpool), so it is called
from real OS threads, several at once.

Signing: PAdES B-B (SubFilter ETSI.CAdES.detached, SHA-256, the agency certificate and its issuers
embedded, no timestamp) in a new invisible signature field "OpenCoO". The agency's key is
``agency-<code>`` on the token of docs/architecture.md §3 (``OPENCOO_PKCS11_MODULE/TOKEN/PIN``, else the
SoftHSM2 token "opencoo-agencies" that ``cli.devpki`` makes in the data folder); its certificate is
``$OPENCOO_VAR/pki/agency-<code>.pem``, else the certificate object of that label on the token,
and its issuers come from the token, ``var/pki`` and the trust anchors. The token is opened once,
on first use; key handle, certificate, chain and the size of the signature container are looked
up once per agency and kept. A PKCS#11 session must not be used by two threads at once: every
token call (lookups, and the one C_Sign per PDF) holds the signer's lock, the rest of the work
(parsing, hashing, writing the PDF) runs in parallel. When the library was re-initialised or the
token reset underneath (stale session or handles), a fresh session is opened and the PDF signed
once more.

``AgencySigner.agency_certificates`` tells which certificates are the agencies' (those of
``var/pki`` and of the token), for the verification service to name a signature's agency.

Thread rules. Code here runs in tpool threads, where eventlet's green locks (what ``threading.Lock``
and the ``logging`` handlers' locks are after monkey patching) deadlock when contended from another
OS thread. So: our locks are real OS locks, nothing here logs, and callers call
``AgencySigner.prepare`` in their green thread first.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import re
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Callable, Optional, Sequence

import eventlet.patcher
from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.attributes import CMSAttributeProvider, SigningCertificateV2Provider
from pyhanko.sign.general import as_signing_certificate_v2, simple_cms_attribute
from pyhanko.sign.pkcs11 import select_pkcs11_signing_params
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko_certvalidator.registry import SimpleCertificateStore

from services.chassis import config
from services.chassis.coroutines import run_to_completion
from services.signing import agency_certificates as agency_pki
from services.signing import token as agency_token
from services.signing import trust
from services.signing.token import SIGNING_TOKEN_UNAVAILABLE, SigningUnavailable

FIELD_NAME = "OpenCoO"
MD_ALGORITHM = "sha256"
AGENCY_KEY_UNKNOWN = "AGENCY_KEY_UNKNOWN"

_threading = eventlet.patcher.original("threading")
_time = eventlet.patcher.original("time")
_OsLock = _threading.Lock

_AGENCY_CODE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
TOKEN_CERTIFICATES_TTL = 60.0  # seconds
_AGENCY_LABEL_RE = re.compile(r"agency-(" + _AGENCY_CODE_RE.pattern + ")")  # agency_key_label's


class AgencyKeyUnknown(LookupError):
    """No signing key, or no certificate for it, for this agency on the token."""

    code = AGENCY_KEY_UNKNOWN

    def __init__(self, agency_code: str, detail: str = ""):
        self.agency_code = agency_code
        super().__init__(f"no signing key for agency {agency_code!r}" + (f": {detail}" if detail else ""))


class NotAPdf(ValueError):
    """The bytes to sign are not a PDF that can be signed."""


def _pristine(cert) -> asn1_x509.Certificate:
    """A freshly loaded, not yet parsed, asn1crypto certificate of ``cert`` (object or DER)."""
    return asn1_x509.Certificate.load(cert if isinstance(cert, bytes) else cert.dump())


class _FixedAttribute(CMSAttributeProvider):
    """A signed attribute whose value never changes, kept encoded."""

    def __init__(self, der: bytes):
        self._der = der
        self.attribute_type = cms.CMSAttribute.load(der)["type"].native

    async def get_attribute(self, dry_run=False) -> cms.CMSAttribute:
        return cms.CMSAttribute.load(self._der)


class _TokenKeySigner(signers.Signer):
    """A pyHanko signer over a private key handle kept open on the token.

    Unlike pyHanko's PKCS11Signer it signs synchronously (PKCS11Signer hands each C_Sign to the
    event loop's executor, a thread pool per loop) and takes the token lock around C_Sign only.
    EC keys are signed with the raw mechanism over the digest (CKM_ECDSA: SoftHSM has no
    CKM_ECDSA_SHA256); RSA keys with CKM_SHA256_RSA_PKCS unless the token lacks it."""

    def __init__(
        self, key, cert: asn1_x509.Certificate, chain: Sequence, raw: bool, lock, signature_size: int
    ):
        super().__init__(
            signing_cert=_pristine(cert),
            embed_roots=True,
            cert_registry=SimpleCertificateStore.from_certs([_pristine(c) for c in (cert, *chain)]),
        )
        self.key = key
        self._raw = raw
        self._lock = lock
        self._signature_size = signature_size
        self._signing_cert_v2 = _FixedAttribute(
            simple_cms_attribute("signing_certificate_v2", as_signing_certificate_v2(_pristine(cert))).dump()
        )

    def _signed_attr_providers(self, *args, **kwargs):
        # pyHanko builds the signing-certificate-v2 attribute (hash and issuer/serial of our
        # certificate: the same every time) afresh for each signature, and asn1crypto needs some
        # 10 ms to assemble and encode it; ours is encoded once.
        for provider in super()._signed_attr_providers(*args, **kwargs):
            if isinstance(provider, SigningCertificateV2Provider):
                yield self._signing_cert_v2
            else:
                yield provider

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run=False) -> bytes:
        if dry_run:
            return bytes(self._signature_size)
        spec = select_pkcs11_signing_params(
            self.get_signature_mechanism_for_digest(digest_algorithm),
            digest_algorithm.lower(),
            use_raw_mechanism=self._raw,
            sign_kwargs={},
        )
        if spec.pre_sign_transform is not None:
            data = spec.pre_sign_transform(data)
        with self._lock:
            signature = self.key.sign(data, **spec.sign_kwargs)
        if spec.post_sign_transform is not None:
            signature = spec.post_sign_transform(signature)
        return signature


@dataclass
class _Agency:
    code: str
    certificate: asn1_x509.Certificate
    chain: list
    signer: _TokenKeySigner
    generation: int  # of the session the key handle comes from
    bytes_reserved: Optional[int] = None  # room for the CMS in /Contents, measured once

    def reserve(self) -> int:
        """Bytes to reserve for the signature container: what pyHanko would otherwise estimate
        with a throw-away dry-run CMS on every signature (half the signing time), measured once.
        The container's size does not depend on the document: same certificates, attributes of
        fixed size, no timestamp."""
        if self.bytes_reserved is None:
            dummy = run_to_completion(
                self.signer.async_sign(
                    hashlib.sha256(b"").digest(),
                    MD_ALGORITHM,
                    use_pades=True,
                    dry_run=True,
                    signed_attr_settings=PdfCMSSignedAttributes(
                        signing_time=_dt.datetime.now(_dt.timezone.utc)
                    ),
                )
            )
            size = len(dummy.dump()) * 2  # hex in the PDF
            self.bytes_reserved = size + 2 * (size // 4)  # pyHanko's own 50% margin
        return self.bytes_reserved


class AgencySigner:
    """Signs PDFs with the agencies' keys on the token. One per process; thread-safe.

    ``var``: the data folder (default OPENCOO_VAR, read on first use); ``token``: a
    ``agency_token.TokenInfo`` (default ``agency_token.agency_token_info(var)``); ``anchors``:
    returns the trust anchors, searched for the agency certificate's issuers."""

    def __init__(
        self,
        var: Optional[Path] = None,
        token: Optional[agency_token.TokenInfo] = None,
        anchors: Callable[[], Sequence[asn1_x509.Certificate]] = trust.trust_anchors,
    ):
        self._var = Path(var) if var is not None else None
        self._token_info = token
        self._anchors = anchors
        self._lock = _OsLock()  # the session, the cache, every token call
        self._session = None
        self.sessions_opened = 0  # also the generation of the current session's handles
        self._agencies: dict[str, _Agency] = {}
        # (session generation, when read, sha -> code)
        self._token_certificates: tuple[int, float, dict] = (0, 0.0, {})

    @property
    def var(self) -> Path:
        if self._var is None:
            self._var = config.var_dir()
        return self._var

    @property
    def token_label(self) -> Optional[str]:
        return self._token_info.label if self._token_info else None

    # -- the session (caller holds self._lock)

    def _open_session(self):
        import pkcs11

        if self._session is not None:
            return self._session
        info = self._token_info or agency_token.agency_token_info(self.var)
        try:
            token = agency_token.get_token(info)
            try:
                session = token.open(user_pin=info.pin)
            except pkcs11.UserAlreadyLoggedIn:  # C_Login is per application, not per session
                session = token.open()
        except (pkcs11.PKCS11Error, OSError, RuntimeError) as exc:
            raise SigningUnavailable(
                f"cannot open the agency token {info.label!r}: {type(exc).__name__} {exc}".strip()
            ) from None
        self._token_info = info
        self._session = session
        self.sessions_opened += 1
        return session

    def _drop_session(self) -> None:
        import pkcs11

        if self._session is not None:
            with contextlib.suppress(pkcs11.PKCS11Error, RuntimeError):
                self._session.close()
        self._session = None
        self._agencies.clear()

    def close(self) -> None:
        """Close the session (the next signature opens a new one)."""
        with self._lock:
            self._drop_session()

    # -- agency material

    def _load_agency(self, session, code: str) -> _Agency:
        """Key handle, certificate, chain of ``code`` (caller holds self._lock)."""
        from pkcs11 import Attribute, KeyType, ObjectClass

        label = agency_token.agency_key_label(code)
        keys = list(session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: label}))
        if len(keys) != 1:
            raise AgencyKeyUnknown(
                code, f"{'no' if not keys else 'several'} private keys {label!r} on the token"
            )
        key = keys[0]
        key_type = key[Attribute.KEY_TYPE]
        public_der = None
        if key_type == KeyType.EC:
            for pub in session.get_objects({Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.LABEL: label}):
                with contextlib.suppress(Exception):
                    public_der = agency_token.spki_der(agency_token.token_public_key(pub))
                break
        token_certs = [
            asn1_x509.Certificate.load(bytes(obj[Attribute.VALUE]))
            for obj in session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE})
        ]
        labelled = [
            asn1_x509.Certificate.load(bytes(obj[Attribute.VALUE]))
            for obj in session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.LABEL: label})
        ]

        cert_path = agency_token.agency_cert_path(self.var, code)
        candidates = []
        if cert_path.is_file():
            with contextlib.suppress(Exception):
                candidates += trust.parse_certificates(cert_path.read_bytes(), str(cert_path))[:1]
        candidates += labelled
        cert = next((c for c in candidates if public_der is None or c.public_key.dump() == public_der), None)
        if cert is None:
            raise AgencyKeyUnknown(
                code, f"no certificate for the key {label!r} (looked in {cert_path} and on the token)"
            )

        chain = agency_pki.issuer_chain(
            cert, token_certs + agency_pki.pki_folder_certificates(self.var) + list(self._anchors())
        )
        if key_type == KeyType.EC:
            raw = True
            size = 9 + 2 * ((cert.public_key.bit_size + 7) // 8 + 1)  # DER ECDSA at most
        else:
            raw = _rsa_needs_raw(session)
            size = 512
        signer = _TokenKeySigner(key, cert, chain, raw, self._lock, size)
        return _Agency(code, cert, chain, signer, self.sessions_opened)

    def _agency(self, code: str) -> _Agency:
        with self._lock:
            agency = self._agencies.get(code)
            if agency is None:
                agency = self._load_agency(self._open_session(), code)
                self._agencies[code] = agency
            return agency

    def _with_retry(self, action):
        """``action()``, run once more after a PKCS#11 error (stale session or handles): the
        session the failed handles came from (``_TokenFailed.generation``; the current one for a
        failed lookup) is dropped first, unless another thread has replaced it already."""
        import pkcs11

        failed = None
        try:
            return action()
        except _TokenFailed as exc:
            failed = exc.generation
        except pkcs11.PKCS11Error:
            pass
        with self._lock:
            if failed is None or failed == self.sessions_opened:
                self._drop_session()
        try:
            return action()
        except _TokenFailed as exc:
            raise SigningUnavailable(f"the agency token failed: {exc.__cause__!r}") from None
        except pkcs11.PKCS11Error as exc:
            raise SigningUnavailable(f"the agency token failed: {exc!r}") from None

    def prepare(self, agency_code: str) -> asn1_x509.Certificate:
        """Open the token and load the agency's key and certificate unless done already;
        returns the certificate. AgencyKeyUnknown, SigningUnavailable."""
        code = _check_code(agency_code)
        return self._with_retry(lambda: self._agency(code).certificate)

    def agency_certificates(self) -> dict[str, str]:
        """SHA-256 -> agency code of every certificate the platform holds for an agency: those
        in ``var/pki`` (``agency_pki.agency_index``) and those labelled ``agency-<CODE>`` on the
        token. The token's are read again after ``TOKEN_CERTIFICATES_TTL`` seconds or a new token
        session (a key and certificate an operator adds to a running token verify within a
        minute); without a token, ``var/pki``'s alone."""

        def read():
            from pkcs11 import Attribute, ObjectClass

            with self._lock:
                session = self._open_session()
                generation, read_at, _ = self._token_certificates
                if generation != self.sessions_opened or _time.monotonic() - read_at > TOKEN_CERTIFICATES_TTL:
                    found = {}
                    for obj in session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE}):
                        with contextlib.suppress(Exception):
                            match = _AGENCY_LABEL_RE.fullmatch(obj[Attribute.LABEL])
                            if match:
                                cert = asn1_x509.Certificate.load(bytes(obj[Attribute.VALUE]))
                                found[cert.sha256] = match.group(1)
                    self._token_certificates = (self.sessions_opened, _time.monotonic(), found)
                return self._token_certificates[2]

        try:
            on_token = self._with_retry(read)
        except SigningUnavailable:
            on_token = {}
        return {**on_token, **agency_pki.agency_index(self.var)}

    # -- signing

    def sign(self, pdf: bytes, agency_code: str, *, reason: str, location: str) -> bytes:
        """``pdf`` signed PAdES B-B by the agency's key, in a new invisible field "OpenCoO".
        Raises AgencyKeyUnknown, SigningUnavailable, NotAPdf."""
        code = _check_code(agency_code)
        if not isinstance(pdf, (bytes, bytearray, memoryview)) or not _looks_like_pdf(pdf):
            raise NotAPdf("not a PDF")
        pdf = bytes(pdf)
        meta = signers.PdfSignatureMetadata(
            field_name=FIELD_NAME,
            subfilter=fields.SigSeedSubFilter.PADES,
            md_algorithm=MD_ALGORITHM,
            reason=reason or None,
            location=location or None,
        )

        def attempt():
            import pkcs11

            agency = self._agency(code)
            try:
                writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
            except Exception as exc:  # noqa: BLE001 - whatever the parser trips on
                raise NotAPdf(f"not a readable PDF: {exc}") from None
            try:
                out = run_to_completion(
                    signers.PdfSigner(meta, agency.signer).async_sign_pdf(
                        writer, output=BytesIO(), bytes_reserved=agency.reserve()
                    )
                )
            except Exception as exc:  # noqa: BLE001
                cause = exc if isinstance(exc, pkcs11.PKCS11Error) else exc.__cause__
                if isinstance(cause, pkcs11.PKCS11Error):
                    raise _TokenFailed(agency.generation) from cause
                raise NotAPdf(f"the PDF cannot be signed: {exc}") from exc
            return out.getvalue()

        return self._with_retry(attempt)


class _TokenFailed(Exception):
    """A PKCS#11 error while signing with handles of session ``generation``."""

    def __init__(self, generation: int):
        super().__init__(generation)
        self.generation = generation


def _check_code(agency_code) -> str:
    if not isinstance(agency_code, str) or not _AGENCY_CODE_RE.fullmatch(agency_code):
        raise AgencyKeyUnknown(str(agency_code)[:40], "not an agency code")
    return agency_code


def _rsa_needs_raw(session) -> bool:
    from pkcs11 import Mechanism

    try:
        mechanisms = set(session.token.slot.get_mechanisms())
    except Exception:  # noqa: BLE001
        return False
    return Mechanism.SHA256_RSA_PKCS not in mechanisms and Mechanism.RSA_PKCS in mechanisms


def _looks_like_pdf(data) -> bool:
    return b"%PDF-" in bytes(data[:1024])


__all__ = [
    "AgencySigner",
    "AgencyKeyUnknown",
    "SigningUnavailable",
    "NotAPdf",
    "FIELD_NAME",
    "AGENCY_KEY_UNKNOWN",
    "SIGNING_TOKEN_UNAVAILABLE",
]
