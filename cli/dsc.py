"""Exporter side of docs/architecture.md §4 "DSC": development digital signature certificates, and detached
CMS signatures made with a key on any PKCS#11 token.

Plain Python (no nameko, nothing from ``services.``), like cli/devpki.py which it builds on.

``make_dsc`` (``opencoo dev make-dsc``) makes a test DSC for a director of a firm:

* default: an RSA-2048 key generated *on* a SoftHSM2 token (``dsc-<IEC>`` unless told otherwise) in
  devpki's SoftHSM2 configuration (var/softhsm2/softhsm2.conf), private key label and id ``dsc``,
  sensitive and not extractable; its certificate from the development CA is stored on the token
  (same label and id) beside the dev CA certificate (label ``dev-ca``, so a signer finds the chain
  on the token as it would on a real DSC token), and written to
  var/pki/dsc-<IEC>-<slug of name>.pem. The token's user PIN is the one given, else a random
  one; it is kept in var/softhsm2/.pin-<hash> (0600) so that running make-dsc again needs no PIN.

  Running it again for the same token is idempotent: the key on the token is kept (never a second
  key) and its certificate re-used, or re-issued for the same key when the file or token copy is
  missing, expired or about to expire. A token already holding the DSC of a *different* subject
  (another director, organisation or IEC) is refused with an error naming that subject: make
  another token with ``--token``.
* with ``p12_path``: no token; the key is generated in software and written as a PKCS#12 (with the
  certificate and the dev CA; password-protected or not), plus ``<stem>-cert.pem`` and
  ``<stem>-key.pem`` (0600) beside it, for ``openssl cms -sign -signer ... -inkey ...``. Existing
  files are replaced (a new key every time).

``sign_detached`` (``opencoo sign``) makes a detached DER CMS SignedData with pyHanko's
PKCS11Signer, and works with any PKCS#11 module: for SoftHSM the caller only has to make sure
SOFTHSM2_CONF is right before the library is first loaded (``use_var_softhsm_conf``).
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import hashlib
import os
import re
import secrets
import subprocess
from pathlib import Path
from typing import Optional

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from cli import devpki
from services.signing import token as agency_token

KEY_LABEL = "dsc"
KEY_ID = b"dsc"
CA_LABEL = "dev-ca"
CA_ID = b"dev-ca"
RSA_BITS = 2048
#: A certificate closer than this to its end is re-issued by make_dsc (for the same key).
RENEW_BEFORE = _dt.timedelta(days=30)
#: PKCS#11 token labels are 32 bytes (CK_TOKEN_INFO.label).
MAX_TOKEN_LABEL = 32

_IEC_RE = re.compile(r"[A-Za-z0-9]{10}")


class DscError(Exception):
    """A problem the user can fix (bad input, wrong PIN, no such token or key, ...)."""


class WrongPin(DscError):
    """The token refused the PIN (wrong, or not a PIN at all)."""


# --------------------------------------------------------------------------------------------------
# helpers


def normalise_iec(iec: str) -> str:
    """The IEC in upper case; DscError unless it is 10 letters or digits."""
    value = (iec or "").strip()
    if not _IEC_RE.fullmatch(value):
        raise DscError(f"IEC must be 10 letters or digits, got {iec!r}")
    return value.upper()


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "dsc"


def dsc_subject(iec: str, name: str, organisation: Optional[str] = None) -> dict:
    """C=IN, O=<organisation>, OU=<IEC>, CN=<name> (the order of the certificate's subject)."""
    name = (name or "").strip()
    if not name:
        raise DscError("the director's name must not be empty")
    if len(name) > 64:
        raise DscError("the director's name is longer than 64 characters (X.509 CN limit)")
    org = (organisation or "").strip() or None
    if org and len(org) > 64:
        raise DscError("the organisation is longer than 64 characters (X.509 O limit)")
    return {"C": "IN", "O": org, "OU": normalise_iec(iec), "CN": name}


def is_softhsm(module: str) -> bool:
    return "softhsm" in os.path.basename(str(module)).lower()


def use_var_softhsm_conf(module: str, var: Optional[Path]) -> Optional[str]:
    """For a SoftHSM module with SOFTHSM2_CONF unset, point it (process-wide) at
    var/softhsm2/softhsm2.conf when that file exists. Returns the SOFTHSM2_CONF in effect."""
    if is_softhsm(module) and not os.environ.get("SOFTHSM2_CONF") and var is not None:
        conf = Path(var).resolve() / "softhsm2" / "softhsm2.conf"
        if conf.is_file():
            os.environ["SOFTHSM2_CONF"] = str(conf)
    return os.environ.get("SOFTHSM2_CONF") if is_softhsm(module) else None


def _pin_file(var: Path, label: str) -> Path:
    digest = hashlib.sha256(label.encode()).hexdigest()[:16]
    return Path(var).resolve() / "softhsm2" / f".pin-{digest}"


def _cert_usable(cert: x509.Certificate, subject: x509.Name, public_key) -> bool:
    now = _dt.datetime.now(_dt.timezone.utc)
    same_key = agency_token.spki_der(cert.public_key()) == agency_token.spki_der(public_key)
    return (
        cert.subject == subject
        and same_key
        and cert.not_valid_before_utc <= now
        and cert.not_valid_after_utc - RENEW_BEFORE > now
    )


def _pkcs11_message(exc: Exception, token_label: str) -> str:
    import pkcs11

    if isinstance(exc, (pkcs11.PinIncorrect, pkcs11.PinInvalid, pkcs11.PinLenRange)):
        return f"wrong PIN for token {token_label!r}"
    if isinstance(exc, pkcs11.PinLocked):
        return f"the PIN of token {token_label!r} is locked"
    if isinstance(exc, pkcs11.PinExpired):
        return f"the PIN of token {token_label!r} has expired"
    text = str(exc).strip()
    return f"PKCS#11 error on token {token_label!r}: {type(exc).__name__}" + (f" ({text})" if text else "")


# --------------------------------------------------------------------------------------------------
# make_dsc


def make_dsc(
    var,
    iec: str,
    name: str,
    *,
    token_label: Optional[str] = None,
    pin: Optional[str] = None,
    p12_path=None,
    p12_password: Optional[str] = None,
    organisation: Optional[str] = None,
    days: int = 730,
) -> dict:
    """Make a development DSC for director ``name`` of the firm with IEC ``iec`` (see module doc).

    Returns {"certificate", "token", "module", "pin", "p12", "subject"} plus "softhsm2_conf" (token
    mode) and "key" (PKCS#12 mode: the PEM private key beside it)."""
    var = Path(var)
    iec = normalise_iec(iec)
    subject_attrs = dsc_subject(iec, name, organisation)
    if days < 1:
        raise DscError("days must be at least 1")
    devpki.ensure_dev_ca(var)
    if p12_path is not None:
        if token_label is not None or pin is not None:
            raise DscError("a PKCS#12 DSC has no token: do not give a token label or PIN with it")
        return _make_p12(var, subject_attrs, Path(p12_path), p12_password, days)
    if p12_password is not None:
        raise DscError("a PKCS#12 password needs a PKCS#12 file")
    return _make_on_token(var, iec, subject_attrs, token_label or f"dsc-{iec}", pin, days)


def _make_p12(var: Path, subject_attrs: dict, p12_path: Path, password: Optional[str], days: int) -> dict:
    p12_path = p12_path.resolve()
    stem = p12_path.name[: -len(p12_path.suffix)] if p12_path.suffix else p12_path.name
    cert_path = p12_path.with_name(f"{stem}-cert.pem")
    key_path = p12_path.with_name(f"{stem}-key.pem")
    key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    cert = devpki.issue_certificate(var, subject_attrs, key.public_key(), days=days, key_usage="signing")
    ca_cert, _ = devpki.load_dev_ca(var)
    encryption = (
        serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
    )
    blob = pkcs12.serialize_key_and_certificates(
        name=subject_attrs["CN"].encode(), key=key, cert=cert, cas=[ca_cert], encryption_algorithm=encryption
    )
    devpki.atomic_write(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        0o600,
    )
    devpki.atomic_write(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    devpki.atomic_write(p12_path, blob, 0o600)
    return {
        "certificate": str(cert_path),
        "key": str(key_path),
        "token": None,
        "module": None,
        "pin": None,
        "p12": str(p12_path),
        "subject": cert.subject.rfc4514_string(),
        "softhsm2_conf": None,
    }


def _init_softhsm_token(var: Path, conf: str, label: str, pin: Optional[str]) -> str:
    """Initialise SoftHSM token ``label`` unless it exists; return its user PIN."""
    base = Path(conf).parent
    pin_file = _pin_file(var, label)
    with devpki.locked(base):
        if devpki.token_exists(conf, label):
            if pin is None:
                if not devpki.nonempty(pin_file):
                    raise DscError(f"token {label!r} exists but its PIN is not known here: give --pin")
                pin = pin_file.read_text().strip()
            return pin
        if pin is None:
            pin = f"{secrets.randbelow(10**8):08d}"
        if not 4 <= len(pin) <= 255:
            raise DscError("the PIN must be 4 to 255 characters")
        so_pin = devpki.read_or_make_secret(base / "so-pin")
        proc = subprocess.run(
            [
                devpki.softhsm_util(),
                "--init-token",
                "--free",
                "--label",
                label,
                "--pin",
                pin,
                "--so-pin",
                so_pin,
            ],
            env=dict(os.environ, SOFTHSM2_CONF=conf),
            capture_output=True,
            text=True,
            timeout=60,
        )
        if proc.returncode != 0:
            raise DscError(
                f"softhsm2-util --init-token failed ({proc.returncode}): "
                f"{proc.stderr.strip() or proc.stdout.strip()}"
            )
        devpki.atomic_write(pin_file, (pin + "\n").encode(), 0o600)
    return pin


def _rsa_public_key(pub_obj):
    from pkcs11 import Attribute

    return rsa.RSAPublicNumbers(
        int.from_bytes(bytes(pub_obj[Attribute.PUBLIC_EXPONENT]), "big"),
        int.from_bytes(bytes(pub_obj[Attribute.MODULUS]), "big"),
    ).public_key()


def _make_on_token(
    var: Path, iec: str, subject_attrs: dict, label: str, pin: Optional[str], days: int
) -> dict:
    import pkcs11
    from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
    from pkcs11.util.x509 import decode_x509_certificate

    label = label.strip()
    if not label or len(label.encode()) > MAX_TOKEN_LABEL:
        raise DscError(f"token label must be 1 to {MAX_TOKEN_LABEL} bytes, got {label!r}")
    module = agency_token.find_pkcs11_module()
    conf = devpki.softhsm_env(var)["SOFTHSM2_CONF"]
    pin = _init_softhsm_token(var, conf, label, pin)
    info = agency_token.TokenInfo(module=module, label=label, pin=pin, conf=conf)
    subject = devpki.subject_name(subject_attrs)
    cert_path = Path(var) / "pki" / f"dsc-{iec}-{slug(subject_attrs['CN'])}.pem"
    ca_cert, _ = devpki.load_dev_ca(var)
    lock_name = f".dsc-{hashlib.sha256(label.encode()).hexdigest()[:16]}.lock"

    try:
        with devpki.locked(cert_path.parent, lock_name), agency_token.open_token_session(info, rw=True) as s:
            privs = agency_token.find_objects(s, ObjectClass.PRIVATE_KEY, KEY_LABEL)
            pubs = agency_token.find_objects(s, ObjectClass.PUBLIC_KEY, KEY_LABEL)
            token_certs = agency_token.find_objects(s, ObjectClass.CERTIFICATE, KEY_LABEL)
            if len(privs) > 1:
                raise DscError(f"token {label!r} holds several private keys labelled {KEY_LABEL!r}")
            public_key = None
            if privs:
                if pubs:
                    public_key = _rsa_public_key(pubs[0])
                else:  # the public half lost: take it from the certificate on the token
                    for obj in token_certs:
                        public_key = x509.load_der_x509_certificate(bytes(obj[Attribute.VALUE])).public_key()
                        break
                if public_key is None:
                    raise DscError(
                        f"token {label!r} holds a key {KEY_LABEL!r} without public "
                        "key or certificate; use another token"
                    )
                # one DSC per token: refuse a token that holds someone else's
                for obj in token_certs:
                    other = x509.load_der_x509_certificate(bytes(obj[Attribute.VALUE]))
                    if (
                        agency_token.spki_der(other.public_key()) == agency_token.spki_der(public_key)
                        and other.subject != subject
                    ):
                        raise DscError(
                            f"token {label!r} already holds the DSC of "
                            f"{other.subject.rfc4514_string()}; give another --token for "
                            f"{subject.rfc4514_string()}"
                        )
            else:
                for stale in pubs:  # a public key without its private half is useless
                    stale.destroy()
                pub_obj, _priv = s.generate_keypair(
                    KeyType.RSA,
                    RSA_BITS,
                    store=True,
                    label=KEY_LABEL,
                    id=KEY_ID,
                    mechanism=Mechanism.RSA_PKCS_KEY_PAIR_GEN,
                    public_template={
                        Attribute.VERIFY: True,
                        Attribute.ENCRYPT: False,
                        Attribute.WRAP: False,
                        Attribute.PUBLIC_EXPONENT: (65537).to_bytes(3, "big"),
                    },
                    private_template={
                        Attribute.SIGN: True,
                        Attribute.DECRYPT: False,
                        Attribute.UNWRAP: False,
                        Attribute.SENSITIVE: True,
                        Attribute.EXTRACTABLE: False,
                        Attribute.PRIVATE: True,
                    },
                )
                public_key = _rsa_public_key(pub_obj)

            # the certificate: the file's, else the token's, else a new one for this key
            cert = None
            candidates = []
            if cert_path.exists():
                try:
                    candidates.append(x509.load_pem_x509_certificate(cert_path.read_bytes()))
                except ValueError:
                    pass
            candidates += [x509.load_der_x509_certificate(bytes(o[Attribute.VALUE])) for o in token_certs]
            for candidate in candidates:
                if _cert_usable(candidate, subject, public_key):
                    cert = candidate
                    break
            if cert is None:
                cert = devpki.issue_certificate(var, subject, public_key, days=days, key_usage="signing")
            pem = cert.public_bytes(serialization.Encoding.PEM)
            if not (cert_path.exists() and cert_path.read_bytes() == pem):
                devpki.atomic_write(cert_path, pem, 0o644)

            der = cert.public_bytes(serialization.Encoding.DER)
            have = False
            for obj in token_certs:
                if bytes(obj[Attribute.VALUE]) == der and not have:
                    have = True
                else:
                    obj.destroy()  # superseded certificate of this key
            if not have:
                attrs = decode_x509_certificate(der)
                attrs.update(
                    {
                        Attribute.LABEL: KEY_LABEL,
                        Attribute.ID: KEY_ID,
                        Attribute.TOKEN: True,
                        Attribute.PRIVATE: False,
                    }
                )
                s.create_object(attrs)

            # the chain on the token, as on a real DSC token
            ca_der = ca_cert.public_bytes(serialization.Encoding.DER)
            if not any(
                bytes(o[Attribute.VALUE]) == ca_der
                for o in agency_token.find_objects(s, ObjectClass.CERTIFICATE, CA_LABEL)
            ):
                attrs = decode_x509_certificate(ca_der)
                attrs.update(
                    {
                        Attribute.LABEL: CA_LABEL,
                        Attribute.ID: CA_ID,
                        Attribute.TOKEN: True,
                        Attribute.PRIVATE: False,
                    }
                )
                s.create_object(attrs)
    except pkcs11.PKCS11Error as exc:
        raise DscError(_pkcs11_message(exc, label)) from None

    return {
        "certificate": str(cert_path),
        "token": label,
        "module": module,
        "pin": pin,
        "p12": None,
        "subject": cert.subject.rfc4514_string(),
        "softhsm2_conf": conf,
    }


# --------------------------------------------------------------------------------------------------
# sign_detached


def _attr(obj, attribute, default=None):
    import pkcs11

    try:
        return obj[attribute]
    except (pkcs11.PKCS11Error, KeyError, NotImplementedError):
        return default


def _select_key(session, token_label: str, key_label: Optional[str]):
    from pkcs11 import Attribute, ObjectClass

    keys = list(session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY}))
    labels = sorted(str(_attr(k, Attribute.LABEL, "") or "") for k in keys)
    shown = ", ".join(repr(lbl) for lbl in labels) or "none"
    if key_label is not None:
        chosen = [k for k in keys if _attr(k, Attribute.LABEL) == key_label]
        if not chosen:
            raise DscError(
                f"no private key labelled {key_label!r} on token {token_label!r} (private keys: {shown})"
            )
        if len(chosen) > 1:
            raise DscError(f"several private keys labelled {key_label!r} on token {token_label!r}")
        return chosen[0]
    if not keys:
        raise DscError(f"no private key on token {token_label!r} (wrong token, or not logged in?)")
    if len(keys) > 1:
        raise DscError(
            f"token {token_label!r} holds several private keys ({shown}): choose one with --key-label"
        )
    return keys[0]


