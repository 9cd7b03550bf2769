"""Reference data the application service owns: agreements, units, countries, currencies and the
HS nomenclature. Service-layer functions over a SQLAlchemy session; the rules themselves live in
``agreements.py``, ``units.py`` and ``hs.py``."""

from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache

import pycountry
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import aliased

from services.application import hs
from services.application.agreements import AGREEMENTS, agreement_as_dict
from services.application.models import AgreementRecord, ExchangeRate, HsCode, HsNomenclature
from services.application.units import UNITS
from services.chassis.database import utcnow
from services.chassis.errors import BadRequest, NotFound, RuleViolation
from services.chassis.timestamps import iso_z, today_in_india

NOT_LOADED_NOTE = (
    "No HS nomenclature is loaded: the code was checked for form and chapter "
    "only. An administrator loads one with `opencoo reference import-hs` or "
    "POST /api/v1/admin/reference/hs."
)


def seed_agreements(session) -> int:
    """Bring the agreement table up to the shipped reference data; returns rows written."""
    existing = {r.code: r for r in session.scalars(select(AgreementRecord))}
    written = 0
    for agreement in AGREEMENTS:
        data = agreement_as_dict(agreement)
        row = existing.get(agreement.code)
        if row is None:
            session.add(
                AgreementRecord(
                    code=agreement.code, short_name=agreement.short_name, data=data, updated_at=utcnow()
                )
            )
        elif row.data != data:
            row.data, row.short_name, row.updated_at = data, agreement.short_name, utcnow()
        else:
            continue
        written += 1
    return written


_agreements_cache: tuple = (None, [])


def list_agreements(session) -> list[dict]:
    """Served on every form load: decoded once per change of the table, which one cheap query on
    its count and last update detects (another process may have re-seeded it)."""
    global _agreements_cache
    version = tuple(session.execute(select(func.count(), func.max(AgreementRecord.updated_at))).one())
    if version != _agreements_cache[0]:
        rows = session.scalars(select(AgreementRecord).order_by(AgreementRecord.code))
        _agreements_cache = (version, [row.data for row in rows])
    return _agreements_cache[1]


def get_agreement(session, code: str) -> dict:
    row = session.get(AgreementRecord, code)
    if row is None:
        raise NotFound(f"no agreement with code {code!r}", code="AGREEMENT_UNKNOWN")
    return row.data


def list_units() -> list[dict]:
    return [{"code": code, "name": name} for code, name in UNITS]


@lru_cache(maxsize=1)
def list_countries() -> list[dict]:
    return [
        {"code": c.alpha_2, "alpha_3": c.alpha_3, "name": getattr(c, "common_name", c.name)}
        for c in sorted(pycountry.countries, key=lambda c: c.alpha_2)
    ]


@lru_cache(maxsize=1)
def list_currencies() -> list[dict]:
    return [
        {"code": c.alpha_3, "name": c.name} for c in sorted(pycountry.currencies, key=lambda c: c.alpha_3)
    ]


# --- HS nomenclature -------------------------------------------------------------------------


def _active(session) -> HsNomenclature | None:
    return session.scalar(select(HsNomenclature).where(HsNomenclature.active.is_(True)))


def nomenclature_status(session) -> dict:
    active = _active(session)
    if active is None:
        return {"loaded": False, "note": NOT_LOADED_NOTE}
    return {
        "loaded": True,
        "source": active.source,
        "codes": active.row_count,
        "activated_at": iso_z(active.activated_at),
    }


def lookup_hs(session, raw_code: str) -> dict:
    """Answer a chapter, heading, subheading or 8-digit tariff item (accepted when its 6-digit
    subheading exists). Without a nomenclature: form and chapter only, and the answer says so."""
    try:
        form = hs.check_form(raw_code)
    except hs.InvalidHsCode as exc:
        raise BadRequest(str(exc), code="HS_CODE_INVALID", fields={"code": [str(exc)]}) from None
    answer = {
        "code": form.code,
        "level": form.level,
        "kind": hs.LEVEL_NAMES[form.level],
        "chapter": form.chapter,
    }
    active = _active(session)
    if active is None:
        return {**answer, "verified": False, "note": NOT_LOADED_NOTE}

    known = form.code[:6] if form.level == 8 else form.code
    entry = session.get(HsCode, (active.id, known))
    if entry is None:
        what = f"subheading {known} of tariff item {form.code}" if form.level == 8 else form.code
        raise NotFound(
            f"HS code {what} is not in the loaded nomenclature ({active.source})", code="HS_CODE_UNKNOWN"
        )
    ancestors: list[dict] = []
    parent = entry.parent
    while parent:
        row = session.get(HsCode, (active.id, parent))
        if row is None:
            break
        ancestors.insert(0, {"code": row.code, "description": row.description})
        parent = row.parent
    answer.update(
        {
            "verified": True,
            "description": entry.description,
            "section": entry.section,
            "parent": entry.parent if form.level != 8 else entry.code,
            "ancestors": ancestors
            + ([{"code": entry.code, "description": entry.description}] if form.level == 8 else []),
            "nomenclature": active.source,
        }
    )
    if form.level == 8:
        answer["note"] = (
            f"8-digit ITC(HS) tariff item under subheading {entry.code}; national "
            "tariff-item descriptions are not loaded, the subheading's is shown."
        )
    return answer


