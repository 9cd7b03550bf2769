"""The organisation kept by admins and agency admins: agencies, regional and issuing offices, and
staff accounts (agency admins, officers), each with a password sent by email.

``actor`` is the caller as the gateway verified it: ``{"username", "role", "agency"}``. An admin
manages everything; an agency admin only its own agency's offices and officers."""

import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from stdnum.in_ import gstin as gstin_rules

from services.chassis.database import utcnow
from services.chassis.errors import Conflict, Forbidden, NotFound, RuleViolation
from services.registration import accounts, policy
from services.registration.contact import email_normalised, mobile_e164
from services.registration.models import Account, Agency, IssuingOffice, RegionalOffice
from services.registration.organisation import GST_STATE_CODES, indian_state_codes

CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,31}$")
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")


def _checked(fields_and_errors):
    fields = {name: [message] for name, ok, message in fields_and_errors if not ok}
    if fields:
        raise RuleViolation("some fields are not valid", code="VALIDATION_FAILED", fields=fields)


def _agency(session, code) -> Agency:
    agency = session.get(Agency, code)
    if agency is None:
        raise NotFound(f"no agency {code}", code="AGENCY_UNKNOWN")
    return agency


def _add(session, row, what):
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"{what} exists already", code="ALREADY_EXISTS") from None


def _changed(uow, agency_code: str) -> None:
    """The organisation others read (the gateway caches the reference list of agencies and
    offices) changed: every gateway process hears it."""
    uow.emit("organisation_changed", {"agency_code": agency_code})


def create_agency(uow, actor, code, name):
    session = uow.session
    policy.require_admin(actor)
    _checked(
        [
            ("code", bool(CODE_RE.match(code)), "2-32 capitals, digits or dashes."),
            ("name", bool(name.strip()), "Required."),
        ]
    )
    if session.get(Agency, code) is not None:
        raise Conflict(f"agency {code} exists already", code="ALREADY_EXISTS")
    _add(session, Agency(code=code, name=name.strip()), f"agency {code}")
    _changed(uow, code)
    return {"code": code, "name": name.strip()}


def create_regional_office(uow, actor, agency_code, code, name, state):
    session = uow.session
    _agency(session, agency_code)
    policy.require_manager_of(actor, agency_code)
    _checked(
        [
            ("code", bool(CODE_RE.match(code)), "2-32 capitals, digits or dashes."),
            ("name", bool(name.strip()), "Required."),
            ("state", state in indian_state_codes(), "An Indian state code such as IN-KL."),
        ]
    )
    if session.get(RegionalOffice, code) or session.get(IssuingOffice, code):
        raise Conflict(f"office {code} exists already", code="ALREADY_EXISTS")
    _add(
        session,
        RegionalOffice(code=code, agency_code=agency_code, name=name.strip(), state=state),
        f"office {code}",
    )
    _changed(uow, agency_code)
    return {
        "kind": "regional",
        "code": code,
        "agency_code": agency_code,
        "name": name.strip(),
        "state": state,
    }


def create_issuing_office(uow, actor, regional_office_code, code, name, state, address, gstin=None):
    session = uow.session
    region = session.get(RegionalOffice, regional_office_code)
    if region is None:
        raise NotFound(f"no regional office {regional_office_code}", code="REGIONAL_OFFICE_UNKNOWN")
    policy.require_manager_of(actor, region.agency_code)
    gstin = gstin_rules.compact(gstin) if gstin else None
    _checked(
        [
            ("code", bool(CODE_RE.match(code)), "2-32 capitals, digits or dashes."),
            ("name", bool(name.strip()), "Required."),
            ("state", state in indian_state_codes(), "An Indian state code such as IN-KL."),
            (
                "gstin",
                gstin is None or (gstin_rules.is_valid(gstin) and gstin[:2] == GST_STATE_CODES.get(state)),
                "A valid GSTIN registered in the office's state.",
            ),
        ]
    )
    if session.get(RegionalOffice, code) or session.get(IssuingOffice, code):
        raise Conflict(f"office {code} exists already", code="ALREADY_EXISTS")
    _add(
        session,
        IssuingOffice(
            code=code,
            regional_office_code=region.code,
            agency_code=region.agency_code,
            name=name.strip(),
            state=state,
            address=address.strip(),
            gstin=gstin,
        ),
        f"office {code}",
    )
    _changed(uow, region.agency_code)
    return {
        "kind": "issuing",
        "code": code,
        "agency_code": region.agency_code,
        "regional_office_code": region.code,
        "name": name.strip(),
        "state": state,
        "address": address.strip(),
        "gstin": gstin,
    }


def list_offices(session, actor, agency_code=None):
    agency_code = policy.agency_scope(actor, agency_code)
    query = select(IssuingOffice).order_by(IssuingOffice.code)
    if agency_code:
        query = query.where(IssuingOffice.agency_code == agency_code)
    return [
        {
            "code": o.code,
            "name": o.name,
            "state": o.state,
            "address": o.address,
            "agency_code": o.agency_code,
            "regional_office_code": o.regional_office_code,
        }
        for o in session.scalars(query)
    ]


