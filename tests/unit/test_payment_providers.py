"""Payment provider adapters without the network: the sandbox's signed callbacks, Razorpay
webhook parsing from hand-made signed bodies, and choosing a provider from the environment."""

import hashlib
import hmac
import json
import stat

import pytest

from services.payment.providers import (
    InvalidCallback,
    Order,
    ProviderStatus,
    RazorpayProvider,
    SandboxProvider,
    provider_from_env,
)

SECRET = b"sandbox-test-secret"


@pytest.fixture
def sandbox():
    return SandboxProvider(SECRET, "https://coo.example.in/")


def test_sandbox_order_and_signed_callback_round_trip(sandbox):
    order = sandbox.create_order("pay-123", 39200, "INR", "MPEDA issue fee", "https://coo.example.in/return")
    assert order == Order("sbx_pay-123", "https://coo.example.in/sandbox-pay/pay-123")

    headers, body = sandbox.signed_callback(order.order_id, "success", 39200, "INR")
    assert headers["Content-Type"] == "application/json"
    status = sandbox.parse_callback(headers, body)
    assert (status.order_id, status.state, status.amount_paise, status.currency, status.reason) == (
        "sbx_pay-123",
        "paid",
        39200,
        "INR",
        None,
    )
    assert status.provider_payment_id.startswith("sbxpay_")
    assert status.provider_payment_id == json.loads(body)["payment_id"]

    headers, body = sandbox.signed_callback(order.order_id, "failure", 39200, "INR", reason="card declined")
    failed = sandbox.parse_callback(headers, body)
    assert (failed.state, failed.reason) == ("failed", "card declined")
    headers, body = sandbox.signed_callback(order.order_id, "failure", 39200, "INR")
    assert sandbox.parse_callback(headers, body).reason  # a failure always says why


def test_sandbox_rejects_an_unknown_outcome(sandbox):
    with pytest.raises(ValueError, match="outcome"):
        sandbox.signed_callback("sbx_1", "maybe", 100, "INR")


def test_sandbox_signature_is_hmac_sha256_of_the_body(sandbox):
    headers, body = sandbox.signed_callback("sbx_1", "success", 100, "INR")
    assert headers["X-Sandbox-Signature"] == hmac.new(SECRET, body, hashlib.sha256).hexdigest()


def _forged(headers, body):
    return {**headers, "X-Sandbox-Signature": "0" * 64}, body


def _no_header(headers, body):
    return {"Content-Type": "application/json"}, body


def _body_changed(headers, body):
    return headers, body.replace(b'"amount":100', b'"amount":1')


def _signed_non_json(headers, body):
    junk = b"not json {"
    return {"X-Sandbox-Signature": hmac.new(SECRET, junk, hashlib.sha256).hexdigest()}, junk


def _signed_by_someone_else(headers, body):
    signature = hmac.new(b"another secret", body, hashlib.sha256).hexdigest()
    return {"X-Sandbox-Signature": signature}, body


def _signed_array(headers, body):
    array = b"[1, 2]"
    return {"X-Sandbox-Signature": hmac.new(SECRET, array, hashlib.sha256).hexdigest()}, array


def _signed_unknown_event(headers, body):
    other = body.replace(b"payment.succeeded", b"payment.refunded")
    return {"X-Sandbox-Signature": hmac.new(SECRET, other, hashlib.sha256).hexdigest()}, other


def _signed_without_amount(headers, body):
    other = json.dumps({k: v for k, v in json.loads(body).items() if k != "amount"}).encode()
    return {"X-Sandbox-Signature": hmac.new(SECRET, other, hashlib.sha256).hexdigest()}, other


@pytest.mark.parametrize(
    "tamper",
    [
        _forged,
        _no_header,
        _body_changed,
        _signed_non_json,
        _signed_by_someone_else,
        _signed_array,
        _signed_unknown_event,
        _signed_without_amount,
    ],
)
def test_sandbox_refuses_callbacks_that_are_not_ours_or_unreadable(sandbox, tamper):
    headers, body = sandbox.signed_callback("sbx_1", "success", 100, "INR")
    assert b'"amount":100' in body
    sandbox.parse_callback(headers, body)  # the untouched callback is fine...
    with pytest.raises(InvalidCallback):
        sandbox.parse_callback(*tamper(headers, body))  # ...and the changed one is not


