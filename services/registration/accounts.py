"""People's accounts: passwords (argon2id), the first admin, login with an arithmetic captcha."""
import re
import secrets
import uuid
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update

from services.chassis.database import utcnow
from services.chassis.errors import BadRequest, RateLimited, RuleViolation, Unauthorized
from services.contracts import tokens
from services.registration.models import Account, Captcha, LoginFailure

# OWASP's minimum for argon2id: m=19 MiB, t=2, p=1 (DESIGN.md §9).
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
    generated = None if password else new_password()
    session.add(Account(username="admin", password_hash=HASHER.hash(password or generated),
                        role="admin", created_at=utcnow()))
    return generated


def set_password(session, username: str, password: str):
    account = session.scalar(select(Account).where(Account.username == username))
    if account is None:
        raise BadRequest(f"no account {username!r}", code="ACCOUNT_UNKNOWN")
    account.password_hash = HASHER.hash(password)


def new_captcha(session) -> dict:
    a, b = secrets.randbelow(9) + 1, secrets.randbelow(9) + 1
    captcha = Captcha(id=str(uuid.uuid4()), answer=a + b, expires_at=utcnow() + CAPTCHA_LIFETIME)
    session.add(captcha)
    return {"captcha_id": captcha.id, "question": f"{a} + {b}",
            "expires_in": int(CAPTCHA_LIFETIME.total_seconds())}


def consume_captcha(session, captcha_id: str, answer) -> None:
    """A captcha answers once, right or wrong, and only before it expires."""
    now = utcnow()
    # One conditional update: two logins racing with the same captcha cannot both spend it.
    spent = session.execute(update(Captcha).where(
        Captcha.id == str(captcha_id), Captcha.used_at.is_(None), Captcha.expires_at >= now)
        .values(used_at=now)).rowcount
    if spent != 1:
        raise BadRequest("the captcha is unknown, used or expired; ask for a new one",
                         code="CAPTCHA_EXPIRED", fields={"captcha_id": ["Ask for a new captcha."]})
    captcha = session.get(Captcha, str(captcha_id))
    if str(answer).strip() != str(captcha.answer):
        raise BadRequest("the captcha answer is wrong", code="CAPTCHA_INVALID",
                         fields={"captcha_answer": ["Wrong answer."]})


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
    token, expires_in = tokens.issue(private_key_pem, account.username, account.role,
                                     agency=account.agency_code, office=account.issuing_office_code)
    return {"access_token": token, "token_type": "Bearer", "expires_in": expires_in,
            "role": account.role}


# --- lockout -----------------------------------------------------------------------------------

FAILURE_WINDOW = timedelta(minutes=15)
MAX_ACCOUNT_FAILURES = 5
# An address may try several accounts (an office behind one NAT), but not many.
MAX_ADDRESS_FAILURES = 20


def _retry_after(oldest: datetime) -> int:
    return max(1, int((oldest + FAILURE_WINDOW - utcnow()).total_seconds()) + 1)


def refuse_if_locked(session, username: str, address: str):
    since = utcnow() - FAILURE_WINDOW
    for column, value, limit, code, what in (
            (LoginFailure.username, username, MAX_ACCOUNT_FAILURES, "ACCOUNT_LOCKED",
             "this account"),
            (LoginFailure.address, address, MAX_ADDRESS_FAILURES, "TOO_MANY_ATTEMPTS",
             "this address")):
        recent = session.scalars(select(LoginFailure.failed_at).where(
            column == value, LoginFailure.failed_at > since)
            .order_by(LoginFailure.failed_at.desc()).limit(limit)).all()
        if len(recent) >= limit:
            wait = _retry_after(recent[-1])
            raise RateLimited(f"too many failed logins for {what}; try again in "
                              f"{(wait + 59) // 60} minute(s)", code=code,
                              extra={"retry_after": wait})


def record_failure(session, username: str | None, address: str):
    session.add(LoginFailure(username=username, address=address, failed_at=utcnow()))
    # Old rows are no use to any window.
    session.execute(delete(LoginFailure).where(LoginFailure.failed_at < utcnow() - 2 * FAILURE_WINDOW))


def clear_failures(session, username: str):
    session.execute(delete(LoginFailure).where(LoginFailure.username == username))


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
        raise RuleViolation("the new password is too weak", code="PASSWORD_WEAK",
                            fields={"new_password": problems})


def change_password(session, username: str, current: str, new: str):
    account = authenticate(session, username, current)
    check_new_password(username, new)
    if current == new:
        raise RuleViolation("the new password must differ from the current one",
                            code="PASSWORD_WEAK", fields={"new_password": ["Same as now."]})
    account.password_hash = HASHER.hash(new)


def reset_password(uow, username: str, email: str) -> None:
    """Forgot password: a new password goes to the account's own email. The answer is the same
    whether or not the username and email match, so it tells nothing about accounts."""
    account = uow.session.scalar(select(Account).where(Account.username == username.strip()))
    if (account is None or not account.active or not account.email
            or email.strip().casefold() != account.email.casefold()):
        return
    password = new_password()
    account.password_hash = HASHER.hash(password)
    uow.emit("credentials_issued", {"username": account.username, "role": account.role,
                                    "name": account.name or account.username,
                                    "email": account.email, "mobile": account.mobile,
                                    "password": password, "reason": "password_reset"})
