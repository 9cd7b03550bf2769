"""Who may do what, decided by each service's policy module from the contracts' Actor and Role.
Plain Python: the predicates over actors and records, without a database."""

from types import SimpleNamespace

import pytest

from services.application import policy as applications
from services.chassis.errors import Forbidden, NotFound
from services.contracts.actors import agency_scope, is_staff, manages_agency, system_actor
from services.payment import policy as payments
from services.registration import policy as organisation


def actor(role, username="someone", agency=None, office=None):
    return {"username": username, "role": role, "agency": agency, "office": office}


EXPORTER = actor("exporter", "AAACM4821K")
OFFICER = actor("officer", "kochi.officer", "MPEDA", "MPEDA-KOCHI")
AGENCY_ADMIN = actor("agency_admin", "mpeda.admin", "MPEDA")
ADMIN = actor("admin", "admin")


def test_staff_and_who_manages_an_agency():
    assert is_staff(ADMIN) and is_staff(AGENCY_ADMIN)
    assert not is_staff(actor("agency_admin")) and not is_staff(OFFICER)
    assert manages_agency(ADMIN, "EIC") and manages_agency(AGENCY_ADMIN, "MPEDA")
    assert not manages_agency(AGENCY_ADMIN, "EIC") and not manages_agency(OFFICER, "MPEDA")
    assert not manages_agency(actor("agency_admin"), None)  # no agency manages nothing
    assert agency_scope(ADMIN, "EIC") == "EIC" and agency_scope(ADMIN) is None
    assert agency_scope(AGENCY_ADMIN, "EIC") == "MPEDA"


@pytest.mark.parametrize(
    "who, status, seen",
    [
        (EXPORTER, "draft", True),
        (actor("exporter", "OTHER00000"), "submitted", False),
        (OFFICER, "submitted", True),
        (OFFICER, "draft", False),
        (actor("officer", office="EIC-CHENNAI"), "submitted", False),
        (AGENCY_ADMIN, "submitted", False),
        (ADMIN, "submitted", False),
        (system_actor("payment"), "submitted", False),
    ],
)
def test_who_sees_an_application(who, status, seen):
    application = SimpleNamespace(iec="AAACM4821K", issuing_office_code="MPEDA-KOCHI", status=status)
    assert applications.may_see(who, application) is seen


def test_what_is_refused_is_not_found_or_forbidden_as_before():
    with pytest.raises(NotFound):
        applications.require_exporter(OFFICER)
    with pytest.raises(NotFound):
        applications.require_officer(ADMIN)
    with pytest.raises(Forbidden):
        applications.require_staff(OFFICER)
    with pytest.raises(Forbidden) as refused:
        organisation.require_manager_of(AGENCY_ADMIN, "EIC")
    assert refused.value.code == "AGENCY_FORBIDDEN"
    with pytest.raises(Forbidden) as refused:
        payments.require_manager_of(AGENCY_ADMIN, "EIC")
    assert refused.value.code == "FORBIDDEN"
    assert organisation.agency_scope(AGENCY_ADMIN, "EIC") == "MPEDA"


def test_who_sees_a_receipt():
    payment = SimpleNamespace(iec="AAACM4821K", parties={"issuing_office": {"code": "MPEDA-KOCHI"}})
    assert payments.may_see_receipt(EXPORTER, payment)
    assert payments.may_see_receipt(OFFICER, payment)
    assert not payments.may_see_receipt(actor("officer", office="EIC-CHENNAI"), payment)
    assert not payments.may_see_receipt(ADMIN, payment)
