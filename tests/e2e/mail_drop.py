"""Passwords as people get them: by email, here the platform's mail drop (``var/mail/*.eml``,
what `make up` writes without an SMTP server)."""

import email
import email.policy
import re
import time
from pathlib import Path


def emailed_password(var: Path, address: str, after: float, timeout: float = 60) -> str:
    """The password in the newest mail to ``address`` written after ``after`` (epoch seconds)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for path in sorted((var / "mail").glob("*.eml"), reverse=True):
            if path.stat().st_mtime < after:
                continue
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if address.lower() in str(message["To"]).lower():
                found = re.search(r"Password:\s*(\S+)", message.get_body(("plain",)).get_content())
                if found:
                    return found.group(1)
        time.sleep(0.5)
    raise AssertionError(f"no password mailed to {address}")
