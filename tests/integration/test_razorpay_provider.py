"""The Razorpay adapter against a fake Razorpay over real HTTPS (tests/fake_razorpay.py): basic
auth, amounts in paise, status mapping, failures reported as ProviderUnavailable, TLS verified."""

import time

import pytest
import requests

from services.payment.providers import ProviderUnavailable, RazorpayProvider
from tests.fake_razorpay import start_fake_razorpay


@pytest.fixture
def server(tmp_path):
    with start_fake_razorpay(tmp_path) as fake:
        yield fake


def provider_for(server, **overrides):
    settings = dict(
        api_base=server.api_base,
        key_id=server.key_id,
        key_secret=server.key_secret,
        webhook_secret=server.webhook_secret,
        ca_bundle=str(server.ca_path),
        timeout=5,
    )
    return RazorpayProvider(**{**settings, **overrides})


def create(provider, payment_id="pay-123", amount=39200):
    return provider.create_order(
        payment_id, amount, "INR", "MPEDA issue fee", "https://coo.example.in/applications/7/paid"
    )


def test_create_order_makes_a_payment_link(server):
    order = create(provider_for(server))
    assert order.order_id.startswith("plink_") and order.order_id in server.links
    assert order.redirect_url == f"{server.api_base}/pay/{order.order_id}"
    sent = server.requests[-1]
    assert (sent["method"], sent["path"]) == ("POST", "/v1/payment_links")
    assert sent["auth"] == (server.key_id, server.key_secret)
    expires = sent["json"].pop("expire_by")
    assert sent["json"] == {
        "amount": 39200,
        "currency": "INR",
        "reference_id": "pay-123",
        "description": "MPEDA issue fee",
        "callback_method": "get",
        "callback_url": "https://coo.example.in/applications/7/paid",
    }
    assert 30 * 60 < expires - time.time() <= 35 * 60  # expires soon after the reuse window


def test_status_goes_from_pending_to_paid(server):
    provider = provider_for(server)
    order = create(provider, amount=70800)
    assert provider.fetch_status(order.order_id).state == "pending"
    payment_id = server.pay(order.order_id)["payments"][0]["payment_id"]
    status = provider.fetch_status(order.order_id)
    assert (
        status.order_id,
        status.state,
        status.amount_paise,
        status.currency,
        status.provider_payment_id,
    ) == (order.order_id, "paid", 70800, "INR", payment_id)


def test_an_expired_link_is_a_failure(server):
    provider = provider_for(server)
    order = create(provider)
    server.expire(order.order_id)
    status = provider.fetch_status(order.order_id)
    assert (status.state, status.reason) == ("failed", "expired")


def test_a_wrong_key_is_reported_unavailable(server):
    with pytest.raises(ProviderUnavailable, match="401.*api key provided is invalid"):
        create(provider_for(server, key_secret="not-the-secret"))
    assert not server.links


def test_a_refused_order_says_why(server):
    with pytest.raises(ProviderUnavailable, match="400.*currency field is invalid"):
        provider_for(server).create_order("pay-1", 100, "rupees", "fee", "https://x/return")


def test_server_errors_are_reported_unavailable(server):
    provider = provider_for(server)
    order = create(provider)
    server.fail_next(1, status=500)
    with pytest.raises(ProviderUnavailable, match="500"):
        provider.fetch_status(order.order_id)
    server.fail_next(1, status=503)
    with pytest.raises(ProviderUnavailable, match="503"):
        create(provider, payment_id="pay-456")
    assert provider.fetch_status(order.order_id).state == "pending"  # and it recovers


def test_an_unknown_link_is_reported_unavailable(server):
    with pytest.raises(ProviderUnavailable, match="404.*does not exist"):
        provider_for(server).fetch_status("plink_Nope")


def test_the_servers_certificate_must_be_trusted(server):
    with pytest.raises(ProviderUnavailable, match="TLS"):
        create(provider_for(server, ca_bundle=None))
    assert server.requests == []  # refused before anything was sent
    create(provider_for(server))  # the same server with its CA trusted
    assert len(server.requests) == 1


def test_a_get_is_retried_once_after_a_connection_error_and_a_post_is_not(server, monkeypatch):
    provider = provider_for(server)
    order = create(provider)
    real = provider.session.request
    calls = []

    def flaky(method, url, **kwargs):
        calls.append(method)
        if len(calls) == 1:
            raise requests.ConnectionError("connection reset")
        return real(method, url, **kwargs)

    monkeypatch.setattr(provider.session, "request", flaky)
    assert provider.fetch_status(order.order_id).state == "pending"
    assert calls == ["GET", "GET"]
    calls.clear()
    with pytest.raises(ProviderUnavailable, match="connection reset"):
        create(provider, payment_id="pay-456")
    assert calls == ["POST"]


def test_a_webhook_from_the_server_parses_as_paid(server):
    provider = provider_for(server)
    order = create(provider, amount=39200)
    server.pay(order.order_id)
    status = provider.parse_callback(*server.webhook_body(order.order_id))
    assert (status.order_id, status.state, status.amount_paise, status.currency) == (
        order.order_id,
        "paid",
        39200,
        "INR",
    )
    assert status.provider_payment_id == server.links[order.order_id]["payments"][0]["payment_id"]
