"""What each domain error becomes in HTTP: the one table (the services' errors carry a code and a
message, never a status)."""

from services.chassis.errors import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    RpcTimeout,
    RuleViolation,
    ServiceUnavailable,
    Unauthorized,
    UnsupportedMediaType,
)

HTTP_STATUS: dict[type[ApiError], int] = {
    BadRequest: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    PayloadTooLarge: 413,
    UnsupportedMediaType: 415,
    RuleViolation: 422,  # well-formed, but it breaks a rule of the domain
    RateLimited: 429,
    ServiceUnavailable: 503,
    RpcTimeout: 504,
}


def http_status(error: ApiError) -> int:
    """The status of ``error``'s class, or of the nearest class above it in the table."""
    for cls in type(error).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return 400
