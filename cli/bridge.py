"""``opencoo bridge``: the exporter's signer for the portal, run on the exporter's own computer,
as today's portals ask for their signer utilities.

It listens on 127.0.0.1 only and signs with the DSC on the exporter's PKCS#11 token (any module;
SoftHSM2 in development) what the portal's page sends: the registration challenge, a document,
an application's payload, as the detached CMS the API takes. The PIN is asked here (a terminal
prompt, or a PIN file), never by the web page. Before signing it shows what it signs (kind,
reference, SHA-256). It answers only the portal's origin (CORS, with Chromium's Private Network
Access preflight) and refuses every other origin, and requests without one.

    GET  /certificates  the certificates on the token: subject, IEC, serial, validity
    POST /sign          {"kind", "reference", "data_b64", "iec"} -> {"signature_b64", "signer", "sha256"}
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cli import dsc

MAX_BODY = 3 * 1024 * 1024  # a 2 MB document, base64, and the rest
KINDS = {
    "registration_challenge": "the registration challenge",
    "document": "a document",
    "application": "the application",
}


class BridgeError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Signer:
    """The token side: which certificates it holds, and signing with its key."""

    def __init__(self, module: str, token_label: str, pin: str, key_label: str | None, say: Callable):
        self.module, self.token_label, self.pin, self.key_label, self.say = (
            module,
            token_label,
            pin,
            key_label,
            say,
        )

    def certificates(self) -> list[dict]:
        found = self._token(
            dsc.token_certificates, module=self.module, token_label=self.token_label, pin=self.pin
        )
        return [_described(cert) for cert in found]

    def sign(self, kind: str, reference: str, data: bytes, iec: str) -> dict:
        if kind not in KINDS:
            raise BridgeError(400, "KIND_UNKNOWN", f"kind must be one of {', '.join(KINDS)}")
        held = [c for c in self.certificates() if c["iec"] == iec.strip().upper()]
        if not held:
            raise BridgeError(
                422,
                "IEC_CERTIFICATE_MISSING",
                f"the token {self.token_label!r} holds no certificate for IEC {iec}",
            )
        digest = hashlib.sha256(data).hexdigest()
        self.say(f"signing {KINDS[kind]} {reference!r} for IEC {iec}: SHA-256 {digest}")
        signature = self._token(
            dsc.sign_detached,
            data,
            module=self.module,
            token_label=self.token_label,
            pin=self.pin,
            key_label=self.key_label,
        )
        return {
            "signature_b64": base64.b64encode(signature).decode(),
            "signer": held[0]["subject"],
            "sha256": digest,
        }

    def _token(self, call, *args, **kwargs):
        try:
            return call(*args, **kwargs)
        except dsc.WrongPin as exc:
            raise BridgeError(401, "PIN_INCORRECT", f"{exc}: restart the bridge with the right PIN") from None
        except dsc.DscError as exc:
            raise BridgeError(502, "TOKEN_ERROR", str(exc)) from None


def _described(cert) -> dict:
    subject = cert.subject.native
    return {
        "subject": cert.subject.human_friendly,
        "name": subject.get("common_name"),
        "iec": (subject.get("organizational_unit_name") or "").strip().upper() or None,
        "serial": format(cert.serial_number, "x"),
        "not_after": cert["tbs_certificate"]["validity"]["not_after"].native.isoformat(),
    }


def handler_for(signer: Signer, origin: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "opencoo-bridge"
        timeout = 30  # a silent client does not hold a thread for ever

        def do_OPTIONS(self):  # noqa: N802  (the preflight: CORS and Private Network Access)
            if not self._origin_allowed():
                return
            self.send_response(204)
            self._cors()
            self.send_header("Access-Control-Allow-Methods", "GET, POST")
            self.send_header("Access-Control-Allow-Headers", "Content-Type")
            self.send_header("Access-Control-Max-Age", "600")
            if self.headers.get("Access-Control-Request-Private-Network") == "true":
                self.send_header("Access-Control-Allow-Private-Network", "true")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self):  # noqa: N802
            if not self._origin_allowed():
                return
            if self.path != "/certificates":
                return self._answer(404, {"error": {"code": "NOT_FOUND", "message": "no such path"}})
            self._run(lambda: {"token": signer.token_label, "certificates": signer.certificates()})

        def do_POST(self):  # noqa: N802
            if not self._origin_allowed():
                return
            if self.path != "/sign":
                return self._answer(404, {"error": {"code": "NOT_FOUND", "message": "no such path"}})
            self._run(self._sign)

        def _sign(self) -> dict:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                raise BridgeError(413, "TOO_LARGE", f"at most {MAX_BODY} bytes")
            try:
                body = json.loads(self.rfile.read(length))
                data = base64.b64decode(body["data_b64"], validate=True)
                kind, reference, iec = (
                    str(body["kind"]),
                    str(body.get("reference", ""))[:200],
                    str(body["iec"]),
                )
            except (ValueError, KeyError, TypeError, binascii.Error):
                raise BridgeError(400, "BAD_REQUEST", "send JSON: kind, reference, data_b64, iec") from None
            return signer.sign(kind, reference, data, iec)

        def _run(self, work):
            try:
                self._answer(200, work())
            except BridgeError as exc:
                self._answer(exc.status, {"error": {"code": exc.code, "message": exc.message}})

        def _origin_allowed(self) -> bool:
            if self.headers.get("Origin") == origin:
                return True
            self._answer(
                403,
                {"error": {"code": "ORIGIN_REFUSED", "message": f"this bridge signs only for {origin}"}},
                cors=False,
            )
            return False

        def _cors(self):
            self.send_header("Access-Control-Allow-Origin", origin)
            self.send_header("Vary", "Origin")

        def _answer(self, status: int, body: dict, cors: bool = True):
            data = json.dumps(body).encode()
            self.send_response(status)
            if cors:
                self._cors()
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format, *args):  # noqa: A002  (requests are not the exporter's business)
            pass

    return Handler


def serve(signer: Signer, origin: str, port: int) -> ThreadingHTTPServer:
    """The bridge's server on 127.0.0.1 (never another interface)."""
    return ThreadingHTTPServer(("127.0.0.1", port), handler_for(signer, origin))
