"""marshmallow schemas of the HTTP API: they validate requests and generate the OpenAPI document."""

from datetime import date

import pycountry
from marshmallow import EXCLUDE, Schema, fields, validate

from services.contracts.application_form import ApplicationForm  # the form's one schema
from services.contracts.application_status import Status


class ErrorBody(Schema):
    code = fields.String(required=True, metadata={"example": "HS_CODE_UNKNOWN"})
    message = fields.String(required=True)
    fields_ = fields.Dict(
        data_key="fields", keys=fields.String(), metadata={"description": "Messages per field path"}
    )


class Error(Schema):
    error = fields.Nested(ErrorBody, required=True)


# Far beyond any real list, and small enough that (page - 1) * per_page stays a database OFFSET
# (an unbounded page overflowed SQLite's 64-bit integer: a 500 instead of a 400).
MAX_PAGE = 1_000_000


class Page(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=500, validate=validate.Range(min=1, max=500))

    class Meta:
        unknown = "exclude"  # routes read their own filters (agency=, role=) beside these


def page_of(item_schema, name):
    return type(
        name,
        (Schema,),
        {
            "items": fields.List(fields.Nested(item_schema), required=True),
            "page": fields.Integer(required=True),
            "per_page": fields.Integer(required=True),
            "total": fields.Integer(required=True),
        },
    )


class ServiceHealth(Schema):
    status = fields.String(metadata={"example": "ok"})
    error = fields.String()
    outbox_backlog = fields.Integer()


class Health(Schema):
    status = fields.String(metadata={"description": "ok, or degraded when a service is down"})
    down = fields.List(fields.String(), metadata={"description": "the services down, or broker"})
    broker = fields.Nested(ServiceHealth, metadata={"description": "the message broker (RabbitMQ)"})
    services = fields.Dict(keys=fields.String(), values=fields.Nested(ServiceHealth))


class Agreement(Schema):
    code = fields.String(metadata={"example": "013"})
    short_name = fields.String(metadata={"example": "AIFTA"})
    name = fields.String()
    partner_countries = fields.List(fields.String(), metadata={"description": "ISO 3166 alpha-2"})
    certificate_form = fields.String(metadata={"example": "Form AI"})
    preference_criteria = fields.List(fields.String())
    value_content_threshold = fields.Integer(allow_none=True, metadata={"description": "percent of FOB"})
    value_content_criteria = fields.List(fields.String())
    value_content_tariff_shift = fields.String(allow_none=True)
    allows_self_certification = fields.Boolean()
    notes = fields.String()


class IssuingOffice(Schema):
    code = fields.String(metadata={"example": "MPEDA-KOCHI"})
    name = fields.String()
    state = fields.String(metadata={"description": "ISO 3166-2, e.g. IN-KL"})
    address = fields.String()


class RegionalOffice(Schema):
    code = fields.String()
    name = fields.String()
    state = fields.String()
    issuing_offices = fields.List(fields.Nested(IssuingOffice))


class Agency(Schema):
    code = fields.String(metadata={"example": "MPEDA"})
    name = fields.String()
    regional_offices = fields.List(fields.Nested(RegionalOffice))


class CodeName(Schema):
    code = fields.String()
    name = fields.String()


class Country(CodeName):
    alpha_3 = fields.String()


# An HS code as the look-up takes it: 2, 4, 6 or 8 digits of an HS 2022 chapter (01-97 but 77),
# with spaces and dots anywhere, which the look-up ignores ("0306.17").
_GAP = "[ .]*"
HS_CODE = {
    "type": "string",
    "example": "030617",
    "pattern": (
        rf"^\s*{_GAP}(0{_GAP}[1-9]|[1-6]{_GAP}[0-9]|7{_GAP}[0-68-9]|8{_GAP}[0-9]|9{_GAP}[0-7])"
        rf"({_GAP}[0-9]{_GAP}[0-9]){{0,3}}{_GAP}\s*$"
    ),
}


class HsAncestor(Schema):
    code = fields.String()
    description = fields.String()


class HsCode(Schema):
    code = fields.String(metadata={"example": "030617"})
    level = fields.Integer(metadata={"description": "2, 4, 6 or 8 digits"})
    kind = fields.String(metadata={"example": "subheading"})
    chapter = fields.String()
    verified = fields.Boolean(
        metadata={"description": "false when no nomenclature is loaded: form and chapter only"}
    )
    description = fields.String()
    section = fields.String()
    parent = fields.String(allow_none=True)
    ancestors = fields.List(fields.Nested(HsAncestor))
    nomenclature = fields.String()
    note = fields.String()


