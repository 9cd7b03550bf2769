"""The exporter's application form: a new draft and its editing, saved as a draft at any point.
The form's fields are the contract's (``services.contracts.application_form``); the API checks
them and its refusals come back as field paths (``products[0].raw_materials[1].quantity``),
shown next to their inputs (named ``products.0.raw_materials.1.quantity``) and in a summary."""

from __future__ import annotations

import re

from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import NotFound
from werkzeug.utils import redirect

from portal.api import ApiError
from portal.app import Page, screen
from services.contracts import application_form as contract
from services.contracts.actors import Role

SECTIONS = (
    ("importer", "Importer (consignee)", contract.ImporterSchema),
    ("transport", "Transport", contract.TransportSchema),
    ("invoice", "Invoice", contract.InvoiceSchema),
    ("declaration", "Declaration by the exporter", contract.DeclarationSchema),
)
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
    products = []
    for key, product in _rows(body.pop("products", None), form, "products"):
        materials = [
            row for _, row in _rows(product.pop("raw_materials", None), form, f"products.{key}.raw_materials")
        ]
        products.append({**product, "raw_materials": materials} if materials else product)
    if products:
        body["products"] = products
    return body


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


def _form_page(page: Page, form: dict, action: str, status: int = 200, problem: ApiError | None = None):
    page.ensure_session()
    errors = {input_name(path): messages for path, messages in (problem.fields if problem else {}).items()}
    products = list(form.get("products") or [])
    return page.render(
        "application_form.html",
        status,
        form=form,
        products=products + [{}],  # and one empty row to add a product
        action=action,
        problem=problem,
        errors=errors,
        sections=[(key, title, tuple(schema().fields)) for key, title, schema in SECTIONS],
        product_fields=PRODUCT_FIELDS,
        raw_material_fields=RAW_MATERIAL_FIELDS,
        kinds=contract.KINDS,
        timings=contract.SHIPMENT_TIMINGS,
        modes=contract.TRANSPORT_MODES,
        **_reference(page),
    )


def _saved_or_refused(page: Page, method: str, path: str, action: str, form: dict):
    try:
        saved = page.api(method, path, json_body=form)
    except ApiError as exc:
        if exc.status >= 500 or exc.status in (401, 403):
            raise
        return _form_page(page, form, action, exc.status, exc)
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
    try:
        application = page.api("GET", f"/api/v1/applications/{application_id}")
    except ApiError as exc:
        if exc.status == 404:
            raise NotFound() from exc
        raise
    return _form_page(page, application["form"], f"/applications/{application_id}/edit")


@screen("/applications/<id:application_id>/edit", methods=("POST",), roles=(Role.EXPORTER,))
def save_application(page: Page, application_id: str):
    form = body_from_form(page.request.form)
    action = f"/applications/{application_id}/edit"
    return _saved_or_refused(page, "PUT", f"/api/v1/applications/{application_id}", action, form)
