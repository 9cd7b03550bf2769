"""Test harness shared by integration and end-to-end tests.

eventlet must patch the standard library before anything else imports it, so this runs first.
Every integration test gets its own RabbitMQ virtual host (made through the management API) and its
own data folder, so tests never see each other's queues, databases or mail.
"""

import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
import eventlet  # noqa: E402

eventlet.monkey_patch()  # noqa: E402

import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402
from urllib.parse import quote, urlparse  # noqa: E402

import pytest  # noqa: E402
import requests  # noqa: E402

# The outside tools the tests check our work with (deploy/dev/system-packages.sh installs them).
# Missing, the run fails at once: a skipped signature check would look like a passed one.
OUTSIDE_TOOLS = ("openssl", "softhsm2-util", "pdfsig", "pdftotext", "pdfimages")


def pytest_sessionstart(session):
    missing = [tool for tool in OUTSIDE_TOOLS if shutil.which(tool) is None]
    if missing:
        raise pytest.UsageError(
            f"not on PATH: {', '.join(missing)}; run `make test`, which "
            "installs them (deploy/dev/system-packages.sh)"
        )


BASE_AMQP_URI = os.environ.get("OPENCOO_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")
SHARED_DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")


def _broker():
    u = urlparse(BASE_AMQP_URI)
    user, password = u.username or "guest", u.password or "guest"
    host, port = u.hostname or "127.0.0.1", u.port or 5672
    api = os.environ.get("OPENCOO_RABBIT_MANAGEMENT", f"http://{host}:15672/api")
    return user, password, host, port, api


@pytest.fixture
def amqp_uri():
    user, password, host, port, api = _broker()
    vhost = f"opencoo-test-{uuid.uuid4().hex[:10]}"
    auth = (user, password)
    requests.put(f"{api}/vhosts/{vhost}", auth=auth, timeout=10).raise_for_status()
    requests.put(
        f"{api}/permissions/{vhost}/{user}",
        auth=auth,
        timeout=10,
        json={"configure": ".*", "write": ".*", "read": ".*"},
    ).raise_for_status()
    yield f"amqp://{user}:{password}@{host}:{port}/{quote(vhost, safe='')}"
    requests.delete(f"{api}/vhosts/{vhost}", auth=auth, timeout=10)