def test_sandbox_signature_header_name_is_case_insensitive(sandbox):
    headers, body = sandbox.signed_callback("sbx_1", "success", 100, "INR")
    lower = {k.lower(): v for k, v in headers.items()}
    assert "X-Sandbox-Signature" not in lower
    assert sandbox.parse_callback(lower, body).state == "paid"


def test_sandbox_status_comes_from_the_recorded_decision():
    decided = {"sbx_paid": ("success", 70800, "INR"), "sbx_failed": ("failure", 70800, "INR")}
    sandbox = SandboxProvider(SECRET, "http://x", decisions=decided.get)
    assert sandbox.fetch_status("sbx_paid") == ProviderStatus("sbx_paid", "paid", 70800, "INR", None, None)
    failed = sandbox.fetch_status("sbx_failed")
    assert failed.state == "failed" and failed.reason
    assert sandbox.fetch_status("sbx_undecided").state == "pending"
    assert SandboxProvider(SECRET, "http://x").fetch_status("sbx_paid").state == "pending"


# -- Razorpay webhooks

WEBHOOK_SECRET = "whsec-test"


@pytest.fixture
def razorpay():
    return RazorpayProvider("https://127.0.0.1:9", "rzp_test_k", "s", WEBHOOK_SECRET)


def _webhook(event, link=None, payment=None, secret=WEBHOOK_SECRET):
    payload = {}
    if link is not None:
        payload["payment_link"] = {"entity": link}
    if payment is not None:
        payload["payment"] = {"entity": payment}
    body = json.dumps({"entity": "event", "event": event, "payload": payload}).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Razorpay-Signature": signature}, body


LINK = {
    "id": "plink_Abc",
    "amount": 39200,
    "amount_paid": 39200,
    "currency": "INR",
    "status": "paid",
    "reference_id": "pay-123",
}
PAYMENT = {"id": "pay_Xyz", "amount": 39200, "currency": "INR", "status": "captured"}


def test_razorpay_paid_webhook(razorpay):
    status = razorpay.parse_callback(*_webhook("payment_link.paid", LINK, PAYMENT))
    assert status == ProviderStatus("plink_Abc", "paid", 39200, "INR", "pay_Xyz", None)
    # What was paid, not what was asked: the payment service compares it with the order.
    asked_more = {**LINK, "amount": 40000}
    assert razorpay.parse_callback(*_webhook("payment_link.paid", asked_more)).amount_paise == 39200


@pytest.mark.parametrize("event", ["expired", "cancelled"])
def test_razorpay_expired_or_cancelled_webhook_is_a_failure(razorpay, event):
    link = {**LINK, "status": event, "amount_paid": 0}
    status = razorpay.parse_callback(*_webhook(f"payment_link.{event}", link))
    assert (status.order_id, status.state, status.reason) == ("plink_Abc", "failed", event)


def test_razorpay_events_we_do_not_act_on_are_pending(razorpay):
    failed_attempt = {**PAYMENT, "status": "failed", "error_description": "bank declined"}
    assert razorpay.parse_callback(*_webhook("payment.failed", payment=failed_attempt)).state == "pending"
    assert (
        razorpay.parse_callback(
            *_webhook("payment_link.partially_paid", {**LINK, "status": "partially_paid"})
        ).state
        == "pending"
    )


@pytest.mark.parametrize("change", ["body", "secret", "header", "malformed"])
def test_razorpay_webhook_refused_unless_signed_and_readable(razorpay, change):
    headers, body = _webhook("payment_link.paid", LINK, PAYMENT)
    assert razorpay.parse_callback({k.lower(): v for k, v in headers.items()}, body).state == "paid"
    if change == "body":
        body = body.replace(b"39200", b"100")
    elif change == "secret":
        headers, body = _webhook("payment_link.paid", LINK, PAYMENT, secret="someone else's")
    elif change == "header":
        headers = {}
    else:  # signed, but the paid link has no amount
        headers, body = _webhook("payment_link.paid", {**LINK, "amount_paid": "lots"}, PAYMENT)
    with pytest.raises(InvalidCallback):
        razorpay.parse_callback(headers, body)


