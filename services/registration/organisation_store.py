"""The organisation in registration's database: seeded from ``organisation.py``, then kept by
admins."""

from sqlalchemy import select

from services.chassis.errors import RuleViolation
from services.registration.models import Agency, IssuingOffice, RegionalOffice
from services.registration.organisation import SEED_AGENCIES, SEED_AGENCY_PANS, office_gstin


def seed_organisation(session) -> int:
    """Insert seed agencies and offices that are missing; never overwrite an admin's edits."""
    added = 0
    for agency in SEED_AGENCIES:
        if session.get(Agency, agency.code) is None:
            session.add(Agency(code=agency.code, name=agency.name))
            added += 1
        for region in agency.regional_offices:
            if session.get(RegionalOffice, region.code) is None:
                session.add(
                    RegionalOffice(
                        code=region.code, agency_code=agency.code, name=region.name, state=region.state
                    )
                )
                added += 1
            for office in region.issuing_offices:
                gstin = office_gstin(office.state, SEED_AGENCY_PANS[agency.code])
                row = session.get(IssuingOffice, office.code)
                if row is None:
                    session.add(
                        IssuingOffice(
                            code=office.code,
                            regional_office_code=region.code,
                            agency_code=agency.code,
                            name=office.name,
                            state=office.state,
                            address=office.address,
                            gstin=gstin,
                        )
                    )
                    added += 1
                elif row.gstin is None and row.state == office.state:
                    row.gstin = gstin  # offices seeded before GSTINs were kept
    return added


def list_agencies(session) -> list[dict]:
    """Agencies with their regional offices and issuing offices, as the application form needs."""
    agencies = session.scalars(select(Agency).order_by(Agency.code)).all()
    regions = session.scalars(select(RegionalOffice).order_by(RegionalOffice.code)).all()
    offices = session.scalars(select(IssuingOffice).order_by(IssuingOffice.code)).all()
    by_region: dict[str, list] = {}
    for o in offices:
        by_region.setdefault(o.regional_office_code, []).append(_office_view(o))
    by_agency: dict[str, list] = {}
    for r in regions:
        by_agency.setdefault(r.agency_code, []).append(
            {"code": r.code, "name": r.name, "state": r.state, "issuing_offices": by_region.get(r.code, [])}
        )
    return [{"code": a.code, "name": a.name, "regional_offices": by_agency.get(a.code, [])} for a in agencies]


def _office_view(office: IssuingOffice) -> dict:
    return {
        "code": office.code,
        "name": office.name,
        "state": office.state,
        "address": office.address,
        "gstin": office.gstin,
    }


def agency_and_office(session, agency_code, office_code) -> dict:
    """``{"agency": {code, name}, "office": {...}}`` for an issuing office of that agency, as
    ``list_agencies`` shows them; RuleViolation when the agency has no such office (a draft may
    name none yet)."""
    office = session.get(IssuingOffice, office_code or "")
    if office is None or office.agency_code != agency_code:
        raise RuleViolation(
            "the application names no known issuing office",
            code="OFFICE_UNKNOWN",
            fields={"issuing_office_code": ["Choose the agency's issuing office."]},
        )
    agency = session.get(Agency, agency_code)
    return {"agency": {"code": agency.code, "name": agency.name}, "office": _office_view(office)}
