"""Errors of the domain, as every service raises them: a code a caller can act on, a message a
person can read, the fields at fault, and details for the protocol (``extra``: retry_after). What
each becomes in HTTP is the gateway's to say (``gateway/errors.py``, one table).

They cross service lines as themselves: ``services/chassis/rpc.py`` registers every class with
nameko, so that a remote raise arrives at the caller as the same class, not as a RemoteError.
Arguments are kept JSON-shaped (strings and dicts) because nameko serializes ``exc.args`` and
stringifies anything else. Plain Python.
"""


class ApiError(Exception):
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


class BadRequest(ApiError):
    """Malformed: not what the operation takes at all."""

    default_code = "BAD_REQUEST"


class Unauthorized(ApiError):
    """Who is calling is not known (no credentials, or wrong ones)."""

    default_code = "UNAUTHORIZED"


class Forbidden(ApiError):
    """Known, and not allowed to."""

    default_code = "FORBIDDEN"


class NotFound(ApiError):
    """No such thing, or none the caller may see."""

    default_code = "NOT_FOUND"


class Conflict(ApiError):
    """Not in the state the operation needs (decided already, paid meanwhile ...)."""

    default_code = "CONFLICT"


class PayloadTooLarge(ApiError):
    """More than the operation takes."""

    default_code = "PAYLOAD_TOO_LARGE"


class UnsupportedMediaType(ApiError):
    """Sent in a form the operation does not read."""

    default_code = "UNSUPPORTED_MEDIA_TYPE"


class RuleViolation(ApiError):
    """A well-formed request that breaks a domain rule."""

    default_code = "RULE_VIOLATION"


class RateLimited(ApiError):
    """Too many, too fast: ``extra["retry_after"]`` says when to try again."""

    default_code = "RATE_LIMITED"


class ServiceUnavailable(ApiError):
    """A service, or what it needs, is away for now."""

    default_code = "SERVICE_UNAVAILABLE"


class RpcTimeout(ApiError):
    """A service did not answer in time."""

    default_code = "RPC_TIMEOUT"


# Every error class, for the transport's registry.
DOMAIN_ERRORS = (
    ApiError,
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    RuleViolation,
    RateLimited,
    ServiceUnavailable,
    RpcTimeout,
)
