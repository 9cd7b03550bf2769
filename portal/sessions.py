"""The browser's session: the portal's own state, on the server.

The cookie holds a random id; the table holds its SHA-256 (a copy of the table opens no session),
the CSRF token of the session's forms, and, once someone has logged in, the API token, role and
name. The API token never reaches the browser. A session ends after ``IDLE`` without a request,
at its API token's expiry, at logout, or when the API refuses its token (revoked, deactivated):
the next page then asks to log in again and comes back to where the user was.

A session is made only when a page with a form is shown (a bot reading the home page costs no
row), and a new one replaces the anonymous one at login (no session fixation).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from sqlalchemy import Column, DateTime, MetaData, String, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from services.chassis import config
from services.chassis.database import make_engine

IDLE = timedelta(minutes=30)
REREAD = 2.0  # seconds a session read from the table is believed without reading it again
REMEMBERED = 10_000  # sessions kept in memory at most
TOUCH_EVERY = timedelta(minutes=1)  # last_seen is written at most this often
COOKIE = "opencoo_session"

metadata = MetaData()
sessions = Table(
    "portal_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("csrf", String(64), nullable=False),
    Column("token", String(4096)),
    Column("role", String(32)),
    Column("username", String(128)),
    Column("created_at", DateTime, nullable=False),
    Column("last_seen", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
)

# A form sent twice (a double click, a reload of the answer) is one request: the first to arrive
# claims its receipt, the second waits for the first's answer and gets the same redirect.
receipts = Table(
    "portal_form_receipts",
    metadata,
    Column("form_hash", String(64), primary_key=True),
    Column("created_at", DateTime, nullable=False),
    Column("location", String(2048)),
)
RECEIPT_KEPT = timedelta(seconds=30)


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass
class Session:
    id: str  # the cookie's value; only its hash is stored
    csrf: str
    token: str | None = None
    role: str | None = None
    username: str | None = None
    last_seen: datetime | None = None

    @property
    def logged_in(self) -> bool:
        return self.token is not None

    def csrf_matches(self, sent: str | None) -> bool:
        return bool(sent) and hmac.compare_digest(self.csrf.encode(), (sent or "").encode())


class SessionStore:
    def __init__(self, url: str | None = None):
        self.engine = make_engine(url or config.database_url("portal"))
        metadata.create_all(self.engine)
        # Sessions read lately, so that a page costs no query: each copy is believed for
        # ``REREAD`` seconds. What another portal process changes meanwhile (a logout) is
        # seen that much later; the API, which refuses an ended token at once, stays the judge.
        self.recent: OrderedDict[str, tuple[float, Session, datetime]] = OrderedDict()

    def new(self) -> Session:
        return self._start(Session(id=secrets.token_urlsafe(32), csrf=secrets.token_urlsafe(32)), IDLE)

    def _start(self, session: Session, lasts: timedelta) -> Session:
        now = _now()
        with self.engine.begin() as db:
            db.execute(
                insert(sessions).values(
                    id_hash=_hash(session.id),
                    csrf=session.csrf,
                    token=session.token,
                    role=session.role,
                    username=session.username,
                    created_at=now,
                    last_seen=now,
                    expires_at=now + lasts,
                )
            )
        return session

    def find(self, session_id: str | None) -> Session | None:
        if not session_id or len(session_id) > 100:
            return None
        now = _now()
        kept = self.recent.get(_hash(session_id))
        if kept is not None and time.monotonic() - kept[0] < REREAD:
            session, expires_at = kept[1], kept[2]
            if expires_at > now and session.last_seen is not None and session.last_seen + IDLE > now:
                return replace(session)
        found = self._read(session_id, now)
        self.forget(session_id)
        if found is not None:
            self.recent[_hash(session_id)] = (time.monotonic(), replace(found[0]), found[1])
            while len(self.recent) > REMEMBERED:
                self.recent.popitem(last=False)
        return found[0] if found else None

    def forget(self, session_id: str) -> None:
        self.recent.pop(_hash(session_id), None)

    def _read(self, session_id: str, now: datetime) -> tuple[Session, datetime] | None:
        with self.engine.begin() as db:
            row = db.execute(select(sessions).where(sessions.c.id_hash == _hash(session_id))).first()
            if row is None:
                return None
            if row.expires_at <= now or row.last_seen + IDLE <= now:
                db.execute(delete(sessions).where(sessions.c.id_hash == row.id_hash))
                return None
            seen = row.last_seen
            if now - row.last_seen >= TOUCH_EVERY:
                db.execute(update(sessions).where(sessions.c.id_hash == row.id_hash).values(last_seen=now))
                seen = now
        return Session(session_id, row.csrf, row.token, row.role, row.username, seen), row.expires_at

    def log_in(self, old: Session | None, token: str, role: str, username: str, expires_in: int) -> Session:
        """A new session for the person who logged in; the anonymous one ends."""
        if old is not None:
            self.end(old)
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), token, role, username)
        return self._start(session, timedelta(seconds=expires_in))

    def replace_token(self, session: Session, token: str, expires_in: int) -> None:
        """After a password change the API answers a fresh token; the session keeps working."""
        self.forget(session.id)
        with self.engine.begin() as db:
            db.execute(
                update(sessions)
                .where(sessions.c.id_hash == _hash(session.id))
                .values(token=token, expires_at=_now() + timedelta(seconds=expires_in))
            )
        session.token = token

    def end(self, session: Session) -> None:
        self.forget(session.id)
        with self.engine.begin() as db:
            db.execute(delete(sessions).where(sessions.c.id_hash == _hash(session.id)))

    def claim_form(self, form_hash: str) -> bool:
        """True for the first sending of this form (by this session, these bytes, this path)
        within ``RECEIPT_KEPT``; False when an earlier sending holds the receipt."""
        now = _now()
        try:
            with self.engine.begin() as db:
                db.execute(delete(receipts).where(receipts.c.created_at <= now - RECEIPT_KEPT))
                db.execute(insert(receipts).values(form_hash=form_hash, created_at=now))
        except IntegrityError:
            return False
        return True

    def settle_form(self, form_hash: str, location: str | None) -> None:
        """The first sending's answer: where it sent the browser (or nothing to repeat: the
        receipt goes, so that sending the form again runs it again)."""
        with self.engine.begin() as db:
            if location is None:
                db.execute(delete(receipts).where(receipts.c.form_hash == form_hash))
            else:
                db.execute(
                    update(receipts).where(receipts.c.form_hash == form_hash).values(location=location)
                )

    def first_answer(self, form_hash: str, wait: float = 30.0) -> str | None:
        """Where the first sending sent the browser, once it has answered; None when it had
        nothing to repeat (a refusal), or it did not answer in time."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            with self.engine.begin() as db:
                row = db.execute(select(receipts.c.location).where(receipts.c.form_hash == form_hash)).first()
            if row is None or row.location is not None:
                return row.location if row else None
            time.sleep(0.2)
        return None

    def sweep(self) -> int:
        """Forget sessions that ended by time; run now and then."""
        now = _now()
        with self.engine.begin() as db:
            return db.execute(
                delete(sessions).where((sessions.c.expires_at <= now) | (sessions.c.last_seen <= now - IDLE))
            ).rowcount
