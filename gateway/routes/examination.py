"""The officer's queue and decisions, turnaround statistics, and the approved exporters who self-
certify."""

import base64

from marshmallow import ValidationError
from werkzeug.wrappers import Response

from gateway import schemas
from gateway.http import parse_json, route
from gateway.routes.common import EXPORT_TIMEOUT, JSON_BODY, STAFF_ROLES, actor, list_query, paginate
from services.chassis.errors import BadRequest


class ExaminationRoutes:
    """Routes of the gateway service (``gateway/service.py``), which gives them
    ``self.<service>`` RPC proxies and rate limits."""

    @route(
        "GET",
        "/api/v1/officer/applications",
        "The officer's issuing office's queue: "
        "submitted applications (or the status asked for), oldest payment first",
        tags=["examination"],
        roles=["officer"],
        query=schemas.OfficerQueueQuery,
        response=schemas.page_of(schemas.ApplicationSummary, "OfficerQueuePage"),
    )
    def officer_queue(self, request):
        principal = request.principal
        query = self._officer_query(request)
        return self.application.officer_queue(
            actor(principal), query["filters"], query["page"], query["per_page"]
        )

    @route(
        "GET",
        "/api/v1/officer/applications/export.xlsx",
        "The queue as an Excel workbook",
        tags=["examination"],
        roles=["officer"],
        query=schemas.OfficerQueueQuery,
    )
    def export_officer_queue(self, request):
        principal = request.principal
        query = self._officer_query(request)
        content = self.application.with_timeout(EXPORT_TIMEOUT).export_officer_queue(
            actor(principal), query["filters"]
        )
        return Response(
            base64.b64decode(content),
            headers={"Content-Disposition": 'attachment; filename="queue.xlsx"'},
            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )

    @staticmethod
    def _officer_query(request) -> dict:
        query = list_query(request, schemas.OfficerQueueQuery())
        if "post_audit" in query:  # a boolean, not one of the text filters
            query["filters"]["post_audit"] = query.pop("post_audit")
        return query

    @route(
        "POST",
        "/api/v1/officer/applications/<application_id>/discrepancy",
        "Send the application back to the exporter with what to correct",
        tags=["examination"],
        roles=["officer"],
        request=schemas.Comment,
        response=schemas.Application,
        max_body=JSON_BODY,
        responses={404: "Not of the officer's office", 409: "Not awaiting examination"},
    )
    def raise_discrepancy(self, request, application_id):
        principal = request.principal
        body = parse_json(request, schemas.Comment())
        return self.application.raise_discrepancy(actor(principal), application_id, body["comment"])

    @route(
        "POST",
        "/api/v1/officer/applications/<application_id>/approve",
        "Approve: the certificate is issued next (the body may be omitted)",
        tags=["examination"],
        roles=["officer"],
        request=schemas.Remarks,
        response=schemas.Application,
        max_body=JSON_BODY,
        responses={
            404: "Not of the officer's office",
            409: "Not awaiting examination, or decided already; "
            "ORIGINAL_NOT_VALID: a duplicate or in-lieu of a "
            "certificate revoked or superseded since",
        },
    )
    def approve_application(self, request, application_id):
        principal = request.principal
        # A bare POST approves without remarks.
        body = (
            parse_json(request, schemas.Remarks())
            if request.content_length or request.mimetype == "application/json"
            else {}
        )
        return self.application.approve_application(actor(principal), application_id, body.get("remarks"))

    @route(
        "POST",
        "/api/v1/officer/applications/<application_id>/reject",
        "Reject, with the reason",
        tags=["examination"],
        roles=["officer"],
        request=schemas.Reason,
        response=schemas.Application,
        max_body=JSON_BODY,
        responses={404: "Not of the officer's office", 409: "Not awaiting examination, or decided already"},
    )
    def reject_application(self, request, application_id):
        principal = request.principal
        body = parse_json(request, schemas.Reason())
        return self.application.reject_application(actor(principal), application_id, body["reason"])

    @route(
        "GET",
        "/api/v1/admin/stats",
        "Per issuing office: waiting, decided and turnaround (payment to decision) over the last `days` days",
        tags=["admin"],
        roles=STAFF_ROLES,
        query=schemas.StatsQuery,
        response=schemas.Stats,
    )
    def examination_stats(self, request):
        principal = request.principal
        try:
            query = schemas.StatsQuery().load(request.args.to_dict())
        except ValidationError as exc:
            raise BadRequest(
                "days must be a whole number from 1 to 366", code="VALIDATION_ERROR", fields=exc.messages
            ) from None
        return self.application.examination_stats(actor(principal), query["days"])

    @route(
        "GET",
        "/api/v1/admin/self-certification",
        "Approved exporters whose applications "
        "are approved without an officer (an agency admin's own agency)",
        tags=["admin"],
        roles=STAFF_ROLES,
        query=schemas.Page,
        response=schemas.page_of(schemas.SelfCertification, "SelfCertificationPage"),
    )
    def self_certification(self, request):
        principal = request.principal
        return paginate(request, self.application.self_certification(actor(principal)))

    @route(
        "POST",
        "/api/v1/admin/self-certification",
        "Make an exporter an approved exporter "
        "of an agency: its applications under agreements that allow it are approved on "
        "payment and audited after",
        tags=["admin"],
        roles=STAFF_ROLES,
        request=schemas.SelfCertification,
        response=schemas.SelfCertification,
        max_body=JSON_BODY,
        responses={403: "Another agency", 422: "Unknown agency or exporter"},
    )
    def flag_self_certification(self, request):
        principal = request.principal
        body = parse_json(request, schemas.SelfCertification())
        return 201, self.application.flag_self_certification(
            actor(principal), body["iec"], body["agency_code"]
        )

    @route(
        "DELETE",
        "/api/v1/admin/self-certification/<agency_code>/<iec>",
        "End an exporter's self-certification with an agency",
        tags=["admin"],
        roles=STAFF_ROLES,
        responses={403: "Another agency", 404: "Not an approved exporter of the agency"},
    )
    def unflag_self_certification(self, request, agency_code, iec):
        principal = request.principal
        self.application.unflag_self_certification(actor(principal), agency_code, iec)
        return Response(status=204)
