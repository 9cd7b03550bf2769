"""Signing and sending: the documents of an application (upload with their DSC signatures,
removal), submission with the DSC over the signing payload, then the fee and its payment.

The signatures are made on the exporter's computer: by ``opencoo bridge`` through the page's
script (``static/bridge.js``), or by hand with ``opencoo sign`` (the page offers the bytes to
sign and takes the base64 signature). The portal never holds a key or a PIN."""

from __future__ import annotations

import base64

from werkzeug.utils import redirect
from werkzeug.wrappers import Response

from portal.api import ApiError
from portal.app import Page, screen
from portal.views.applications import submitted_to
from portal.views.drafts import exchange_rates, goods_summary, origin_check, saved_application
from services.contracts.actors import Role
from services.contracts.application_status import Status

DOCUMENT_KINDS = ("invoice", "packing_list", "bill_of_lading", "other")  # their names: documents.html
MAX_DOCUMENT = 2 * 1024 * 1024  # the API's limit, said before upload and checked by form.js


def _refusal(exc: ApiError) -> ApiError:
    if exc.status >= 500 or exc.status in (401, 403):
        raise exc
    return exc


# --- documents -----------------------------------------------------------------------------------


def _documents_page(page: Page, application: dict, status: int = 200, problem: ApiError | None = None):
    page.ensure_session()
    return page.render(
        "documents.html",
        status,
        application=application,
        kinds=DOCUMENT_KINDS,
        problem=problem,
        max_mb=MAX_DOCUMENT // (1024 * 1024),
        iec=page.user.username,
    )


@screen("/applications/<id:application_id>/documents", roles=(Role.EXPORTER,))
def documents(page: Page, application_id: str):
    return _documents_page(page, saved_application(page, application_id))


@screen("/applications/<id:application_id>/documents", methods=("POST",), roles=(Role.EXPORTER,))
def upload_document(page: Page, application_id: str):
    application = saved_application(page, application_id)
    upload = page.request.files.get("file")
    content = upload.read(MAX_DOCUMENT + 1) if upload else b""
    signature = page.form_value("signature", 200_000).strip()
    signature_file = page.request.files.get("signature_file")
    if not signature and signature_file:
        signature = base64.b64encode(signature_file.read(200_000)).decode()
    try:
        page.api(
            "POST",
            f"/api/v1/applications/{application_id}/documents",
            fields={
                "kind": page.form_value("kind", 20),
                "signature": signature,
                "file": (
                    (upload.filename or "document.pdf")[:200] if upload else "document.pdf",
                    content,
                    "application/pdf",
                ),
            },
        )
    except ApiError as exc:
        return _documents_page(page, application, exc.status, _refusal(exc))
    return redirect(f"/applications/{application_id}/documents", code=303)


@screen(
    "/applications/<id:application_id>/documents/<id:document_id>/remove",
    methods=("POST",),
    roles=(Role.EXPORTER,),
)
def remove_document(page: Page, application_id: str, document_id: str):
    try:
        page.api("DELETE", f"/api/v1/applications/{application_id}/documents/{document_id}")
    except ApiError as exc:
        return _documents_page(page, saved_application(page, application_id), exc.status, _refusal(exc))
    return redirect(f"/applications/{application_id}/documents", code=303)


# --- submission ----------------------------------------------------------------------------------


def _submit_page(page: Page, application: dict, status: int = 200, problem: ApiError | None = None):
    page.ensure_session()
    signing = page.api("GET", f"/api/v1/applications/{application['id']}/signing-payload")
    rates = exchange_rates(page, application["form"])
    return page.render(
        "submit.html",
        status,
        application=application,
        signing=signing,
        problem=problem,
        iec=page.user.username,
        rates=rates,
        goods=goods_summary(list(application["form"].get("products") or []), rates),
        origin=origin_check(page, application["id"]),
    )


@screen("/applications/<id:application_id>/submit", roles=(Role.EXPORTER,))
def submit_form(page: Page, application_id: str):
    application = saved_application(page, application_id)
    try:
        return _submit_page(page, application)
    except ApiError as exc:
        return page.render("error.html", exc.status, title=page._("Not now"), message=_refusal(exc).message)


@screen("/applications/<id:application_id>/payload", roles=(Role.EXPORTER,))
def payload(page: Page, application_id: str):
    """The bytes to sign, for `opencoo sign` by hand."""
    signing = page.api("GET", f"/api/v1/applications/{application_id}/signing-payload")
    return Response(
        base64.b64decode(signing["payload"]),
        mimetype="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="application-{application_id}.json"'},
    )


@screen("/applications/<id:application_id>/submit", methods=("POST",), roles=(Role.EXPORTER,))
def submit(page: Page, application_id: str):
    application = saved_application(page, application_id)
    verb = "resubmit" if application["status"] == Status.DISCREPANCY else "submit"
    try:
        page.api(
            "POST",
            f"/api/v1/applications/{application_id}/{verb}",
            json_body={"signature": page.form_value("signature", 200_000).strip()},
        )
    except ApiError as exc:
        return _submit_page(page, application, exc.status, _refusal(exc))
    return redirect(
        f"/applications/{application_id}/fee" if verb == "submit" else f"/applications/{application_id}",
        code=303,
    )


# --- the fee -------------------------------------------------------------------------------------


@screen("/applications/<id:application_id>/fee", roles=(Role.EXPORTER,))
def fee(page: Page, application_id: str):
    application = saved_application(page, application_id)
    page.ensure_session()
    try:
        summary = page.api("GET", f"/api/v1/applications/{application_id}/fee")
    except ApiError as exc:
        return page.render(
            "error.html", exc.status, title=page._("No fee yet"), message=_refusal(exc).message
        )
    # paying leads to the provider's page (another origin for a real provider): https only
    return page.render_with_form_action(
        "'self' https:",
        "fee.html",
        application=application,
        summary=summary,
        submitted_to=submitted_to(page, application) if summary["paid"] else "",
    )


@screen("/applications/<id:application_id>/pay", methods=("POST",), roles=(Role.EXPORTER,))
def pay(page: Page, application_id: str):
    try:
        payment = page.api("POST", f"/api/v1/applications/{application_id}/payments")
    except ApiError as exc:
        return page.render("error.html", exc.status, title=page._("Not paid"), message=_refusal(exc).message)
    return redirect(payment["redirect_url"], code=303)  # the provider's page, as the API names it