class HsStatus(Schema):
    loaded = fields.Boolean()
    source = fields.String()
    codes = fields.Integer()
    activated_at = fields.String()
    note = fields.String()


class VerifyUpload(Schema):
    class Meta:
        unknown = EXCLUDE  # a form's other fields are ignored

    file = fields.Raw(
        required=True, metadata={"type": "string", "format": "binary", "description": "The certificate PDF"}
    )


class VerifyNumberQuery(Schema):
    number = fields.String(
        required=True,
        validate=validate.Length(min=1, max=80),
        metadata={"example": "MPEDA/2026/013/0000066A"},
    )


class SandboxDecision(Schema):
    class Meta:
        unknown = EXCLUDE  # a form's other fields are ignored

    outcome = fields.String(required=True, validate=validate.OneOf(["success", "failure"]))


class HsUpload(Schema):
    class Meta:
        unknown = EXCLUDE  # a form's other fields are ignored

    file = fields.Raw(
        required=True,
        metadata={
            "type": "string",
            "format": "binary",
            "description": "CSV with header section,hscode,description,parent,level",
        },
    )


class Captcha(Schema):
    captcha_id = fields.String()
    question = fields.String(metadata={"example": "9 + 9"})
    expires_in = fields.Integer()


class CaptchaAnswer(Schema):
    """What every captcha-guarded form carries beside its own fields."""

    captcha_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    captcha_answer = fields.String(required=True, validate=validate.Length(min=1, max=8))


class LoginRequest(CaptchaAnswer):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=256))


class Token(Schema):
    access_token = fields.String()
    token_type = fields.String(metadata={"example": "Bearer"})
    expires_in = fields.Integer()
    role = fields.String()


# --- registration --------------------------------------------------------------------------------


class IecPublic(Schema):
    iec = fields.String(metadata={"example": "AAACM4821K"})
    name = fields.String()
    address = fields.String()
    state = fields.String(allow_none=True)
    email = fields.String(metadata={"description": "masked", "example": "ex****@firm.in"})
    mobile = fields.String(metadata={"description": "masked", "example": "+91******2345"})
    directors = fields.List(fields.String(), metadata={"description": "Names a DSC's common name must match"})
    branches = fields.List(fields.Dict())
    registered = fields.Boolean()


# What the registration service takes for an IEC (it trims and upper-cases, then checks; its
# IEC_INVALID answers anything else): in the document only, so that error keeps its code.
IEC = {"pattern": "^[A-Za-z0-9]{10}$", "example": "AAACM4821K"}


class ChallengeRequest(Schema):
    iec = fields.String(required=True, validate=validate.Length(max=16), metadata=IEC)


class Challenge(Schema):
    challenge_id = fields.String()
    nonce = fields.String(metadata={"description": "base64; sign these bytes (detached CMS)"})
    expires_in = fields.Integer()


class BranchInput(Schema):
    branch_id = fields.String(required=True, validate=validate.Length(min=1, max=32))
    gstin = fields.String(validate=validate.Length(max=20), metadata={"example": "32AAACM4821K1ZP"})
    in_sez = fields.Boolean(truthy={True}, falsy={False})
    state = fields.String(
        validate=validate.Length(max=8),
        metadata={"description": "ISO 3166-2, required with in_sez", "example": "IN-TN"},
    )


class DscProof(Schema):
    certificate = fields.String(
        required=True, validate=validate.Length(min=1, max=20_000), metadata={"description": "PEM"}
    )
    challenge_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    signature = fields.String(
        required=True,
        validate=validate.Length(min=1, max=100_000),
        metadata={"description": "base64 DER detached CMS over the nonce"},
    )


class RegistrationRequest(Schema):
    iec = fields.String(required=True, validate=validate.Length(max=16), metadata=IEC)
    mobile = fields.String(required=True, validate=validate.Length(min=1, max=20))
    email = fields.String(required=True, validate=validate.Length(min=3, max=254))
    declaration_accepted = fields.Boolean(required=True, truthy={True}, falsy={False})
    branches = fields.List(
        fields.Nested(BranchInput), required=True, validate=validate.Length(min=1, max=200)
    )
    aeo_number = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=32))
    dsc = fields.Nested(DscProof, required=True)


class Registration(Schema):
    iec = fields.String()
    username = fields.String()
    name = fields.String()
    branches = fields.List(fields.Dict())
    aeo_number = fields.String(allow_none=True)
    message = fields.String()


