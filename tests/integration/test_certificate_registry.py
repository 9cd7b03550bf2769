"""The registry's rules on a real SQLite database, without the broker: a duplicate or a
replacement is issued only while its original stands, and a replacement supersedes the original
with its duplicates."""

import pytest
from sqlalchemy import func, select

from services.certificate import registry
from services.certificate.models import Certificate
from services.chassis.errors import Conflict
from tests.application_fixtures import valid_application

ORIGINAL = "MPEDA/2026/013/0000001A"
PDF = b"%PDF-1.7\n% a signed certificate stands in here\n%%EOF\n"


@pytest.fixture
def uow(unit_of_work):
    return unit_of_work("certificate")


def particulars(number, application_id, request_kind=None):
    return {
        "id": application_id,
        "number": number,
        "iec": "AAACM4821K",
        "agreement_code": "013",
        "agency_code": "MPEDA",
        "issuing_office_code": "MPEDA-KOCHI",
        "form": valid_application(),
        "request_kind": request_kind,
        "original_number": ORIGINAL if request_kind else None,
        "decided_by": "officer",
    }


def issue(uow, number, application_id, request_kind=None):
    certificate, new = registry.record_issue(
        uow, particulars(number, application_id, request_kind), {"name": "Malabar"}, PDF + number.encode()
    )
    uow.commit()
    return certificate, new


def statuses(uow):
    return dict(uow.session.execute(select(Certificate.number, Certificate.status)).all())


def test_a_replacement_supersedes_the_original_and_its_duplicates(uow):
    issue(uow, ORIGINAL, "a1")
    issue(uow, ORIGINAL + "/00000001", "a2", "duplicate")
    again, new = issue(uow, ORIGINAL + "/00000001", "a2", "duplicate")
    assert not new and again.number == ORIGINAL + "/00000001"
    issue(uow, ORIGINAL + "/00000002", "a3", "in_lieu")
    assert statuses(uow) == {
        ORIGINAL: "superseded",
        ORIGINAL + "/00000001": "superseded",
        ORIGINAL + "/00000002": "valid",
    }


@pytest.mark.parametrize(
    "request_kind, saw_the_original_valid",
    [(None, True), ("duplicate", True), ("in_lieu", True), ("in_lieu", False)],
)
def test_a_racing_second_issuance_finds_the_first_and_adds_nothing(
    uow, monkeypatch, request_kind, saw_the_original_valid
):
    """Two deliveries of one approval in flight at once. The second looked before the first
    committed: it found no certificate and (``saw_the_original_valid``) the original still valid,
    so it meets the first's row only at its insert (the unique application_id); or it looked at
    the original after the first in-lieu had superseded it, and finds the first certificate."""
    number = ORIGINAL + ("/00000001" if request_kind else "")
    if request_kind:
        issue(uow, ORIGINAL, "a1")
    first, _ = issue(uow, number, "a2", request_kind)
    # The racing delivery's first look finds nothing yet; later looks are the real ones.
    real_issued_for = registry.issued_for
    looks = []
    monkeypatch.setattr(
        registry,
        "issued_for",
        lambda session, application_id: (
            real_issued_for(session, application_id) if looks.append(1) or len(looks) > 1 else None
        ),
    )
    if saw_the_original_valid:
        monkeypatch.setattr(registry, "_check_original_valid", lambda session, number: None)
    again, new = issue(uow, number, "a2", request_kind)
    assert not new and again.id == first.id
    assert uow.session.scalar(select(func.count()).select_from(Certificate)) == (2 if request_kind else 1)
    assert statuses(uow)[number] == "valid"


@pytest.mark.parametrize("request_kind", ["duplicate", "in_lieu"])
def test_nothing_is_issued_from_an_original_revoked_meanwhile(uow, request_kind):
    original, _ = issue(uow, ORIGINAL, "a1")
    registry.revoke(uow, {"username": "admin", "role": "admin"}, original.id, "forged invoice")
    uow.commit()
    with pytest.raises(Conflict) as refused:
        issue(uow, ORIGINAL + "/00000001", "a2", request_kind)
    assert refused.value.code == "ORIGINAL_NOT_VALID"
    uow.rollback()
    assert statuses(uow) == {ORIGINAL: "revoked"}
