"""Registration and authentication: the IEC look-up, an exporter's registration with its DSC, login
with the captcha, and passwords."""

from gateway import pages, schemas
from gateway.clients import client_address
from gateway.errors import http_status
from gateway.http import checked_text, parse_json, route
from gateway.routes.common import JSON_BODY, REGISTRATION_BODY
from services.chassis.errors import ApiError, Conflict


class AccountRoutes:
    """Routes of the gateway service (``gateway/service.py``), which gives them
    ``self.<service>`` RPC proxies and rate limits."""

    @route(
        "GET",
        "/api/v1/auth/captcha",
        "A single-use arithmetic captcha for login",
        tags=["auth"],
        response=schemas.Captcha,
        public=True,
    )
    def captcha(self, request):
        return self.registration.new_captcha()

    @route(
        "POST",
        "/api/v1/auth/login",
        "Log in with username, password and captcha",
        tags=["auth"],
        request=schemas.LoginRequest,
        response=schemas.Token,
        max_body=JSON_BODY,
        responses={401: "Wrong username or password", 429: "Too many failed logins (Retry-After)"},
        public=True,
    )
    def login(self, request):
        body = parse_json(request, schemas.LoginRequest())
        return self.registration.login(
            body["username"],
            body["password"],
            body["captcha_id"],
            body["captcha_answer"],
            client_address(request),
        )

    @route(
        "POST",
        "/api/v1/auth/forgot-password",
        "A link to choose a new password, by email to the account's own address",
        tags=["auth"],
        request=schemas.ForgotPassword,
        response=schemas.Message,
        max_body=JSON_BODY,
        responses={429: "TOO_MANY_RESETS: 3 an hour per account, 10 per address (Retry-After)"},
        public=True,
    )
    def forgot_password(self, request):
        body = parse_json(request, schemas.ForgotPassword())
        self.registration.forgot_password(
            body["username"],
            body["email"],
            body["captcha_id"],
            body["captcha_answer"],
            client_address(request),
        )
        return 202, {
            "message": "If the username and email match an account, a link to choose "
            "a new password has been sent to that email. It works once, "
            "for 30 minutes."
        }

    @route(
        "POST",
        "/api/v1/auth/reset-password",
        "Choose a new password with the emailed link's token; every token issued before stops working",
        tags=["auth"],
        request=schemas.ResetPassword,
        response=schemas.Message,
        max_body=JSON_BODY,
        responses={
            400: "RESET_LINK_INVALID: used, expired or replaced by a newer link",
            422: "New password too weak (the link still works)",
        },
        public=True,
    )
    def reset_password(self, request):
        body = parse_json(request, schemas.ResetPassword())
        self.registration.reset_password(body["token"], body["new_password"])
        return {"message": "Password changed. Log in with the new password."}

    @route(
        "GET",
        "/reset-password",
        "The emailed link: a page to choose a new password",
        tags=["auth"],
        public=True,
    )
    def reset_password_page(self, request):
        return pages.reset_password(request.args.get("token", ""), None)

    @route(
        "POST",
        "/reset-password",
        "The page's form (token, new_password)",
        tags=["auth"],
        request=schemas.ResetPassword,
        media="application/x-www-form-urlencoded",
        max_body=JSON_BODY,
        public=True,
    )
    def reset_password_form(self, request):
        token = checked_text(request.form.get("token", ""), "token")
        try:
            self.registration.reset_password(
                token, checked_text(request.form.get("new_password", ""), "new_password")
            )
        except ApiError as exc:
            return pages.reset_password(token, exc.message, status=http_status(exc))
        return pages.reset_password("", "Password changed. Log in with the new password.", done=True)

    @route(
        "POST",
        "/api/v1/auth/change-password",
        "Change one's own password: a fresh token; every token issued before stops working",
        tags=["auth"],
        request=schemas.ChangePassword,
        response=schemas.Token,
        max_body=JSON_BODY,
        roles=["exporter", "officer", "agency_admin", "admin"],
        responses={401: "Current password wrong", 422: "New password too weak"},
    )
    def change_password(self, request):
        principal = request.principal
        body = parse_json(request, schemas.ChangePassword())
        return self.registration.change_password(
            principal.username, body["current_password"], body["new_password"]
        )

    @route(
        "POST",
        "/api/v1/auth/logout",
        "End this token (the account's other tokens, in other browsers or programs, still work)",
        tags=["auth"],
        response=schemas.Message,
        roles=["exporter", "officer", "agency_admin", "admin"],
        responses={409: "A token older than logout: it expires within 30 minutes"},
    )
    def logout(self, request):
        principal = request.principal
        if not principal.token_id:
            raise Conflict(
                "this token was issued before logout existed; it expires within 30 minutes",
                code="TOKEN_NOT_REVOCABLE",
            )
        self.registration.revoke_token(principal.username, principal.token_id, principal.expires_at)
        self.credential_versions.end(principal.token_id, principal.expires_at)  # this process at once
        return {"message": "Logged out."}

    @route(
        "GET",
        "/api/v1/iec/<iec>",
        "The IEC record to start registration (contacts masked)",
        tags=["registration"],
        response=schemas.IecPublic,
        path_params={"iec": {"type": "string", **schemas.IEC}},
        responses={404: "Not in the IEC directory", 429: "Too many lookups", 503: "IEC directory down"},
        public=True,
    )
    def iec(self, request, iec):
        self.iec_lookups.check(client_address(request))
        return self.registration.iec_record(iec)

    @route(
        "POST",
        "/api/v1/registrations/challenge",
        "A nonce to sign with the DSC",
        tags=["registration"],
        request=schemas.ChallengeRequest,
        response=schemas.Challenge,
        max_body=JSON_BODY,
        responses={404: "Unknown IEC", 409: "Already registered"},
        public=True,
    )
    def registration_challenge(self, request):
        self.iec_lookups.check(client_address(request))  # it too tells which IECs exist
        body = parse_json(request, schemas.ChallengeRequest())
        return self.registration.registration_challenge(body["iec"])

    @route(
        "POST",
        "/api/v1/registrations",
        "Register an exporter with IEC and DSC",
        tags=["registration"],
        request=schemas.RegistrationRequest,
        response=schemas.Registration,
        max_body=REGISTRATION_BODY,
        responses={
            404: "Unknown IEC",
            409: "Already registered",
            422: "A rule is broken (DSC_*, CONTACT_MISMATCH, BRANCHES_INVALID, …)",
            503: "IEC directory down",
        },
        public=True,
    )
    def register(self, request):
        body = parse_json(request, schemas.RegistrationRequest())
        return 201, self.registration.register_exporter(body)

    @route(
        "GET",
        "/api/v1/exporters/me",
        "The logged-in exporter: firm, branches, DSC",
        tags=["registration"],
        roles=["exporter"],
    )
    def exporter_me(self, request):
        principal = request.principal
        return self.registration.exporter(principal.username)
