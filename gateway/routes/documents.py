"""Supporting documents of an application: signed PDFs uploaded by the exporter, downloaded by the
exporter and the office's officers."""

import base64

from werkzeug.wrappers import Response

from gateway import schemas
from gateway.http import checked_text, route
from gateway.routes.common import DOCUMENT_BODY, actor, signature_field
from services.chassis.errors import BadRequest


class DocumentRoutes:
    """Routes of the gateway service (``gateway/service.py``), which gives them
    ``self.<service>`` RPC proxies and rate limits."""

    @route(
        "POST",
        "/api/v1/applications/<application_id>/documents",
        "Upload a signed PDF (multipart: kind, file, signature)",
        tags=["applications"],
        roles=["exporter"],
        request=schemas.DocumentUpload,
        media="multipart/form-data",
        max_body=DOCUMENT_BODY,
        responses={413: "Over 2 MB", 422: "Not a PDF, not signed, or signature invalid"},
    )
    def add_document(self, request, application_id):
        principal = request.principal
        upload = request.files.get("file")
        if upload is None:
            raise BadRequest(
                "send the PDF as multipart field 'file'",
                code="VALIDATION_ERROR",
                fields={"file": ["Missing data for required field."]},
            )
        content = upload.read(DOCUMENT_BODY + 1)
        signature = signature_field(request)
        return 201, self.application.add_document(
            actor(principal),
            application_id,
            checked_text(request.form.get("kind", ""), "kind"),
            checked_text(upload.filename or "document.pdf", "file"),
            base64.b64encode(content).decode(),
            signature,
        )

    @route(
        "GET",
        "/api/v1/applications/<application_id>/documents/<document_id>",
        "Download a document",
        tags=["applications"],
        roles=["exporter", "officer"],
    )
    def get_document(self, request, application_id, document_id):
        principal = request.principal
        document = self.application.get_document(actor(principal), application_id, document_id)
        return Response(
            base64.b64decode(document["content"]),
            mimetype="application/pdf",
            headers={
                "Content-Disposition": f'attachment; filename="{document["id"]}.pdf"',
                "X-Content-SHA256": document["sha256"],
            },
        )

    @route(
        "DELETE",
        "/api/v1/applications/<application_id>/documents/<document_id>",
        "Remove a document uploaded by mistake (a draft, or an application with a discrepancy)",
        tags=["applications"],
        roles=["exporter"],
        responses={404: "No such document", 409: "Not editable in its status"},
    )
    def remove_document(self, request, application_id, document_id):
        self.application.remove_document(actor(request.principal), application_id, document_id)
        return Response(status=204)
