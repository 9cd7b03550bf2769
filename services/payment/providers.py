"""Payment providers (architecture §3 OPENCOO_PAYMENT_PROVIDER, §7 payments): create an order, read a
signed callback, ask for an order's status. Two adapters behind one interface: the sandbox, served
by our own platform, and Razorpay Payment Links.

Plain Python: no nameko, no database. Callers get our words (``ProviderStatus``) and two errors:
``InvalidCallback`` (answer 401/400, change nothing) and ``ProviderUnavailable`` (try again later).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import tempfile
import time
from dataclasses import dataclass
from typing import Callable
from urllib.parse import quote, urlsplit

import requests

from services.chassis import config

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Order:
    order_id: str  # the provider's id for this order (we store it)
    redirect_url: str  # where the payer's browser goes to pay


@dataclass(frozen=True)
class ProviderStatus:
    order_id: str
    state: str  # "paid", "failed" or "pending"
    amount_paise: int | None
    currency: str | None
    provider_payment_id: str | None
    reason: str | None  # why, when state == "failed"


class InvalidCallback(Exception):
    """Signature missing or wrong, or body unreadable: the caller answers 401/400 and changes
    nothing."""


class ProviderUnavailable(Exception):
    """Network error, timeout, 5xx or an unexpected answer from the provider."""


# order_id -> (outcome "success"|"failure", amount_paise, currency), or None while undecided
Decisions = Callable[[str], tuple[str, int, str] | None]


def _header(headers, name: str) -> str | None:
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


def _verify(secret: bytes, headers, header_name: str, body: bytes) -> None:
    """HMAC-SHA256 of the raw body, checked before anything reads the body."""
    given = _header(headers, header_name)
    if not given:
        raise InvalidCallback(f"the {header_name} header is missing")
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
    # compare_digest takes only ASCII str; a header with other characters is simply wrong.
    if not hmac.compare_digest(expected.encode(), given.strip().encode("utf-8", "replace")):
        raise InvalidCallback(f"the {header_name} signature does not match the body")


def _json_object(body: bytes) -> dict:
    try:
        data = json.loads(body)
    except ValueError:  # also UnicodeDecodeError
        raise InvalidCallback("the callback body is not JSON") from None
    if not isinstance(data, dict):
        raise InvalidCallback("the callback body is not a JSON object")
    return data


def _entity(payload: dict, kind: str) -> dict | None:
    """``payload[kind]["entity"]`` of a Razorpay webhook, if it is there and an object."""
    wrapper = payload.get(kind)
    entity = wrapper.get("entity") if isinstance(wrapper, dict) else None
    return entity if isinstance(entity, dict) else None


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_amount(amount_paise) -> None:
    if not _is_int(amount_paise) or amount_paise <= 0:
        raise ValueError(f"amount must be a positive integer number of paise, got {amount_paise!r}")


class SandboxProvider:
    """Served by our own platform: ``{public_url}/sandbox-pay/{payment_id}`` lets the payer pick
    success or failure, then the platform POSTs a callback to
    ``{public_url}/api/v1/payments/callback/sandbox`` signed as a real provider would sign it, so
    the callback path is the same code for both."""

    name = "sandbox"
    SIGNATURE_HEADER = "X-Sandbox-Signature"
    _EVENTS = {"payment.succeeded": "paid", "payment.failed": "failed"}

    def __init__(self, secret: bytes, public_url: str, decisions: Decisions | None = None):
        if not secret:
            raise ValueError("the sandbox needs a non-empty secret")
        self.secret = secret
        self.public_url = public_url.rstrip("/")
        # The sandbox keeps no state: the payment service records the payer's choice.
        self.decisions = decisions

    def create_order(
        self, payment_id: str, amount_paise: int, currency: str, description: str, return_url: str
    ) -> Order:
        _check_amount(amount_paise)
        return Order(
            order_id=f"sbx_{payment_id}",
            redirect_url=f"{self.public_url}/sandbox-pay/{quote(payment_id, safe='')}",
        )

    def signed_callback(
        self, order_id: str, outcome: str, amount_paise: int, currency: str, reason: str | None = None
    ) -> tuple[dict, bytes]:
        if outcome not in ("success", "failure"):
            raise ValueError(f"outcome must be 'success' or 'failure', got {outcome!r}")
        failed = outcome == "failure"
        body = json.dumps(
            {
                "event": "payment.failed" if failed else "payment.succeeded",
                "order_id": order_id,
                "payment_id": f"sbxpay_{secrets.token_hex(8)}",
                "amount": amount_paise,
                "currency": currency,
                "reason": (reason or "declined by the payer in the sandbox") if failed else None,
                "created_at": int(time.time()),
            },
            separators=(",", ":"),
        ).encode()
        signature = hmac.new(self.secret, body, hashlib.sha256).hexdigest()
        return {"Content-Type": "application/json", self.SIGNATURE_HEADER: signature}, body

    def parse_callback(self, headers: dict, body: bytes) -> ProviderStatus:
        _verify(self.secret, headers, self.SIGNATURE_HEADER, body)
        data = _json_object(body)
        state = self._EVENTS.get(str(data.get("event")))
        fields_ok = (
            isinstance(data.get("order_id"), str)
            and _is_int(data.get("amount"))
            and isinstance(data.get("currency"), str)
            and isinstance(data.get("payment_id"), str)
            and isinstance(data.get("reason"), (str, type(None)))
        )
        if state is None or not fields_ok:
            raise InvalidCallback("the sandbox callback lacks an event or a field it needs")
        return ProviderStatus(
            data["order_id"],
            state,
            data["amount"],
            data["currency"],
            data["payment_id"],
            data["reason"] if state == "failed" else None,
        )

    def fetch_status(self, order_id: str) -> ProviderStatus:
        decision = self.decisions(order_id) if self.decisions else None
        if decision is None:
            return ProviderStatus(order_id, "pending", None, None, None, None)
        outcome, amount_paise, currency = decision
        if outcome == "success":
            return ProviderStatus(order_id, "paid", amount_paise, currency, None, None)
        return ProviderStatus(
            order_id, "failed", amount_paise, currency, None, "declined by the payer in the sandbox"
        )


LINK_LIFETIME_SECONDS = 35 * 60  # the payment service reuses an open order for 30 minutes


class RazorpayProvider:
    """Razorpay Payment Links (https://razorpay.com/docs/api/payments/payment-links/): the payer
    pays on Razorpay's page; a ``payment_link.*`` webhook or a status query tells us the result."""

    name = "razorpay"
    SIGNATURE_HEADER = "X-Razorpay-Signature"
    _FAILED = ("expired", "cancelled")

    def __init__(
        self,
        api_base: str,
        key_id: str,
        key_secret: str,
        webhook_secret: str,
        ca_bundle: str | None = None,
        timeout: float = 10.0,
    ):
        self.api_base = api_base.rstrip("/")
        self.webhook_secret = webhook_secret.encode()
        self.timeout = timeout
        # Passed on every request: a session-level verify loses to REQUESTS_CA_BUNDLE in requests.
        self.verify = ca_bundle or True
        self.session = requests.Session()
        self.session.auth = (key_id, key_secret)

    def _call(self, method: str, path: str, **kwargs) -> dict:
        # A GET is retried once after a connection error. A POST is not: if the first one reached
        # Razorpay, a second would make a second link for the same payment.
        tries = 2 if method == "GET" else 1
        for attempt in range(1, tries + 1):
            try:
                response = self.session.request(
                    method, self.api_base + path, timeout=self.timeout, verify=self.verify, **kwargs
                )
                break
            except requests.exceptions.SSLError as exc:  # a ConnectionError, but not transient
                raise ProviderUnavailable(f"Razorpay's TLS connection failed: {exc}") from None
            except requests.ConnectionError as exc:
                if attempt == tries:
                    raise ProviderUnavailable(f"Razorpay cannot be reached: {exc}") from None
            except requests.RequestException as exc:
                raise ProviderUnavailable(f"Razorpay did not answer: {exc}") from None
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code != 200 or not isinstance(data, dict):
            error = data.get("error") if isinstance(data, dict) else None
            detail = error.get("description") if isinstance(error, dict) else response.text[:200]
            raise ProviderUnavailable(
                f"Razorpay answered {response.status_code} to {method} {path}: {detail}"
            )
        return data

    def create_order(
        self, payment_id: str, amount_paise: int, currency: str, description: str, return_url: str
    ) -> Order:
        _check_amount(amount_paise)
        link = self._call(
            "POST",
            "/v1/payment_links",
            json={
                "amount": amount_paise,
                "currency": currency,
                "reference_id": payment_id,  # lets an operator find a link made by a lost answer
                "description": description,
                "callback_url": return_url,
                "callback_method": "get",
                # A link outlives our reuse window only briefly: an abandoned one expires (and
                # reconciliation then fails it) instead of staying payable beside a newer one.
                "expire_by": int(time.time() + LINK_LIFETIME_SECONDS),
            },
        )
        if not isinstance(link.get("id"), str) or not isinstance(link.get("short_url"), str):
            raise ProviderUnavailable("Razorpay's answer to create a payment link has no id or short_url")
        return Order(order_id=link["id"], redirect_url=link["short_url"])

    def fetch_status(self, order_id: str) -> ProviderStatus:
        link = self._call("GET", f"/v1/payment_links/{quote(order_id, safe='')}")
        payments = link.get("payments") or []
        captured = [
            p.get("payment_id") for p in payments if isinstance(p, dict) and p.get("status") == "captured"
        ]
        try:
            return self._from_link(link, captured[-1] if captured else None)
        except ValueError as exc:
            raise ProviderUnavailable(f"unexpected payment link from Razorpay: {exc}") from None

    def parse_callback(self, headers: dict, body: bytes) -> ProviderStatus:
        _verify(self.webhook_secret, headers, self.SIGNATURE_HEADER, body)
        data = _json_object(body)
        event, payload = data.get("event"), data.get("payload")
        if not isinstance(event, str) or not isinstance(payload, dict):
            raise InvalidCallback("the webhook has no event or payload")
        link, payment = _entity(payload, "payment_link"), _entity(payload, "payment")
        if link is None:
            # payment.failed and the like: one attempt failed but the link stays payable, and the
            # link id is not in it. Nothing to act on; the caller just acknowledges.
            return ProviderStatus("", "pending", None, None, None, None)
        try:  # payment_link.*: the entity's status says what happened
            return self._from_link(link, (payment or {}).get("id"))
        except ValueError as exc:
            raise InvalidCallback(f"the webhook's payment link is malformed: {exc}") from None

    def _from_link(self, link: dict, payment_id: str | None) -> ProviderStatus:
        """A payment link entity (status query or webhook, same shape) in our words."""
        order_id, status = link.get("id"), link.get("status")
        if not isinstance(order_id, str) or not isinstance(status, str):
            raise ValueError("no id or status")
        if status == "paid":
            if not _is_int(link.get("amount_paid")) or not isinstance(link.get("currency"), str):
                raise ValueError("a paid link without amount_paid or currency")
            return ProviderStatus(order_id, "paid", link["amount_paid"], link["currency"], payment_id, None)
        if status in self._FAILED:
            return ProviderStatus(order_id, "failed", None, link.get("currency"), None, status)
        return ProviderStatus(order_id, "pending", None, None, None, None)


def _sandbox_secret() -> bytes:
    """OPENCOO_SANDBOX_PAYMENT_SECRET, else a key made once in the data folder and shared by every
    payment process: the one that signs a callback is not always the one that checks it."""
    value = config.env("OPENCOO_SANDBOX_PAYMENT_SECRET")
    if value:
        return value.encode()
    folder = config.var_dir() / "keys"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / "sandbox-payment.key"
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".sandbox-payment.")  # mode 0600
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(32))
            # link, not rename: it fails if another process got there first, and then theirs wins.
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    return path.read_bytes()


