"""The gateway's edge as a client on the internet meets it: request lines and headers too long
for any honest client answered in JSON, the headers that keep a browser from being turned against
its user, and connections an attacker opens and leaves silent or idle."""

import json
import re
import socket
import time
from urllib.parse import urlsplit

import eventlet
import pytest
import requests


@pytest.fixture
def base(platform):
    return platform()


def raw(base, data: bytes, timeout=10) -> bytes:
    """``data`` sent as it is on a new connection; everything the server sends until it closes."""
    address = urlsplit(base)
    with socket.create_connection((address.hostname, address.port), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def answer_of(received: bytes) -> tuple[int, dict, dict]:
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, json.loads(body)


def test_a_request_line_too_long_is_answered_414_in_json(base):
    status, headers, body = answer_of(
        raw(base, b"GET /api/v1/" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    )
    assert status == 414 and body["error"]["code"] == "URI_TOO_LONG"
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    "headers",
    [
        b"X-Big: " + b"a" * 9000 + b"\r\n",  # one line too long
        b"".join(b"X-Many-%d: %s\r\n" % (i, b"a" * 4000) for i in range(20)),  # all together
    ],
)
def test_headers_too_large_are_answered_431_in_json(base, headers):
    status, answer_headers, body = answer_of(
        raw(base, b"GET /health HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
    )
    assert status == 431 and body["error"]["code"] == "HEADERS_TOO_LARGE"
    assert answer_headers["Connection"] == "close"
    # and the gateway goes on answering others
    assert requests.get(f"{base}/api/v1/reference/agreements", timeout=10).status_code == 200


def test_every_answer_carries_the_browser_protections(base):
    answers = [
        requests.get(f"{base}/api/v1/reference/agreements", timeout=10),
        requests.get(f"{base}/api/v1/nowhere", timeout=10),
        requests.post(
            f"{base}/api/v1/auth/login", data=b"{", timeout=10, headers={"Content-Type": "application/json"}
        ),
    ]
    for answer in answers:
        assert answer.headers["X-Content-Type-Options"] == "nosniff", answer.url
        assert answer.headers["Referrer-Policy"] == "no-referrer"
        assert answer.headers["X-Frame-Options"] == "DENY"
        policy = answer.headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
        assert "sandbox" in policy  # a JSON body opened in a browser runs nothing


def test_the_documentation_page_runs_only_scripts_served_by_us(base):
    page = requests.get(f"{base}/api/docs", timeout=10)
    assert page.status_code == 200
    policy = page.headers["Content-Security-Policy"]
    assert (
        "script-src 'self'" in policy and "unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    )
    assert "frame-ancestors 'none'" in policy
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.text, re.S)
    assert scripts and all('src="/' in attributes and not body.strip() for attributes, body in scripts), (
        scripts
    )
    for source in re.findall(r'<script src="([^"]+)"', page.text):
        script = requests.get(f"{base}{source}", timeout=10)
        assert script.status_code == 200 and script.headers["Content-Type"].startswith("text/javascript"), (
            source
        )


def test_the_page_a_qr_code_opens_runs_no_script_and_posts_nowhere(base):
    page = requests.get(
        f"{base}/api/v1/verify", params={"number": "X"}, timeout=10, headers={"Accept": "text/html"}
    )
    assert page.headers["Content-Type"].startswith("text/html")
    policy = page.headers["Content-Security-Policy"]
    assert "form-action 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "<script" not in page.text


@pytest.fixture
def tight(monkeypatch):
    monkeypatch.setenv("OPENCOO_MAX_CONNECTIONS", "2")
    monkeypatch.setenv("OPENCOO_SOCKET_TIMEOUT", "2")
    monkeypatch.setenv("OPENCOO_KEEPALIVE_SECONDS", "1")


def test_silent_connections_are_dropped_and_cannot_hold_the_gateway(tight, platform):
    """Two connections that say nothing take every slot of a gateway bounded at two; a third
    client waits in the backlog (it is not refused), and is served once the silent ones are
    dropped (eventlet waits for a request line as long as for an idle keep-alive connection)."""
    base = platform()
    address = urlsplit(base)
    silent = [socket.create_connection((address.hostname, address.port), timeout=10) for _ in range(2)]
    try:
        eventlet.sleep(0.2)
        started = time.monotonic()
        waiting = eventlet.spawn(requests.get, f"{base}/api/v1/reference/agreements", timeout=20)
        answer = waiting.wait()
        took = time.monotonic() - started
        assert answer.status_code == 200
        # It waited for a slot (a connection that says nothing is dropped after the keep-alive
        # second) rather than being served at once by one more green thread.
        assert took > 0.6, took
        for sock in silent:
            assert sock.recv(1) == b""  # closed by the gateway, not by us
    finally:
        for sock in silent:
            sock.close()


def test_an_idle_keep_alive_connection_is_closed(tight, platform):
    base = platform()
    address = urlsplit(base)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(b"GET /api/v1/reference/agreements HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while b"\r\n\r\n" not in received:
            received += sock.recv(65536)
        assert received.startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        while sock.recv(65536):  # the rest of the body, then the close
            pass
        assert time.monotonic() - started < 5
