"""What routes of several areas share: body limits, pagination, the caller as services see it,
the client's address, list filters and the detached signature of an upload."""

import base64

from marshmallow import ValidationError

from gateway import schemas
from gateway.http import checked_text
from services.chassis.errors import BadRequest, RuleViolation
from services.contracts.actors import STAFF

JSON_BODY = 64 * 1024
APPLICATION_BODY = 1024 * 1024  # 100 products with 100 raw materials each fit
DOCUMENT_BODY = 2 * 1024 * 1024 + 256 * 1024  # the 2 MB PDF, its signature and the form fields
REGISTRATION_BODY = 256 * 1024  # certificate, signature and up to 200 branches
HS_UPLOAD = 5 * 1024 * 1024
VERIFY_BODY = 10 * 1024 * 1024  # a certificate with 100 products is well under this
STAFF_ROLES = tuple(role.value for role in STAFF)
EXPORT_TIMEOUT = 120
PAYMENT_PROVIDERS = ("sandbox", "razorpay")

_PAGE = schemas.Page()
LIST_FILTERS = ("status", "agreement", "agency", "number", "date_from", "date_to")
_LIST_PAGE = schemas.ApplicationListQuery()


def page_args(request) -> dict:
    try:
        return _PAGE.load({k: v for k, v in request.args.items() if k in ("page", "per_page")})
    except ValidationError as exc:
        raise BadRequest(
            "page and per_page must be positive whole numbers", code="VALIDATION_ERROR", fields=exc.messages
        ) from None


def paginate(request, items):
    page = page_args(request)
    start = (page["page"] - 1) * page["per_page"]
    return {
        "items": items[start : start + page["per_page"]],
        "page": page["page"],
        "per_page": page["per_page"],
        "total": len(items),
    }


def actor(principal) -> dict:
    """The caller as services see it: they decide what this role, agency and office may do."""
    return {
        "username": principal.username,
        "role": principal.role,
        "agency": principal.agency,
        "office": principal.office,
    }


def list_query(request, schema=_LIST_PAGE) -> dict:
    try:
        query = schema.load(request.args.to_dict())
    except ValidationError as exc:
        raise BadRequest(
            "the list filters are not valid", code="VALIDATION_ERROR", fields=exc.messages
        ) from None
    query["filters"] = {k: str(query.pop(k)) for k in LIST_FILTERS if k in query}
    return query


def signature_field(request) -> str:
    """The detached CMS of an upload: a base64 text field, or a file part (DER or base64)."""
    if request.form.get("signature"):
        return checked_text(request.form["signature"], "signature").strip()
    part = request.files.get("signature")
    if part is None:
        raise RuleViolation(
            "sign the document with your DSC and send the detached signature as 'signature'",
            code="DOCUMENT_UNSIGNED",
            fields={"signature": ["Missing: every document is signed."]},
        )
    raw = part.read(200_000)
    try:
        text = raw.decode("ascii").strip()
        base64.b64decode(text, validate=True)
        return text
    except (UnicodeDecodeError, ValueError):
        return base64.b64encode(raw).decode()
