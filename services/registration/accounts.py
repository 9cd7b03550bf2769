"""People's accounts: passwords (argon2id), the first admin, login with an arithmetic captcha,
lockout by address, and forgotten passwords by emailed link."""

import hashlib
import math
import re
import secrets
import uuid
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, distinct, func, or_, select, update

from services.chassis.database import utcnow
from services.chassis.errors import BadRequest, RateLimited, RuleViolation, Unauthorized
from services.chassis.timestamps import iso_utc
from services.contracts import tokens
from services.registration.models import (
    Account,
    Captcha,
    LoginFailure,
    LoginSuccess,
    PasswordResetRequest,
    RevokedToken,
)

# OWASP's minimum for argon2id: m=19 MiB, t=2, p=1 (architecture §9).
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
CAPTCHA_LIFETIME = timedelta(minutes=5)
# Verifying against this when the username is unknown keeps both answers equally slow.
_DUMMY_HASH = HASHER.hash(secrets.token_urlsafe(16))


def new_password() -> str:
    return secrets.token_urlsafe(12)


def ensure_admin(session, password: str | None) -> str | None:
    """Create ``admin`` at first start. Returns the password only when it was generated here, so
    that it can be printed exactly once."""
    if session.scalar(select(Account).where(Account.username == "admin")) is not None:
        return None
    chosen = password or new_password()
    generated = None if password else chosen
    session.add(
        Account(username="admin", password_hash=HASHER.hash(chosen), role="admin", created_at=utcnow())
    )
    return generated


def set_password(uow, username: str, password: str):
    account = uow.session.scalar(select(Account).where(Account.username == username))
    if account is None:
        raise BadRequest(f"no account {username!r}", code="ACCOUNT_UNKNOWN")
    _replace_password(uow, account, password)


def new_captcha(session) -> dict:
    a, b = secrets.randbelow(9) + 1, secrets.randbelow(9) + 1
    captcha = Captcha(id=str(uuid.uuid4()), answer=a + b, expires_at=utcnow() + CAPTCHA_LIFETIME)
    session.add(captcha)
    return {
        "captcha_id": captcha.id,
        "question": f"{a} + {b}",
        "expires_in": int(CAPTCHA_LIFETIME.total_seconds()),
    }


def consume_captcha(session, captcha_id: str, answer) -> None:
    """A captcha answers once, right or wrong, and only before it expires."""
    now = utcnow()
    # One conditional update: two logins racing with the same captcha cannot both spend it.
    spent = session.execute(
        update(Captcha)
        .where(Captcha.id == str(captcha_id), Captcha.used_at.is_(None), Captcha.expires_at >= now)
        .values(used_at=now)
    ).rowcount
    if spent != 1:
        raise BadRequest(
            "the captcha is unknown, used or expired; ask for a new one",
            code="CAPTCHA_EXPIRED",
            fields={"captcha_id": ["Ask for a new captcha."]},
        )
    captcha = session.get(Captcha, str(captcha_id))
    if str(answer).strip() != str(captcha.answer):
        raise BadRequest(
            "the captcha answer is wrong",
            code="CAPTCHA_INVALID",
            fields={"captcha_answer": ["Wrong answer."]},
        )


