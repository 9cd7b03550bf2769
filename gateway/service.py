"""The gateway: the only HTTP entry. It authenticates, authorizes, validates and maps to RPC;
every answer, errors included, is JSON (architecture §7)."""
import base64
from functools import lru_cache
from pathlib import Path

from markupsafe import escape
from nameko.events import BROADCAST, event_handler
from nameko.timer import timer
from marshmallow import ValidationError
from werkzeug.utils import safe_join
from werkzeug.wrappers import Response

from gateway import openapi, revocation, schemas
from gateway.http import (FORM_PAGE_POLICY, PAGE_POLICY, checked_text, loads_checked,
                          page_response, parse_json, route)
from gateway.ratelimit import RateLimit
from gateway.revocation import KnownCredentialVersions
from services.chassis import config
from services.chassis.correlation import CorrelationId
from services.chassis.errors import ApiError, BadRequest, NotFound, RuleViolation
from services.chassis.rpc import TimedRpcProxy
from services.chassis.workers import ReleaseArguments
from services.contracts.events import parse_event
from services.contracts.fees import FeeWindow

JSON_BODY = 64 * 1024
APPLICATION_BODY = 1024 * 1024  # 100 products with 100 raw materials each fit
DOCUMENT_BODY = 2 * 1024 * 1024 + 256 * 1024  # the 2 MB PDF, its signature and the form fields
REGISTRATION_BODY = 256 * 1024  # certificate, signature and up to 200 branches
HS_UPLOAD = 5 * 1024 * 1024
VERIFY_BODY = 10 * 1024 * 1024  # a certificate with 100 products is well under this
STAFF_ROLES = ("admin", "agency_admin")
EXPORT_TIMEOUT = 120


@lru_cache(maxsize=1)
def _swagger_dir():
    from swagger_ui_bundle import swagger_ui_path
    return str(swagger_ui_path)


DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>OpenCoO API</title>
<link rel="stylesheet" href="/api/docs/static/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="/api/docs/static/swagger-ui-bundle.js"></script>
<script src="/api/docs/opencoo/docs.js"></script>
</body></html>"""


DOCS_SCRIPT = (Path(__file__).parent / "static" / "docs.js").read_bytes()

_PAGE = schemas.Page()

PAYMENT_PROVIDERS = ("sandbox", "razorpay")

SANDBOX_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>OpenCoO sandbox payment</title></head>
<body><h1>Sandbox payment</h1>
<p>{number}: <strong>INR {amount}</strong>. Status: <strong id="status">{status}</strong>.</p>
{form}<p>This is the development payment provider: no money moves.</p></body></html>"""

SANDBOX_FORM = """<form method="post">
<button name="outcome" value="success">Pay (success)</button>
<button name="outcome" value="failure">Decline (failure)</button></form>"""


VERIFICATION_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Certificate of Origin {number}</title></head>
<body><h1>Certificate of Origin verification</h1>{body}
<p>To check a PDF file itself, upload it to POST /api/v1/verify.</p></body></html>"""

STATUS_WORDS = {"valid": "VALID", "revoked": "REVOKED — not valid",
                "superseded": "SUPERSEDED — replaced by another certificate"}


def _verification_page(number, found, problem) -> str:
    """What a customs officer sees after scanning the QR code."""
    if found is None:
        body = f"<p><strong>{escape(problem)}</strong>: {escape(number)}</p>"
    else:
        rows = [("Number", found["number"]), ("Status", STATUS_WORDS[found["status"]]),
                ("Reason", found["status_reason"]), ("Replaced by", found["superseded_by"]),
                ("Issued on", found["issued_on"]), ("Exporter", found["exporter"]),
                ("IEC", found["iec"]), ("Importing country", found["importer_country"]),
                ("Issuing agency", found["agency_code"]),
                ("Kind", found["kind"] if found["kind"] == "original"
                 else f"{found['kind']} of {found['original_number']}"),
                ("SHA-256 of the signed PDF", found["sha256"])]
        body = "<table>" + "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>"
                                   for k, v in rows if v) + "</table>"
    return VERIFICATION_PAGE.format(number=escape(number), body=body)


def _sandbox_page(payment) -> Response:
    html = SANDBOX_PAGE.format(
        number=escape(payment["application_number"]), amount=f"{payment['total'] / 100:.2f}",
        status=escape(payment["status"]), form=SANDBOX_FORM if payment["status"] == "created" else "")
    return page_response(html, FORM_PAGE_POLICY)


RESET_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>OpenCoO: choose a new password</title></head>
<body><h1>Choose a new password</h1>{message}{form}</body></html>"""

RESET_FORM = """<form method="post" action="/reset-password">
<input type="hidden" name="token" value="{token}">
<label for="new_password">New password (at least 10 characters, letters and digits)</label>
<input id="new_password" name="new_password" type="password" autocomplete="new-password"
 minlength="10" required>
<button type="submit">Set the password</button></form>"""


def _reset_page(token: str, message: str | None, status: int = 200,
                done: bool = False) -> Response:
    html = RESET_PAGE.format(
        message=f"<p><strong>{escape(message)}</strong></p>" if message else "",
        form="" if done else RESET_FORM.format(token=escape(token)))
    page = page_response(html, FORM_PAGE_POLICY)
    page.status_code = status
    return page


def _page_args(request) -> dict:
    try:
        return _PAGE.load({k: v for k, v in request.args.items() if k in ("page", "per_page")})
    except ValidationError as exc:
        raise BadRequest("page and per_page must be positive whole numbers",
                         code="VALIDATION_ERROR", fields=exc.messages) from None


def paginate(request, items):
    page = _page_args(request)
    start = (page["page"] - 1) * page["per_page"]
    return {"items": items[start:start + page["per_page"]], "page": page["page"],
            "per_page": page["per_page"], "total": len(items)}


