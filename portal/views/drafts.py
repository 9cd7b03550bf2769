"""The exporter's application form: a new draft and its editing, saved as a draft at any point.
The form's fields are the contract's (``services.contracts.application_form``); the API checks
them and its refusals come back as field paths (``products[0].raw_materials[1].quantity``),
shown next to their inputs (named ``products.0.raw_materials.1.quantity``) and in a summary.

Beside the inputs the form shows what the API will hold the draft to, before submission does:
each product's FOB at the rate in force on the invoice date (the rate the FOB in INR is checked
against), a summary of the goods, and each product's origin check: the saved draft's when the
page is drawn, then the form's as typed (``/applications/origin-check``, asked by form.js)."""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation

from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import NotFound
from werkzeug.utils import redirect
from werkzeug.wrappers import Response

from portal.api import ApiError
from portal.app import Page, screen
from services.contracts import application_form as contract
from services.contracts.actors import Role

# The form's parts, in order; their titles are the template's (and so the catalogue's).
SECTIONS = (
    ("importer", contract.ImporterSchema),
    ("transport", contract.TransportSchema),
    ("invoice", contract.InvoiceSchema),
    ("declaration", contract.DeclarationSchema),
)
RATES_PATH = "/api/v1/reference/exchange-rates"
CENTS = Decimal("0.01")
PRODUCT_FIELDS = tuple(name for name in contract.ProductSchema().fields if name != "raw_materials")
RAW_MATERIAL_FIELDS = tuple(contract.RawMaterialSchema().fields)
# the check boxes: the form's yes/no fields (an unticked box sends nothing, which means no)
FLAGS = tuple(
    name for name, field in contract.ApplicationForm().fields.items() if isinstance(field, contract.Flag)
)
MAX_FORM_FIELDS = 4000  # 100 products with raw materials fit far below; a bigger post is not a form of ours
_INDEX = re.compile(r"\[(\d+)\]")


def body_from_form(form: MultiDict) -> dict:
    """The JSON the API takes, from the inputs' dotted names; empty inputs are "not given",
    rows left empty or marked for removal are dropped."""
    return _body_and_product_inputs(form)[0]


def _body_and_product_inputs(form: MultiDict) -> tuple[dict, list[str]]:
    """The body, and the input prefix of each product it keeps (``products.3`` for the API's
    ``products[0]`` when the rows before were dropped), to put answers back beside their inputs."""
    body: dict = {}
    for name, value in list(form.items())[:MAX_FORM_FIELDS]:
        parts = name.split(".")
        if name in ("csrf_token", *FLAGS) or parts[-1] == "remove" or not value.strip():
            continue
        if len(parts) > 5 or any(not part or len(part) > 64 for part in parts):
            continue  # not an input of ours
        node = body
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node[parts[-1]] = value
    for flag in FLAGS:
        body[flag] = flag in form
    products, inputs = [], []
    for key, product in _rows(body.pop("products", None), form, "products"):
        materials = [
            row for _, row in _rows(product.pop("raw_materials", None), form, f"products.{key}.raw_materials")
        ]
        products.append({**product, "raw_materials": materials} if materials else product)
        inputs.append(f"products.{key}")
    if products:
        body["products"] = products
    return body, inputs


def _rows(rows, form: MultiDict, prefix: str) -> list[tuple[str, dict]]:
    """``{"0": {...}, "3": {...}}`` -> (key, row) in order, without rows marked for removal."""
    if not isinstance(rows, dict):
        return []
    return [
        (key, rows[key])
        for key in sorted((k for k in rows if k.isdigit() and len(k) < 4), key=int)
        if f"{prefix}.{key}.remove" not in form and isinstance(rows[key], dict)
    ]


def input_name(api_path: str) -> str:
    return _INDEX.sub(r".\1", api_path)


def exchange_rates(page: Page, form: dict) -> dict:
    """The rates in force on the form's invoice date (today's without one), as the API gives
    them: ``{"on": "2026-11-25", "rates": {"USD": "83.2500", "INR": "1"}}``. A date the API
    refuses (not a date yet) gives today's rates: the form still shows, the field is flagged."""
    on = str((form.get("invoice") or {}).get("date") or "")
    try:
        answer = page.api("GET", RATES_PATH, query={"on": on})
    except ApiError as exc:
        if exc.status != 400:
            raise
        answer = page.api("GET", RATES_PATH)
    return {"on": answer["on"], "rates": {"INR": "1", **{r["currency"]: r["rate"] for r in answer["rates"]}}}


def _number(value) -> Decimal | None:
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def inr_equivalent(product: dict, rates: dict) -> Decimal | None:
    """The product's FOB value at the rate of its currency, or None when either is unknown."""
    value, rate = _number(product.get("fob_value")), _number(rates["rates"].get(product.get("fob_currency")))
    if value is None or rate is None:
        return None
    return (value * rate).quantize(CENTS)


def goods_summary(products: list[dict], rates: dict) -> dict:
    """The description of goods as the certificate lists it: each product's description, HS
    code, quantity and values, with the totals (quantities per unit, FOB in INR declared and at
    the day's rates)."""
    rows: list[dict] = []
    quantities: dict[str, Decimal] = {}
    declared, converted = Decimal(0), Decimal(0)
    for product in products:
        equivalent = inr_equivalent(product, rates)
        fob_inr = _number(product.get("fob_inr"))
        quantity = _number(product.get("quantity"))
        unit = product.get("unit") or ""
        if quantity is not None:
            quantities[unit] = quantities.get(unit, Decimal(0)) + quantity
        declared += fob_inr or 0
        converted += equivalent or 0
        rows.append({**product, "inr_equivalent": equivalent, "fob_inr_declared": fob_inr})
    return {
        "rows": rows,
        "quantities": sorted(quantities.items()),
        "fob_inr": declared.quantize(CENTS),
        "inr_equivalent": converted.quantize(CENTS),
    }


