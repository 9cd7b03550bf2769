"""The agency signing token, as the signing service reads it: which PKCS#11 module and token,
logged-in sessions, the labels of agency keys and certificates. Set-up (``cli/devpki.py``) makes
the development token and keys that this reads; the signing service creates nothing.

SoftHSM2 reads SOFTHSM2_CONF only at C_Initialize, and a process does not see tokens made by another
process (softhsm2-util) until it re-initialises the library. ``open_token_session`` therefore sets
SOFTHSM2_CONF in ``os.environ`` (process-wide) and re-initialises the cached python-pkcs11 library when
the configuration changes or the token is not found.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from cryptography.hazmat.primitives import serialization

DEFAULT_TOKEN_LABEL = "opencoo-agencies"
SIGNING_TOKEN_UNAVAILABLE = "SIGNING_TOKEN_UNAVAILABLE"


class SigningUnavailable(RuntimeError):
    """The agency token cannot be used (not set up, module missing, wrong PIN, failing)."""

    code = SIGNING_TOKEN_UNAVAILABLE


PKCS11_MODULE_CANDIDATES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)


@dataclass(frozen=True)
class TokenInfo:
    module: str  # path of the PKCS#11 library
    label: str  # token label
    pin: Optional[str]  # user PIN
    conf: Optional[str]  # SOFTHSM2_CONF to use, None for an external (configured) token

    def env(self) -> dict:
        """Environment a child process needs to reach this token."""
        return {"SOFTHSM2_CONF": self.conf} if self.conf else {}


def configured_token(label: str = DEFAULT_TOKEN_LABEL, pin: Optional[str] = None) -> Optional[TokenInfo]:
    """The token the environment names (OPENCOO_PKCS11_MODULE or OPENCOO_PKCS11_TOKEN, with
    OPENCOO_PKCS11_PIN), or None when it names none."""
    env_module = os.environ.get("OPENCOO_PKCS11_MODULE")
    env_token = os.environ.get("OPENCOO_PKCS11_TOKEN")
    if not (env_module or env_token):
        return None
    return TokenInfo(
        module=env_module or find_pkcs11_module(),
        label=env_token or label,
        pin=pin if pin is not None else os.environ.get("OPENCOO_PKCS11_PIN"),
        conf=None if env_module else os.environ.get("SOFTHSM2_CONF"),
    )


def agency_token_info(var: Path) -> TokenInfo:
    """The agency token (architecture §3), creating nothing: the configured one when
    OPENCOO_PKCS11_MODULE or OPENCOO_PKCS11_TOKEN is set, else the SoftHSM2 token that
    `opencoo init` made under ``var``. SigningUnavailable when there is none."""
    try:
        configured = configured_token()
    except FileNotFoundError as exc:
        raise SigningUnavailable(str(exc)) from None
    if configured is not None:
        return configured
    base = Path(var).resolve() / "softhsm2"  # where `opencoo init` makes the development token
    conf = base / "softhsm2.conf"
    if not conf.is_file():
        raise SigningUnavailable(f"no agency signing token in {base} (run `opencoo init`)")
    pin = os.environ.get("OPENCOO_PKCS11_PIN") or None
    if pin is None:
        try:
            pin = (base / "pin").read_text().strip()
        except FileNotFoundError:
            raise SigningUnavailable(
                "no PIN for the agency token: set OPENCOO_PKCS11_PIN or run `opencoo init`"
            ) from None
    try:
        module = find_pkcs11_module()
    except FileNotFoundError as exc:
        raise SigningUnavailable(str(exc)) from None
    return TokenInfo(module=module, label=DEFAULT_TOKEN_LABEL, pin=pin, conf=str(conf))


def find_pkcs11_module() -> str:
    """Path of libsofthsm2.so."""
    for candidate in PKCS11_MODULE_CANDIDATES:
        if os.path.isfile(candidate):
            return candidate
    raise FileNotFoundError(
        "libsofthsm2.so not found (install softhsm2); tried " + ", ".join(PKCS11_MODULE_CANDIDATES)
    )


# --- PKCS#11 access (python-pkcs11) ---------------------------------------------------------------

_lib_lock = threading.RLock()
_lib_conf: dict = {}  # module path -> SOFTHSM2_CONF it was C_Initialize-d with


def _pkcs11_lib(token_info: TokenInfo, refresh: bool = False):
    import pkcs11

    with _lib_lock:
        loaded_before = token_info.module in getattr(pkcs11, "_loaded", {})
        if token_info.conf:
            os.environ["SOFTHSM2_CONF"] = token_info.conf
        lib = pkcs11.lib(token_info.module)
        if not loaded_before:
            _lib_conf[token_info.module] = os.environ.get("SOFTHSM2_CONF")
        elif refresh or (token_info.conf and _lib_conf.get(token_info.module) != token_info.conf):
            lib.reinitialize()
            _lib_conf[token_info.module] = os.environ.get("SOFTHSM2_CONF")
        return lib


def get_token(token_info: TokenInfo):
    """The python-pkcs11 Token for ``token_info`` (re-initialising the library once if needed)."""
    import pkcs11

    for refresh in (False, True):
        lib = _pkcs11_lib(token_info, refresh=refresh)
        tokens = list(lib.get_tokens(token_label=token_info.label))
        if len(tokens) == 1:
            return tokens[0]
        if len(tokens) > 1:
            raise pkcs11.MultipleTokensReturned(f"several tokens labelled {token_info.label!r}")
    raise pkcs11.NoSuchToken(f"no PKCS#11 token labelled {token_info.label!r} in {token_info.module}")


@contextlib.contextmanager
def open_token_session(token_info: TokenInfo, rw: bool = False):
    """A logged-in python-pkcs11 session. If this process is already logged in to the token
    (C_Login is per application), a session without a new login is opened instead."""
    import pkcs11

    token = get_token(token_info)
    try:
        session = token.open(rw=rw, user_pin=token_info.pin)
    except pkcs11.UserAlreadyLoggedIn:
        session = token.open(rw=rw)
    try:
        yield session
    finally:
        with contextlib.suppress(pkcs11.PKCS11Error):
            session.close()


def find_objects(session, object_class, label: str) -> list:
    from pkcs11 import Attribute

    return list(session.get_objects({Attribute.CLASS: object_class, Attribute.LABEL: label}))


def spki_der(public_key) -> bytes:
    """A ``cryptography`` public key as DER SubjectPublicKeyInfo: how keys are compared (a
    token's key with its certificate's)."""
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def token_public_key(pkcs11_public_key):
    """A ``cryptography`` public key from a PKCS#11 EC public key object (EC_PARAMS + EC_POINT)."""
    from asn1crypto.core import OctetString
    from asn1crypto.keys import ECDomainParameters, PublicKeyInfo
    from pkcs11 import Attribute
    from pkcs11.util.ec import encode_ec_public_key

    try:
        der = encode_ec_public_key(pkcs11_public_key)
        return serialization.load_der_public_key(der)
    except Exception:
        # some modules return EC_POINT raw instead of DER OCTET STRING
        params = ECDomainParameters.load(pkcs11_public_key[Attribute.EC_PARAMS])
        point = bytes(pkcs11_public_key[Attribute.EC_POINT])
        candidates = [point]
        with contextlib.suppress(Exception):
            candidates.append(bytes(OctetString.load(point)))
        for raw in candidates:
            der = PublicKeyInfo(
                {"algorithm": {"algorithm": "ec", "parameters": params}, "public_key": raw}
            ).dump()
            with contextlib.suppress(ValueError):
                return serialization.load_der_public_key(der)
        raise


# --- agency keys -----------------------------------------------------------------------------


def agency_key_label(agency_code: str) -> str:
    return f"agency-{agency_code}"


def agency_key_id(agency_code: str) -> bytes:
    """CKA_ID shared by an agency's private key, public key and certificate objects."""
    return hashlib.sha1(agency_key_label(agency_code).encode()).digest()


def agency_cert_path(var: Path, agency_code: str) -> Path:
    return Path(var) / "pki" / f"{agency_key_label(agency_code)}.pem"