def _required(name: str) -> str:
    value = config.env(name)
    if not value:
        raise ValueError(f"{name} must be set when OPENCOO_PAYMENT_PROVIDER is razorpay")
    return value


PROVIDERS = ("sandbox", "razorpay")


_warned = False


def _warn_if_deployed(public_url):
    """The sandbox lets anyone pay by clicking: say so loudly where the platform looks public."""
    global _warned
    host = urlsplit(public_url).hostname or ""
    if not _warned and host not in ("127.0.0.1", "localhost", "::1"):
        log.warning(
            "payment provider is the SANDBOX on %s: payments are not real; set "
            "OPENCOO_PAYMENT_PROVIDER for production",
            public_url,
        )
        _warned = True


def provider_from_env(
    name: str | None = None, decisions: Decisions | None = None
) -> SandboxProvider | RazorpayProvider:
    """The provider named by ``name`` or OPENCOO_PAYMENT_PROVIDER (default sandbox)."""
    name = name or config.env("OPENCOO_PAYMENT_PROVIDER", "sandbox")
    if name == "sandbox":
        _warn_if_deployed(config.public_url())
        return SandboxProvider(_sandbox_secret(), config.public_url(), decisions=decisions)
    if name == "razorpay":
        return RazorpayProvider(
            config.env("OPENCOO_RAZORPAY_API", "https://api.razorpay.com"),
            _required("OPENCOO_RAZORPAY_KEY_ID"),
            _required("OPENCOO_RAZORPAY_KEY_SECRET"),
            _required("OPENCOO_RAZORPAY_WEBHOOK_SECRET"),
            ca_bundle=config.env("OPENCOO_RAZORPAY_CA"),
        )
    raise ValueError(f"unknown payment provider {name!r}; known: {', '.join(PROVIDERS)}")
