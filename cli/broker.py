"""Find the broker of OPENCOO_AMQP_URI, or start a local RabbitMQ (development set-up)."""

import shutil
import subprocess
import time
from urllib.parse import urlparse

from kombu import Connection

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def answers(amqp_uri: str, timeout: float = 3) -> bool:
    try:
        with Connection(amqp_uri, connect_timeout=timeout) as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
        return True
    except Exception:
        return False


def management_answers(amqp_uri: str) -> bool:
    import requests

    u = urlparse(amqp_uri)
    try:
        return requests.get(
            f"http://{u.hostname or '127.0.0.1'}:15672/api/overview",
            auth=(u.username or "guest", u.password or "guest"),
            timeout=3,
        ).ok
    except requests.RequestException:
        return False


def ensure_management(amqp_uri: str, wait: float = 60) -> None:
    """The test suite makes a virtual host per test through the management API."""
    if management_answers(amqp_uri):
        return
    subprocess.run(["rabbitmq-plugins", "enable", "rabbitmq_management"], check=False, capture_output=True)
    deadline = time.time() + wait
    while time.time() < deadline:
        if management_answers(amqp_uri):
            return
        time.sleep(1)
    raise RuntimeError(
        "RabbitMQ's management API (port 15672) does not answer; rabbitmq-plugins enable rabbitmq_management"
    )


def ensure(amqp_uri: str, wait: float = 90, echo=print) -> None:
    """Return when the broker answers; start the local rabbitmq-server first if it is ours to
    start. Raises RuntimeError with what to do otherwise."""
    if answers(amqp_uri):
        return
    host = urlparse(amqp_uri).hostname or "127.0.0.1"
    if host not in LOCAL_HOSTS:
        raise RuntimeError(f"no broker answers at {host}; start it or fix OPENCOO_AMQP_URI")
    if not shutil.which("rabbitmq-server"):
        raise RuntimeError(
            "rabbitmq-server is not installed; run `make up` as root once, or apt-get install rabbitmq-server"
        )
    echo("starting a local RabbitMQ (with its management plugin)…")
    # Management gives operators a console and tests their per-test virtual hosts.
    subprocess.run(
        ["rabbitmq-plugins", "enable", "--offline", "rabbitmq_management"], check=False, capture_output=True
    )
    subprocess.run(["rabbitmq-server", "-detached"], check=False, capture_output=True)
    deadline = time.time() + wait
    while time.time() < deadline:
        if answers(amqp_uri, timeout=2):
            return
        time.sleep(1)
    raise RuntimeError(f"RabbitMQ did not answer within {wait:.0f}s; see /var/log/rabbitmq/")
