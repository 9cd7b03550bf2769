"""Application numbers: ``{AGENCY}/{YEAR}/{SCHEME}/{SEQ:07d}A``, consecutive per agency, India's
year and scheme, given at submission (architecture §4). Plain Python over the unit of work."""

from datetime import timezone

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from services.application.models import NumberSequence
from services.chassis.timestamps import INDIA

NON_PREFERENTIAL_SCHEME = "000"  # our own code: non-preferential certificates name no agreement


def next_number(session, application, now) -> str:
    """``{AGENCY}/{YEAR}/{SCHEME}/{SEQ:07d}A``; the sequence row is updated in the submitting
    transaction, so numbers are consecutive and a rolled-back submission gives its number back."""
    year = now.replace(tzinfo=timezone.utc).astimezone(INDIA).year
    scheme = application.agreement_code or NON_PREFERENTIAL_SCHEME
    key = {"agency_code": application.agency_code, "year": year, "scheme": scheme}
    if session.get(NumberSequence, (application.agency_code, year, scheme)) is None:
        # First of its kind: concurrent submitters may race to create the row.
        dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
        session.execute(dialect.insert(NumberSequence).values(**key, last=0).on_conflict_do_nothing())
    session.execute(update(NumberSequence).filter_by(**key).values(last=NumberSequence.last + 1))
    last = session.scalar(select(NumberSequence.last).filter_by(**key))
    return f"{application.agency_code}/{year}/{scheme}/{last:07d}A"