def _token_certs(session):
    from asn1crypto import x509 as ax509
    from pkcs11 import Attribute, ObjectClass

    out = []
    for obj in session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE}):
        value = _attr(obj, Attribute.VALUE)
        if not value:
            continue
        try:
            cert = ax509.Certificate.load(bytes(value))
            cert.native  # noqa: B018  (parse fully now, not later inside pyHanko)
        except Exception:  # noqa: BLE001  (not an X.509 certificate we can use)
            continue
        out.append((bytes(_attr(obj, Attribute.ID, b"") or b""), _attr(obj, Attribute.LABEL), cert))
    return out


def _signer_cert(key, certs, token_label: str):
    """The certificate of ``key``: same CKA_ID, else same label, else same RSA modulus; several
    candidates (a renewed certificate) -> the one currently valid that started last."""
    from pkcs11 import Attribute, KeyType

    key_id = bytes(_attr(key, Attribute.ID, b"") or b"")
    key_label = _attr(key, Attribute.LABEL)
    found = [c for i, _l, c in certs if key_id and i == key_id]
    if not found and key_label:
        found = [c for _i, lbl, c in certs if lbl == key_label]
    if not found and _attr(key, Attribute.KEY_TYPE) == KeyType.RSA:
        modulus = _attr(key, Attribute.MODULUS)
        if modulus:
            n = int.from_bytes(bytes(modulus), "big")
            found = [
                c
                for _i, _l, c in certs
                if c.public_key.algorithm == "rsa" and c.public_key.native["public_key"]["modulus"] == n
            ]
    if not found:
        raise DscError(f"no certificate for key {key_label!r} on token {token_label!r}")
    now = _dt.datetime.now(_dt.timezone.utc)

    def rank(c):
        validity = c["tbs_certificate"]["validity"]
        nb, na = validity["not_before"].native, validity["not_after"].native
        return (nb <= now <= na, nb)

    return max(found, key=rank)


