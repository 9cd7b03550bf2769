"""Domain errors carry a code and a message; the gateway's one table says what each becomes in
HTTP. Plain Python."""

import ast
from pathlib import Path

import pytest

from gateway.errors import HTTP_STATUS, http_status
from services.chassis import errors

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "error, status",
    [
        (errors.BadRequest, 400),
        (errors.Unauthorized, 401),
        (errors.Forbidden, 403),
        (errors.NotFound, 404),
        (errors.Conflict, 409),
        (errors.PayloadTooLarge, 413),
        (errors.UnsupportedMediaType, 415),
        (errors.RuleViolation, 422),
        (errors.RateLimited, 429),
        (errors.ServiceUnavailable, 503),
        (errors.RpcTimeout, 504),
    ],
)
def test_each_domain_error_has_its_status_in_the_one_table(error, status):
    assert http_status(error("message", code="SOME_CODE")) == status


def test_every_error_class_is_in_the_table_and_carries_no_status_of_its_own():
    assert set(errors.DOMAIN_ERRORS) - {errors.ApiError} == set(HTTP_STATUS)
    for error in errors.DOMAIN_ERRORS:
        assert not hasattr(error, "status"), error


def test_a_subclass_takes_its_parents_status():
    class OriginalNotValid(errors.Conflict):
        pass

    assert http_status(OriginalNotValid("revoked since")) == 409


def test_the_errors_module_knows_nothing_of_nameko():
    tree = ast.parse((ROOT / "services" / "chassis" / "errors.py").read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)} | {
        alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    assert not {name for name in imported if name and name.startswith("nameko")}
