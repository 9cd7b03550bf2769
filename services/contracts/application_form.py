"""The CoO application body (architecture §7 "Application body") as marshmallow schemas: the
contract between the API's clients, the gateway (whose OpenAPI document is drawn from it) and the
application service (which loads every draft with it).

A *draft* may hold any subset of the fields: nothing is required here, because the exporter fills
the form over several sittings. What is given must still be well-typed and bounded, so that bad
input is refused at once with the field's path (``products[2].raw_materials[0].quantity``) and
nothing absurd is ever stored. Whether a complete application may be *submitted* is a separate
question, answered by ``rules.check_submission``.

Conventions:

- Amounts and quantities travel as decimal strings ("12012.00") and load into ``Decimal``; JSON
  numbers are accepted too, booleans are not. Nothing is rounded silently: a value with more
  decimal places than its field allows is refused (``places`` is checked, never used to quantize).
  Exponent forms are normalised ("1E+3" loads as 1000) so that the stored text is plain.
- Dates are ISO 8601 (``2026-03-01``).
- Strings are stripped of surrounding white space; country, currency and unit codes are
  upper-cased (criteria are not: GSP Form A has "Pk").
- ``null`` means "not given": keys whose value is null are dropped on load, so a stored draft and the
  signing payload do not depend on whether a client sent null or left the key out.
- Unknown fields are refused (marshmallow ``RAISE``) so that a typo surfaces instead of vanishing.

``load_draft(data)`` returns the loaded dict or raises ``FormError`` whose ``fields`` maps flattened
field paths to messages; ``dump(data)`` returns the JSON-ready form (Decimals as strings, dates ISO).
"""

from __future__ import annotations

from decimal import Decimal

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate

MAX_PRODUCTS = 100
MAX_RAW_MATERIALS = 100  # per product

KINDS = ("preferential", "non_preferential")
SHIPMENT_TIMINGS = ("before", "after")
TRANSPORT_MODES = ("sea", "air", "road", "rail", "post", "multimodal")

# Upper bounds, chosen to be far beyond any real shipment while keeping numbers sane (and well
# inside what PostgreSQL NUMERIC and JSON consumers handle exactly).
MAX_QUANTITY = Decimal("1000000000000")  # 10^12 units of any UQC
MAX_FOREIGN_AMOUNT = Decimal("1000000000000000")  # 10^15: weak currencies (VND, IDR) run large
MAX_INR_AMOUNT = Decimal("10000000000000")  # 10^13 INR (10 lakh crore) for one product line
MAX_UNIT_VALUE = Decimal("1000000000000")  # INR per unit

SHORT = 20  # codes: agency, office, branch, agreement, criterion
NAME = 200
ADDRESS = 500
TEXT = 1000
COMMENTS = 2000


class FormError(ValueError):
    """The draft has fields that are not valid; ``fields`` maps each path to its messages."""

    def __init__(self, fields: dict[str, list[str]]):
        self.fields = fields
        super().__init__("; ".join(f"{path}: {' '.join(messages)}" for path, messages in fields.items()))


# --- fields --------------------------------------------------------------------------------------


class Text(fields.String):
    """A string stripped of surrounding white space, at most ``max_length`` characters."""

    def __init__(self, max_length: int, **kwargs):
        self.max_length = max_length
        kwargs.setdefault("allow_none", True)
        kwargs.setdefault("metadata", {"maxLength": max_length})  # for the OpenAPI document
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if len(text) > self.max_length:
            raise ValidationError(f"At most {self.max_length} characters.")
        return text