class ForgotPassword(CaptchaAnswer):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    email = fields.String(required=True, validate=validate.Length(min=3, max=254))


class ResetPassword(Schema):
    token = fields.String(
        required=True,
        validate=validate.Length(min=1, max=128),
        metadata={"description": "from the emailed link (?token=…)"},
    )
    new_password = fields.String(required=True, validate=validate.Length(min=1, max=256))


class ChangePassword(Schema):
    current_password = fields.String(required=True, validate=validate.Length(min=1, max=256))
    new_password = fields.String(required=True, validate=validate.Length(min=1, max=256))


class Message(Schema):
    message = fields.String()


# --- administration -----------------------------------------------------------------------------


class AgencyCreate(Schema):
    code = fields.String(required=True, validate=validate.Length(min=2, max=32))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))


# What the route requires beside the fields, for the OpenAPI document: a regional office names
# its agency, an issuing office its regional office.
OFFICE_KINDS = {
    "oneOf": [
        {
            "properties": {"kind": {"enum": ["regional"]}, "agency_code": {"minLength": 1}},
            "required": ["agency_code"],
        },
        {
            "properties": {"kind": {"enum": ["issuing"]}, "regional_office_code": {"minLength": 1}},
            "required": ["regional_office_code"],
        },
    ]
}


class OfficeCreate(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(["regional", "issuing"]))
    code = fields.String(required=True, validate=validate.Length(min=2, max=32))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    state = fields.String(required=True, validate=validate.Length(max=8))
    agency_code = fields.String(
        validate=validate.Length(max=32), metadata={"description": "for a regional office"}
    )
    regional_office_code = fields.String(
        validate=validate.Length(max=64), metadata={"description": "for an issuing office"}
    )
    address = fields.String(load_default="", validate=validate.Length(max=500))
    gstin = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=15),
        metadata={
            "description": "an issuing office's GSTIN (its state's GST registration), printed on fee receipts"
        },
    )


# A staff username as registration keeps it (it lower-cases what it is given).
USERNAME = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$", "example": "kochi.officer"}


class StaffCreate(Schema):
    username = fields.String(required=True, validate=validate.Length(min=3, max=64))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    email = fields.String(required=True, validate=validate.Length(min=3, max=254))
    mobile = fields.String(required=True, validate=validate.Length(min=1, max=20))
    agency_code = fields.String(required=True, validate=validate.Length(max=32))


class OfficerCreate(StaffCreate):
    issuing_office_code = fields.String(required=True, validate=validate.Length(max=64))


class Staff(Schema):
    username = fields.String()
    role = fields.String()
    name = fields.String()
    email = fields.String()
    mobile = fields.String()
    agency_code = fields.String(allow_none=True)
    issuing_office_code = fields.String(allow_none=True)
    active = fields.Boolean()


# --- applications --------------------------------------------------------------------------------


class AnyObject(Schema):
    """A JSON object passed on whole; the application service loads the form itself (with
    ``ApplicationForm``, which the OpenAPI document shows) and answers with field paths such as
    products[2].raw_materials[0].origin_country."""

    class Meta:
        unknown = "include"


class ApplicationSummary(Schema):
    id = fields.String()
    number = fields.String(allow_none=True, metadata={"example": "MPEDA/2026/013/0000066A"})
    status = fields.String()
    kind = fields.String(allow_none=True)
    agreement_code = fields.String(allow_none=True)
    agency_code = fields.String(allow_none=True)
    issuing_office_code = fields.String(allow_none=True)
    importer_name = fields.String(allow_none=True)
    importer_country = fields.String(allow_none=True)
    invoice_number = fields.String(allow_none=True)
    invoice_date = fields.String(allow_none=True)
    product_count = fields.Integer()
    fob_inr = fields.String()
    created_at = fields.String()
    updated_at = fields.String()
    submitted_at = fields.String(allow_none=True)
    paid_at = fields.String(allow_none=True)
    decided_at = fields.String(allow_none=True)
    post_audit = fields.Boolean(
        metadata={"description": "approved by self-certification, awaiting post-audit"}
    )


class Application(ApplicationSummary):
    iec = fields.String()
    form = fields.Nested(ApplicationForm)
    cloned_from = fields.String(allow_none=True)
    documents = fields.List(fields.Dict())
    decided_by = fields.String(
        allow_none=True, metadata={"description": "the officer, or self-certification"}
    )
    remarks = fields.String(allow_none=True)
    certificate_number = fields.String(allow_none=True)


