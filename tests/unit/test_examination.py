"""Turnaround arithmetic and statistics: percentiles by linear interpolation, per-office counts,
the window, the agency admin's scope; and which agreements allow self-certification."""

from datetime import timedelta

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from services.application import examination
from services.application.agreements import AGREEMENTS
from services.application.models import Application, Base
from services.chassis.database import utcnow
from services.chassis.errors import BadRequest, Forbidden

ADMIN = {"username": "admin", "role": "admin", "agency": None, "office": None}


@pytest.mark.parametrize(
    "values, q, expected",
    [
        ([], 50, None),
        ([7.0], 50, 7.0),
        ([7.0], 90, 7.0),
        ([3.0, 1.0, 2.0], 50, 2.0),  # unsorted input
        ([1.0, 2.0, 3.0], 90, 2.8),  # rank 1.8: 2 + 0.8 * (3 - 2)
        ([10.0, 20.0, 30.0, 40.0], 50, 25.0),  # an even count: the mean of the middle two
        ([10.0, 20.0, 30.0, 40.0], 90, 37.0),  # rank 2.7
        ([1.0, 2.0, 3.0], 0, 1.0),
        ([1.0, 2.0, 3.0], 100, 3.0),
    ],
)
def test_percentile_interpolates_between_the_closest_ranks(values, q, expected):
    result = examination.percentile(values, q)
    assert result == (pytest.approx(expected) if expected is not None else None)


def test_office_stats_counts_decisions_apart_from_self_certification():
    paid = utcnow() - timedelta(days=3)
    waiting = [("MPEDA", "MPEDA-KOCHI", 4), ("EIC", "EIC-MUMBAI", 1)]
    decided = [("MPEDA", "MPEDA-KOCHI", paid, paid + timedelta(hours=h), False) for h in (30, 6, 12)]
    decided.append(("MPEDA", "MPEDA-KOCHI", paid, paid, True))
    decided.append(("MPEDA", "MPEDA-CHENNAI", paid, paid + timedelta(minutes=90), False))
    offices = examination.office_stats(waiting, decided)
    assert [o["issuing_office_code"] for o in offices] == ["EIC-MUMBAI", "MPEDA-CHENNAI", "MPEDA-KOCHI"]
    eic, chennai, kochi = offices
    assert eic == {
        "issuing_office_code": "EIC-MUMBAI",
        "agency_code": "EIC",
        "waiting": 1,
        "decided": 0,
        "self_certified": 0,
        "turnaround_median_hours": None,
        "turnaround_p90_hours": None,
    }
    assert (chennai["waiting"], chennai["decided"], chennai["turnaround_median_hours"]) == (0, 1, 1.5)
    assert (kochi["waiting"], kochi["decided"], kochi["self_certified"]) == (4, 3, 1)
    assert kochi["turnaround_median_hours"] == 12.0  # of 6, 12 and 30 hours
    assert kochi["turnaround_p90_hours"] == 26.4  # rank 1.8: 12 + 0.8 * 18


@pytest.fixture
def session():
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        yield session
    engine.dispose()


def _application(session, agency, office, status, paid_hours_ago, decided_hours_ago=None, post_audit=False):
    now = utcnow()
    session.add(
        Application(
            id=f"{office}-{status}-{paid_hours_ago}-{decided_hours_ago}",
            iec="AAACM4821K",
            status=status,
            kind="preferential",
            agreement_code="013",
            agency_code=agency,
            issuing_office_code=office,
            data={},
            created_at=now,
            updated_at=now,
            paid_at=now - timedelta(hours=paid_hours_ago),
            post_audit=post_audit,
            decided_at=(now - timedelta(hours=decided_hours_ago) if decided_hours_ago is not None else None),
        )
    )


def test_stats_over_the_window_and_the_agency_admins_scope(session):
    # Kochi: three decisions of the last days taking 2, 5 and 11 hours from payment, one from
    # last year, one self-certified, and two waiting. Mumbai (EIC): one waiting.
    for paid_ago, decided_ago in ((50, 48), (29, 24), (13, 2)):
        _application(session, "MPEDA", "MPEDA-KOCHI", "approved", paid_ago, decided_ago)
    _application(session, "MPEDA", "MPEDA-KOCHI", "rejected", 24 * 400 + 5, 24 * 400)
    _application(session, "MPEDA", "MPEDA-KOCHI", "approved", 1, 1, post_audit=True)
    _application(session, "MPEDA", "MPEDA-KOCHI", "submitted", 3)
    _application(session, "MPEDA", "MPEDA-KOCHI", "submitted", 4)
    _application(session, "EIC", "EIC-MUMBAI", "submitted", 3)
    session.flush()

    result = examination.stats(session, ADMIN)
    assert result["days"] == 90
    mumbai, kochi = result["offices"]
    assert (mumbai["issuing_office_code"], mumbai["waiting"], mumbai["decided"]) == ("EIC-MUMBAI", 1, 0)
    assert (kochi["waiting"], kochi["decided"], kochi["self_certified"]) == (2, 3, 1)
    assert kochi["turnaround_median_hours"] == 5.0
    assert kochi["turnaround_p90_hours"] == 9.8  # rank 1.8: 5 + 0.8 * 6

    wide = examination.stats(session, ADMIN, days=366)["offices"][1]
    assert wide["decided"] == 3  # the decision of 400 days ago is outside even the widest window
    eic_admin = {"username": "eic.admin", "role": "agency_admin", "agency": "EIC", "office": None}
    assert [o["issuing_office_code"] for o in examination.stats(session, eic_admin)["offices"]] == [
        "EIC-MUMBAI"
    ]
    with pytest.raises(BadRequest):
        examination.stats(session, ADMIN, days=0)
    for actor in (
        {"username": "kochi.officer", "role": "officer", "agency": "MPEDA", "office": "MPEDA-KOCHI"},
        {"username": "AAACM4821K", "role": "exporter", "agency": None, "office": None},
    ):
        with pytest.raises(Forbidden):
            examination.stats(session, actor)


def test_only_ikcepa_allows_self_certification():
    assert [a.short_name for a in AGREEMENTS if a.allows_self_certification] == ["IKCEPA"]
