"""Approving a duplicate or an in-lieu request on a real SQLite database, without the broker: it
is refused while its original is not valid in the registry, or while another in-lieu of the same
original is approved and about to supersede it (the registry would then issue nothing from it)."""

import uuid

import pytest

from services.application import examination
from services.application.models import Application
from services.chassis.database import utcnow
from services.chassis.errors import Conflict
from tests.application_fixtures import valid_application

ORIGINAL = "MPEDA/2026/013/0000001A"
OFFICER = {"username": "kochi.officer", "role": "officer", "agency": "MPEDA", "office": "MPEDA-KOCHI"}


@pytest.fixture
def uow(unit_of_work):
    return unit_of_work("application")


def add(uow, status, number, request_kind=None, original_id=None) -> str:
    now = utcnow()
    application = Application(
        id=str(uuid.uuid4()),
        iec="AAACM4821K",
        status=status,
        kind="preferential",
        agreement_code="013",
        agency_code="MPEDA",
        issuing_office_code="MPEDA-KOCHI",
        number=number,
        data=valid_application(),
        created_at=now,
        updated_at=now,
        submitted_at=now,
        paid_at=now,
        request_kind=request_kind,
        original_application_id=original_id,
        original_number=ORIGINAL if request_kind else None,
    )
    uow.session.add(application)
    uow.commit()
    return application.id


def status(uow, application_id) -> str:
    return uow.session.get(Application, application_id, populate_existing=True).status


def test_a_request_is_not_approved_while_an_in_lieu_of_its_original_awaits_issuance(uow):
    original = add(uow, "issued", ORIGINAL)
    duplicate = add(uow, "submitted", ORIGINAL + "/00000001", "duplicate", original)
    second_in_lieu = add(uow, "submitted", ORIGINAL + "/00000003", "in_lieu", original)
    add(uow, "approved", ORIGINAL + "/00000002", "in_lieu", original)  # not issued yet
    for request in (duplicate, second_in_lieu):
        with pytest.raises(Conflict) as refused:
            examination.approve(uow, OFFICER, request, original_status="valid")
        assert refused.value.code == "ORIGINAL_NOT_VALID"
        assert f"being replaced by {ORIGINAL}/00000002" in str(refused.value)
        uow.rollback()
        assert status(uow, request) == "submitted"


@pytest.mark.parametrize("original_status", ["revoked", "superseded", None])
def test_a_request_is_not_approved_from_an_original_no_longer_valid(uow, original_status):
    original = add(uow, "issued", ORIGINAL)
    duplicate = add(uow, "submitted", ORIGINAL + "/00000001", "duplicate", original)
    with pytest.raises(Conflict) as refused:
        examination.approve(uow, OFFICER, duplicate, original_status=original_status)
    assert refused.value.code == "ORIGINAL_NOT_VALID"
    assert (original_status or "not in the registry") in str(refused.value)
    uow.rollback()
    assert status(uow, duplicate) == "submitted"
    examination.approve(uow, OFFICER, duplicate, original_status="valid")  # and once it stands
    uow.commit()
    assert status(uow, duplicate) == "approved"
