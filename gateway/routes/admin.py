"""Administration: the fee schedule, exchange rates, agencies, offices, staff accounts, and finding
a certificate to revoke by its number."""

from marshmallow import ValidationError

from gateway import revocation, schemas
from gateway.http import parse_json, route
from gateway.routes.common import JSON_BODY, STAFF_ROLES, actor, paginate
from services.chassis.errors import BadRequest
from services.contracts.fees import FeeWindow


class AdminRoutes:
    """Routes of the gateway service (``gateway/service.py``), which gives them
    ``self.<service>`` RPC proxies and rate limits."""

    @route(
        "GET",
        "/api/v1/admin/fees",
        "The fee schedule (an agency admin's own agency)",
        tags=["admin"],
        roles=STAFF_ROLES,
    )
    def admin_fees(self, request):
        principal = request.principal
        return paginate(request, self.payment.fees(actor(principal), request.args.get("agency")))

    @route(
        "POST",
        "/api/v1/admin/fees",
        "Add a window of the fee schedule: from valid_from on it replaces the earlier one",
        tags=["admin"],
        roles=STAFF_ROLES,
        request=FeeWindow,
        max_body=JSON_BODY,
        responses={403: "Another agency's schedule", 422: "Unknown agency"},
    )
    def add_fee(self, request):
        principal = request.principal
        window = FeeWindow()
        body = window.dump(parse_json(request, window))
        return 201, self.payment.add_fee(actor(principal), body)

    @route(
        "GET",
        "/api/v1/admin/exchange-rates",
        "Exchange rates (INR per unit)",
        tags=["admin"],
        roles=STAFF_ROLES,
    )
    def exchange_rates(self, request):
        return paginate(request, self.application.exchange_rates(request.args.get("currency")))

    @route(
        "POST",
        "/api/v1/admin/exchange-rates",
        "Set the rate of a currency from a date on",
        tags=["admin"],
        roles=["admin"],
        request=schemas.ExchangeRateInput,
        max_body=JSON_BODY,
    )
    def set_exchange_rate(self, request):
        principal = request.principal
        body = parse_json(request, schemas.ExchangeRateInput())
        return 201, self.application.set_exchange_rate(
            actor(principal), body["currency"], body["valid_from"], body["rate"]
        )

    @route(
        "GET",
        "/api/v1/admin/agencies",
        "Agencies with their offices",
        tags=["admin"],
        roles=STAFF_ROLES,
        response=schemas.page_of(schemas.Agency, "AdminAgencyPage"),
    )
    def admin_agencies(self, request):
        principal = request.principal
        agencies = self.registration.agencies()
        if principal.role != "admin":
            agencies = [a for a in agencies if a["code"] == principal.agency]
        return paginate(request, agencies)

    @route(
        "POST",
        "/api/v1/admin/agencies",
        "Create an issuing agency",
        tags=["admin"],
        roles=["admin"],
        request=schemas.AgencyCreate,
        max_body=JSON_BODY,
        responses={409: "Exists already"},
    )
    def create_agency(self, request):
        principal = request.principal
        body = parse_json(request, schemas.AgencyCreate())
        return 201, self.registration.create_agency(actor(principal), body["code"], body["name"])

    @route(
        "GET",
        "/api/v1/admin/offices",
        "Issuing offices (an agency admin's own only)",
        tags=["admin"],
        roles=STAFF_ROLES,
    )
    def admin_offices(self, request):
        principal = request.principal
        return paginate(request, self.registration.offices(actor(principal), request.args.get("agency")))

    @route(
        "POST",
        "/api/v1/admin/offices",
        "Create a regional or issuing office",
        tags=["admin"],
        roles=STAFF_ROLES,
        request=schemas.OfficeCreate,
        max_body=JSON_BODY,
        responses={404: "Unknown agency or regional office", 409: "Exists already"},
    )
    def create_office(self, request):
        principal = request.principal
        body = parse_json(request, schemas.OfficeCreate())
        if body["kind"] == "regional":
            if not body.get("agency_code"):
                raise BadRequest(
                    "a regional office needs agency_code",
                    fields={"agency_code": ["Required for a regional office."]},
                )
            office = self.registration.create_regional_office(
                actor(principal), body["agency_code"], body["code"], body["name"], body["state"]
            )
        else:
            if not body.get("regional_office_code"):
                raise BadRequest(
                    "an issuing office needs regional_office_code",
                    fields={"regional_office_code": ["Required."]},
                )
            office = self.registration.create_issuing_office(
                actor(principal),
                body["regional_office_code"],
                body["code"],
                body["name"],
                body["state"],
                body["address"],
                body["gstin"],
            )
        return 201, office

    @route(
        "GET",
        "/api/v1/admin/officers",
        "Officers and agency admins (own agency only)",
        tags=["admin"],
        roles=STAFF_ROLES,
        response=schemas.page_of(schemas.Staff, "StaffPage"),
    )
    def admin_officers(self, request):
        principal = request.principal
        return paginate(request, self.registration.staff(actor(principal), request.args.get("role")))

    @route(
        "POST",
        "/api/v1/admin/staff/<username>/deactivate",
        "Deactivate a staff account (an officer who left): no more logins, its tokens stop at once",
        tags=["admin"],
        roles=STAFF_ROLES,
        response=schemas.Staff,
        path_params={"username": schemas.USERNAME},
        responses={404: "No such staff account", 409: "One's own account"},
    )
    def deactivate_staff(self, request, username):
        staff = self.registration.set_staff_active(actor(request.principal), username, False)
        # its tokens end at once in this process; the others hear credentials_changed
        revocation.refresh(self.credential_versions, self.registration)
        return staff

    @route(
        "POST",
        "/api/v1/admin/staff/<username>/reactivate",
        "Reactivate a staff account: its password works again",
        tags=["admin"],
        roles=STAFF_ROLES,
        response=schemas.Staff,
        path_params={"username": schemas.USERNAME},
        responses={404: "No such staff account", 409: "One's own account"},
    )
    def reactivate_staff(self, request, username):
        return self.registration.set_staff_active(actor(request.principal), username, True)

    @route(
        "POST",
        "/api/v1/admin/officers",
        "Create an officer of an issuing office; the password goes by email",
        tags=["admin"],
        roles=STAFF_ROLES,
        request=schemas.OfficerCreate,
        response=schemas.Staff,
        max_body=JSON_BODY,
        responses={409: "Username taken", 422: "Office not in the agency"},
    )
    def create_officer(self, request):
        principal = request.principal
        body = parse_json(request, schemas.OfficerCreate())
        return 201, self.registration.create_staff(
            actor(principal),
            "officer",
            body["username"],
            body["name"],
            body["email"],
            body["mobile"],
            body["agency_code"],
            body["issuing_office_code"],
        )

    @route(
        "POST",
        "/api/v1/admin/agency-admins",
        "Create an agency admin; the password goes by email",
        tags=["admin"],
        roles=["admin"],
        request=schemas.StaffCreate,
        response=schemas.Staff,
        max_body=JSON_BODY,
        responses={409: "Username taken"},
    )
    def create_agency_admin(self, request):
        principal = request.principal
        body = parse_json(request, schemas.StaffCreate())
        return 201, self.registration.create_staff(
            actor(principal),
            "agency_admin",
            body["username"],
            body["name"],
            body["email"],
            body["mobile"],
            body["agency_code"],
        )

    @route(
        "GET",
        "/api/v1/admin/certificates",
        "The certificate with this number, if it is of one's agency (any, for the admin): the one to revoke",
        tags=["admin"],
        roles=STAFF_ROLES,
        query=schemas.CertificateNumberQuery,
        response=schemas.page_of(schemas.Certificate, "AdminCertificatePage"),
    )
    def admin_certificates(self, request):
        try:
            query = schemas.CertificateNumberQuery().load(request.args.to_dict())
        except ValidationError as exc:
            raise BadRequest(
                "give the certificate number (at most 80 characters)",
                code="VALIDATION_ERROR",
                fields=exc.messages,
            ) from None
        return self.certificate.certificates(actor(request.principal), number=query["number"])