def authenticate(session, username: str, password: str) -> Account:
    account = session.scalar(select(Account).where(Account.username == username))
    try:
        HASHER.verify(account.password_hash if account else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        account = None
    if account is None or not account.active:
        raise Unauthorized("username or password is wrong", code="INVALID_CREDENTIALS")
    if HASHER.check_needs_rehash(account.password_hash):
        account.password_hash = HASHER.hash(password)
    return account


def token_for(account: Account, private_key_pem: bytes) -> dict:
    token, expires_in = tokens.issue(
        private_key_pem,
        account.username,
        account.role,
        agency=account.agency_code,
        office=account.issuing_office_code,
        ver=account.credentials_version,
    )
    return {"access_token": token, "token_type": "Bearer", "expires_in": expires_in, "role": account.role}


# --- lockout -----------------------------------------------------------------------------------
#
# Failures lock the address that made them, not the account: anyone may know a username (an IEC
# is public), and a lock on the account would let anyone keep an officer out of the queue.
# Failures from many addresses slow the account down instead, for every address its owner has
# not logged in from lately, and the owner is told by email.

FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ADDRESS = 5  # one account from one address: then that address is locked out
MAX_ADDRESS_FAILURES = 20  # any accounts from one address (an office behind one NAT)
SLOW_DOWN_AFTER = 5  # failures on an account from anywhere, before each try waits
MAX_DELAY = 60  # seconds
KNOWN_ADDRESS = timedelta(days=90)
ALERT_EVERY = timedelta(hours=1)


def _retry_after(oldest: datetime) -> int:
    return max(1, int((oldest + FAILURE_WINDOW - utcnow()).total_seconds()) + 1)


def _recent_failures(session, *conditions, limit: int) -> list[datetime]:
    return session.scalars(
        select(LoginFailure.failed_at)
        .where(*conditions, LoginFailure.failed_at > utcnow() - FAILURE_WINDOW)
        .order_by(LoginFailure.failed_at.desc())
        .limit(limit)
    ).all()


def delay_for(failures: int) -> int:
    """Seconds between tries on an account that ``failures`` failed logins hit lately."""
    if failures < SLOW_DOWN_AFTER:
        return 0
    return min(MAX_DELAY, 2 ** (failures - SLOW_DOWN_AFTER))


def refuse_if_locked(session, username: str, address: str):
    """429 (with the seconds to wait) when this address is locked out of this account or of
    everything, or when the account is slowed down and this address is not its owner's."""
    for conditions, limit, code, what in (
        (
            (LoginFailure.username == username, LoginFailure.address == address),
            MAX_FAILURES_PER_ADDRESS,
            "ACCOUNT_LOCKED",
            "this account from this address",
        ),
        ((LoginFailure.address == address,), MAX_ADDRESS_FAILURES, "TOO_MANY_ATTEMPTS", "this address"),
    ):
        recent = _recent_failures(session, *conditions, limit=limit)
        if len(recent) >= limit:
            wait = _retry_after(recent[-1])
            raise RateLimited(
                f"too many failed logins for {what}; try again in {(wait + 59) // 60} minute(s)",
                code=code,
                extra={"retry_after": wait},
            )
    if _known_address(session, username, address):
        return
    recent = _recent_failures(
        session, LoginFailure.username == username, limit=SLOW_DOWN_AFTER + 8
    )  # 2**8 s is past the cap already
    wait = delay_for(len(recent))
    elapsed = (utcnow() - recent[0]).total_seconds() if recent else 0
    if elapsed < wait:
        left = math.ceil(wait - elapsed)
        raise RateLimited(
            f"many failed logins for this account; try again in {left} s",
            code="ACCOUNT_SLOWED",
            extra={"retry_after": left},
        )


def _known_address(session, username: str, address: str) -> bool:
    return (
        session.scalar(
            select(LoginSuccess.last_at).where(
                LoginSuccess.username == username,
                LoginSuccess.address == address,
                LoginSuccess.last_at > utcnow() - KNOWN_ADDRESS,
            )
        )
        is not None
    )


def record_failure(uow, username: str | None, address: str):
    """Count the failure; once failures from elsewhere slow the account down, tell its owner (at
    most once an hour)."""
    session = uow.session
    now = utcnow()
    session.add(LoginFailure(username=username, address=address, failed_at=now))
    # Old rows are no use to any window.
    session.execute(delete(LoginFailure).where(LoginFailure.failed_at < now - 2 * FAILURE_WINDOW))
    if username is None:
        return
    session.flush()
    failures = len(_recent_failures(session, LoginFailure.username == username, limit=MAX_ADDRESS_FAILURES))
    if failures < SLOW_DOWN_AFTER:
        return
    # One conditional update: two failures at once send one alert.
    alerted = session.execute(
        update(Account)
        .where(
            Account.username == username,
            Account.active.is_(True),
            Account.email.is_not(None),
            or_(Account.failures_alerted_at.is_(None), Account.failures_alerted_at < now - ALERT_EVERY),
        )
        .values(failures_alerted_at=now)
    ).rowcount
    if alerted:
        account = session.scalar(select(Account).where(Account.username == username))
        addresses = session.scalar(
            select(func.count(distinct(LoginFailure.address))).where(
                LoginFailure.username == username, LoginFailure.failed_at > now - FAILURE_WINDOW
            )
        )
        uow.emit(
            "login_failures_alert",
            {
                "username": username,
                "name": account.name or username,
                "email": account.email,
                "failures": failures,
                "addresses": addresses,
                "window_minutes": int(FAILURE_WINDOW.total_seconds() // 60),
            },
        )


def record_success(session, username: str, address: str):
    """Only this address's failures go: a login of the owner does not clear an attacker's."""
    session.execute(
        delete(LoginFailure).where(LoginFailure.username == username, LoginFailure.address == address)
    )
    known = session.get(LoginSuccess, (username, address))
    if known is None:
        session.add(LoginSuccess(username=username, address=address, last_at=utcnow()))
    else:
        known.last_at = utcnow()


# --- passwords -----------------------------------------------------------------------------------

MIN_PASSWORD = 10


def check_new_password(username: str, password: str):
    problems = []
    if len(password) < MIN_PASSWORD:
        problems.append(f"At least {MIN_PASSWORD} characters.")
    if password.casefold() == username.casefold():
        problems.append("Not the username.")
    if not (re.search(r"[A-Za-z]", password) and re.search(r"[0-9]", password)):
        problems.append("Letters and digits both.")
    if problems:
        raise RuleViolation(
            "the new password is too weak", code="PASSWORD_WEAK", fields={"new_password": problems}
        )


def change_password(uow, username: str, current: str, new: str) -> Account:
    account = authenticate(uow.session, username, current)
    check_new_password(username, new)
    if current == new:
        raise RuleViolation(
            "the new password must differ from the current one",
            code="PASSWORD_WEAK",
            fields={"new_password": ["Same as now."]},
        )
    _replace_password(uow, account, new)
    return account


def _replace_password(uow, account: Account, new: str) -> None:
    """The new password, and every token issued before it refused from now on."""
    account.password_hash = HASHER.hash(new)
    end_every_token(uow, account)


def end_every_token(uow, account: Account) -> None:
    """Every token of ``account`` issued until now is refused from now on (password changed,
    account deactivated): the gateways hear it at once."""
    account.credentials_version += 1
    account.credentials_changed_at = utcnow()
    uow.emit(
        "credentials_changed",
        {"username": account.username, "credentials_version": account.credentials_version},
    )


def credentials_changes(session) -> list[dict]:
    """Accounts whose password changed within a token's lifetime (and a minute): what the
    gateway needs to refuse the tokens issued before."""
    oldest = utcnow() - tokens.LIFETIME - timedelta(minutes=1)
    rows = session.execute(
        select(Account.username, Account.credentials_version, Account.credentials_changed_at).where(
            Account.credentials_changed_at >= oldest
        )
    ).all()
    return [{"username": u, "credentials_version": v, "changed_at": iso_utc(at)} for u, v, at in rows]


def revoke_token(uow, username: str, token_id: str, expires_at: datetime) -> None:
    """Logout: the token ``token_id`` (its ``jti``) is refused from now on, until it would have
    expired; the account's other tokens (another browser, a program) still work. Twice is once."""
    session = uow.session
    if session.get(RevokedToken, token_id) is None:
        session.add(RevokedToken(token_id=token_id, username=username, expires_at=expires_at))
        uow.emit(
            "token_revoked",
            {"username": username, "token_id": token_id, "expires_at": iso_utc(expires_at)},
        )
    session.execute(delete(RevokedToken).where(RevokedToken.expires_at < utcnow()))


def revoked_tokens(session) -> list[dict]:
    """Tokens ended by logout that have not expired yet: what the gateway refuses."""
    rows = session.scalars(select(RevokedToken).where(RevokedToken.expires_at >= utcnow()))
    return [{"token_id": row.token_id, "expires_at": iso_utc(row.expires_at)} for row in rows]


# --- forgotten passwords ---------------------------------------------------------------------------
#
# "Forgot password" sends a link; the password changes only when its owner uses it. Requests are
# limited per username (as typed) and per address, counted whether or not the account exists,
# so the limits say nothing about accounts either.

RESET_LIFETIME = timedelta(minutes=30)
RESET_WINDOW = timedelta(hours=1)
MAX_RESETS_PER_ACCOUNT = 3
MAX_RESETS_PER_ADDRESS = 10


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def request_reset(uow, username: str, email: str, address: str, link_base: str) -> None:
    """Count the request; when the username and email are an active account's, email it a link
    (the newest link is the only one that works). The answer is the same either way."""
    session = uow.session
    username = username.strip()
    now = utcnow()
    session.execute(
        delete(PasswordResetRequest).where(
            PasswordResetRequest.requested_at < now - 2 * RESET_WINDOW,
            or_(PasswordResetRequest.expires_at.is_(None), PasswordResetRequest.expires_at < now),
        )
    )
    for column, value, limit, what in (
        (PasswordResetRequest.username, username, MAX_RESETS_PER_ACCOUNT, "this account"),
        (PasswordResetRequest.address, address, MAX_RESETS_PER_ADDRESS, "this address"),
    ):
        recent = session.scalars(
            select(PasswordResetRequest.requested_at)
            .where(column == value, PasswordResetRequest.requested_at > now - RESET_WINDOW)
            .order_by(PasswordResetRequest.requested_at)
            .limit(limit)
        ).all()
        if len(recent) >= limit:
            wait = max(1, int((recent[0] + RESET_WINDOW - now).total_seconds()) + 1)
            raise RateLimited(
                f"too many password resets asked for {what}; try again in {(wait + 59) // 60} minute(s)",
                code="TOO_MANY_RESETS",
                extra={"retry_after": wait},
            )
    request = PasswordResetRequest(username=username[:64], address=address[:64], requested_at=now)
    session.add(request)
    account = session.scalar(select(Account).where(Account.username == username))
    if (
        account is None
        or not account.active
        or not account.email
        or email.strip().casefold() != account.email.casefold()
    ):
        return
    session.execute(
        update(PasswordResetRequest)
        .where(
            PasswordResetRequest.username == username,
            PasswordResetRequest.token_sha256.is_not(None),
            PasswordResetRequest.closed_at.is_(None),
        )
        .values(closed_at=now)
    )
    token = secrets.token_urlsafe(32)
    request.token_sha256, request.expires_at = _sha256(token), now + RESET_LIFETIME
    uow.emit(
        "password_reset_requested",
        {
            "username": account.username,
            "name": account.name or account.username,
            "email": account.email,
            "link": f"{link_base}?token={token}",
            "expires_in_minutes": int(RESET_LIFETIME.total_seconds() // 60),
        },
    )


def reset_password(uow, token: str, new: str) -> None:
    """The password of the link's account, once: a link used, expired or replaced by a newer
    one is refused, as is a weak password (and then the link still works)."""
    session = uow.session
    now = utcnow()
    request = session.scalar(
        select(PasswordResetRequest).where(PasswordResetRequest.token_sha256 == _sha256(token or ""))
    )
    if request is None or request.closed_at is not None or request.expires_at < now:
        raise BadRequest(
            "this reset link is used, expired or replaced by a newer one; ask for a new one",
            code="RESET_LINK_INVALID",
            fields={"token": ["Used, expired or replaced."]},
        )
    account = session.scalar(select(Account).where(Account.username == request.username))
    if account is None or not account.active:
        raise BadRequest(
            "this reset link is no longer valid",
            code="RESET_LINK_INVALID",
            fields={"token": ["The account is closed."]},
        )
    check_new_password(account.username, new)
    # One conditional update: the same link used twice at once changes the password once.
    closed = session.execute(
        update(PasswordResetRequest)
        .where(PasswordResetRequest.id == request.id, PasswordResetRequest.closed_at.is_(None))
        .values(closed_at=now)
    ).rowcount
    if closed != 1:
        raise BadRequest(
            "this reset link was used just now", code="RESET_LINK_INVALID", fields={"token": ["Used."]}
        )
    _replace_password(uow, account, new)
    # Its owner proved who they are: the failures that locked them out go.
    session.execute(delete(LoginFailure).where(LoginFailure.username == account.username))
