"""Found when tried as a new user: with RabbitMQ stopped, `/health` did not answer at all and an
officer's approval answered 500 after 3 to 5 s. Now `/health` answers 503 at once naming the
broker, a call that needs a service answers 503 SERVICE_UNAVAILABLE with Retry-After within
seconds, and once the broker is back the platform answers again without a restart.

The broker is taken away by cutting a TCP proxy between the platform and RabbitMQ (every
connection closed, the port refusing new ones), so the suite's own broker keeps running."""

import time
from urllib.parse import urlsplit, urlunsplit

import eventlet
import eventlet.hubs
import pytest
import requests

from tests.conftest import free_port


class CuttableProxy:
    """A TCP proxy to ``target`` on a port of its own, which can be cut and restored."""

    def __init__(self, target: tuple[str, int]):
        self.target, self.port = target, free_port()
        self.connections: list = []
        self.pumps: list = []
        self.listener = None
        self.restore()

    def restore(self):
        self.listener = eventlet.listen(("127.0.0.1", self.port))
        self.acceptor = eventlet.spawn(self._accept, self.listener)

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = eventlet.connect(self.target)
            self.connections += [client, server]
            self.pumps += [
                eventlet.spawn(self._pump, client, server),
                eventlet.spawn(self._pump, server, client),
            ]

    @staticmethod
    def _pump(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except (OSError, EOFError, eventlet.hubs.IOClosed):  # the other side, or the cut, closed it
            pass
        for end in (source, sink):
            end.close()

    def cut(self):
        # the greenthreads first: one left waiting on a closed socket would hold its file number
        # in the hub, and whoever gets that number next (a later test's pipe) could not read it
        for greenthread in [self.acceptor, *self.pumps]:
            greenthread.kill()
        self.listener.close()
        for connection in self.connections:
            connection.close()
        self.connections, self.pumps = [], []


@pytest.fixture
def broker_behind_proxy(platform_env, amqp_uri, monkeypatch):
    parts = urlsplit(amqp_uri)
    proxy = CuttableProxy((parts.hostname, parts.port or 5672))
    proxied = parts._replace(netloc=f"{parts.username}:{parts.password}@127.0.0.1:{proxy.port}")
    monkeypatch.setenv("OPENCOO_AMQP_URI", urlunsplit(proxied))
    yield proxy
    proxy.cut()


def test_without_the_broker_health_and_calls_say_503_at_once_and_recover(broker_behind_proxy, platform):
    base = platform()
    assert requests.get(f"{base}/health", timeout=10).json()["broker"] == {"status": "ok"}

    broker_behind_proxy.cut()
    started = time.monotonic()
    health = requests.get(f"{base}/health", timeout=10)
    assert time.monotonic() - started < 2
    assert health.status_code == 503 and health.json()["down"] == ["broker"]
    assert health.json()["broker"]["status"] == "down"

    started = time.monotonic()
    call = requests.get(f"{base}/api/v1/reference/agreements/013", timeout=30)
    assert time.monotonic() - started < 15
    assert call.status_code == 503, call.text
    assert call.json()["error"]["code"] == "SERVICE_UNAVAILABLE" and int(call.headers["Retry-After"]) > 0

    broker_behind_proxy.restore()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if requests.get(f"{base}/health", timeout=10).status_code == 200:
            break
        time.sleep(1)
    agreement = requests.get(f"{base}/api/v1/reference/agreements/013", timeout=30)
    assert agreement.status_code == 200, agreement.text
