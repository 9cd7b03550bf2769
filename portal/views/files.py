"""Files the API makes, handed to the browser as they come (PDFs, spreadsheets): the draft
certificate's preview, a document, the GST receipt, the signed certificate, and the lists as
Excel. The portal adds the session's token; the API decides who may have which."""

from __future__ import annotations

from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from portal.api import ApiError
from portal.app import Page, screen
from portal.views.applications import FILTERS, POST_AUDIT
from services.contracts.actors import Role

KINDS = {"application/pdf", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _file(page: Page, path: str, query: dict | None = None) -> Response:
    try:
        answer = page.api("GET", path, query=query, raw=True)
    except ApiError as exc:
        if exc.status == 404:
            raise NotFound() from exc
        return page.render("error.html", exc.status, title=page._("Not available"), message=exc.message)
    kind = answer.headers.get("Content-Type", "").split(";")[0]
    if kind not in KINDS:
        raise NotFound()
    headers = {
        "Content-Disposition": answer.headers.get("Content-Disposition", "attachment"),
        "Cache-Control": "no-store",
    }
    return Response(answer.data, mimetype=kind, headers=headers)


def _filters(page: Page) -> dict:
    return {name: page.request.args.get(name, "")[:80] for name in FILTERS}


@screen("/applications/<id:application_id>/preview.pdf", roles=(Role.EXPORTER, Role.OFFICER))
def preview(page: Page, application_id: str):
    return _file(page, f"/api/v1/applications/{application_id}/preview.pdf")


@screen(
    "/applications/<id:application_id>/documents/<id:document_id>/file", roles=(Role.EXPORTER, Role.OFFICER)
)
def document(page: Page, application_id: str, document_id: str):
    return _file(page, f"/api/v1/applications/{application_id}/documents/{document_id}")


@screen("/payments/<id:payment_id>/receipt.pdf", roles=(Role.EXPORTER, Role.OFFICER))
def receipt(page: Page, payment_id: str):
    return _file(page, f"/api/v1/payments/{payment_id}/receipt.pdf")


@screen(
    "/certificates/<id:certificate_id>.pdf",
    roles=(Role.EXPORTER, Role.OFFICER, Role.AGENCY_ADMIN, Role.ADMIN),
)
def certificate(page: Page, certificate_id: str):
    return _file(page, f"/api/v1/certificates/{certificate_id}.pdf")


@screen("/applications/export.xlsx", roles=(Role.EXPORTER,))
def exporter_list(page: Page):
    return _file(page, "/api/v1/applications/export.xlsx", _filters(page))


@screen("/officer/applications/export.xlsx", roles=(Role.OFFICER,))
def officer_list(page: Page):
    return _file(page, "/api/v1/officer/applications/export.xlsx", _filters(page))


@screen("/officer/post-audit/export.xlsx", roles=(Role.OFFICER,))
def post_audit_list(page: Page):
    return _file(page, "/api/v1/officer/applications/export.xlsx", {**_filters(page), **POST_AUDIT})