def _chain(signer_cert, certs) -> list:
    """Issuers of ``signer_cert`` found among the token's certificates, nearest first."""
    pool = [c for _i, _l, c in certs]
    chain, current, seen = [], signer_cert, {signer_cert.dump()}
    while current.subject != current.issuer:
        issuer = next(
            (c for c in pool if c.subject == current.issuer and c.dump() not in seen and c.ca), None
        )
        if issuer is None:
            break
        chain.append(issuer)
        seen.add(issuer.dump())
        current = issuer
    return chain


def _use_raw(token, key_type) -> bool:
    """Raw mechanism (hash here, sign the digest on the token): always for EC (SoftHSM and many
    tokens have only CKM_ECDSA); for RSA when the token lacks CKM_SHA256_RSA_PKCS."""
    from pkcs11 import KeyType, Mechanism

    if key_type == KeyType.EC:
        return True
    if key_type == KeyType.RSA:
        try:
            mechanisms = set(token.slot.get_mechanisms())
        except Exception:  # noqa: BLE001
            return False
        return Mechanism.SHA256_RSA_PKCS not in mechanisms and Mechanism.RSA_PKCS in mechanisms
    return False


def _open_session(module: str, token_label: str, pin: Optional[str]):
    import pkcs11
    from pyhanko.config.pkcs11 import TokenCriteria
    from pyhanko.sign.pkcs11 import open_pkcs11_session

    # find the token through devpki, which re-initialises a cached library that does not see it
    # yet (SoftHSM: token made by another process, or SOFTHSM2_CONF changed since C_Initialize)
    conf = os.environ.get("SOFTHSM2_CONF") if is_softhsm(module) else None
    try:
        agency_token.get_token(agency_token.TokenInfo(module=module, label=token_label, pin=pin, conf=conf))
    except pkcs11.NoSuchToken:
        labels = []
        try:
            for slot in pkcs11.lib(module).get_slots(token_present=True):
                label = slot.get_token().label
                if label:  # SoftHSM's free slot has an uninitialised token without label
                    labels.append(label)
        except pkcs11.PKCS11Error:
            pass
        hint = "" if labels else (" (is SOFTHSM2_CONF exported?)" if is_softhsm(module) else "")
        raise DscError(
            f"no token labelled {token_label!r} in {module} (tokens: "
            f"{', '.join(repr(lbl) for lbl in labels) or 'none'}){hint}"
        ) from None
    criteria = TokenCriteria(label=token_label)
    try:
        return open_pkcs11_session(module, token_criteria=criteria, user_pin=pin)
    except pkcs11.UserAlreadyLoggedIn:
        # C_Login is per application: this process is logged in already
        return open_pkcs11_session(module, token_criteria=criteria, user_pin=None)


