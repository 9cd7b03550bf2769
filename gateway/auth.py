"""Who is calling: the bearer token is verified here, locally, with registration's public key."""

from dataclasses import dataclass
from functools import lru_cache

import jwt

from gateway import revocation
from services.chassis.errors import Forbidden, Unauthorized
from services.contracts import tokens


@dataclass(frozen=True)
class Principal:
    username: str
    role: str
    agency: str | None = None
    office: str | None = None
    token_id: str | None = None  # claim jti: what logout ends
    expires_at: int = 0  # claim exp


@lru_cache(maxsize=4)
def _public_key(path: str) -> bytes:
    return open(path, "rb").read()


def authenticate(request) -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("log in and send the token as 'Authorization: Bearer …'", code="TOKEN_MISSING")
    try:
        claims = tokens.verify(_public_key(str(tokens.public_key_path())), token.strip())
    except jwt.ExpiredSignatureError:
        raise Unauthorized("the token has expired; log in again", code="TOKEN_EXPIRED") from None
    except jwt.InvalidTokenError:
        raise Unauthorized("the token is not valid", code="TOKEN_INVALID") from None
    if claims.get("role") not in tokens.ROLES:
        raise Unauthorized("the token names no known role", code="TOKEN_INVALID")
    versions = request.environ[revocation.ENVIRON_KEY]
    if versions.revoked(claims["sub"], claims.get("ver")):
        raise Unauthorized(
            "the password was changed since this token was issued; log in again", code="TOKEN_REVOKED"
        )
    if versions.ended(claims.get("jti")):
        raise Unauthorized("this token was ended by logging out; log in again", code="TOKEN_REVOKED")
    return Principal(
        claims["sub"],
        claims["role"],
        claims.get("agency"),
        claims.get("office"),
        claims.get("jti"),
        int(claims["exp"]),
    )


def require(request, *roles) -> Principal:
    principal = authenticate(request)
    if principal.role not in roles:
        raise Forbidden(f"this needs the role {' or '.join(roles)}", code="ROLE_FORBIDDEN")
    return principal