def client_address(request) -> str:
    """The client, for rate limits and lockouts. Behind N trusted proxies
    (OPENCOO_TRUSTED_PROXIES=N) it is the Nth address from the right of X-Forwarded-For;
    without, the socket's peer (a forged header must not choose its own limit)."""
    hops = int(config.env("OPENCOO_TRUSTED_PROXIES", "0"))
    if hops > 0:
        forwarded = [a.strip() for a in request.headers.get("X-Forwarded-For", "").split(",")
                     if a.strip()]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.remote_addr or "unknown"


def actor(principal) -> dict:
    """The caller as services see it: they decide what this role, agency and office may do."""
    return {"username": principal.username, "role": principal.role, "agency": principal.agency,
            "office": principal.office}


LIST_FILTERS = ("status", "agreement", "agency", "number", "date_from", "date_to")
_LIST_PAGE = schemas.ApplicationListQuery()


def list_query(request, schema=_LIST_PAGE) -> dict:
    try:
        query = schema.load(request.args.to_dict())
    except ValidationError as exc:
        raise BadRequest("the list filters are not valid", code="VALIDATION_ERROR",
                         fields=exc.messages) from None
    query["filters"] = {k: str(query.pop(k)) for k in LIST_FILTERS if k in query}
    return query


def _signature_field(request) -> str:
    """The detached CMS of an upload: a base64 text field, or a file part (DER or base64)."""
    if request.form.get("signature"):
        return checked_text(request.form["signature"], "signature").strip()
    part = request.files.get("signature")
    if part is None:
        raise RuleViolation("sign the document with your DSC and send the detached signature as "
                            "'signature'", code="DOCUMENT_UNSIGNED",
                            fields={"signature": ["Missing: every document is signed."]})
    raw = part.read(200_000)
    try:
        text = raw.decode("ascii").strip()
        base64.b64decode(text, validate=True)
        return text
    except (UnicodeDecodeError, ValueError):
        return base64.b64encode(raw).decode()


