"""Issued certificates, duplicates and certificates in lieu, the draft preview, revocation, and
public verification by number and by file."""

import base64
from urllib.parse import urlencode

from werkzeug.wrappers import Response

from gateway import pages, schemas
from gateway.clients import client_address
from gateway.errors import http_status
from gateway.http import checked_text, loads_checked, parse_json, route
from gateway.routes.common import (
    DOCUMENT_BODY,
    JSON_BODY,
    STAFF_ROLES,
    VERIFY_BODY,
    actor,
    page_args,
    signature_field,
)
from services.chassis import config
from services.chassis.errors import ApiError, BadRequest


class CertificateRoutes:
    """Routes of the gateway service (``gateway/service.py``), which gives them
    ``self.<service>`` RPC proxies and rate limits."""

    @route(
        "GET",
        "/api/v1/certificates",
        "Issued certificates: the exporter's own, the officer's office's",
        tags=["certificates"],
        roles=["exporter", "officer", *STAFF_ROLES],
    )
    def list_certificates(self, request):
        principal = request.principal
        return self.certificate.certificates(
            actor(principal), **page_args(request), status=request.args.get("status")
        )

    @route(
        "GET",
        "/api/v1/certificates/<certificate_id>",
        "One certificate's registry entry",
        tags=["certificates"],
        roles=["exporter", "officer", *STAFF_ROLES],
    )
    def get_certificate(self, request, certificate_id):
        principal = request.principal
        return self.certificate.certificate(actor(principal), certificate_id)

    @route(
        "GET",
        "/api/v1/certificates/<certificate_id>.pdf",
        "The signed certificate PDF",
        tags=["certificates"],
        roles=["exporter", "officer", *STAFF_ROLES],
    )
    def certificate_pdf(self, request, certificate_id):
        principal = request.principal
        document = self.certificate.certificate_pdf(actor(principal), certificate_id)
        filename = document["number"].replace("/", "-")
        return Response(
            base64.b64decode(document["content"]),
            mimetype="application/pdf",
            headers={
                "Content-Disposition": f'attachment; filename="{filename}.pdf"',
                "X-Content-SHA256": document["sha256"],
            },
        )

    @route(
        "POST",
        "/api/v1/certificates/<certificate_id>/duplicates",
        "Ask for a duplicate or "
        "a certificate in lieu (multipart: kind, reason, for in_lieu `form` = JSON of the "
        "corrected fields, optional signed `file` + `signature`); it has its own fee",
        tags=["certificates"],
        roles=["exporter"],
        max_body=DOCUMENT_BODY,
        response=schemas.Application,
        responses={
            200: "The open request, still awaiting payment: an in-lieu takes the "
            "newest corrections, and a signed file given is added to it",
            409: "The certificate is revoked or superseded, not an original, or the "
            "open request was paid meanwhile (REQUEST_OPEN)",
            422: "The corrections break a rule or change a fixed field",
        },
    )
    def request_duplicate(self, request, certificate_id):
        principal = request.principal
        corrections = {}
        if request.form.get("form"):
            corrections = loads_checked(request.form["form"], "form")
            if not isinstance(corrections, dict):
                raise BadRequest(
                    "form must be a JSON object of the corrected fields",
                    code="VALIDATION_ERROR",
                    fields={"form": ["Not a JSON object."]},
                )
        supporting = None
        upload = request.files.get("file")
        if upload is not None:
            supporting = {
                "filename": checked_text(upload.filename or "supporting.pdf", "file"),
                "content_b64": base64.b64encode(upload.read(DOCUMENT_BODY + 1)).decode(),
                "signature_b64": signature_field(request),
            }
        certificate = self.certificate.certificate_for_request(actor(principal), certificate_id)
        made = self.application.request_duplicate(
            actor(principal),
            certificate,
            checked_text(request.form.get("kind", ""), "kind"),
            checked_text(request.form.get("reason", ""), "reason"),
            corrections,
            supporting,
        )
        return (201 if made["created"] else 200), made["application"]

    @route(
        "GET",
        "/api/v1/applications/<application_id>/preview.pdf",
        "The certificate as it would be issued, unsigned and marked DRAFT",
        tags=["certificates"],
        roles=["exporter"],
        responses={422: "The form does not name an issuing office yet"},
    )
    def certificate_preview(self, request, application_id):
        principal = request.principal
        pdf = base64.b64decode(self.certificate.preview(actor(principal), application_id))
        return Response(
            pdf, mimetype="application/pdf", headers={"Content-Disposition": 'inline; filename="preview.pdf"'}
        )

    @route(
        "POST",
        "/api/v1/admin/certificates/<certificate_id>/revoke",
        "Revoke a certificate of one's agency, with the reason",
        tags=["admin"],
        roles=STAFF_ROLES,
        request=schemas.RevokeRequest,
        max_body=JSON_BODY,
        responses={409: "Revoked or superseded already"},
    )
    def revoke_certificate(self, request, certificate_id):
        principal = request.principal
        body = parse_json(request, schemas.RevokeRequest())
        return self.certificate.revoke(actor(principal), certificate_id, body["reason"])

    @route(
        "GET",
        "/api/v1/verify",
        "Verify a certificate by its number (JSON, or an HTML page for browsers: the QR code's target)",
        tags=["verification"],
        query=schemas.VerifyNumberQuery,
        responses={404: "No certificate has this number"},
        public=True,
    )
    def verify_number(self, request):
        number = request.args.get("number", "")
        wants_html = request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html"
        if not wants_html:
            return self.certificate.verify_number(number)
        if config.portal_url():  # the QR codes of certificates issued already: the portal's page
            return Response(status=302, headers={"Location": "/verify?" + urlencode({"number": number})})
        try:
            found = self.certificate.verify_number(number)
        except ApiError as exc:
            return pages.verification(number, None, exc.message, status=http_status(exc))
        return pages.verification(number, found)

    @route(
        "POST",
        "/api/v1/verify",
        "Verify a certificate PDF (multipart `file`): signature, registry hash and status",
        tags=["verification"],
        request=schemas.VerifyUpload,
        media="multipart/form-data",
        max_body=VERIFY_BODY,
        responses={
            400: "No file",
            422: "PDF_TOO_COMPLEX: the file claims or needs more than any certificate (not checked)",
            429: "Over 20 files a minute from one address",
            503: "VERIFICATION_BUSY: too many files waiting (Retry-After)",
        },
        public=True,
    )
    def verify_file(self, request):
        self.file_verifications.check(client_address(request))
        upload = request.files.get("file")
        if upload is None:
            raise BadRequest(
                "send the PDF as multipart field 'file'",
                code="VALIDATION_ERROR",
                fields={"file": ["Missing data for required field."]},
            )
        return self.verification.verify_file(base64.b64encode(upload.read(VERIFY_BODY)).decode())
