"""Issued certificates: the exporter's own (and its requests for a duplicate or a certificate in
lieu), an office's or an agency's for staff. The API decides who sees which.

A certificate in lieu corrects the original: the exporter edits the original's particulars on a
form of their own, and the API takes the corrected parts (``form``, the top-level fields that
changed) with the reason, and a signed supporting file when one is given."""

from __future__ import annotations

import base64
import json

from werkzeug.exceptions import NotFound
from werkzeug.utils import redirect

from portal.api import ApiError
from portal.app import Page, screen
from portal.views.drafts import PRODUCT_FIELDS, body_from_form, input_name, saved_application
from portal.views.submission import MAX_DOCUMENT
from services.contracts import application_form as contract
from services.contracts.actors import PEOPLE, Role

PER_PAGE = 25
# What a certificate in lieu may correct: the parts printed on it that the number did not fix
# (agency, office, agreement, kind and branch stay the original's, as the API insists).
CORRECTABLE = (
    ("importer", contract.ImporterSchema),
    ("transport", contract.TransportSchema),
    ("invoice", contract.InvoiceSchema),
    ("declaration", contract.DeclarationSchema),
)


def _page(page: Page, status: int = 200, problem: ApiError | None = None):
    page.ensure_session()
    raw = page.request.args.get("page", "1")[:6]
    number = int(raw) if raw.isdigit() and int(raw) > 0 else 1
    listing = page.api("GET", "/api/v1/certificates", query={"page": number, "per_page": PER_PAGE})
    return page.render(
        "certificates.html",
        status,
        listing=listing,
        problem=problem,
        last_page=max(1, -(-listing["total"] // PER_PAGE)),
    )


def _refused(exc: ApiError) -> ApiError:
    if exc.status >= 500 or exc.status in (401, 403):
        raise exc
    return exc


@screen("/certificates", roles=PEOPLE)
def certificates(page: Page):
    return _page(page)


@screen("/certificates/<id:certificate_id>/request", methods=("POST",), roles=(Role.EXPORTER,))
def request_again(page: Page, certificate_id: str):
    try:
        made = page.api(
            "POST",
            f"/api/v1/certificates/{certificate_id}/duplicates",
            fields={"kind": page.form_value("kind", 20), "reason": page.form_value("reason", 2000).strip()},
        )
    except ApiError as exc:
        return _page(page, exc.status, _refused(exc))
    return redirect(f"/applications/{made['id']}", code=303)


# --- a certificate in lieu -----------------------------------------------------------------------


def _original(page: Page, certificate_id: str) -> tuple[dict, dict]:
    try:
        certificate = page.api("GET", f"/api/v1/certificates/{certificate_id}")
    except ApiError as exc:
        if exc.status == 404:
            raise NotFound() from exc
        raise
    return certificate, saved_application(page, certificate["application_id"])


def corrections(original: dict, edited: dict) -> dict:
    """The top-level parts the exporter changed, as the API takes them: each part is the
    original's with the inputs given over it (an input left empty keeps the original's value),
    products one by one with their raw materials kept."""
    changed: dict = {}
    for key, _ in CORRECTABLE:
        part = {**(original.get(key) or {}), **(edited.get(key) or {})}
        if part != (original.get(key) or {}):
            changed[key] = part
    products = [dict(product) for product in original.get("products") or []]
    for index, given in enumerate(edited.get("products") or []):
        if index < len(products):
            products[index].update(given)
    if products != (original.get("products") or []):
        changed["products"] = products
    comments = edited.get("exporter_comments")
    if comments and comments != original.get("exporter_comments"):
        changed["exporter_comments"] = comments
    return changed


def _in_lieu_page(
    page: Page, certificate: dict, form: dict, status: int = 200, problem: ApiError | None = None
):
    page.ensure_session()
    errors = {input_name(path): messages for path, messages in (problem.fields if problem else {}).items()}
    return page.render(
        "in_lieu.html",
        status,
        certificate=certificate,
        form=form,
        sections=[(key, tuple(schema().fields)) for key, schema in CORRECTABLE],
        product_fields=PRODUCT_FIELDS,
        problem=problem,
        errors=errors,
        reason=page.form_value("reason", 2000),
        max_mb=MAX_DOCUMENT // (1024 * 1024),
        iec=page.user.username,
    )


@screen("/certificates/<id:certificate_id>/in-lieu", roles=(Role.EXPORTER,))
def in_lieu_form(page: Page, certificate_id: str):
    certificate, application = _original(page, certificate_id)
    return _in_lieu_page(page, certificate, application["form"])


@screen("/certificates/<id:certificate_id>/in-lieu", methods=("POST",), roles=(Role.EXPORTER,))
def request_in_lieu(page: Page, certificate_id: str):
    certificate, application = _original(page, certificate_id)
    changed = corrections(application["form"], body_from_form(page.request.form))
    fields: dict = {
        "kind": "in_lieu",
        "reason": page.form_value("reason", 2000).strip(),
        "form": json.dumps(changed),
    }
    upload = page.request.files.get("file")
    if upload and upload.filename:
        signature = page.form_value("signature", 200_000).strip()
        signature_file = page.request.files.get("signature_file")
        if not signature and signature_file and signature_file.filename:
            signature = base64.b64encode(signature_file.read(200_000)).decode()
        fields["file"] = (upload.filename[:200], upload.read(MAX_DOCUMENT + 1), "application/pdf")
        fields["signature"] = signature
    try:
        made = page.api("POST", f"/api/v1/certificates/{certificate_id}/duplicates", fields=fields)
    except ApiError as exc:
        form = {**application["form"], **changed}  # what was typed stays on the page
        return _in_lieu_page(page, certificate, form, exc.status, _refused(exc))
    return redirect(f"/applications/{made['id']}", code=303)