def start_hs_import(session, source: str) -> int:
    # Imports that never finished (a client that died) are dropped when the next one starts.
    session.execute(
        delete(HsNomenclature).where(HsNomenclature.active.is_(False), HsNomenclature.activated_at.is_(None))
    )
    nomenclature = HsNomenclature(source=source[:200] or "upload", started_at=utcnow())
    session.add(nomenclature)
    session.flush()
    return nomenclature.id


def _pending(session, import_id) -> HsNomenclature:
    nomenclature = session.get(HsNomenclature, import_id)
    if nomenclature is None or nomenclature.activated_at is not None:
        raise NotFound(f"no HS import {import_id} in progress", code="HS_IMPORT_UNKNOWN")
    return nomenclature


def add_hs_rows(session, import_id: int, rows: list[list]) -> int:
    """Add rows ``[code, description, parent, level, section]`` to an import in progress. Each is
    checked for form here; parents are checked as a whole at activation."""
    _pending(session, import_id)
    errors = {}
    for i, row in enumerate(rows):
        try:
            code, description, parent, level, section = row
            form = hs.check_form(code)
            if form.code != code or form.level != int(level) or form.level == 8:
                raise hs.InvalidHsCode(f"level {level} does not fit code {code!r}")
            if (parent is None) != (form.level == 2) or (parent and not code.startswith(parent)):
                raise hs.InvalidHsCode(f"parent {parent!r} does not fit code {code!r}")
        except (ValueError, TypeError) as exc:
            errors[str(i)] = [str(exc)]
            if len(errors) >= hs.MAX_ERRORS:
                break
    if errors:
        raise RuleViolation("some HS rows are not valid", code="HS_ROWS_INVALID", fields=errors)
    session.execute(
        insert(HsCode),
        [
            {
                "nomenclature_id": import_id,
                "code": code,
                "description": description,
                "parent": parent,
                "level": int(level),
                "section": section,
            }
            for code, description, parent, level, section in rows
        ],
    )
    return len(rows)


def activate_hs_import(session, import_id: int) -> dict:
    """Switch lookups to this import if it is whole: not empty, and every code's parent present."""
    nomenclature = _pending(session, import_id)
    count = session.scalar(
        select(func.count()).select_from(HsCode).where(HsCode.nomenclature_id == import_id)
    )
    if not count:
        raise RuleViolation("the HS import has no rows", code="HS_IMPORT_EMPTY")
    parent = aliased(HsCode)
    orphans = session.scalars(
        select(HsCode.code)
        .where(HsCode.nomenclature_id == import_id, HsCode.parent.is_not(None))
        .outerjoin(parent, (parent.nomenclature_id == import_id) & (parent.code == HsCode.parent))
        .where(parent.code.is_(None))
        .limit(hs.MAX_ERRORS)
    ).all()
    if orphans:
        raise RuleViolation(
            "some HS codes have no parent in the file",
            code="HS_IMPORT_ORPHANS",
            fields={code: ["parent missing"] for code in orphans},
        )
    session.execute(delete(HsCode).where(HsCode.nomenclature_id != import_id))
    session.execute(delete(HsNomenclature).where(HsNomenclature.id != import_id))
    nomenclature.row_count = count
    nomenclature.active = True
    nomenclature.activated_at = utcnow()
    return nomenclature_status(session)


def entry_rows(entries: list[hs.HsEntry]) -> list[list]:
    """The wire form of parsed entries for ``add_hs_rows``."""
    return [[e.code, e.description, e.parent, e.level, e.section] for e in entries]


def import_hs_csv(session, text: str, source: str) -> dict:
    """A whole CSV in one go (the admin upload): parsed with line-numbered errors, then loaded."""
    try:
        entries = hs.parse_nomenclature(text)
    except hs.NomenclatureError as exc:
        raise RuleViolation(
            "the HS nomenclature file is not valid", code="HS_FILE_INVALID", fields={"file": exc.errors}
        ) from None
    import_id = start_hs_import(session, source)
    add_hs_rows(session, import_id, entry_rows(entries))
    return activate_hs_import(session, import_id)


