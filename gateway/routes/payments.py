"""Fees and payments: the order summary, paying through a provider (and the sandbox provider's
page), callbacks and receipts."""

import base64

from werkzeug.wrappers import Response

from gateway import pages, schemas
from gateway.http import checked_text, route
from gateway.routes.common import JSON_BODY, PAYMENT_PROVIDERS, actor, paginate
from services.chassis.errors import NotFound


class PaymentRoutes:
    """Routes of the gateway service (``gateway/service.py``), which gives them
    ``self.<service>`` RPC proxies and rate limits."""

    @route(
        "GET",
        "/api/v1/applications/<application_id>/fee",
        "Order summary: base fee, CGST + SGST (same state) or IGST, total, in paise",
        tags=["payments"],
        roles=["exporter"],
        response=schemas.OrderSummary,
        responses={422: "No fee in force, or the form lacks office or branch"},
    )
    def order_summary(self, request, application_id):
        principal = request.principal
        return self.payment.order_summary(actor(principal), application_id)

    @route(
        "POST",
        "/api/v1/applications/<application_id>/payments",
        "Start paying the fee: the provider's page to send the payer to",
        tags=["payments"],
        roles=["exporter"],
        response=schemas.Payment,
        max_body=JSON_BODY,
        responses={409: "Not awaiting payment, or paid already", 503: "Payment provider unreachable"},
    )
    def create_payment(self, request, application_id):
        principal = request.principal
        return 201, self.payment.create_payment(actor(principal), application_id)

    @route(
        "GET",
        "/api/v1/applications/<application_id>/payments",
        "Payments of an application, oldest first",
        tags=["payments"],
        roles=["exporter", "officer"],
    )
    def list_payments(self, request, application_id):
        principal = request.principal
        return paginate(request, self.payment.payments(actor(principal), application_id))

    @route(
        "GET",
        "/api/v1/payments/<payment_id>/receipt.pdf",
        "GST receipt of a completed payment",
        tags=["payments"],
        roles=["exporter", "officer"],
        responses={409: "Not completed yet"},
    )
    def payment_receipt(self, request, payment_id):
        principal = request.principal
        receipt = self.payment.receipt_pdf(actor(principal), payment_id)
        return Response(
            base64.b64decode(receipt["content"]),
            mimetype="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{receipt["filename"]}"'},
        )

    @route(
        "POST",
        "/api/v1/payments/callback/<provider>",
        "The payment provider's signed callback (server to server); idempotent",
        tags=["payments"],
        max_body=JSON_BODY,
        responses={
            401: "Signature does not verify",
            404: "Unknown provider or order",
            422: "Amount or currency differs from the order",
        },
        public=True,
    )
    def payment_callback(self, request, provider):
        if provider not in PAYMENT_PROVIDERS:
            raise NotFound("no such payment provider", code="PROVIDER_UNKNOWN")
        body = request.get_data(cache=False)
        return self.payment.callback(provider, dict(request.headers), base64.b64encode(body).decode())

    @route(
        "GET",
        "/sandbox-pay/<payment_id>",
        "The sandbox provider's payment page",
        tags=["payments"],
        public=True,
    )
    def sandbox_page(self, request, payment_id):
        return pages.sandbox_payment(self.payment.sandbox_payment(payment_id))

    @route(
        "POST",
        "/sandbox-pay/<payment_id>",
        "The payer's choice on the sandbox page (form "
        "field outcome=success or failure); the sandbox then calls back as a provider would",
        tags=["payments"],
        request=schemas.SandboxDecision,
        media="application/x-www-form-urlencoded",
        max_body=4096,
        public=True,
    )
    def sandbox_decide(self, request, payment_id):
        self.payment.sandbox_decide(payment_id, checked_text(request.form.get("outcome", ""), "outcome"))
        return Response(status=303, headers={"Location": f"/sandbox-pay/{payment_id}"})