class Code(Text):
    """A code compared exactly against reference data: upper-cased (ISO 3166, ISO 4217, UQC)."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).upper()


class Choice(fields.String):
    """One of a fixed list of values (stripped, compared exactly)."""

    def __init__(self, choices: tuple[str, ...], **kwargs):
        kwargs.setdefault("allow_none", True)
        super().__init__(validate=validate.OneOf(choices, error="Must be one of: {choices}."), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).strip()


class Flag(fields.Boolean):
    """A JSON boolean: true or false only (not 1, "yes" or "on": a declaration is not guessed)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_none", True)
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class Amount(fields.Decimal):
    """A non-negative decimal with at most ``places`` decimal places and at most ``maximum``.

    Loaded as Decimal and dumped as a string. Positive values (> 0) are a submission rule, not a
    form rule, so that a draft can hold a zero while the exporter works on it.
    """

    def __init__(self, places: int, maximum: Decimal, **kwargs):
        self.max_places = places
        self.maximum = maximum
        kwargs.setdefault("allow_none", True)
        kwargs.setdefault(
            "metadata",
            {
                "oneOf": [  # for the OpenAPI document
                    {"type": "string", "pattern": amount_pattern(places, maximum)},
                    {
                        "type": "number",
                        "minimum": 0,
                        "maximum": int(maximum),
                        "multipleOf": float(Decimal(1).scaleb(-places)),
                    },
                ]
            },
        )
        super().__init__(as_string=True, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            value = value.strip()
        number = super()._deserialize(value, attr, data, **kwargs)
        if not number.is_finite() or abs(number) > self.maximum:
            # Checked before any quantize: "1E+100" would overflow the decimal context.
            raise ValidationError(f"Must be at most {self.maximum}.")
        exponent = number.as_tuple().exponent
        if isinstance(exponent, int) and -exponent > self.max_places:
            raise ValidationError(f"At most {self.max_places} decimal places.")
        if exponent > 0:  # "1E+3" -> "1000"
            number = number.quantize(Decimal(1))
        if number < 0:
            raise ValidationError("Must not be negative.")
        if number > self.maximum:
            raise ValidationError(f"Must be at most {self.maximum}.")
        return number.copy_abs() if number.is_zero() else number  # never "-0"


def amount_pattern(places: int, maximum: Decimal) -> str:
    """A decimal string below ``maximum`` (a power of ten) with at most ``places`` places: a
    little stricter than what loads (white space, exponents, the maximum itself)."""
    digits = len(str(int(maximum))) - 1
    return rf"^[0-9]{{1,{digits}}}(\.[0-9]{{1,{places}}})?$"


def _quantity(**kwargs):
    return Amount(places=3, maximum=MAX_QUANTITY, **kwargs)


def _inr(**kwargs):
    return Amount(places=2, maximum=MAX_INR_AMOUNT, **kwargs)


class _Part(Schema):
    """A part of the form: unknown fields refused, null treated as not given."""

    class Meta:
        unknown = RAISE
        ordered = True

    @post_load
    def _drop_nulls(self, data, **kwargs):
        return {key: value for key, value in data.items() if value is not None}


def _nested(schema, **kwargs):
    return fields.Nested(schema, allow_none=True, **kwargs)


def _list(schema, maximum: int):
    return fields.List(
        fields.Nested(schema),
        allow_none=True,
        validate=validate.Length(max=maximum, error=f"At most {maximum} entries."),
    )


# --- schemas -------------------------------------------------------------------------------------


class ImporterSchema(_Part):
    name = Text(NAME)
    country = Code(2)  # ISO 3166-1 alpha-2; checked against pycountry at submission
    address = Text(ADDRESS)


class TransportSchema(_Part):
    mode = Choice(TRANSPORT_MODES)
    vessel_or_flight = Text(NAME)
    port_of_loading = Text(NAME)
    port_of_discharge = Text(NAME)
    departure_date = fields.Date(allow_none=True)


class InvoiceSchema(_Part):
    number = Text(100)
    date = fields.Date(allow_none=True)


class RawMaterialSchema(_Part):
    hs_code = Text(12)  # "030617", "0306.17", "03061790"; checked by hs.check_form at submission
    description = Text(TEXT)
    quantity = _quantity()
    unit = Code(3)  # UQC
    unit_cif_value = Amount(places=4, maximum=MAX_UNIT_VALUE)  # INR per unit
    total_cif_value = _inr()  # INR
    origin_country = Code(2)  # ISO 3166-1 alpha-2
    bill_of_entry_or_invoice_no = Text(100)
    invoice_date = fields.Date(allow_none=True)
    supplier = Text(NAME)


class ProductSchema(_Part):
    hs_code = Text(12)
    description = Text(TEXT)
    quantity = _quantity()
    unit = Code(3)
    fob_currency = Code(3)  # ISO 4217
    fob_value = Amount(places=2, maximum=MAX_FOREIGN_AMOUNT)  # in fob_currency
    fob_inr = _inr()
    marks_and_numbers = Text(TEXT)
    packages = Text(NAME)
    preference_criterion = Text(SHORT)  # as printed: "RVC", "B", "Pk"
    raw_materials = _list(RawMaterialSchema, MAX_RAW_MATERIALS)


class DeclarationSchema(_Part):
    goods_available_at = Text(ADDRESS)
    origin_grounds = Text(TEXT)
    place = Text(NAME)
    name = Text(NAME)
    designation = Text(NAME)


class ApplicationForm(_Part):
    """The whole application body; every field optional (a draft)."""

    kind = Choice(KINDS)
    agreement_code = Text(3)  # the scheme code, as in application numbers
    shipment_timing = Choice(SHIPMENT_TIMINGS)
    agency_code = Text(SHORT)
    regional_office_code = Text(SHORT * 2)
    issuing_office_code = Text(SHORT * 2)
    postal_delivery = Flag()
    branch_id = Text(SHORT * 2)
    importer = _nested(ImporterSchema)
    transport = _nested(TransportSchema)
    invoice = _nested(InvoiceSchema)
    uses_non_originating_materials = Flag()
    products = _list(ProductSchema, MAX_PRODUCTS)
    exporter_comments = Text(COMMENTS)
    declaration = _nested(DeclarationSchema)


_FORM = ApplicationForm()


# --- errors --------------------------------------------------------------------------------------


def flatten_errors(messages, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested error dict -> {"products[2].raw_materials[0].origin_country": [...]}.

    Integer keys are list indexes (``[i]``), string keys are field names (``.name``); a
    ``_schema`` entry belongs to the object it sits in (e.g. "Invalid input type." for
    ``importer`` given as a string), and at the top level it is kept as ``_schema``.
    """
    flat: dict[str, list[str]] = {}

    def walk(node, path: str) -> None:
        if isinstance(node, dict):
            for key, child in node.items():
                if isinstance(key, int):
                    walk(child, f"{path}[{key}]")
                elif key == "_schema":
                    walk(child, path or "_schema")
                else:
                    walk(child, f"{path}.{key}" if path else str(key))
        elif isinstance(node, (list, tuple)):
            for item in node:
                if isinstance(item, (dict, list, tuple)):
                    walk(item, path)
                else:
                    flat.setdefault(path or "_schema", []).append(str(item))
        else:
            flat.setdefault(path or "_schema", []).append(str(node))

    walk(messages, prefix)
    return flat


# --- public --------------------------------------------------------------------------------------


def load_draft(data: dict) -> dict:
    """Load a draft (any subset of the fields); raise FormError listing every bad field by path."""
    if not isinstance(data, dict):
        raise FormError({"_schema": ["The application must be a JSON object."]})
    try:
        return _FORM.load(data)
    except ValidationError as exc:
        raise FormError(flatten_errors(exc.messages)) from None


def dump(data: dict) -> dict:
    """The loaded form as JSON-ready data: Decimals as strings, dates in ISO 8601."""
    return _FORM.dump(data)
