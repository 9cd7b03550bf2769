"""The OpenAPI document the gateway serves is valid OpenAPI 3 by a validator we did not write,
and every secured operation carries its roles (x-roles)."""

from openapi_spec_validator import validate

from gateway import openapi
from gateway.service import GatewayService  # noqa: F401  (declares every route)


def test_the_document_is_valid_openapi():
    document = openapi.build("https://coo.example.in")
    validate(document)


def test_every_secured_operation_names_its_roles():
    document = openapi.build("https://coo.example.in")
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if operation.get("security"):
                assert operation["x-roles"], (method, path)