def create_staff(uow, actor, role, username, name, email, mobile, agency_code, issuing_office_code=None):
    """An officer (bound to one issuing office) or an agency admin (admins only); the password
    is generated and sent by email."""
    session = uow.session
    if role not in ("officer", "agency_admin"):
        raise Forbidden(f"staff accounts are officers or agency admins, not {role!r}", code="ROLE_FORBIDDEN")
    if role == "agency_admin":
        policy.require_admin(actor)
    _agency(session, agency_code)
    policy.require_manager_of(actor, agency_code)
    username = (username or "").strip().lower()
    _checked(
        [
            (
                "username",
                bool(USERNAME_RE.match(username)),
                "3-64 lower-case letters, digits, dots, dashes or underscores.",
            ),
            ("name", bool((name or "").strip()), "Required."),
            ("email", email_normalised(email) is not None, "Not a valid email address."),
            ("mobile", mobile_e164(mobile) is not None, "Not a valid mobile number."),
        ]
    )
    if role == "officer":
        office = session.get(IssuingOffice, issuing_office_code or "")
        if office is None:
            raise NotFound(f"no issuing office {issuing_office_code}", code="ISSUING_OFFICE_UNKNOWN")
        if office.agency_code != agency_code:
            raise RuleViolation(
                f"issuing office {office.code} belongs to {office.agency_code}, not {agency_code}",
                code="OFFICE_NOT_IN_AGENCY",
                fields={"issuing_office_code": ["Not an office of the agency."]},
            )
    else:
        issuing_office_code = None
    if session.scalar(select(Account.id).where(Account.username == username)) is not None:
        raise Conflict(f"username {username} is taken", code="USERNAME_TAKEN")
    password = accounts.new_password()
    account = Account(
        username=username,
        password_hash=accounts.HASHER.hash(password),
        role=role,
        name=name.strip(),
        email=email.strip(),
        mobile=mobile_e164(mobile),
        agency_code=agency_code,
        issuing_office_code=issuing_office_code,
        created_at=utcnow(),
    )
    _add(session, account, f"username {username}")
    uow.emit(
        "credentials_issued",
        {
            "username": username,
            "role": role,
            "name": account.name,
            "email": account.email,
            "mobile": account.mobile,
            "password": password,
            "reason": "staff_account",
        },
    )
    return staff_view(account)


def set_active(uow, actor, username, active: bool) -> dict:
    """Deactivate a staff account (an officer who left): it cannot log in, and its tokens stop
    working at once; or reactivate it (its password works again). An agency admin manages its
    own agency's officers, the admin everyone; nobody deactivates themselves."""
    account = uow.session.scalar(
        select(Account).where(
            Account.username == (username or "").strip().lower(),
            Account.role.in_(["officer", "agency_admin"]),
        )
    )
    if account is None:
        raise NotFound(f"no staff account {username}", code="STAFF_UNKNOWN")
    if account.role == "agency_admin":
        policy.require_admin(actor)
    policy.require_manager_of(actor, account.agency_code)
    if account.username == actor["username"]:
        raise Conflict("you cannot deactivate your own account", code="OWN_ACCOUNT")
    if account.active != active:
        account.active = active
        if not active:
            accounts.end_every_token(uow, account)
    return staff_view(account)


def staff_view(account: Account) -> dict:
    return {
        "username": account.username,
        "role": account.role,
        "name": account.name,
        "email": account.email,
        "mobile": account.mobile,
        "agency_code": account.agency_code,
        "issuing_office_code": account.issuing_office_code,
        "active": account.active,
    }


def list_staff(session, actor, role=None):
    agency_code = policy.agency_scope(actor)
    query = select(Account).where(Account.role.in_(["officer", "agency_admin"])).order_by(Account.username)
    if agency_code:
        query = query.where(Account.agency_code == agency_code)
    if role:
        query = query.where(Account.role == role)
    return [staff_view(a) for a in session.scalars(query)]


def office_contacts(session, office_code) -> dict:
    """An issuing office and how to reach its active officers, for notifications (an internal
    call between services: no actor). Officers are those of role "officer" bound to the office;
    a deactivated account is left out."""
    office = session.get(IssuingOffice, office_code or "")
    if office is None:
        raise NotFound(f"no issuing office {office_code}", code="ISSUING_OFFICE_UNKNOWN")
    officers = session.scalars(
        select(Account)
        .where(
            Account.role == "officer", Account.issuing_office_code == office.code, Account.active.is_(True)
        )
        .order_by(Account.username)
    ).all()
    return {
        "office": {
            "code": office.code,
            "name": office.name,
            "state": office.state,
            "agency_code": office.agency_code,
        },
        "officers": [
            {"username": a.username, "name": a.name, "email": a.email, "mobile": a.mobile} for a in officers
        ],
    }