class GatewayService:
    name = "gateway"

    correlation_id = CorrelationId()
    release_arguments = ReleaseArguments()
    registration = TimedRpcProxy("registration")
    application = TimedRpcProxy("application")
    payment = TimedRpcProxy("payment")
    signing = TimedRpcProxy("signing")
    certificate = TimedRpcProxy("certificate")
    notification = TimedRpcProxy("notification")
    verification = TimedRpcProxy("verification")
    credential_versions = KnownCredentialVersions()
    iec_lookups = RateLimit(limit=30, seconds=60)
    # Public and heavy (a PDF up to 10 MB through two services and a signature validation).
    file_verifications = RateLimit(limit=20, seconds=60)

    # --- tokens revoked by a password change ---------------------------------------------------

    @event_handler("registration", "credentials_changed", handler_type=BROADCAST,
                   reliable_delivery=False)
    def on_credentials_changed(self, payload):
        event = parse_event("registration", "credentials_changed", payload)
        self.credential_versions.note(event["username"], event["credentials_version"])

    @timer(interval=revocation.REFRESH_SECONDS, eager=True)
    def refresh_credential_versions(self):
        revocation.refresh(self.credential_versions, self.registration)

    # --- platform ------------------------------------------------------------------------------

    @route("GET", "/health", "Health of the gateway and of every service",
           response=schemas.Health, responses={503: "A service is down (named in `down`)"},
           public=True)
    def health(self, request):
        timeout = config.health_timeout()
        pending, report = {}, {}
        for name in config.SERVICES:
            try:
                pending[name] = getattr(self, name).with_timeout(timeout).health.call_async()
            except ApiError as exc:
                report[name] = {"status": "down", "error": exc.message}
        for name, reply in pending.items():  # all asked at once: waits at most one timeout
            try:
                answer = reply.result()
                report[name] = {"status": "ok", "outbox_backlog": answer.get("outbox_backlog", 0)}
            except Exception as exc:
                report[name] = {"status": "down",
                                "error": exc.message if isinstance(exc, ApiError) else str(exc)}
        down = sorted(name for name, state in report.items() if state["status"] != "ok")
        body = {"status": "degraded" if down else "ok", "down": down,
                "services": {"gateway": {"status": "ok"},
                             **{name: report[name] for name in config.SERVICES}}}
        return (503 if down else 200), body

    @route("GET", "/api/v1/openapi.json", "This API's OpenAPI 3 document", public=True)
    def openapi_document(self, request):
        return openapi.build(config.public_url())

    @route("GET", "/api/docs", "Browsable API documentation", public=True)
    def docs(self, request):
        # Swagger UI sets styles on its elements and fetches the document (and "try it out").
        return page_response(DOCS_PAGE, PAGE_POLICY.replace(
            "style-src 'self'", "style-src 'self' 'unsafe-inline'") + "; connect-src 'self'")

    @route("GET", "/api/docs/opencoo/docs.js", "The documentation page's script", public=True)
    def docs_script(self, request):
        return Response(DOCS_SCRIPT, mimetype="text/javascript",
                        headers={"Cache-Control": "public, max-age=3600"})

    @route("GET", "/api/docs/static/<path:filename>", "Assets of the documentation page",
           public=True)
    def docs_static(self, request, filename):
        path = safe_join(_swagger_dir(), filename)
        if path is None or not filename.endswith((".js", ".css", ".png")):
            raise NotFound("no such asset")
        try:
            with open(path, "rb") as handle:
                content = handle.read()
        except (FileNotFoundError, IsADirectoryError):
            raise NotFound("no such asset") from None
        mimetype = {"js": "text/javascript", "css": "text/css", "png": "image/png"}[
            filename.rsplit(".", 1)[1]]
        return Response(content, mimetype=mimetype,
                        headers={"Cache-Control": "public, max-age=86400"})

    # --- reference data ------------------------------------------------------------------------

    @route("GET", "/api/v1/reference/agreements", "Trade agreements and their origin rules",
           tags=["reference"], query=schemas.Page,
           response=schemas.page_of(schemas.Agreement, "AgreementPage"), public=True)
    def agreements(self, request):
        return paginate(request, self.application.agreements())

    @route("GET", "/api/v1/reference/agreements/<code>", "One trade agreement",
           tags=["reference"], response=schemas.Agreement, responses={404: "Unknown code"},
           public=True)
    def agreement(self, request, code):
        return self.application.agreement(code)

    @route("GET", "/api/v1/reference/agencies", "Issuing agencies with their offices",
           tags=["reference"], query=schemas.Page,
           response=schemas.page_of(schemas.Agency, "AgencyPage"), public=True)
    def agencies(self, request):
        return paginate(request, self.registration.agencies())

    @route("GET", "/api/v1/reference/units", "Units of quantity (UQC)", tags=["reference"],
           query=schemas.Page, response=schemas.page_of(schemas.CodeName, "UnitPage"), public=True)
    def units(self, request):
        return paginate(request, self.application.units())

    @route("GET", "/api/v1/reference/countries", "Countries (ISO 3166)", tags=["reference"],
           query=schemas.Page, response=schemas.page_of(schemas.Country, "CountryPage"),
           public=True)
    def countries(self, request):
        return paginate(request, self.application.countries())

    @route("GET", "/api/v1/reference/currencies", "Currencies (ISO 4217)", tags=["reference"],
           query=schemas.Page, response=schemas.page_of(schemas.CodeName, "CurrencyPage"),
           public=True)
    def currencies(self, request):
        return paginate(request, self.application.currencies())

    @route("GET", "/api/v1/reference/hs", "Which HS nomenclature is loaded", tags=["reference"],
           response=schemas.HsStatus, public=True)
    def hs_status(self, request):
        return self.application.hs_status()

    @route("GET", "/api/v1/reference/hs/<code>",
           "An HS chapter, heading, subheading or 8-digit tariff item", tags=["reference"],
           response=schemas.HsCode,
           responses={404: "Not in the loaded nomenclature", 400: "Not an HS code"}, public=True)
    def hs_code(self, request, code):
        return self.application.hs_code(code)

    @route("POST", "/api/v1/admin/reference/hs", "Load an HS nomenclature (CSV upload)",
           tags=["admin"], request=schemas.HsUpload, response=schemas.HsStatus, roles=["admin"],
           max_body=HS_UPLOAD, responses={413: "File over 5 MiB", 422: "File not valid"})
    def upload_hs(self, request):
        upload = request.files.get("file")
        if upload is None:
            raise BadRequest("send the CSV as multipart field 'file'",
                             fields={"file": ["Missing data for required field."]})
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise BadRequest("the file is not UTF-8 text", fields={"file": ["Not UTF-8."]}) \
                from None
        return self.application.hs_import_csv(text, upload.filename or "upload")

    # --- authentication ------------------------------------------------------------------------

    @route("GET", "/api/v1/auth/captcha", "A single-use arithmetic captcha for login",
           tags=["auth"], response=schemas.Captcha, public=True)
    def captcha(self, request):
        return self.registration.new_captcha()

    @route("POST", "/api/v1/auth/login", "Log in with username, password and captcha",
           tags=["auth"], request=schemas.LoginRequest, response=schemas.Token,
           max_body=JSON_BODY, responses={401: "Wrong username or password",
                                          429: "Too many failed logins (Retry-After)"},
           public=True)
    def login(self, request):
        body = parse_json(request, schemas.LoginRequest())
        return self.registration.login(body["username"], body["password"], body["captcha_id"],
                                       body["captcha_answer"], client_address(request))

    @route("POST", "/api/v1/auth/forgot-password",
           "A link to choose a new password, by email to the account's own address",
           tags=["auth"], request=schemas.ForgotPassword, response=schemas.Message,
           max_body=JSON_BODY,
           responses={429: "TOO_MANY_RESETS: 3 an hour per account, 10 per address "
                           "(Retry-After)"}, public=True)
    def forgot_password(self, request):
        body = parse_json(request, schemas.ForgotPassword())
        self.registration.forgot_password(body["username"], body["email"], body["captcha_id"],
                                          body["captcha_answer"], client_address(request))
        return 202, {"message": "If the username and email match an account, a link to choose "
                                "a new password has been sent to that email. It works once, "
                                "for 30 minutes."}

    @route("POST", "/api/v1/auth/reset-password", "Choose a new password with the emailed "
           "link's token; every token issued before stops working", tags=["auth"],
           request=schemas.ResetPassword, response=schemas.Message, max_body=JSON_BODY,
           responses={400: "RESET_LINK_INVALID: used, expired or replaced by a newer link",
                      422: "New password too weak (the link still works)"}, public=True)
    def reset_password(self, request):
        body = parse_json(request, schemas.ResetPassword())
        self.registration.reset_password(body["token"], body["new_password"])
        return {"message": "Password changed. Log in with the new password."}

    @route("GET", "/reset-password", "The emailed link: a page to choose a new password",
           tags=["auth"], public=True)
    def reset_password_page(self, request):
        return _reset_page(request.args.get("token", ""), None)

    @route("POST", "/reset-password", "The page's form (token, new_password)", tags=["auth"],
           max_body=JSON_BODY, public=True)
    def reset_password_form(self, request):
        token = checked_text(request.form.get("token", ""), "token")
        try:
            self.registration.reset_password(
                token, checked_text(request.form.get("new_password", ""), "new_password"))
        except ApiError as exc:
            return _reset_page(token, exc.message, status=exc.status)
        return _reset_page("", "Password changed. Log in with the new password.", done=True)

    @route("POST", "/api/v1/auth/change-password", "Change one's own password: a fresh token; "
           "every token issued before stops working", tags=["auth"],
           request=schemas.ChangePassword, response=schemas.Token, max_body=JSON_BODY,
           roles=["exporter", "officer", "agency_admin", "admin"],
           responses={401: "Current password wrong", 422: "New password too weak"})
    def change_password(self, request):
        principal = request.principal
        body = parse_json(request, schemas.ChangePassword())
        return self.registration.change_password(principal.username, body["current_password"],
                                                 body["new_password"])

    # --- exporter registration -----------------------------------------------------------------

    @route("GET", "/api/v1/iec/<iec>", "The IEC record to start registration (contacts masked)",
           tags=["registration"], response=schemas.IecPublic,
           responses={404: "Not in the IEC directory", 429: "Too many lookups",
                      503: "IEC directory down"}, public=True)
    def iec(self, request, iec):
        self.iec_lookups.check(client_address(request))
        return self.registration.iec_record(iec)

    @route("POST", "/api/v1/registrations/challenge", "A nonce to sign with the DSC",
           tags=["registration"], request=schemas.ChallengeRequest, response=schemas.Challenge,
           max_body=JSON_BODY, responses={404: "Unknown IEC", 409: "Already registered"},
           public=True)
    def registration_challenge(self, request):
        self.iec_lookups.check(client_address(request))  # it too tells which IECs exist
        body = parse_json(request, schemas.ChallengeRequest())
        return self.registration.registration_challenge(body["iec"])

    @route("POST", "/api/v1/registrations", "Register an exporter with IEC and DSC",
           tags=["registration"], request=schemas.RegistrationRequest,
           response=schemas.Registration, max_body=REGISTRATION_BODY,
           responses={404: "Unknown IEC", 409: "Already registered",
                      422: "A rule is broken (DSC_*, CONTACT_MISMATCH, BRANCHES_INVALID, …)",
                      503: "IEC directory down"}, public=True)
    def register(self, request):
        body = parse_json(request, schemas.RegistrationRequest())
        return 201, self.registration.register_exporter(body)

    @route("GET", "/api/v1/exporters/me", "The logged-in exporter: firm, branches, DSC",
           tags=["registration"], roles=["exporter"])
    def exporter_me(self, request):
        principal = request.principal
        return self.registration.exporter(principal.username)

    # --- applications ------------------------------------------------------------------------

    @route("POST", "/api/v1/applications", "Create a draft (any subset of the form)",
           tags=["applications"], roles=["exporter"], request=schemas.ApplicationForm,
           response=schemas.Application, max_body=APPLICATION_BODY)
    def create_application(self, request):
        principal = request.principal
        body = parse_json(request, schemas.AnyObject())
        return 201, self.application.create_application(actor(principal), body)

    @route("GET", "/api/v1/applications", "Own applications, filtered, sorted and paginated",
           tags=["applications"], roles=["exporter"], query=schemas.ApplicationListQuery,
           response=schemas.page_of(schemas.ApplicationSummary, "ApplicationPage"))
    def list_applications(self, request):
        principal = request.principal
        query = list_query(request)
        return self.application.list_applications(actor(principal), query["filters"],
                                                  query["page"], query["per_page"],
                                                  query["sort"])

    @route("GET", "/api/v1/applications/export.xlsx", "The same list as an Excel workbook",
           tags=["applications"], roles=["exporter", "officer"],
           query=schemas.ApplicationListQuery)
    def export_applications(self, request):
        principal = request.principal
        query = list_query(request)
        # Up to 100,000 rows take about half a minute to write: a deadline of its own.
        content = self.application.with_timeout(EXPORT_TIMEOUT).export_applications(
            actor(principal), query["filters"])
        return Response(base64.b64decode(content), headers={
            "Content-Disposition": 'attachment; filename="applications.xlsx"'},
            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")

    @route("GET", "/api/v1/applications/<application_id>", "One application with its form and "
           "documents", tags=["applications"], roles=["exporter", "officer"],
           response=schemas.Application)
    def get_application(self, request, application_id):
        principal = request.principal
        return self.application.get_application(actor(principal), application_id)

    @route("PUT", "/api/v1/applications/<application_id>", "Replace the form of a draft (or of "
           "an application with a discrepancy)", tags=["applications"], roles=["exporter"],
           request=schemas.ApplicationForm, response=schemas.Application,
           max_body=APPLICATION_BODY, responses={409: "Not editable in its status"})
    def update_application(self, request, application_id):
        principal = request.principal
        body = parse_json(request, schemas.AnyObject())
        return self.application.update_application(actor(principal), application_id, body)

    @route("DELETE", "/api/v1/applications/<application_id>", "Delete a draft",
           tags=["applications"], roles=["exporter"], responses={409: "Not a draft"})
    def delete_application(self, request, application_id):
        principal = request.principal
        self.application.delete_application(actor(principal), application_id)
        return Response(status=204)

    @route("POST", "/api/v1/applications/<application_id>/clone", "A new draft from an old "
           "application", tags=["applications"], roles=["exporter"],
           response=schemas.Application)
    def clone_application(self, request, application_id):
        principal = request.principal
        return 201, self.application.clone_application(actor(principal), application_id)

    @route("GET", "/api/v1/applications/<application_id>/history", "Status changes with actor, "
           "time and comment", tags=["applications"], roles=["exporter", "officer"])
    def application_history(self, request, application_id):
        principal = request.principal
        return {"items": self.application.application_history(actor(principal),
                                                              application_id)}

    @route("GET", "/api/v1/applications/<application_id>/origin-check", "Computed RVC per "
           "product and whether each meets its criterion (drafts too)", tags=["applications"],
           roles=["exporter", "officer"])
    def origin_check(self, request, application_id):
        principal = request.principal
        return self.application.origin_check(actor(principal), application_id)

    @route("POST", "/api/v1/applications/<application_id>/documents", "Upload a signed PDF "
           "(multipart: kind, file, signature)", tags=["applications"], roles=["exporter"],
           request=schemas.DocumentUpload, max_body=DOCUMENT_BODY,
           responses={413: "Over 2 MB", 422: "Not a PDF, not signed, or signature invalid"})
    def add_document(self, request, application_id):
        principal = request.principal
        upload = request.files.get("file")
        if upload is None:
            raise BadRequest("send the PDF as multipart field 'file'", code="VALIDATION_ERROR",
                             fields={"file": ["Missing data for required field."]})
        content = upload.read(DOCUMENT_BODY + 1)
        signature = _signature_field(request)
        return 201, self.application.add_document(
            actor(principal), application_id, checked_text(request.form.get("kind", ""), "kind"),
            checked_text(upload.filename or "document.pdf", "file"),
            base64.b64encode(content).decode(), signature)

    @route("GET", "/api/v1/applications/<application_id>/documents/<document_id>",
           "Download a document", tags=["applications"], roles=["exporter", "officer"])
    def get_document(self, request, application_id, document_id):
        principal = request.principal
        document = self.application.get_document(actor(principal), application_id, document_id)
        return Response(base64.b64decode(document["content"]), mimetype="application/pdf",
                        headers={"Content-Disposition":
                                 f'attachment; filename="{document["id"]}.pdf"',
                                 "X-Content-SHA256": document["sha256"]})

    @route("GET", "/api/v1/applications/<application_id>/signing-payload", "The canonical JSON "
           "(RFC 8785) to sign with the DSC for submission", tags=["applications"],
           roles=["exporter"], response=schemas.SigningPayload)
    def signing_payload(self, request, application_id):
        principal = request.principal
        return self.application.signing_payload(actor(principal), application_id)

    @route("POST", "/api/v1/applications/<application_id>/submit", "Submit with the DSC "
           "signature over the signing payload; the number is given and payment is next",
           tags=["applications"], roles=["exporter"], request=schemas.SubmitRequest,
           response=schemas.Application, max_body=JSON_BODY,
           responses={409: "Not a draft, or changed while submitting",
                      422: "Rules broken (fields name each), or DSC refused"})
    def submit_application(self, request, application_id):
        principal = request.principal
        body = parse_json(request, schemas.SubmitRequest())
        return self.application.submit_application(actor(principal), application_id,
                                                   body["signature"])

    # --- fees and payment ------------------------------------------------------------------------

    @route("GET", "/api/v1/applications/<application_id>/fee", "Order summary: base fee, "
           "CGST + SGST (same state) or IGST, total, in paise", tags=["payments"],
           roles=["exporter"], response=schemas.OrderSummary,
           responses={422: "No fee in force, or the form lacks office or branch"})
    def order_summary(self, request, application_id):
        principal = request.principal
        return self.payment.order_summary(actor(principal), application_id)

    @route("POST", "/api/v1/applications/<application_id>/payments", "Start paying the fee: the "
           "provider's page to send the payer to", tags=["payments"], roles=["exporter"],
           response=schemas.Payment, max_body=JSON_BODY,
           responses={409: "Not awaiting payment, or paid already",
                      503: "Payment provider unreachable"})
    def create_payment(self, request, application_id):
        principal = request.principal
        return 201, self.payment.create_payment(actor(principal), application_id)

    @route("GET", "/api/v1/applications/<application_id>/payments", "Payments of an "
           "application, oldest first", tags=["payments"], roles=["exporter", "officer"])
    def list_payments(self, request, application_id):
        principal = request.principal
        return paginate(request, self.payment.payments(actor(principal), application_id))

    @route("GET", "/api/v1/payments/<payment_id>/receipt.pdf", "GST receipt of a completed "
           "payment", tags=["payments"], roles=["exporter", "officer"],
           responses={409: "Not completed yet"})
    def payment_receipt(self, request, payment_id):
        principal = request.principal
        receipt = self.payment.receipt_pdf(actor(principal), payment_id)
        return Response(base64.b64decode(receipt["content"]), mimetype="application/pdf",
                        headers={"Content-Disposition":
                                 f'attachment; filename="{receipt["filename"]}"'})

    @route("POST", "/api/v1/payments/callback/<provider>", "The payment provider's signed "
           "callback (server to server); idempotent", tags=["payments"], max_body=JSON_BODY,
           responses={401: "Signature does not verify", 404: "Unknown provider or order",
                      422: "Amount or currency differs from the order"}, public=True)
    def payment_callback(self, request, provider):
        if provider not in PAYMENT_PROVIDERS:
            raise NotFound("no such payment provider", code="PROVIDER_UNKNOWN")
        body = request.get_data(cache=False)
        return self.payment.callback(provider, dict(request.headers),
                                     base64.b64encode(body).decode())

    @route("GET", "/sandbox-pay/<payment_id>", "The sandbox provider's payment page",
           tags=["payments"], public=True)
    def sandbox_page(self, request, payment_id):
        return _sandbox_page(self.payment.sandbox_payment(payment_id))

    @route("POST", "/sandbox-pay/<payment_id>", "The payer's choice on the sandbox page (form "
           "field outcome=success or failure); the sandbox then calls back as a provider would",
           tags=["payments"], max_body=4096, public=True)
    def sandbox_decide(self, request, payment_id):
        self.payment.sandbox_decide(payment_id,
                                    checked_text(request.form.get("outcome", ""), "outcome"))
        return Response(status=303, headers={"Location": f"/sandbox-pay/{payment_id}"})

    @route("GET", "/api/v1/admin/fees", "The fee schedule (an agency admin's own agency)",
           tags=["admin"], roles=STAFF_ROLES)
    def admin_fees(self, request):
        principal = request.principal
        return paginate(request, self.payment.fees(actor(principal), request.args.get("agency")))

    @route("POST", "/api/v1/admin/fees", "Add a window of the fee schedule: from valid_from on "
           "it replaces the earlier one", tags=["admin"], roles=STAFF_ROLES,
           request=FeeWindow, max_body=JSON_BODY,
           responses={403: "Another agency's schedule", 422: "Unknown agency"})
    def add_fee(self, request):
        principal = request.principal
        window = FeeWindow()
        return 201, self.payment.add_fee(actor(principal), window.dump(parse_json(request, window)))

    @route("GET", "/api/v1/admin/exchange-rates", "Exchange rates (INR per unit)",
           tags=["admin"], roles=STAFF_ROLES)
    def exchange_rates(self, request):
        return paginate(request, self.application.exchange_rates(request.args.get("currency")))

    @route("POST", "/api/v1/admin/exchange-rates", "Set the rate of a currency from a date on",
           tags=["admin"], roles=["admin"], request=schemas.ExchangeRateInput,
           max_body=JSON_BODY)
    def set_exchange_rate(self, request):
        principal = request.principal
        body = parse_json(request, schemas.ExchangeRateInput())
        return 201, self.application.set_exchange_rate(actor(principal), body["currency"],
                                                       body["valid_from"], body["rate"])

    # --- administration --------------------------------------------------------------------

    @route("GET", "/api/v1/admin/agencies", "Agencies with their offices", tags=["admin"],
           roles=STAFF_ROLES, response=schemas.page_of(schemas.Agency, "AdminAgencyPage"))
    def admin_agencies(self, request):
        principal = request.principal
        agencies = self.registration.agencies()
        if principal.role != "admin":
            agencies = [a for a in agencies if a["code"] == principal.agency]
        return paginate(request, agencies)

    @route("POST", "/api/v1/admin/agencies", "Create an issuing agency", tags=["admin"],
           roles=["admin"], request=schemas.AgencyCreate, max_body=JSON_BODY,
           responses={409: "Exists already"})
    def create_agency(self, request):
        principal = request.principal
        body = parse_json(request, schemas.AgencyCreate())
        return 201, self.registration.create_agency(actor(principal), body["code"], body["name"])

    @route("GET", "/api/v1/admin/offices", "Issuing offices (an agency admin's own only)",
           tags=["admin"], roles=STAFF_ROLES)
    def admin_offices(self, request):
        principal = request.principal
        return paginate(request, self.registration.offices(actor(principal),
                                                           request.args.get("agency")))

    @route("POST", "/api/v1/admin/offices", "Create a regional or issuing office",
           tags=["admin"], roles=STAFF_ROLES, request=schemas.OfficeCreate, max_body=JSON_BODY,
           responses={404: "Unknown agency or regional office", 409: "Exists already"})
    def create_office(self, request):
        principal = request.principal
        body = parse_json(request, schemas.OfficeCreate())
        if body["kind"] == "regional":
            if not body.get("agency_code"):
                raise BadRequest("a regional office needs agency_code",
                                 fields={"agency_code": ["Required for a regional office."]})
            office = self.registration.create_regional_office(
                actor(principal), body["agency_code"], body["code"], body["name"], body["state"])
        else:
            if not body.get("regional_office_code"):
                raise BadRequest("an issuing office needs regional_office_code",
                                 fields={"regional_office_code": ["Required."]})
            office = self.registration.create_issuing_office(
                actor(principal), body["regional_office_code"], body["code"], body["name"],
                body["state"], body["address"], body["gstin"])
        return 201, office

    @route("GET", "/api/v1/admin/officers", "Officers and agency admins (own agency only)",
           tags=["admin"], roles=STAFF_ROLES,
           response=schemas.page_of(schemas.Staff, "StaffPage"))
    def admin_officers(self, request):
        principal = request.principal
        return paginate(request, self.registration.staff(actor(principal),
                                                         request.args.get("role")))

    @route("POST", "/api/v1/admin/officers", "Create an officer of an issuing office; the "
           "password goes by email", tags=["admin"], roles=STAFF_ROLES,
           request=schemas.OfficerCreate, response=schemas.Staff, max_body=JSON_BODY,
           responses={409: "Username taken", 422: "Office not in the agency"})
    def create_officer(self, request):
        principal = request.principal
        body = parse_json(request, schemas.OfficerCreate())
        return 201, self.registration.create_staff(
            actor(principal), "officer", body["username"], body["name"], body["email"],
            body["mobile"], body["agency_code"], body["issuing_office_code"])

    @route("POST", "/api/v1/admin/agency-admins", "Create an agency admin; the password goes "
           "by email", tags=["admin"], roles=["admin"], request=schemas.StaffCreate,
           response=schemas.Staff, max_body=JSON_BODY, responses={409: "Username taken"})
    def create_agency_admin(self, request):
        principal = request.principal
        body = parse_json(request, schemas.StaffCreate())
        return 201, self.registration.create_staff(
            actor(principal), "agency_admin", body["username"], body["name"], body["email"],
            body["mobile"], body["agency_code"])

    # --- certificates and verification ------------------------------------------------------

    @route("GET", "/api/v1/certificates", "Issued certificates: the exporter's own, the "
           "officer's office's", tags=["certificates"], roles=["exporter", "officer", *STAFF_ROLES])
    def list_certificates(self, request):
        principal = request.principal
        return self.certificate.certificates(actor(principal), **_page_args(request),
                                             status=request.args.get("status"))

    @route("GET", "/api/v1/certificates/<certificate_id>", "One certificate's registry entry",
           tags=["certificates"], roles=["exporter", "officer", *STAFF_ROLES])
    def get_certificate(self, request, certificate_id):
        principal = request.principal
        return self.certificate.certificate(actor(principal), certificate_id)

    @route("GET", "/api/v1/certificates/<certificate_id>.pdf", "The signed certificate PDF",
           tags=["certificates"], roles=["exporter", "officer", *STAFF_ROLES])
    def certificate_pdf(self, request, certificate_id):
        principal = request.principal
        document = self.certificate.certificate_pdf(actor(principal), certificate_id)
        filename = document["number"].replace("/", "-")
        return Response(base64.b64decode(document["content"]), mimetype="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="{filename}.pdf"',
                                 "X-Content-SHA256": document["sha256"]})

    @route("POST", "/api/v1/certificates/<certificate_id>/duplicates", "Ask for a duplicate or "
           "a certificate in lieu (multipart: kind, reason, for in_lieu `form` = JSON of the "
           "corrected fields, optional signed `file` + `signature`); it has its own fee",
           tags=["certificates"], roles=["exporter"], max_body=DOCUMENT_BODY,
           response=schemas.Application,
           responses={200: "The open request, still awaiting payment: an in-lieu takes the "
                           "newest corrections, and a signed file given is added to it",
                      409: "The certificate is revoked or superseded, not an original, or the "
                           "open request was paid meanwhile (REQUEST_OPEN)",
                      422: "The corrections break a rule or change a fixed field"})
    def request_duplicate(self, request, certificate_id):
        principal = request.principal
        corrections = {}
        if request.form.get("form"):
            corrections = loads_checked(request.form["form"], "form")
            if not isinstance(corrections, dict):
                raise BadRequest("form must be a JSON object of the corrected fields",
                                 code="VALIDATION_ERROR", fields={"form": ["Not a JSON object."]})
        supporting = None
        upload = request.files.get("file")
        if upload is not None:
            supporting = {"filename": checked_text(upload.filename or "supporting.pdf", "file"),
                          "content_b64": base64.b64encode(upload.read(DOCUMENT_BODY + 1)).decode(),
                          "signature_b64": _signature_field(request)}
        certificate = self.certificate.certificate_for_request(actor(principal), certificate_id)
        made = self.application.request_duplicate(
            actor(principal), certificate, checked_text(request.form.get("kind", ""), "kind"),
            checked_text(request.form.get("reason", ""), "reason"), corrections, supporting)
        return (201 if made["created"] else 200), made["application"]

    @route("GET", "/api/v1/applications/<application_id>/preview.pdf", "The certificate as it "
           "would be issued, unsigned and marked DRAFT", tags=["certificates"],
           roles=["exporter"], responses={422: "The form does not name an issuing office yet"})
    def certificate_preview(self, request, application_id):
        principal = request.principal
        pdf = base64.b64decode(self.certificate.preview(actor(principal), application_id))
        return Response(pdf, mimetype="application/pdf",
                        headers={"Content-Disposition": 'inline; filename="preview.pdf"'})

    @route("POST", "/api/v1/admin/certificates/<certificate_id>/revoke", "Revoke a certificate "
           "of one's agency, with the reason", tags=["admin"], roles=STAFF_ROLES,
           request=schemas.RevokeRequest, max_body=JSON_BODY,
           responses={409: "Revoked or superseded already"})
    def revoke_certificate(self, request, certificate_id):
        principal = request.principal
        body = parse_json(request, schemas.RevokeRequest())
        return self.certificate.revoke(actor(principal), certificate_id, body["reason"])

    @route("GET", "/api/v1/verify", "Verify a certificate by its number (JSON, or an HTML page "
           "for browsers: the QR code's target)", tags=["verification"],
           responses={404: "No certificate has this number"}, public=True)
    def verify_number(self, request):
        number = request.args.get("number", "")
        wants_html = request.accept_mimetypes.best_match(
            ["application/json", "text/html"]) == "text/html"
        if not wants_html:
            return self.certificate.verify_number(number)
        try:
            found = self.certificate.verify_number(number)
        except ApiError as exc:
            page = page_response(_verification_page(number, None, exc.message))
            page.status_code = exc.status
            return page
        return page_response(_verification_page(number, found, None))

    @route("POST", "/api/v1/verify", "Verify a certificate PDF (multipart `file`): signature, "
           "registry hash and status", tags=["verification"], max_body=VERIFY_BODY,
           responses={400: "No file", 422: "PDF_TOO_COMPLEX: the file claims or needs more "
                                           "than any certificate (not checked)",
                      429: "Over 20 files a minute from one address",
                      503: "VERIFICATION_BUSY: too many files waiting (Retry-After)"}, public=True)
    def verify_file(self, request):
        self.file_verifications.check(client_address(request))
        upload = request.files.get("file")
        if upload is None:
            raise BadRequest("send the PDF as multipart field 'file'", code="VALIDATION_ERROR",
                             fields={"file": ["Missing data for required field."]})
        return self.verification.verify_file(
            base64.b64encode(upload.read(VERIFY_BODY)).decode())

    # --- officer examination ---------------------------------------------------------------------

    @route("GET", "/api/v1/officer/applications", "The officer's issuing office's queue: "
           "submitted applications (or the status asked for), oldest payment first",
           tags=["examination"], roles=["officer"], query=schemas.OfficerQueueQuery,
           response=schemas.page_of(schemas.ApplicationSummary, "OfficerQueuePage"))
    def officer_queue(self, request):
        principal = request.principal
        query = self._officer_query(request)
        return self.application.officer_queue(actor(principal), query["filters"],
                                              query["page"], query["per_page"])

    @route("GET", "/api/v1/officer/applications/export.xlsx", "The queue as an Excel workbook",
           tags=["examination"], roles=["officer"], query=schemas.OfficerQueueQuery)
    def export_officer_queue(self, request):
        principal = request.principal
        query = self._officer_query(request)
        content = self.application.with_timeout(EXPORT_TIMEOUT).export_officer_queue(
            actor(principal), query["filters"])
        return Response(base64.b64decode(content), headers={
            "Content-Disposition": 'attachment; filename="queue.xlsx"'},
            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")

    @staticmethod
    def _officer_query(request) -> dict:
        query = list_query(request, schemas.OfficerQueueQuery())
        if "post_audit" in query:  # a boolean, not one of the text filters
            query["filters"]["post_audit"] = query.pop("post_audit")
        return query

    @route("POST", "/api/v1/officer/applications/<application_id>/discrepancy", "Send the "
           "application back to the exporter with what to correct", tags=["examination"],
           roles=["officer"], request=schemas.Comment, response=schemas.Application,
           max_body=JSON_BODY, responses={404: "Not of the officer's office",
                                          409: "Not awaiting examination"})
    def raise_discrepancy(self, request, application_id):
        principal = request.principal
        body = parse_json(request, schemas.Comment())
        return self.application.raise_discrepancy(actor(principal), application_id,
                                                  body["comment"])

    @route("POST", "/api/v1/officer/applications/<application_id>/approve", "Approve: the "
           "certificate is issued next (the body may be omitted)", tags=["examination"],
           roles=["officer"], request=schemas.Remarks, response=schemas.Application,
           max_body=JSON_BODY, responses={404: "Not of the officer's office",
                                          409: "Not awaiting examination, or decided already; "
                                               "ORIGINAL_NOT_VALID: a duplicate or in-lieu of a "
                                               "certificate revoked or superseded since"})
    def approve_application(self, request, application_id):
        principal = request.principal
        # A bare POST approves without remarks.
        body = (parse_json(request, schemas.Remarks())
                if request.content_length or request.mimetype == "application/json" else {})
        return self.application.approve_application(actor(principal), application_id,
                                                    body.get("remarks"))

    @route("POST", "/api/v1/officer/applications/<application_id>/reject", "Reject, with the "
           "reason", tags=["examination"], roles=["officer"], request=schemas.Reason,
           response=schemas.Application, max_body=JSON_BODY,
           responses={404: "Not of the officer's office",
                      409: "Not awaiting examination, or decided already"})
    def reject_application(self, request, application_id):
        principal = request.principal
        body = parse_json(request, schemas.Reason())
        return self.application.reject_application(actor(principal), application_id,
                                                   body["reason"])

    @route("POST", "/api/v1/applications/<application_id>/resubmit", "Resubmit after a "
           "discrepancy, with the DSC signature over the new signing payload",
           tags=["applications"], roles=["exporter"], request=schemas.SubmitRequest,
           response=schemas.Application, max_body=JSON_BODY,
           responses={409: "No discrepancy raised, or changed while resubmitting",
                      422: "Rules broken (fields name each), or DSC refused"})
    def resubmit_application(self, request, application_id):
        principal = request.principal
        body = parse_json(request, schemas.SubmitRequest())
        return self.application.resubmit_application(actor(principal), application_id,
                                                     body["signature"])

    @route("GET", "/api/v1/admin/stats", "Per issuing office: waiting, decided and turnaround "
           "(payment to decision) over the last `days` days", tags=["admin"], roles=STAFF_ROLES,
           query=schemas.StatsQuery, response=schemas.Stats)
    def examination_stats(self, request):
        principal = request.principal
        try:
            query = schemas.StatsQuery().load(request.args.to_dict())
        except ValidationError as exc:
            raise BadRequest("days must be a whole number from 1 to 366",
                             code="VALIDATION_ERROR", fields=exc.messages) from None
        return self.application.examination_stats(actor(principal), query["days"])

    @route("GET", "/api/v1/admin/self-certification", "Approved exporters whose applications "
           "are approved without an officer (an agency admin's own agency)", tags=["admin"],
           roles=STAFF_ROLES, query=schemas.Page,
           response=schemas.page_of(schemas.SelfCertification, "SelfCertificationPage"))
    def self_certification(self, request):
        principal = request.principal
        return paginate(request, self.application.self_certification(actor(principal)))

    @route("POST", "/api/v1/admin/self-certification", "Make an exporter an approved exporter "
           "of an agency: its applications under agreements that allow it are approved on "
           "payment and audited after", tags=["admin"], roles=STAFF_ROLES,
           request=schemas.SelfCertification, response=schemas.SelfCertification,
           max_body=JSON_BODY, responses={403: "Another agency",
                                          422: "Unknown agency or exporter"})
    def flag_self_certification(self, request):
        principal = request.principal
        body = parse_json(request, schemas.SelfCertification())
        return 201, self.application.flag_self_certification(actor(principal), body["iec"],
                                                             body["agency_code"])

    @route("DELETE", "/api/v1/admin/self-certification/<agency_code>/<iec>", "End an "
           "exporter's self-certification with an agency", tags=["admin"], roles=STAFF_ROLES,
           responses={403: "Another agency", 404: "Not an approved exporter of the agency"})
    def unflag_self_certification(self, request, agency_code, iec):
        principal = request.principal
        self.application.unflag_self_certification(actor(principal), agency_code, iec)
        return Response(status=204)