def sign_detached(
    data: bytes, *, module: str, token_label: str, pin: Optional[str], key_label: Optional[str] = None
) -> bytes:
    """A detached DER CMS SignedData (SHA-256) over ``data`` made with a private key on the PKCS#11
    token ``token_label`` of ``module``.

    The key is ``key_label``, else the only private key on the token. Signed attributes:
    contentType, messageDigest, signingTime, signingCertificateV2 and cmsAlgorithmProtection
    (pyHanko's generic CMS set). Certificates: the signer's and its issuers found on the token."""
    import pkcs11
    from pyhanko.sign.general import SigningError
    from pyhanko.sign.pkcs11 import PKCS11Signer
    from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes

    module = str(module)
    if not os.path.isfile(module):
        raise DscError(f"PKCS#11 module {module} not found")
    if isinstance(data, str):
        data = data.encode()
    try:
        session = _open_session(module, token_label, pin)
        try:
            key = _select_key(session, token_label, key_label)
            certs = _token_certs(session)
            cert = _signer_cert(key, certs, token_label)
            chain = _chain(cert, certs)
            label = _attr(key, pkcs11.Attribute.LABEL) or None
            key_id = bytes(_attr(key, pkcs11.Attribute.ID, b"") or b"") or None
            signer = PKCS11Signer(
                session,
                signing_cert=cert,
                ca_chain=chain,
                key_label=label,
                key_id=key_id if key_id and not label else None,
                other_certs_to_pull=(),
                use_raw_mechanism=_use_raw(session.token, _attr(key, pkcs11.Attribute.KEY_TYPE)),
            )
            settings = PdfCMSSignedAttributes(signing_time=_dt.datetime.now(_dt.timezone.utc))
            cms = asyncio.run(
                signer.async_sign_general_data(data, "sha256", detached=True, signed_attr_settings=settings)
            )
        finally:
            try:
                session.close()
            except pkcs11.PKCS11Error:
                pass
    except (pkcs11.PinIncorrect, pkcs11.PinInvalid, pkcs11.PinLenRange) as exc:
        raise WrongPin(_pkcs11_message(exc, token_label)) from None
    except pkcs11.PKCS11Error as exc:
        raise DscError(_pkcs11_message(exc, token_label)) from None
    except SigningError as exc:
        raise DscError(f"signing with token {token_label!r} failed: {exc}") from None
    return _with_certificates(cms, [cert, *chain]).dump()


