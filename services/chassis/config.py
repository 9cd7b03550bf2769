"""Configuration from the environment (architecture §3).

Read at call time, not import time, so that tests and operators can change the environment of one
process without re-importing modules.
"""

import os
import secrets
from functools import lru_cache
from pathlib import Path

# The services with a database of their own (migrated by `opencoo migrate`), then every service
# the gateway calls and /health asks; verification keeps nothing.
DATABASE_SERVICES = ("registration", "application", "payment", "signing", "certificate", "notification")
SERVICES = DATABASE_SERVICES + ("verification",)

DEFAULT_AMQP_URI = "amqp://guest:guest@127.0.0.1:5672/"


def env(name, default=None):
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def var_dir() -> Path:
    """The data folder: databases, blobs, mail drop, dev PKI."""
    path = Path(env("OPENCOO_VAR", "./var")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def amqp_uri() -> str:
    return env("OPENCOO_AMQP_URI", DEFAULT_AMQP_URI)


def database_url(service: str) -> str:
    """``OPENCOO_DB_URL_<SERVICE>``, else the ``OPENCOO_DB_URL`` template, else a SQLite file."""
    specific = env(f"OPENCOO_DB_URL_{service.upper()}")
    if specific:
        return specific
    template = env("OPENCOO_DB_URL")
    if template:
        return template.format(service=service)
    db_dir = var_dir() / "db"
    db_dir.mkdir(exist_ok=True)
    return f"sqlite:///{db_dir / service}.sqlite3"


def http_address() -> str:
    return env("OPENCOO_HTTP", "127.0.0.1:8000")


def public_url() -> str:
    return env("OPENCOO_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")


# The header with which the gateway and the portal prove themselves to each other (architecture
# §10): whoever sends it with the right key may say whose browser it speaks for.
PORTAL_KEY_HEADER = "X-OpenCoO-Portal"


def portal_address() -> str:
    """Where the portal process listens (behind the gateway)."""
    return env("OPENCOO_PORTAL_HTTP", "127.0.0.1:8001")


def portal_url() -> str | None:
    """Where the gateway hands pages; ``OPENCOO_PORTAL_URL=none`` runs the API alone."""
    url = env("OPENCOO_PORTAL_URL", f"http://{portal_address()}")
    return None if url.lower() == "none" else url.rstrip("/")


def portal_key() -> str:
    """``OPENCOO_PORTAL_KEY``, else the data folder's, made on first use (by whichever of the
    gateway and the portal starts first: the first link wins, the other reads it)."""
    return env("OPENCOO_PORTAL_KEY") or _data_folder_key(str(var_dir() / "secrets" / "portal.key"))


@lru_cache(maxsize=8)  # asked on every request the portal makes: read once per file, not each time
def _data_folder_key(location: str) -> str:
    path = Path(location)
    if not path.exists():
        path.parent.mkdir(mode=0o700, exist_ok=True)
        draft = path.with_name(f"portal.key.{os.getpid()}")
        draft.write_text(secrets.token_urlsafe(32))
        draft.chmod(0o600)
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def rpc_timeout() -> float:
    """Seconds a caller waits for another service before giving up with RPC_TIMEOUT."""
    return float(env("OPENCOO_RPC_TIMEOUT", "10"))


def event_retry_delays() -> list[float]:
    """Backoff, in seconds, before each retry of a failing event handler; its length bounds the
    retries. After the last one the message goes to the dead-letter queue."""
    return [float(x) for x in env("OPENCOO_EVENT_RETRY_DELAYS", "1,5,30,120,600").split(",")]


def outbox_poll_interval() -> float:
    """The relay publishes at once after each commit; this poll is the safety net for events left
    by a process that died between commit and publish."""
    return float(env("OPENCOO_OUTBOX_POLL", "2"))


def max_body_bytes() -> int:
    """The gateway's ceiling for any request body; routes set lower limits of their own."""
    return int(env("OPENCOO_MAX_BODY_BYTES", str(8 * 1024 * 1024)))


def max_connections() -> int:
    """``OPENCOO_MAX_CONNECTIONS``: connections one gateway process serves at once."""
    return int(env("OPENCOO_MAX_CONNECTIONS", "1000"))


def keepalive_seconds() -> float:
    """``OPENCOO_KEEPALIVE_SECONDS``: how long an idle keep-alive connection is kept open."""
    return float(env("OPENCOO_KEEPALIVE_SECONDS", "15"))


def socket_timeout_seconds() -> float:
    """``OPENCOO_SOCKET_TIMEOUT``: how long the gateway waits for a client that sends nothing."""
    return float(env("OPENCOO_SOCKET_TIMEOUT", "60"))


def health_timeout() -> float:
    return float(env("OPENCOO_HEALTH_TIMEOUT", "2"))


def nameko_config() -> dict:
    """The container config for in-process runners (tests, benchmarks); ``deploy/nameko.yaml``
    gives ``nameko run`` the same values."""
    return {
        "AMQP_URI": amqp_uri(),
        "WEB_SERVER_ADDRESS": http_address(),
        "max_workers": int(env("OPENCOO_MAX_WORKERS", "10")),
        "serializer": "json",
    }
