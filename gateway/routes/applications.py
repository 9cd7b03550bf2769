"""An exporter's applications: drafts, lists and their Excel export, history, the origin check, the
signing payload and submission; and the exchange rates a draft's FOB in INR is checked against."""

import base64

from marshmallow import ValidationError
from werkzeug.wrappers import Response

from gateway import schemas
from gateway.http import parse_json, route
from gateway.routes.common import APPLICATION_BODY, EXPORT_TIMEOUT, JSON_BODY, actor, list_query
from services.chassis.errors import BadRequest
from services.chassis.timestamps import today_in_india


class ApplicationRoutes:
    """Routes of the gateway service (``gateway/service.py``), which gives them
    ``self.<service>`` RPC proxies and rate limits."""

    @route(
        "POST",
        "/api/v1/applications",
        "Create a draft (any subset of the form)",
        tags=["applications"],
        roles=["exporter"],
        request=schemas.ApplicationForm,
        response=schemas.Application,
        max_body=APPLICATION_BODY,
    )
    def create_application(self, request):
        principal = request.principal
        body = parse_json(request, schemas.AnyObject())
        return 201, self.application.create_application(actor(principal), body)

    @route(
        "GET",
        "/api/v1/applications",
        "Own applications, filtered, sorted and paginated",
        tags=["applications"],
        roles=["exporter"],
        query=schemas.ApplicationListQuery,
        response=schemas.page_of(schemas.ApplicationSummary, "ApplicationPage"),
    )
    def list_applications(self, request):
        principal = request.principal
        query = list_query(request)
        return self.application.list_applications(
            actor(principal), query["filters"], query["page"], query["per_page"], query["sort"]
        )

    @route(
        "GET",
        "/api/v1/applications/export.xlsx",
        "The same list as an Excel workbook",
        tags=["applications"],
        roles=["exporter", "officer"],
        query=schemas.ApplicationListQuery,
    )
    def export_applications(self, request):
        principal = request.principal
        query = list_query(request)
        # Up to 100,000 rows take about half a minute to write: a deadline of its own.
        content = self.application.with_timeout(EXPORT_TIMEOUT).export_applications(
            actor(principal), query["filters"]
        )
        return Response(
            base64.b64decode(content),
            headers={"Content-Disposition": 'attachment; filename="applications.xlsx"'},
            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )

    @route(
        "GET",
        "/api/v1/applications/<application_id>",
        "One application with its form and documents",
        tags=["applications"],
        roles=["exporter", "officer"],
        response=schemas.Application,
    )
    def get_application(self, request, application_id):
        principal = request.principal
        return self.application.get_application(actor(principal), application_id)

    @route(
        "PUT",
        "/api/v1/applications/<application_id>",
        "Replace the form of a draft (or of an application with a discrepancy)",
        tags=["applications"],
        roles=["exporter"],
        request=schemas.ApplicationForm,
        response=schemas.Application,
        max_body=APPLICATION_BODY,
        responses={409: "Not editable in its status"},
    )
    def update_application(self, request, application_id):
        principal = request.principal
        body = parse_json(request, schemas.AnyObject())
        return self.application.update_application(actor(principal), application_id, body)

    @route(
        "DELETE",
        "/api/v1/applications/<application_id>",
        "Delete a draft",
        tags=["applications"],
        roles=["exporter"],
        responses={409: "Not a draft"},
    )
    def delete_application(self, request, application_id):
        principal = request.principal
        self.application.delete_application(actor(principal), application_id)
        return Response(status=204)

    @route(
        "POST",
        "/api/v1/applications/<application_id>/clone",
        "A new draft from an old application",
        tags=["applications"],
        roles=["exporter"],
        response=schemas.Application,
    )
    def clone_application(self, request, application_id):
        principal = request.principal
        return 201, self.application.clone_application(actor(principal), application_id)

    @route(
        "GET",
        "/api/v1/applications/<application_id>/history",
        "Status changes with actor, time and comment",
        tags=["applications"],
        roles=["exporter", "officer"],
    )
    def application_history(self, request, application_id):
        principal = request.principal
        return {"items": self.application.application_history(actor(principal), application_id)}

    @route(
        "GET",
        "/api/v1/applications/<application_id>/origin-check",
        "Computed RVC per product and whether each meets its criterion (drafts too)",
        tags=["applications"],
        roles=["exporter", "officer"],
        response=schemas.OriginCheck,
    )
    def origin_check(self, request, application_id):
        principal = request.principal
        return self.application.origin_check(actor(principal), application_id)

    @route(
        "POST",
        "/api/v1/applications/origin-check",
        "The same check of a form not saved yet (as the exporter fills it in); nothing is stored",
        tags=["applications"],
        roles=["exporter"],
        request=schemas.ApplicationForm,
        response=schemas.OriginCheck,
        max_body=APPLICATION_BODY,
        responses={400: "Fields not valid (fields name each)"},
    )
    def origin_check_form(self, request):
        principal = request.principal
        body = parse_json(request, schemas.AnyObject())
        return self.application.origin_check_form(actor(principal), body)

    @route(
        "GET",
        "/api/v1/applications/<application_id>/signing-payload",
        "The canonical JSON (RFC 8785) to sign with the DSC for submission",
        tags=["applications"],
        roles=["exporter"],
        response=schemas.SigningPayload,
    )
    def signing_payload(self, request, application_id):
        principal = request.principal
        return self.application.signing_payload(actor(principal), application_id)

    @route(
        "POST",
        "/api/v1/applications/<application_id>/submit",
        "Submit with the DSC signature over the signing payload; the number is given and payment is next",
        tags=["applications"],
        roles=["exporter"],
        request=schemas.SubmitRequest,
        response=schemas.Application,
        max_body=JSON_BODY,
        responses={
            409: "Not a draft, or changed while submitting",
            422: "Rules broken (fields name each), or DSC refused",
        },
    )
    def submit_application(self, request, application_id):
        principal = request.principal
        body = parse_json(request, schemas.SubmitRequest())
        return self.application.submit_application(actor(principal), application_id, body["signature"])

    @route(
        "POST",
        "/api/v1/applications/<application_id>/resubmit",
        "Resubmit after a discrepancy, with the DSC signature over the new signing payload",
        tags=["applications"],
        roles=["exporter"],
        request=schemas.SubmitRequest,
        response=schemas.Application,
        max_body=JSON_BODY,
        responses={
            409: "No discrepancy raised, or changed while resubmitting",
            422: "Rules broken (fields name each), or DSC refused",
        },
    )
    def resubmit_application(self, request, application_id):
        principal = request.principal
        body = parse_json(request, schemas.SubmitRequest())
        return self.application.resubmit_application(actor(principal), application_id, body["signature"])

    # Beside the applications, not the reference lists: it is the rule of the FOB in INR
    # (services/application/rules.py), shown to the exporter before submission checks it.
    @route(
        "GET",
        "/api/v1/reference/exchange-rates",
        "The exchange rates in force on a day (INR per unit), which the products' FOB in INR is "
        "checked against at submission (the rate on the invoice date)",
        tags=["reference"],
        query=schemas.ExchangeRatesQuery,
        response=schemas.ExchangeRatesOn,
        public=True,
    )
    def exchange_rates_on(self, request):
        try:
            query = schemas.ExchangeRatesQuery().load(request.args.to_dict())
        except ValidationError as exc:
            raise BadRequest(
                "on must be a date from 2000-01-01 to 2100-12-31, like 2026-11-25",
                code="VALIDATION_ERROR",
                fields=exc.messages,
            ) from None
        return self.application.exchange_rates_on((query.get("on") or today_in_india()).isoformat())
