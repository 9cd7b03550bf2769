"""Errors that cross service lines and become HTTP answers at the gateway.

Each class is registered with nameko so that a remote raise arrives at the caller as the same class,
not as a RemoteError. Arguments are kept JSON-shaped (strings and dicts) because nameko serializes
``exc.args`` and stringifies anything else.
"""
from nameko.exceptions import deserialize_to_instance


class ApiError(Exception):
    status = 400
    default_code = "BAD_REQUEST"

    def __init__(self, message="", code=None, fields=None, extra=None):
        self.message = str(message)
        self.code = code or self.default_code
        self.fields = fields or {}
        # extra carries protocol details such as retry_after; never shown as fields.
        self.extra = extra or {}
        super().__init__(self.message, self.code, self.fields, self.extra)

    def to_dict(self):
        body = {"code": self.code, "message": self.message}
        if self.fields:
            body["fields"] = self.fields
        return {"error": body}

    def __str__(self):
        return f"{self.code}: {self.message}"


def _remote(cls):
    return deserialize_to_instance(cls)


@_remote
class BadRequest(ApiError):
    status, default_code = 400, "BAD_REQUEST"


@_remote
class Unauthorized(ApiError):
    status, default_code = 401, "UNAUTHORIZED"


@_remote
class Forbidden(ApiError):
    status, default_code = 403, "FORBIDDEN"


@_remote
class NotFound(ApiError):
    status, default_code = 404, "NOT_FOUND"


@_remote
class Conflict(ApiError):
    status, default_code = 409, "CONFLICT"


@_remote
class PayloadTooLarge(ApiError):
    status, default_code = 413, "PAYLOAD_TOO_LARGE"


@_remote
class UnsupportedMediaType(ApiError):
    status, default_code = 415, "UNSUPPORTED_MEDIA_TYPE"


@_remote
class RuleViolation(ApiError):
    """A well-formed request that breaks a domain rule."""
    status, default_code = 422, "RULE_VIOLATION"


@_remote
class RateLimited(ApiError):
    status, default_code = 429, "RATE_LIMITED"


@_remote
class ServiceUnavailable(ApiError):
    status, default_code = 503, "SERVICE_UNAVAILABLE"


@_remote
class RpcTimeout(ApiError):
    status, default_code = 504, "RPC_TIMEOUT"