# -- provider_from_env


@pytest.fixture
def clean_env(tmp_path, monkeypatch):
    for name in (
        "OPENCOO_PAYMENT_PROVIDER",
        "OPENCOO_SANDBOX_PAYMENT_SECRET",
        "OPENCOO_RAZORPAY_KEY_ID",
        "OPENCOO_RAZORPAY_KEY_SECRET",
        "OPENCOO_RAZORPAY_WEBHOOK_SECRET",
        "OPENCOO_RAZORPAY_API",
        "OPENCOO_RAZORPAY_CA",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENCOO_VAR", str(tmp_path))
    monkeypatch.setenv("OPENCOO_PUBLIC_URL", "https://coo.example.in")
    return tmp_path


def test_sandbox_by_default_with_a_key_made_once(clean_env):
    first = provider_from_env()
    assert isinstance(first, SandboxProvider)
    assert (
        first.create_order("p1", 100, "INR", "", "").redirect_url == "https://coo.example.in/sandbox-pay/p1"
    )
    key = clean_env / "keys" / "sandbox-payment.key"
    assert len(key.read_bytes()) == 32
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    # Another process (a new provider) signs with the same key, so callbacks check out.
    headers, body = first.signed_callback("sbx_p1", "success", 100, "INR")
    assert provider_from_env("sandbox").parse_callback(headers, body).state == "paid"
    assert key.read_bytes() == first.secret
    assert [p.name for p in (clean_env / "keys").iterdir()] == ["sandbox-payment.key"]


def test_sandbox_secret_from_the_environment(clean_env, monkeypatch):
    monkeypatch.setenv("OPENCOO_SANDBOX_PAYMENT_SECRET", "from-env")
    monkeypatch.setenv("OPENCOO_PAYMENT_PROVIDER", "sandbox")
    decided = provider_from_env(decisions=lambda order_id: ("success", 5, "INR"))
    assert decided.secret == b"from-env"
    assert decided.fetch_status("sbx_1").state == "paid"
    assert not (clean_env / "keys").exists()


def test_razorpay_from_the_environment(clean_env, monkeypatch):
    monkeypatch.setenv("OPENCOO_PAYMENT_PROVIDER", "razorpay")
    monkeypatch.setenv("OPENCOO_RAZORPAY_KEY_ID", "rzp_live_k")
    monkeypatch.setenv("OPENCOO_RAZORPAY_KEY_SECRET", "s")
    with pytest.raises(ValueError, match="OPENCOO_RAZORPAY_WEBHOOK_SECRET"):
        provider_from_env()
    monkeypatch.setenv("OPENCOO_RAZORPAY_WEBHOOK_SECRET", "w")
    monkeypatch.setenv("OPENCOO_RAZORPAY_CA", "/etc/ca.pem")
    provider = provider_from_env()
    assert isinstance(provider, RazorpayProvider)
    assert (provider.api_base, provider.verify) == ("https://api.razorpay.com", "/etc/ca.pem")
    monkeypatch.delenv("OPENCOO_RAZORPAY_KEY_ID")
    with pytest.raises(ValueError, match="OPENCOO_RAZORPAY_KEY_ID"):
        provider_from_env()


def test_unknown_provider_names_the_known_ones(clean_env):
    with pytest.raises(ValueError, match="sandbox, razorpay"):
        provider_from_env("paypal")


def test_the_sandbox_warns_when_the_platform_looks_deployed(monkeypatch, tmp_path, caplog):
    from services.payment import providers

    monkeypatch.setenv("OPENCOO_VAR", str(tmp_path))
    monkeypatch.delenv("OPENCOO_PAYMENT_PROVIDER", raising=False)
    for url, warned in (("http://127.0.0.1:8000", False), ("https://coo.example.gov.in", True)):
        monkeypatch.setattr(providers, "_warned", False)
        monkeypatch.setenv("OPENCOO_PUBLIC_URL", url)
        caplog.clear()
        providers.provider_from_env()
        assert ("SANDBOX" in caplog.text) is warned, url
