"""The gateway over real HTTP, with real services behind it on a real broker: JSON errors for every
failure, body limits, health, OpenAPI, correlation ids, login."""

import json
import logging

import jwt
import pytest
import requests

from tests.conftest import ADMIN_PASSWORD, login


@pytest.fixture
def base(platform):
    return platform()


def error_of(response):
    assert response.headers["Content-Type"] == "application/json"
    return response.json()["error"]


def test_health_is_ok_when_every_service_answers(base):
    response = requests.get(f"{base}/health", timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["down"] == []
    assert set(body["services"]) == {
        "gateway",
        "registration",
        "application",
        "payment",
        "signing",
        "certificate",
        "notification",
        "verification",
    }


def test_health_is_503_naming_the_services_that_are_down(platform):
    base = platform("registration", "application", "signing", "certificate")
    response = requests.get(f"{base}/health", timeout=10)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["down"] == ["notification", "payment", "verification"]
    assert body["services"]["payment"]["status"] == "down"
    assert body["services"]["application"]["status"] == "ok"


@pytest.mark.parametrize(
    "method, path, status, code",
    [
        ("GET", "/api/v1/nowhere", 404, "NOT_FOUND"),
        ("DELETE", "/api/v1/reference/agreements", 405, "METHOD_NOT_ALLOWED"),
        ("GET", "/api/v1/reference/agreements/999", 404, "AGREEMENT_UNKNOWN"),
        ("GET", "/api/v1/reference/agreements?page=0", 400, "VALIDATION_ERROR"),
        ("GET", "/api/v1/reference/agreements?per_page=abc", 400, "VALIDATION_ERROR"),
        ("GET", "/api/v1/reference/agreements?per_page=100000", 400, "VALIDATION_ERROR"),
        ("GET", "/api/docs/static/..%2f..%2fetc%2fpasswd", 404, "NOT_FOUND"),
        ("GET", "/api/docs/static/index.html", 404, "NOT_FOUND"),
    ],
)
def test_every_failure_is_a_json_error(base, method, path, status, code):
    response = requests.request(method, base + path, timeout=10)
    assert response.status_code == status
    assert error_of(response)["code"] == code
    assert "<html" not in response.text.lower()


def test_405_names_the_allowed_methods(base):
    response = requests.put(f"{base}/api/v1/auth/login", timeout=10)
    assert response.status_code == 405 and "POST" in response.headers["Allow"]


@pytest.mark.parametrize(
    "body, headers, status, code",
    [
        (b"{not json", {"Content-Type": "application/json"}, 400, "VALIDATION_ERROR"),
        (b"[1, 2]", {"Content-Type": "application/json"}, 400, "VALIDATION_ERROR"),
        (b"username=a", {"Content-Type": "application/x-www-form-urlencoded"}, 415, "UNSUPPORTED_MEDIA_TYPE"),
        (
            json.dumps({"username": "admin"}).encode(),
            {"Content-Type": "application/json"},
            400,
            "VALIDATION_ERROR",
        ),
        (b"\xff\xfe", {"Content-Type": "application/json"}, 400, "VALIDATION_ERROR"),
    ],
)
def test_malformed_bodies_are_400s_with_field_messages(base, body, headers, status, code):
    response = requests.post(f"{base}/api/v1/auth/login", data=body, headers=headers, timeout=10)
    assert response.status_code == status, response.text
    assert error_of(response)["code"] == code


def test_missing_fields_are_named(base):
    response = requests.post(f"{base}/api/v1/auth/login", json={"username": "admin"}, timeout=10)
    fields = error_of(response)["fields"]
    assert set(fields) == {"password", "captcha_id", "captcha_answer"}


def test_a_body_over_the_route_limit_is_413_before_it_is_read(base):
    big = json.dumps({"username": "a" * 70_000}).encode()
    response = requests.post(
        f"{base}/api/v1/auth/login", data=big, timeout=10, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert error_of(response)["code"] == "PAYLOAD_TOO_LARGE"


def test_a_body_over_the_gateway_ceiling_is_413(platform, monkeypatch):
    monkeypatch.setenv("OPENCOO_MAX_BODY_BYTES", "1000")
    base = platform("registration")
    response = requests.post(
        f"{base}/api/v1/auth/login",
        data=b"x" * 5000,
        timeout=10,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413


def test_correlation_id_is_returned_and_reused(base):
    response = requests.get(
        f"{base}/api/v1/reference/units", timeout=10, headers={"X-Correlation-Id": "trace-0123456789"}
    )
    assert response.headers["X-Correlation-Id"] == "trace-0123456789"
    fresh = requests.get(
        f"{base}/api/v1/reference/units", timeout=10, headers={"X-Correlation-Id": "<script>"}
    )
    assert fresh.headers["X-Correlation-Id"] != "<script>" and len(fresh.headers["X-Correlation-Id"]) == 32


def test_openapi_document_describes_the_routes_with_their_schemas(base):
    doc = requests.get(f"{base}/api/v1/openapi.json", timeout=10).json()
    assert doc["openapi"].startswith("3.")
    for path in (
        "/health",
        "/api/v1/reference/agreements",
        "/api/v1/reference/hs/{code}",
        "/api/v1/reference/agencies",
        "/api/v1/auth/login",
        "/api/v1/admin/reference/hs",
    ):
        assert path in doc["paths"], path
    login_op = doc["paths"]["/api/v1/auth/login"]["post"]
    schema_ref = login_op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    login_schema = doc["components"]["schemas"][schema_ref.rsplit("/", 1)[1]]
    assert set(login_schema["required"]) == {"username", "password", "captcha_id", "captcha_answer"}
    upload = doc["paths"]["/api/v1/admin/reference/hs"]["post"]
    assert upload["security"] == [{"bearer": []}] and "403" in upload["responses"]


def test_docs_page_and_its_assets_are_served_locally(base):
    page = requests.get(f"{base}/api/docs", timeout=10)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    script = requests.get(f"{base}/api/docs/opencoo/docs.js", timeout=10).text
    assert "/api/v1/openapi.json" in script
    assert "https://" not in page.text and "http://" not in page.text  # nothing from outside
    asset = requests.get(f"{base}/api/docs/static/swagger-ui-bundle.js", timeout=10)
    assert asset.status_code == 200 and asset.headers["Content-Type"].startswith("text/javascript")
    assert len(asset.content) > 100_000


def test_login_with_captcha(base):
    token = login(base, "admin", ADMIN_PASSWORD)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == "admin" and claims["role"] == "admin"
    assert claims["iss"] == "opencoo" and claims["aud"] == "opencoo-api"
    assert jwt.get_unverified_header(token)["alg"] == "EdDSA"


def test_login_refusals(base):
    captcha = requests.get(f"{base}/api/v1/auth/captcha", timeout=10).json()
    a, b = (int(x) for x in captcha["question"].split("+"))
    attempt = {
        "username": "admin",
        "password": ADMIN_PASSWORD,
        "captcha_id": captcha["captcha_id"],
        "captcha_answer": str(a + b + 1),
    }
    wrong = requests.post(f"{base}/api/v1/auth/login", json=attempt, timeout=10)
    assert wrong.status_code == 400 and error_of(wrong)["code"] == "CAPTCHA_INVALID"
    # The captcha was spent by the wrong answer: the right answer now is too late.
    attempt["captcha_answer"] = str(a + b)
    reused = requests.post(f"{base}/api/v1/auth/login", json=attempt, timeout=10)
    assert reused.status_code == 400 and error_of(reused)["code"] == "CAPTCHA_EXPIRED"

    captcha = requests.get(f"{base}/api/v1/auth/captcha", timeout=10).json()
    a, b = (int(x) for x in captcha["question"].split("+"))
    bad_password = requests.post(
        f"{base}/api/v1/auth/login",
        timeout=10,
        json={
            "username": "admin",
            "password": "guess",
            "captcha_id": captcha["captcha_id"],
            "captcha_answer": str(a + b),
        },
    )
    assert bad_password.status_code == 401
    assert error_of(bad_password)["code"] == "INVALID_CREDENTIALS"


def test_the_correlation_id_travels_from_the_request_into_the_service(base, caplog):
    caplog.set_level(logging.WARNING, logger="nameko.containers")
    response = requests.get(
        f"{base}/api/v1/reference/hs/7701", timeout=10, headers={"X-Correlation-Id": "trace-travels-1"}
    )
    assert response.status_code == 400
    in_application = [r for r in caplog.records if "application.hs_code" in r.getMessage()]
    assert in_application, "the application service logged nothing for the request"
    assert {r.correlation_id for r in in_application} == {"trace-travels-1"}


def test_a_clients_mistake_is_not_logged_as_an_error(base, caplog):
    """A 400 or 404 is an answer: the access line says it at INFO; no ERROR, no traceback."""
    caplog.set_level(logging.INFO)
    answers = [
        requests.post(
            f"{base}/api/v1/auth/login", data=b"{", timeout=10, headers={"Content-Type": "application/json"}
        ),
        requests.post(f"{base}/api/v1/auth/login", json={"username": 1}, timeout=10),
        requests.get(f"{base}/api/v1/reference/hs/7701", timeout=10),
        requests.get(f"{base}/api/v1/nowhere", timeout=10),
    ]
    assert [a.status_code for a in answers] == [400, 400, 400, 404]
    alarming = [
        r
        for r in caplog.records
        if r.levelno >= logging.ERROR
        or (r.exc_info and r.levelno >= logging.INFO and r.name != "nameko.containers")
    ]
    assert alarming == [], [(r.name, r.levelname, r.getMessage()) for r in alarming]