# The lists' filters take days of 2000 to 2100 (a typo such as 0202 is refused, not searched).
YEARS_2000_TO_2100 = {"pattern": "^(20[0-9]{2}|2100)-[0-9]{2}-[0-9]{2}$"}


class ApplicationListQuery(Schema):
    status = fields.String(validate=validate.OneOf([status.value for status in Status]))
    agreement = fields.String(validate=validate.Length(max=3))
    agency = fields.String(validate=validate.Length(max=32))
    number = fields.String(validate=validate.Length(max=64))
    date_from = fields.Date(metadata=YEARS_2000_TO_2100)
    date_to = fields.Date(metadata=YEARS_2000_TO_2100)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    sort = fields.String(
        load_default="-created_at",
        validate=validate.OneOf(
            [
                f"{sign}{name}"
                for sign in ("", "-")
                for name in ("created_at", "updated_at", "number", "submitted_at", "paid_at")
            ]
        ),
    )


class DocumentUpload(Schema):
    class Meta:
        unknown = EXCLUDE  # a form's other fields are ignored

    kind = fields.String(
        required=True, metadata={"enum": ["invoice", "packing_list", "bill_of_lading", "other"]}
    )
    file = fields.Raw(
        required=True, metadata={"type": "string", "format": "binary", "description": "PDF, at most 2 MB"}
    )
    signature = fields.String(
        required=True,
        metadata={
            "description": "detached CMS over the file by the exporter's DSC: base64 text, or a "
            "file part with DER"
        },
    )


class ProductOrigin(Schema):
    index = fields.Integer()
    path = fields.String(metadata={"example": "products[0]"})
    hs_code = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    fob_inr = fields.String(allow_none=True)
    non_originating_cif_inr = fields.String(
        allow_none=True, metadata={"description": "null while a raw material's CIF value is unknown"}
    )
    rvc_percent = fields.String(allow_none=True, metadata={"example": "40.00"})
    threshold = fields.Integer(
        allow_none=True, metadata={"description": "percent, for a value-content criterion"}
    )
    criterion = fields.String(allow_none=True)
    meets = fields.Boolean(
        allow_none=True, metadata={"description": "null: not a value-content criterion, or figures missing"}
    )
    message = fields.String()


class OriginCheck(Schema):
    agreement_code = fields.String(allow_none=True)
    products = fields.List(fields.Nested(ProductOrigin))
    all_meet = fields.Boolean()


class SigningPayload(Schema):
    payload = fields.String(metadata={"description": "base64 of the RFC 8785 JSON to sign"})
    sha256 = fields.String()


class SubmitRequest(Schema):
    signature = fields.String(
        required=True,
        validate=validate.Length(min=1, max=100_000),
        metadata={"description": "base64 DER detached CMS over the decoded payload"},
    )


class ExchangeRateInput(Schema):
    # the reference data checks these (VALIDATION_ERROR naming each field); shown here exactly
    currency = fields.String(
        required=True,
        validate=validate.Length(equal=3),
        metadata={
            "enum": sorted(currency.alpha_3 for currency in pycountry.currencies if currency.alpha_3 != "INR")
        },
    )
    valid_from = fields.String(required=True, validate=validate.Length(max=10), metadata={"format": "date"})
    rate = fields.String(
        required=True,
        validate=validate.Length(max=32),
        metadata={
            "description": 'INR per unit, more than 0 and at most 1,000,000, e.g. "83.2500"',
            "pattern": r"^([1-9][0-9]{0,5}(\.[0-9]{1,4})?|0\.[0-9]{0,3}[1-9])$",
        },
    )


class ExchangeRatesQuery(Schema):
    on = fields.Date(
        validate=validate.Range(min=date(2000, 1, 1), max=date(2100, 12, 31)),
        metadata={**YEARS_2000_TO_2100, "description": "the invoice date; today (in India) if not given"},
    )


class ExchangeRateOn(Schema):
    currency = fields.String(metadata={"example": "USD"})
    rate = fields.String(metadata={"description": "INR per unit", "example": "83.2500"})
    valid_from = fields.String(metadata={"format": "date"})


class ExchangeRatesOn(Schema):
    on = fields.String(metadata={"format": "date"})
    rates = fields.List(
        fields.Nested(ExchangeRateOn),
        metadata={"description": "every currency with a rate in force that day (INR is 1, not listed)"},
    )