@pytest.fixture
def platform_env(tmp_path, amqp_uri, monkeypatch):
    """The environment (architecture §3) pointed at this test's broker vhost and data folder, with
    short timeouts and retry delays so failure paths finish quickly."""
    var = tmp_path / "var"
    var.mkdir()
    for name in list(os.environ):
        if name.startswith("OPENCOO_DB_URL"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("OPENCOO_VAR", str(var))
    monkeypatch.setenv("OPENCOO_AMQP_URI", amqp_uri)
    monkeypatch.setenv("OPENCOO_EVENT_RETRY_DELAYS", "0.1,0.2")
    monkeypatch.setenv("OPENCOO_RPC_TIMEOUT", "3")
    monkeypatch.setenv("OPENCOO_OUTBOX_POLL", "0.5")
    monkeypatch.setenv("OPENCOO_PORTAL_URL", "none")  # the API alone; tests of the portal start it
    return var


@pytest.fixture
def unit_of_work(platform_env):
    """``unit_of_work(service)``: a unit of work on that service's migrated database in this
    test's data folder, for service-layer tests without the broker."""
    from sqlalchemy.orm import sessionmaker

    from services.chassis import migrations
    from services.chassis.config import database_url
    from services.chassis.database import UnitOfWork, make_engine

    made = []

    def make(service):
        migrations.upgrade(service)
        engine = make_engine(database_url(service))
        made.append((UnitOfWork(service, sessionmaker(engine), lambda: None), engine))
        return made[-1][0]

    yield make
    for unit, engine in made:
        unit.close()
        engine.dispose()


@pytest.fixture
def run_services(platform_env):
    """``run_services(ServiceClass, ...)`` starts real nameko containers in this process against
    the test's vhost; they are stopped at the end of the test."""
    from nameko.runners import ServiceRunner

    from services.chassis.config import nameko_config

    runners = []

    def start(*service_classes, **config):
        cfg = nameko_config()
        cfg.update(config)
        runner = ServiceRunner(cfg)
        for cls in service_classes:
            runner.add_service(cls)
        runner.start()
        runners.append(runner)
        return runner

    yield start
    for runner in reversed(runners):
        runner.kill()


@pytest.fixture
def rpc_client(platform_env):
    """A standalone RPC client as an outside caller would use, with its own timeout."""
    from nameko.standalone.rpc import ClusterRpcProxy

    import services.chassis.rpc  # noqa: F401  (domain errors arrive as their own classes)
    from services.chassis.config import nameko_config

    proxies = []

    def make(timeout=10, correlation_id=None):
        ctx = {"correlation_id": correlation_id} if correlation_id else None
        proxy = ClusterRpcProxy(nameko_config(), timeout=timeout, context_data=ctx)
        proxies.append(proxy)
        return proxy.start()

    yield make
    for proxy in proxies:
        proxy.stop()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


ADMIN_PASSWORD = "correct horse battery staple"


@pytest.fixture
def platform(platform_env, run_services, monkeypatch):
    """The gateway and the services named in ``start(...)`` running in this process against a
    migrated, seeded data folder. Returns ``start`` which gives the base URL."""
    from cli import devpki
    from services.chassis import migrations, seeding
    from services.chassis.config import DATABASE_SERVICES, SERVICES

    port = free_port()
    monkeypatch.setenv("OPENCOO_HTTP", f"127.0.0.1:{port}")
    monkeypatch.setenv("OPENCOO_PUBLIC_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("OPENCOO_ADMIN_PASSWORD", ADMIN_PASSWORD)
    monkeypatch.setenv("OPENCOO_HEALTH_TIMEOUT", "1")
    from services.registration.organisation import SEED_AGENCIES

    devpki.ensure_all(platform_env, [(a.code, a.name) for a in SEED_AGENCIES])
    for service in DATABASE_SERVICES:
        migrations.upgrade(service)
        seeding.seed(service)

    def start(*service_names):
        """Names of services, or service classes to run instead (e.g. a test's subclass)."""
        import importlib

        from gateway.service import GatewayService

        classes = []
        for name in service_names or SERVICES:
            if isinstance(name, type):
                classes.append(name)
                continue
            module = importlib.import_module(f"services.{name}.service")
            classes += [
                c for c in vars(module).values() if isinstance(c, type) and getattr(c, "name", None) == name
            ]
        run_services(GatewayService, *classes)
        return f"http://127.0.0.1:{port}"

    return start


def try_login(base, username, password):
    """A login over the API with the captcha answered: the API's answer, whatever it is."""
    captcha = requests.get(f"{base}/api/v1/auth/captcha", timeout=10).json()
    a, b = (int(x) for x in captcha["question"].split("+"))
    return requests.post(
        f"{base}/api/v1/auth/login",
        timeout=10,
        json={
            "username": username,
            "password": password,
            "captcha_id": captcha["captcha_id"],
            "captcha_answer": str(a + b),
        },
    )


def login(base, username, password):
    response = try_login(base, username, password)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL cluster for the session (Debian's postgresql package), on a free
    port; yields its base URL. Root cannot run PostgreSQL, so the cluster belongs to `postgres`."""
    import glob
    import shutil
    import subprocess
    import tempfile

    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not bins:
        pytest.fail("PostgreSQL is not installed: run `make test` (it installs it)")
    bindir = os.path.dirname(bins[-1])
    # Directly under /tmp: pytest's own temporary folders are closed to other users.
    data = tempfile.mkdtemp(prefix="opencoo-pg-")
    as_user = []
    if os.geteuid() == 0:
        shutil.chown(data, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    subprocess.run(
        as_user + [f"{bindir}/initdb", "-D", str(data), "-A", "trust", "-U", "opencoo", "--no-sync"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        as_user
        + [
            f"{bindir}/pg_ctl",
            "-D",
            str(data),
            "-w",
            "-l",
            f"{data}/log",
            "-o",
            f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    yield f"postgresql://opencoo@127.0.0.1:{port}"
    subprocess.run(
        as_user + [f"{bindir}/pg_ctl", "-D", str(data), "-m", "immediate", "stop"], capture_output=True
    )
    shutil.rmtree(data, ignore_errors=True)


@pytest.fixture
def postgres_databases(postgres_server, monkeypatch):
    """Point every service at its own fresh PostgreSQL database through the OPENCOO_DB_URL
    template, as an operator would."""
    import pg8000.native

    from services.chassis.config import DATABASE_SERVICES

    prefix = f"t{uuid.uuid4().hex[:8]}"
    host_port = postgres_server.rsplit("@", 1)[1]
    host, port = host_port.split(":")
    admin = pg8000.native.Connection("opencoo", host=host, port=int(port), database="postgres")
    for service in DATABASE_SERVICES:
        admin.run(f"CREATE DATABASE {prefix}_{service}")
    admin.close()
    monkeypatch.setenv("OPENCOO_DB_URL", f"{postgres_server}/{prefix}_{{service}}")
    return prefix


class Mailbox:
    """A real SMTP server (aiosmtpd, in its own process) delivering into a Maildir."""

    def __init__(self, folder, port):
        self.folder, self.port = folder, port
        self.url = f"smtp://127.0.0.1:{port}"

    def messages(self):
        import mailbox

        return list(mailbox.Maildir(str(self.folder), create=False))

    def wait_for(self, predicate, timeout=20):
        import time

        deadline = time.time() + timeout
        while time.time() < deadline:
            found = [m for m in self.messages() if predicate(m)]
            if found:
                return found
            eventlet.sleep(0.1)
        raise AssertionError(f"no such mail; mailbox has {[m['To'] for m in self.messages()]}")


@pytest.fixture
def smtp_mailbox(tmp_path, monkeypatch):
    import socket
    import subprocess
    import sys
    import time

    folder = tmp_path / "maildir"
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            f"127.0.0.1:{port}",
            "-c",
            "aiosmtpd.handlers.Mailbox",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.05)
    box = Mailbox(folder, port)
    monkeypatch.setenv("OPENCOO_SMTP_URL", box.url)
    yield box
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def sms_endpoint(monkeypatch):
    """A local HTTP SMS gateway recording the JSON bodies POSTed to it."""
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.append(json.loads(body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.received = received
    server.url = f"http://127.0.0.1:{server.server_address[1]}/sms"
    monkeypatch.setenv("OPENCOO_SMS_URL", server.url)
    yield server
    server.shutdown()
    server.server_close()


def wait_until(predicate, timeout=15.0, what="condition"):
    """Poll ``predicate`` until it returns something true (which is returned), or fail."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        eventlet.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def mail_text(message) -> str:
    """The text/plain part of an email."""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
    raise AssertionError("no text part")