def token_certificates(*, module: str, token_label: str, pin: Optional[str]) -> list:
    """The X.509 certificates on the token (asn1crypto), e.g. to find the one of an IEC."""
    import pkcs11

    try:
        session = _open_session(str(module), token_label, pin)
        try:
            return [cert for _, _, cert in _token_certs(session)]
        finally:
            try:
                session.close()
            except pkcs11.PKCS11Error:
                pass
    except (pkcs11.PinIncorrect, pkcs11.PinInvalid, pkcs11.PinLenRange) as exc:
        raise WrongPin(_pkcs11_message(exc, token_label)) from None
    except pkcs11.PKCS11Error as exc:
        raise DscError(_pkcs11_message(exc, token_label)) from None


def _with_certificates(content_info, certs):
    """``content_info`` with exactly ``certs`` (signer first, then its issuers), each once.
    pyHanko adds the signing certificate twice (from its registry and again as the signer's); the
    certificates are not signed, so replacing them leaves the signature valid."""
    from asn1crypto import cms as acms

    unique, seen = [], set()
    for c in certs:
        der = c.dump()
        if der not in seen:
            seen.add(der)
            unique.append(acms.CertificateChoices(name="certificate", value=c))
    old = content_info["content"]
    # a new SignedData from the old parts (not dump(force=True): that would re-encode the signed
    # attributes, which must keep their exact bytes)
    signed_data = acms.SignedData(
        {
            "version": old["version"],
            "digest_algorithms": old["digest_algorithms"],
            "encap_content_info": old["encap_content_info"],
            "certificates": acms.CertificateSet(unique),
            "signer_infos": old["signer_infos"],
        }
    )
    return acms.ContentInfo({"content_type": "signed_data", "content": signed_data})


__all__ = [
    "DscError",
    "make_dsc",
    "sign_detached",
    "normalise_iec",
    "dsc_subject",
    "use_var_softhsm_conf",
    "is_softhsm",
]
