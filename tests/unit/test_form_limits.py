"""The form at its limits: amounts too large for the decimal context, the RVC just under a
threshold, and codes longer than their columns."""

from decimal import Decimal

import pytest

from services.application import origin
from services.application.agreements import agreement_by_code
from services.contracts import application_form as form
from tests.application_fixtures import valid_application


@pytest.mark.parametrize("amount", ["1E+100", "1e300", 1e300, "Infinity", "NaN"])
def test_absurd_amounts_are_field_errors_not_crashes(amount):
    body = valid_application()
    body["products"][0]["fob_inr"] = amount
    with pytest.raises(form.FormError) as refused:
        form.load_draft(body)
    assert "products[0].fob_inr" in refused.value.fields


def test_an_agreement_code_is_three_characters():
    with pytest.raises(form.FormError) as refused:
        form.load_draft({"agreement_code": "0130"})
    assert "agreement_code" in refused.value.fields


def test_the_exact_rvc_decides_not_the_rounded_figure():
    product = form.load_draft(valid_application())["products"][0]
    # FOB 1,000,000 with non-originating CIF 650,050 gives RVC 34.995%: shown as 35.00, fails.
    product["raw_materials"] = [
        dict(
            product["raw_materials"][1],
            total_cif_value=Decimal("650050.00"),
            quantity=Decimal("1"),
            unit_cif_value=Decimal("650050.00"),
        )
    ]
    result = origin.product_origin(product, agreement_by_code("013"))
    assert result["meets"] is False
    assert "below the 35% required by AIFTA" in result["message"]
    assert "34.99" in result["message"]
