"""The OpenAPI document, generated from the declared routes and their marshmallow schemas."""

import re
from decimal import Decimal
from functools import lru_cache
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from gateway import schemas
from gateway.http import ROUTES
from services.contracts import application_form

_STATUS_TEXT = {
    400: "Malformed request",
    401: "Not logged in",
    403: "Not allowed",
    404: "Not found",
    409: "State conflict",
    413: "Body too large",
    422: "Rule broken",
    429: "Too many requests",
    503: "Service unavailable",
    504: "A service did not answer in time",
}


def _openapi_path(path: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", path)


@lru_cache(maxsize=4)  # routes are fixed once the gateway is imported
def build(public_url: str) -> dict:
    marshmallow = MarshmallowPlugin()
    spec = APISpec(
        title="OpenCoO API",
        version="1.0.0",
        openapi_version="3.0.3",
        plugins=[marshmallow],
        info={
            "description": "Certificates of Origin: registration, applications, payment, "
            "examination, signed certificates and public verification. "
            'Every error is JSON: {"error": {"code", "message", "fields"}}.'
        },
        servers=[{"url": public_url}],
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    # an amount is a decimal string or a JSON number: its metadata says which (oneOf), not a type
    marshmallow.map_to_openapi_type(application_form.Amount, None, None)
    spec.components.schema("Error", schema=schemas.Error)
    spec.components.schema("OfficeCreate", schemas.OFFICE_KINDS, schema=schemas.OfficeCreate)
    paths: dict[str, dict] = {}
    for route in ROUTES:
        if route.path.startswith("/api/docs/static"):
            continue
        operation: dict[str, Any] = {
            "summary": route.summary,
            "tags": list(route.tags) or ["platform"],
            "responses": {},
        }
        params = [
            {
                "in": "path",
                "name": name,
                "required": True,
                "schema": route.path_params.get(name, {"type": "string"}),
            }
            for name in re.findall(r"<(?:[a-z]+:)?([a-z_]+)>", route.path)
        ]
        if route.query is not None:
            params.append({"in": "query", "schema": route.query})
        if params:
            operation["parameters"] = params
        if route.request_schema is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {route.media: {"schema": route.request_schema}},
            }
        ok: dict[str, Any] = {"description": "OK"}
        if route.response_schema is not None:
            ok["content"] = {"application/json": {"schema": route.response_schema}}
        operation["responses"]["200"] = ok
        codes = set(route.responses) | {400}
        if route.roles:
            operation["security"] = [{"bearer": []}]
            operation["description"] = f"Roles: {', '.join(route.roles)}."
            operation["x-roles"] = list(route.roles)  # the declaration the gateway enforces
            codes |= {401, 403}
        for code in sorted(codes):
            operation["responses"][str(code)] = {
                "description": route.responses.get(code, _STATUS_TEXT.get(code, "Error")),
                "content": {"application/json": {"schema": "Error"}},
            }
        paths.setdefault(_openapi_path(route.path), {})[route.method.lower()] = operation
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return _exact(spec.to_dict())


def _exact(node):
    """Two things apispec writes loosely, made exact. The bounds of a decimal field come as
    strings ("0", "28"), where OpenAPI wants numbers. A nested schema that may be null comes as
    ``anyOf: [{type: object, nullable: true}, {$ref}]``, whose first branch admits any object:
    it becomes the ``$ref`` that may be null."""
    if isinstance(node, dict):
        for key in ("minimum", "maximum"):
            if isinstance(node.get(key), str):
                number = Decimal(node[key])
                node[key] = int(number) if number == number.to_integral_value() else float(number)
        loose = node.get("anyOf")
        if (
            isinstance(loose, list)
            and len(loose) == 2
            and loose[0] == {"type": "object", "nullable": True}
            and "$ref" in loose[1]
        ):
            del node["anyOf"]
            node.update({"allOf": [loose[1]], "nullable": True})
        for value in node.values():
            _exact(value)
    elif isinstance(node, list):
        for value in node:
            _exact(value)
    return node
