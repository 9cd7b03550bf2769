"""A local HTTPS stand-in for Razorpay's Payment Links API and webhooks, so the Razorpay adapter is
tested over real TLS, real basic auth and real JSON without the internet.

    server = start_fake_razorpay(tmp_path)   # or `with start_fake_razorpay(tmp_path) as server:`
    provider = RazorpayProvider(server.api_base, server.key_id, server.key_secret,
                                server.webhook_secret, ca_bundle=server.ca_path)
    server.pay(link_id); server.expire(link_id); server.fail_next(1, status=500)
    headers, body = server.webhook_body(link_id)
"""

import base64
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import re
import secrets
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def make_tls_files(folder: Path, host: str = "127.0.0.1") -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for ``host`` signed by it: (ca, cert, key) PEM
    paths. Key identifiers included, as strict verifiers (urllib3 2) require them."""
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Fake Razorpay Test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "fake-ca.pem", folder / "fake-server.pem", folder / "fake-server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


def _razorpay_id(prefix: str) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return prefix + "".join(secrets.choice(alphabet) for _ in range(14))


def _error(description: str, code: str = "BAD_REQUEST_ERROR") -> dict:
    return {"error": {"code": code, "description": description}}


class FakeRazorpay:
    def __init__(self, folder: Path):
        self.ca_path, cert_path, key_path = make_tls_files(Path(folder))
        self.key_id = "rzp_test_" + secrets.token_hex(7)
        self.key_secret = secrets.token_urlsafe(18)
        self.webhook_secret = secrets.token_urlsafe(18)
        self.links: dict[str, dict] = {}
        self.requests: list[dict] = []  # method, path, auth (user, password) or None, json
        self._failures: list[int] = []
        self._lock = threading.Lock()

        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                fake._handle(self)

            do_POST = do_GET

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_path, key_path)
        # Handshake in the request's thread, not in accept(): a client that stalls or refuses
        # the certificate then cannot hold up the server.
        self.httpd.socket = context.wrap_socket(
            self.httpd.socket, server_side=True, do_handshake_on_connect=False
        )
        self.httpd.handle_error = lambda request, address: None  # refused handshakes are expected
        self.port = self.httpd.server_address[1]
        self.api_base = f"https://127.0.0.1:{self.port}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    # -- test controls

    def pay(self, link_id: str) -> dict:
        with self._lock:
            link = self.links[link_id]
            payment_id = _razorpay_id("pay_")
            link.update(status="paid", amount_paid=link["amount"], updated_at=int(time.time()))
            link["payments"] = [
                {
                    "payment_id": payment_id,
                    "plink_id": link_id,
                    "amount": link["amount"],
                    "method": "upi",
                    "status": "captured",
                    "created_at": int(time.time()),
                }
            ]
            return dict(link)

    def expire(self, link_id: str) -> dict:
        with self._lock:
            link = self.links[link_id]
            link.update(status="expired", expired_at=int(time.time()))
            return dict(link)

    def fail_next(self, n: int = 1, status: int = 500) -> None:
        with self._lock:
            self._failures += [status] * n

    def webhook_body(self, link_id: str, event: str = "payment_link.paid") -> tuple[dict, bytes]:
        """The webhook Razorpay would send for ``link_id`` now, signed with the webhook secret
        over the raw body (header X-Razorpay-Signature, hex HMAC-SHA256)."""
        with self._lock:
            link = {k: v for k, v in self.links[link_id].items() if k != "payments"}
            payments = self.links[link_id].get("payments") or []
        payload = {"payment_link": {"entity": link}}
        if payments:
            p = payments[-1]
            payload["payment"] = {
                "entity": {
                    "id": p["payment_id"],
                    "entity": "payment",
                    "amount": p["amount"],
                    "currency": link["currency"],
                    "status": p["status"],
                    "method": p["method"],
                    "order_id": link["order_id"],
                    "captured": p["status"] == "captured",
                }
            }
        body = json.dumps(
            {
                "entity": "event",
                "account_id": "acc_" + "F" * 14,
                "event": event,
                "contains": list(payload),
                "payload": payload,
                "created_at": int(time.time()),
            }
        ).encode()
        signature = hmac.new(self.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
        return {"Content-Type": "application/json", "X-Razorpay-Signature": signature}, body

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    # -- the API

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        header = h.headers.get("Authorization") or ""
        auth = None
        if header.startswith("Basic "):
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            auth = (user, password)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        with self._lock:
            self.requests.append({"method": h.command, "path": h.path, "auth": auth, "json": body})
            failure = self._failures.pop(0) if self._failures else None
            status, answer = (
                (failure, _error("injected failure", "SERVER_ERROR"))
                if failure
                else self._route(h.command, h.path, auth, body)
            )
        data = json.dumps(answer).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _route(self, method: str, path: str, auth, body) -> tuple[int, dict]:
        if auth != (self.key_id, self.key_secret):
            return 401, _error("The api key provided is invalid")
        if method == "POST" and path == "/v1/payment_links":
            return self._create(body)
        if method == "GET" and (m := re.fullmatch(r"/v1/payment_links/([^/?]+)", path)):
            link = self.links.get(m[1])
            if link is None:
                return 404, _error("The id provided does not exist")
            return 200, dict(link)
        return 404, _error("The requested URL was not found on the server.")

    def _create(self, body) -> tuple[int, dict]:
        if not isinstance(body, dict):
            return 400, _error("The request body is not valid JSON")
        amount = body.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            return 400, _error("The amount must be an integer greater than zero.")
        if not re.fullmatch(r"[A-Z]{3}", str(body.get("currency"))):
            return 400, _error("The currency field is invalid.")
        if body.get("callback_url") and body.get("callback_method") != "get":
            return 400, _error("callback_method must be get when callback_url is given")
        link_id = _razorpay_id("plink_")
        now = int(time.time())
        link = {
            "id": link_id,
            "entity": "payment_link",
            "amount": amount,
            "amount_paid": 0,
            "currency": body["currency"],
            "status": "created",
            "reference_id": body.get("reference_id", ""),
            "description": body.get("description", ""),
            "callback_url": body.get("callback_url", ""),
            "callback_method": body.get("callback_method", ""),
            "short_url": f"{self.api_base}/pay/{link_id}",
            "order_id": _razorpay_id("order_"),
            "payments": None,
            "accept_partial": False,
            "created_at": now,
            "updated_at": now,
            "expire_by": 0,
            "expired_at": 0,
            "cancelled_at": 0,
            "notes": {},
        }
        self.links[link_id] = link
        return 200, dict(link)


def start_fake_razorpay(folder: Path) -> FakeRazorpay:
    return FakeRazorpay(folder)
