"""The few HTML pages the gateway itself serves: the API documentation, the sandbox payment
provider's page, the page a certificate's QR code opens, and the page of a password reset link.
Templates in ``gateway/templates/`` (Jinja2, autoescaped); each page carries the
Content-Security-Policy it needs and no inline script."""

from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from werkzeug.wrappers import Response

from gateway.http import FORM_PAGE_POLICY, PAGE_POLICY, page_response

HERE = Path(__file__).parent
DOCS_SCRIPT = (HERE / "static" / "docs.js").read_bytes()
# Swagger UI sets styles on its elements and fetches the document (and "try it out").
DOCS_POLICY = (
    PAGE_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'") + "; connect-src 'self'"
)
STATUS_WORDS = {
    "valid": "VALID",
    "revoked": "REVOKED — not valid",
    "superseded": "SUPERSEDED — replaced by another certificate",
}

_templates = Environment(
    loader=FileSystemLoader(str(HERE / "templates")),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
)


@lru_cache(maxsize=1)
def swagger_dir() -> str:
    from swagger_ui_bundle import swagger_ui_path

    return str(swagger_ui_path)


def _page(template: str, policy: str = PAGE_POLICY, http_status: int = 200, **values) -> Response:
    page = page_response(_templates.get_template(template).render(**values), policy)
    page.status_code = http_status
    return page


def docs() -> Response:
    return _page("docs.html", DOCS_POLICY)


def sandbox_payment(payment) -> Response:
    return _page(
        "sandbox_payment.html",
        FORM_PAGE_POLICY,
        number=payment["application_number"],
        amount=f"{payment['total'] / 100:.2f}",
        status=payment["status"],
        open=payment["status"] == "created",
        back=payment["return_path"],
    )


def verification(number, found, problem=None, status: int = 200) -> Response:
    """What a customs officer sees after scanning the QR code."""
    rows = []
    if found is not None:
        rows = [
            ("Number", found["number"]),
            ("Status", STATUS_WORDS[found["status"]]),
            ("Reason", found["status_reason"]),
            ("Replaced by", found["superseded_by"]),
            ("Issued on", found["issued_on"]),
            ("Exporter", found["exporter"]),
            ("IEC", found["iec"]),
            ("Importing country", found["importer_country"]),
            ("Issuing agency", found["agency_code"]),
            (
                "Kind",
                found["kind"]
                if found["kind"] == "original"
                else f"{found['kind']} of {found['original_number']}",
            ),
            ("SHA-256 of the signed PDF", found["sha256"]),
        ]
    return _page("verification.html", http_status=status, number=number, problem=problem, rows=rows)


def reset_password(token: str, message: str | None, status: int = 200, done: bool = False) -> Response:
    return _page(
        "reset_password.html", FORM_PAGE_POLICY, http_status=status, token=token, message=message, done=done
    )