def origin_check(page: Page, application_id: str) -> dict | None:
    """The API's origin check of the saved draft, product by product (None when it cannot say,
    such as for an application not the caller's any more)."""
    try:
        return page.api("GET", f"/api/v1/applications/{application_id}/origin-check")
    except ApiError as exc:
        if exc.status >= 500 or exc.status == 401:
            raise
        return None


def discrepancy_comment(history: list[dict]) -> str | None:
    """What the officer asked to correct: the comment of the latest discrepancy raised."""
    raised = [entry for entry in history if entry.get("to") == "discrepancy" and entry.get("comment")]
    return raised[-1]["comment"] if raised else None


def _reference(page: Page) -> dict:
    get = lambda path: page.api("GET", path, query={"per_page": 500})["items"]  # noqa: E731
    return {
        "agreements": get("/api/v1/reference/agreements"),
        "agencies": get("/api/v1/reference/agencies"),
        "countries": get("/api/v1/reference/countries"),
        "units": get("/api/v1/reference/units"),
        "currencies": get("/api/v1/reference/currencies"),
        "branches": page.api("GET", "/api/v1/exporters/me").get("branches", []),
    }


def _form_page(
    page: Page,
    form: dict,
    action: str,
    status: int = 200,
    problem: ApiError | None = None,
    application: dict | None = None,
):
    page.ensure_session()
    errors = {input_name(path): messages for path, messages in (problem.fields if problem else {}).items()}
    products = list(form.get("products") or [])
    rates = exchange_rates(page, form)
    origin, discrepancy = None, None
    if application is not None:  # saved: the API's check of it, and what the officer asked
        origin = origin_check(page, application["id"])
        if application["status"] == "discrepancy":
            history = page.api("GET", f"/api/v1/applications/{application['id']}/history")["items"]
            discrepancy = discrepancy_comment(history)
    return page.render(
        "application_form.html",
        status,
        form=form,
        products=products + [{}],  # and one empty row to add a product
        action=action,
        problem=problem,
        errors=errors,
        sections=[(key, tuple(schema().fields)) for key, schema in SECTIONS],
        product_fields=PRODUCT_FIELDS,
        raw_material_fields=RAW_MATERIAL_FIELDS,
        kinds=contract.KINDS,
        timings=contract.SHIPMENT_TIMINGS,
        modes=contract.TRANSPORT_MODES,
        rates=rates,
        goods=goods_summary(products, rates),
        origin=origin,
        discrepancy=discrepancy,
        **_reference(page),
    )


def _saved_or_refused(
    page: Page, method: str, path: str, action: str, form: dict, application: dict | None = None
):
    try:
        saved = page.api(method, path, json_body=form)
    except ApiError as exc:
        if exc.status >= 500 or exc.status in (401, 403):
            raise
        return _form_page(page, form, action, exc.status, exc, application)
    return redirect(f"/applications/{saved['id']}", code=303)


@screen("/applications/new", roles=(Role.EXPORTER,))
def new_application(page: Page):
    return _form_page(page, {"kind": "preferential"}, "/applications/new")


@screen("/applications/new", methods=("POST",), roles=(Role.EXPORTER,))
def create_application(page: Page):
    form = body_from_form(page.request.form)
    return _saved_or_refused(page, "POST", "/api/v1/applications", "/applications/new", form)


@screen("/applications/<id:application_id>/edit", roles=(Role.EXPORTER,))
def edit_application(page: Page, application_id: str):
    application = saved_application(page, application_id)
    action = f"/applications/{application_id}/edit"
    return _form_page(page, application["form"], action, application=application)


@screen("/applications/<id:application_id>/edit", methods=("POST",), roles=(Role.EXPORTER,))
def save_application(page: Page, application_id: str):
    application = saved_application(page, application_id)
    form = body_from_form(page.request.form)
    action = f"/applications/{application_id}/edit"
    path = f"/api/v1/applications/{application_id}"
    return _saved_or_refused(page, "PUT", path, action, form, application)


def saved_application(page: Page, application_id: str) -> dict:
    """The application as the API gives it to the caller; 404 when it is none of theirs."""
    try:
        return page.api("GET", f"/api/v1/applications/{application_id}")
    except ApiError as exc:
        if exc.status == 404:
            raise NotFound() from exc
        raise


@screen("/applications/origin-check", methods=("POST",), roles=(Role.EXPORTER,))
def origin_check_as_typed(page: Page):
    """The API's origin check of the form as it stands in the browser (form.js asks while the
    exporter types; nothing is saved): each product's answer named by its inputs' prefix."""
    body, inputs = _body_and_product_inputs(page.request.form)
    try:
        answer = page.api("POST", "/api/v1/applications/origin-check", json_body=body)
    except ApiError as exc:
        if exc.status >= 500 or exc.status == 401:
            raise
        refusal = {"error": {"code": exc.code, "message": exc.message, "fields": exc.fields}}
        return Response(json.dumps(refusal), status=exc.status, mimetype="application/json")
    answer["products"] = [
        {**check, "input": name} for check, name in zip(answer["products"], inputs, strict=True)
    ]
    return Response(json.dumps(answer), mimetype="application/json", headers={"Cache-Control": "no-store"})
