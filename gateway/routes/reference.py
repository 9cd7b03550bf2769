"""Reference data anyone may read (agreements, agencies, units, countries, currencies, HS codes),
and the admin's HS upload."""

from gateway import schemas
from gateway.http import route
from gateway.reference_cache import conditional
from gateway.routes.common import HS_UPLOAD, paginate
from services.chassis.errors import BadRequest, RuleViolation


class ReferenceRoutes:
    """Routes of the gateway service (``gateway/service.py``), which gives them
    ``self.<service>`` RPC proxies, rate limits and ``self.reference`` (the kept lists)."""

    @route(
        "GET",
        "/api/v1/reference/agreements",
        "Trade agreements and their origin rules",
        tags=["reference"],
        query=schemas.Page,
        response=schemas.page_of(schemas.Agreement, "AgreementPage"),
        public=True,
    )
    def agreements(self, request):
        return conditional(
            request, paginate(request, self.reference.get("agreements", self.application.agreements))
        )

    @route(
        "GET",
        "/api/v1/reference/agreements/<code>",
        "One trade agreement",
        tags=["reference"],
        response=schemas.Agreement,
        responses={404: "Unknown code"},
        public=True,
    )
    def agreement(self, request, code):
        return self.application.agreement(code)

    @route(
        "GET",
        "/api/v1/reference/agencies",
        "Issuing agencies with their offices",
        tags=["reference"],
        query=schemas.Page,
        response=schemas.page_of(schemas.Agency, "AgencyPage"),
        public=True,
    )
    def agencies(self, request):
        return conditional(
            request, paginate(request, self.reference.get("agencies", self.registration.agencies))
        )

    @route(
        "GET",
        "/api/v1/reference/units",
        "Units of quantity (UQC)",
        tags=["reference"],
        query=schemas.Page,
        response=schemas.page_of(schemas.CodeName, "UnitPage"),
        public=True,
    )
    def units(self, request):
        return conditional(request, paginate(request, self.reference.get("units", self.application.units)))

    @route(
        "GET",
        "/api/v1/reference/countries",
        "Countries (ISO 3166)",
        tags=["reference"],
        query=schemas.Page,
        response=schemas.page_of(schemas.Country, "CountryPage"),
        public=True,
    )
    def countries(self, request):
        return conditional(
            request, paginate(request, self.reference.get("countries", self.application.countries))
        )

    @route(
        "GET",
        "/api/v1/reference/currencies",
        "Currencies (ISO 4217)",
        tags=["reference"],
        query=schemas.Page,
        response=schemas.page_of(schemas.CodeName, "CurrencyPage"),
        public=True,
    )
    def currencies(self, request):
        return conditional(
            request, paginate(request, self.reference.get("currencies", self.application.currencies))
        )

    @route(
        "GET",
        "/api/v1/reference/hs",
        "Which HS nomenclature is loaded",
        tags=["reference"],
        response=schemas.HsStatus,
        public=True,
    )
    def hs_status(self, request):
        return self.application.hs_status()

    @route(
        "GET",
        "/api/v1/reference/hs/<code>",
        "An HS chapter, heading, subheading or 8-digit tariff item",
        tags=["reference"],
        response=schemas.HsCode,
        path_params={"code": schemas.HS_CODE},
        responses={404: "Not in the loaded nomenclature", 400: "Not an HS code"},
        public=True,
    )
    def hs_code(self, request, code):
        return self.application.hs_code(code)

    @route(
        "POST",
        "/api/v1/admin/reference/hs",
        "Load an HS nomenclature (CSV upload)",
        tags=["admin"],
        request=schemas.HsUpload,
        media="multipart/form-data",
        response=schemas.HsStatus,
        roles=["admin"],
        max_body=HS_UPLOAD,
        responses={413: "File over 5 MiB", 422: "File not valid"},
    )
    def upload_hs(self, request):
        upload = request.files.get("file")
        if upload is None:
            raise BadRequest(
                "send the CSV as multipart field 'file'",
                fields={"file": ["Missing data for required field."]},
            )
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise RuleViolation(
                "the HS nomenclature file is not UTF-8 text",
                code="HS_FILE_INVALID",
                fields={"file": ["Not UTF-8."]},
            ) from None
        return self.application.hs_import_csv(text, upload.filename or "upload")