class Amounts(Schema):
    """A fee with its GST, in paise."""

    base = fields.Integer(metadata={"description": "paise"})
    cgst = fields.Integer()
    sgst = fields.Integer()
    igst = fields.Integer()
    total = fields.Integer()
    gst_rate = fields.String(metadata={"description": "percent"})
    currency = fields.String()
    application_id = fields.String()
    application_number = fields.String()


class OrderSummary(Amounts):
    certificate_name = fields.String()
    agency_name = fields.String()
    service = fields.String(metadata={"description": "issue, duplicate, in_lieu or non_preferential"})
    tax = fields.String(metadata={"description": "CGST+SGST (same state), IGST, or none"})
    place_of_supply = fields.String(metadata={"description": "the exporter branch's state"})
    paid = fields.Boolean()
    payment_id = fields.String(allow_none=True)


class Payment(Amounts):
    payment_id = fields.String()
    provider = fields.String()
    status = fields.String(metadata={"description": "created, completed, failed or refund_due"})
    failure_reason = fields.String(allow_none=True)
    redirect_url = fields.String(allow_none=True)
    receipt_number = fields.String(allow_none=True)
    created_at = fields.String()
    completed_at = fields.String(allow_none=True)


class RevokeRequest(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class CertificateNumberQuery(Schema):
    """Numbers are unique: the answer has the one certificate, or none."""

    number = fields.String(
        required=True,
        validate=validate.Length(min=1, max=80),
        metadata={"example": "MPEDA/2026/013/0000066A"},
    )


class Certificate(Schema):
    """A certificate's registry entry, as staff see it."""

    id = fields.String()
    number = fields.String(metadata={"example": "MPEDA/2026/013/0000066A"})
    application_id = fields.String()
    iec = fields.String()
    exporter_name = fields.String()
    importer_country = fields.String()
    agreement_code = fields.String(allow_none=True)
    agency_code = fields.String()
    issuing_office_code = fields.String()
    kind = fields.String(metadata={"description": "original, duplicate or in_lieu"})
    original_number = fields.String(allow_none=True)
    sha256 = fields.String()
    size = fields.Integer()
    status = fields.String(metadata={"description": "valid, revoked or superseded"})
    status_reason = fields.String(allow_none=True)
    superseded_by = fields.String(allow_none=True)
    issued_at = fields.String()
    issued_on = fields.String(metadata={"format": "date"})
    issued_by = fields.String(metadata={"description": "the approving officer"})
    verify_url = fields.String()


# --- officer examination -------------------------------------------------------------------------


class OfficerQueueQuery(ApplicationListQuery):
    """The exporter list's filters; without status, the applications awaiting examination
    (submitted). The order is fixed: oldest payment first."""

    post_audit = fields.Boolean(
        metadata={
            "description": "true: only applications approved by self-certification, for "
            "post-audit (of any status unless status is given)"
        }
    )

    class Meta:
        exclude = ("sort",)


_DECISION_TEXT = 2000


def _required_text():
    # Spaces alone say nothing: refused like an empty text.
    return fields.String(
        required=True,
        validate=[
            validate.Length(min=1, max=_DECISION_TEXT),
            validate.Regexp(r"\s*\S", error="Must not be blank."),
        ],
    )


class Comment(Schema):
    comment = _required_text()


class Remarks(Schema):
    remarks = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=_DECISION_TEXT),
        metadata={"description": "printed on the certificate"},
    )


class Reason(Schema):
    reason = _required_text()


class SelfCertification(Schema):
    iec = fields.String(required=True, validate=validate.Regexp(r"^[A-Z0-9]{10}$"))
    agency_code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    flagged_by = fields.String(dump_only=True)
    flagged_at = fields.String(dump_only=True)


class StatsQuery(Schema):
    days = fields.Integer(load_default=90, validate=validate.Range(min=1, max=366))


class OfficeStats(Schema):
    issuing_office_code = fields.String()
    agency_code = fields.String()
    waiting = fields.Integer(metadata={"description": "submitted, awaiting an officer now"})
    decided = fields.Integer(metadata={"description": "approved or rejected by an officer in the window"})
    self_certified = fields.Integer(
        metadata={"description": "approved by self-certification in the window (not in turnaround)"}
    )
    turnaround_median_hours = fields.Float(allow_none=True, metadata={"description": "payment to decision"})
    turnaround_p90_hours = fields.Float(allow_none=True)


class Stats(Schema):
    days = fields.Integer()
    offices = fields.List(fields.Nested(OfficeStats))
