"""The access token contract between registration (which signs) and the gateway (which verifies
locally, without an RPC): EdDSA JWTs with a fixed algorithm list, issuer, audience and expiry."""

import os
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jwt

from services.chassis import config
from services.contracts.actors import PEOPLE

ALGORITHM = "EdDSA"
ISSUER = "opencoo"
AUDIENCE = "opencoo-api"
ROLES = tuple(role.value for role in PEOPLE)
LIFETIME = timedelta(minutes=30)


def private_key_path() -> Path:
    return Path(os.environ.get("OPENCOO_JWT_PRIVATE_KEY") or config.var_dir() / "keys" / "jwt-ed25519.pem")


def public_key_path() -> Path:
    return Path(os.environ.get("OPENCOO_JWT_PUBLIC_KEY") or config.var_dir() / "keys" / "jwt-ed25519.pub.pem")


def issue(private_key_pem: bytes, subject: str, role: str, **claims) -> tuple[str, int]:
    now = datetime.now(timezone.utc)
    body = {
        "sub": subject,
        "role": role,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "nbf": now,
        "exp": now + LIFETIME,
        "jti": uuid.uuid4().hex,  # what logout revokes: this token, not the account's others
        **{k: v for k, v in claims.items() if v is not None},
    }
    return jwt.encode(body, private_key_pem, algorithm=ALGORITHM), int(LIFETIME.total_seconds())


def verify(public_key_pem: bytes, token: str) -> dict:
    """Raises jwt.InvalidTokenError for anything but a valid, current token of ours."""
    return jwt.decode(
        token,
        public_key_pem,
        algorithms=[ALGORITHM],
        audience=AUDIENCE,
        issuer=ISSUER,
        options={"require": ["exp", "iat", "iss", "aud", "sub"]},
    )
