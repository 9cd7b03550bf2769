"""The fee schedule's vocabulary, shared by the gateway (which documents and parses it) and the
payment service (which keeps the schedule)."""

from decimal import Decimal

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

# The lines of an agency's schedule (architecture §4 "Fees").
SERVICES = ("issue", "duplicate", "in_lieu", "non_preferential")
MAX_GST_RATE = Decimal("28")  # the highest GST slab

MAX_FEE_PAISE = 10_000_000_00  # one crore rupees: anything above is a typing slip, not a fee


class FeeWindow(Schema):
    agency_code = fields.String(required=True, validate=validate.Length(min=2, max=32))
    service = fields.String(required=True, validate=validate.OneOf(SERVICES))
    base_paise = fields.Integer(
        required=True,
        strict=True,
        # a free line would need no payment
        validate=validate.Range(min=1, max=MAX_FEE_PAISE),
    )
    gst_rate = fields.Decimal(
        required=True,
        as_string=True,
        places=None,
        validate=validate.Range(min=0, max=MAX_GST_RATE),
        metadata={"multipleOf": 0.01},
    )
    valid_from = fields.Date(required=True)
    valid_to = fields.Date(load_default=None, allow_none=True)

    @validates_schema
    def _window(self, data, **kwargs):
        if data.get("valid_to") and data["valid_to"] < data["valid_from"]:
            raise ValidationError("Must not be before valid_from.", "valid_to")
        rate = data.get("gst_rate")
        if rate is not None and (not rate.is_finite() or rate.as_tuple().exponent < -2):
            raise ValidationError("A percentage with at most two decimals.", "gst_rate")
