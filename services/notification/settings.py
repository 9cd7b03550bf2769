"""The notification service's configuration (architecture §3 and its own additions), read from the
environment at call time like the chassis config."""

import logging
from pathlib import Path

from services.chassis.config import env, var_dir

log = logging.getLogger(__name__)

DEFAULT_MAIL_FROM = "OpenCoO <no-reply@opencoo.local>"
DEFAULT_RETRY_DELAYS = "60,300,1800,7200,21600"


def smtp_url() -> str | None:
    """``smtp://[user:pass@]host[:port]`` (STARTTLS when offered), ``smtp+starttls://…`` (STARTTLS
    required) or ``smtps://…`` (implicit TLS). Unset: mails are written to ``var/mail/``."""
    return env("OPENCOO_SMTP_URL")


def smtp_ca() -> str | None:
    """A PEM file of CA certificates trusted for the SMTP server besides the system's."""
    return env("OPENCOO_SMTP_CA")


def mail_from() -> str:
    return env("OPENCOO_MAIL_FROM", DEFAULT_MAIL_FROM)


def sms_url() -> str | None:
    """The SMS gateway (POST JSON ``{"to", "text"}``). Unset: SMS are appended to
    ``var/sms.log``."""
    return env("OPENCOO_SMS_URL")


def mail_dir() -> Path:
    return var_dir() / "mail"


def sms_log() -> Path:
    return var_dir() / "sms.log"


def retry_delays() -> list[float]:
    """Seconds before each retry of a failed delivery; its length bounds the retries, after which
    the message is marked failed."""
    raw = env("OPENCOO_DELIVERY_RETRY_DELAYS", DEFAULT_RETRY_DELAYS)
    try:
        delays = [float(x) for x in raw.split(",") if x.strip()]
        if any(d < 0 for d in delays):
            raise ValueError("negative delay")
        return delays
    except ValueError:
        # Read after a message went out: a typo must not keep its outcome from being recorded.
        log.error(
            "OPENCOO_DELIVERY_RETRY_DELAYS=%r is not a list of seconds; using %s", raw, DEFAULT_RETRY_DELAYS
        )
        return [float(x) for x in DEFAULT_RETRY_DELAYS.split(",")]


def dispatch_poll() -> float:
    """The dispatcher sends at once after a commit that recorded messages, and when a retry falls
    due; this poll is the safety net for messages recorded by another process."""
    return float(env("OPENCOO_DELIVERY_POLL", "5"))