def hs_exists(session, code: str) -> bool | None:
    """Whether an HS code is in the loaded nomenclature (an 8-digit tariff item when its 6-digit
    subheading is); None when no nomenclature is loaded, so callers check form only."""
    active = _active(session)
    if active is None:
        return None
    try:
        form = hs.check_form(code)
    except hs.InvalidHsCode:
        return False
    known = form.code[:6] if form.level == 8 else form.code
    return session.get(HsCode, (active.id, known)) is not None


# --- exchange rates ------------------------------------------------------------------------------


def exchange_rate_on(session, currency: str, on) -> Decimal | None:
    """INR per unit of ``currency`` in force on ``on``: the latest rate valid from that day or
    before. INR is 1."""
    if currency == "INR":
        return Decimal(1)
    rate = session.scalar(
        select(ExchangeRate.rate)
        .where(ExchangeRate.currency == currency, ExchangeRate.valid_from <= on)
        .order_by(ExchangeRate.valid_from.desc())
        .limit(1)
    )
    return Decimal(rate) if rate is not None else None


def set_exchange_rate(session, actor: str, currency: str, valid_from: str, rate: str) -> dict:
    fields = {}
    currency = (currency or "").upper()
    if pycountry.currencies.get(alpha_3=currency) is None or currency == "INR":
        fields["currency"] = ["An ISO 4217 currency other than INR."]
    try:
        day = date.fromisoformat(valid_from)
    except (TypeError, ValueError):
        fields["valid_from"] = ["A date like 2026-11-25."]
    try:
        value = Decimal(str(rate))
        if not value.is_finite() or value <= 0 or value > 1_000_000:
            raise InvalidOperation
    except InvalidOperation:
        fields["rate"] = ["INR per unit, a positive decimal such as 83.25."]
    if fields:
        raise BadRequest("the exchange rate is not valid", code="VALIDATION_ERROR", fields=fields)
    _check_start(session, currency, day)
    row = session.scalar(
        select(ExchangeRate).where(ExchangeRate.currency == currency, ExchangeRate.valid_from == day)
    )
    if row is None:
        row = ExchangeRate(currency=currency, valid_from=day)
        session.add(row)
    row.rate, row.set_by, row.set_at = str(value), actor, utcnow()
    return _rate_view(row)


FIRST_RATE_DAYS_BACK = 366  # invoices of the past year need a rate from their own date


def _check_start(session, currency: str, day: date) -> None:
    """A rate starts today or later: one starting earlier would change what past applications
    were worth. Only a currency's first rate may reach back (up to a year), since nothing was
    converted with that currency before it."""
    today = today_in_india()
    first = (
        session.scalar(
            select(func.count()).select_from(ExchangeRate).where(ExchangeRate.currency == currency)
        )
        == 0
    )
    earliest = today - timedelta(days=FIRST_RATE_DAYS_BACK) if first else today
    if day < earliest:
        reason = (
            f"A first rate of {currency} starts at most {FIRST_RATE_DAYS_BACK} days back ({earliest})."
            if first
            else f"Before today ({today}): {currency} has "
            "rates already, and past conversions stay as they were."
        )
        raise RuleViolation(
            "the exchange rate would start in the past",
            code="STARTS_IN_THE_PAST",
            fields={"valid_from": [reason]},
        )


def _rate_view(row) -> dict:
    return {
        "currency": row.currency,
        "valid_from": row.valid_from.isoformat(),
        "rate": row.rate,
        "set_by": row.set_by,
        "set_at": row.set_at.isoformat() + "Z",
    }


def list_exchange_rates(session, currency: str | None = None) -> list[dict]:
    query = select(ExchangeRate).order_by(ExchangeRate.currency, ExchangeRate.valid_from.desc())
    if currency:
        query = query.where(ExchangeRate.currency == currency.upper())
    return [_rate_view(r) for r in session.scalars(query)]


def exchange_rates_on(session, on: date) -> dict:
    """The rate of every currency in force on ``on`` (the invoice date): the ones an exporter's
    FOB in INR is checked against at submission, so the form can show the same figure first."""
    currencies = session.scalars(
        select(ExchangeRate.currency)
        .where(ExchangeRate.valid_from <= on)
        .distinct()
        .order_by(ExchangeRate.currency)
    ).all()
    rates = []
    for currency in currencies:
        row = session.scalar(
            select(ExchangeRate)
            .where(ExchangeRate.currency == currency, ExchangeRate.valid_from <= on)
            .order_by(ExchangeRate.valid_from.desc())
            .limit(1)
        )
        rates.append({"currency": row.currency, "rate": row.rate, "valid_from": row.valid_from.isoformat()})
    return {"on": on.isoformat(), "rates": rates}
