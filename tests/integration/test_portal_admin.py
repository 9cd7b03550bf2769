"""The agency admin's and the admin's screens in the portal, over HTTP as a browser without
JavaScript uses them: each screen for those two roles and no other, each form changing what the
API shows afterwards, a refusal shown at its field with nothing changed, and a form without its
CSRF token refused with nothing changed. What changed is read from the API, not from the
portal's own pages."""

import re
import xml.etree.ElementTree as ElementTree
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta

import pytest
import requests

from portal.views.admin import turnaround_chart
from tests.conftest import ADMIN_PASSWORD, login, mail_text
from tests.exporters import IEC
from tests.integration.test_applications import world  # noqa: F401  (a fixture)
from tests.integration.test_portal import (
    hidden,
    log_in,
    portal_port,  # noqa: F401  (a fixture)
    portal_serving,
)
from tests.staff import make_staff

SCREENS = (
    "/admin/offices",
    "/admin/fees",
    "/admin/exchange-rates",
    "/admin/approved-exporters",
    "/admin/revocation",
    "/admin/hs",
    "/admin/statistics",
)
SVG = "{http://www.w3.org/2000/svg}"
# past any day boundary in India (ahead of UTC): a day the API takes as "today or later"
SOON = (date.today() + timedelta(days=2)).isoformat()


@dataclass
class Desk:
    """The platform behind its portal, with a browser logged in for each staff role and the
    same people's API tokens, to check what the portal's forms changed."""

    base: str
    tokens: dict[str, str]
    browsers: dict[str, requests.Session] = field(default_factory=dict)

    def api(self, method, path, role="admin", **kwargs):
        headers = {"Authorization": f"Bearer {self.tokens[role]}"}
        answer = requests.request(method, self.base + path, headers=headers, timeout=30, **kwargs)
        assert answer.status_code < 300, answer.text
        return answer.json() if answer.content else None

    def items(self, path, role="admin", **params):
        return self.api("GET", path, role, params={"per_page": 500, **params})["items"]

    def get(self, path, role="admin", **params):
        return self.browsers[role].get(self.base + path, params=params, timeout=30, allow_redirects=False)

    def post(self, path, role="admin", csrf=True, files=None, **form):
        browser = self.browsers[role]
        if csrf:
            form["csrf_token"] = hidden(browser.get(self.base + "/dashboard", timeout=30).text, "csrf_token")
        return browser.post(self.base + path, data=form, files=files, timeout=60, allow_redirects=False)


def staff_member(base, mailbox, username, **where) -> tuple[str, str]:
    """A new officer (``office=``) or agency admin: its API token and its password."""
    token = make_staff(base, mailbox, username, **where)
    mail = mailbox.wait_for(lambda m: f"{username}@" in m["To"].lower())[0]
    return token, re.search(r"Password:\s*(\S+)", mail_text(mail)).group(1)


@contextmanager
def desk_at(base, portal_port, mailbox):
    people = {
        "admin": ("admin", login(base, "admin", ADMIN_PASSWORD), ADMIN_PASSWORD),
        "agency_admin": ("mpeda.admin", *staff_member(base, mailbox, "mpeda.admin", agency="MPEDA")),
        "officer": ("kochi.officer", *staff_member(base, mailbox, "kochi.officer", office="MPEDA-KOCHI")),
    }
    desk = Desk(base, {role: token for role, (_, token, _) in people.items()})
    with portal_serving(portal_port):
        for role, (username, _, password) in people.items():
            desk.browsers[role] = requests.Session()
            assert log_in(desk.browsers[role], base, username, password).status_code == 303
        yield desk


@pytest.fixture
def desk(portal_port, platform, smtp_mailbox):
    with desk_at(platform(), portal_port, smtp_mailbox) as desk:
        yield desk


def refused_at(page, field_id: str, status: int | tuple = (400, 422)):
    """The API's refusal on the page: the status, the summary, and the field marked with its
    message next to it."""
    assert page.status_code in ((status,) if isinstance(status, int) else status), page.text
    assert 'role="alert"' in page.text
    tag = re.search(rf'<(input|select|textarea) id="{field_id}"[^>]*>', page.text).group(0)
    assert 'aria-invalid="true"' in tag and f"{field_id}-problem" in tag, tag
    assert f'id="{field_id}-problem"' in page.text


def forged(page):
    assert page.status_code == 403 and "nothing was changed" in page.text


def test_each_screen_is_for_the_admin_and_the_agency_admin_only(desk):
    for role in ("admin", "agency_admin"):
        dashboard = desk.get("/dashboard", role)
        assert "still to come" not in dashboard.text
        for path in SCREENS:
            assert f'href="{path}"' in dashboard.text
            page = desk.get(path, role)
            assert page.status_code == 200, (role, path, page.text)
            assert '<link rel="stylesheet" href="/static/admin.css">' in page.text
            assert "style=" not in page.text and "<script>" not in page.text  # the CSP allows neither
    for path in SCREENS:
        assert desk.get(path, "officer").status_code == 403
        assert requests.get(desk.base + path, timeout=10, allow_redirects=False).status_code == 302
    for path in (
        "/admin/offices",
        "/admin/fees",
        "/admin/exchange-rates",
        "/admin/approved-exporters",
        "/admin/hs",
    ):
        assert desk.post(path, "officer").status_code == 403


def test_offices_regional_then_issuing_and_the_agency_admin_keeps_to_its_agency(desk):
    def offices():
        return {
            (region["code"], office["code"])
            for agency in desk.items("/api/v1/admin/agencies")
            for region in agency["regional_offices"]
            for office in region["issuing_offices"] or [{"code": None}]
        }

    own = desk.get("/admin/offices", "agency_admin")
    assert "MPEDA-KOCHI" in own.text and "DGFT-MUMBAI" not in own.text  # its own agency only
    before = offices()
    regional = {"kind": "regional", "code": "MPEDA-RO-GOA", "name": "MPEDA Goa", "state": "IN-GA"}
    forged(desk.post("/admin/offices", csrf=False, agency_code="MPEDA", **regional))
    refused_at(desk.post("/admin/offices", agency_code="MPEDA", **{**regional, "state": "Goa"}), "state")
    assert offices() == before
    assert desk.post("/admin/offices", agency_code="MPEDA", **regional).status_code == 303
    issuing = {"kind": "issuing", "code": "MPEDA-PANAJI", "name": "MPEDA Panaji", "state": "IN-GA"}
    other_agency = desk.post(
        "/admin/offices", "agency_admin", regional_office_code="DGFT-RO-MUMBAI", **issuing
    )
    assert other_agency.status_code == 403 and 'role="alert"' in other_agency.text
    made = desk.post(
        "/admin/offices", "agency_admin", regional_office_code="MPEDA-RO-GOA", address="Panaji", **issuing
    )
    assert made.status_code == 303 and made.headers["Location"] == "/admin/offices"
    assert offices() == before | {("MPEDA-RO-GOA", "MPEDA-PANAJI")}
    assert "MPEDA Panaji" in desk.get("/admin/offices", "agency_admin").text


def test_a_window_of_the_fee_schedule(desk):
    def windows():
        return [
            (w["agency_code"], w["service"], w["base_paise"], w["valid_from"])
            for w in desk.items("/api/v1/admin/fees")
        ]

    before = windows()
    window = {"agency_code": "MPEDA", "service": "duplicate", "gst_rate": "18", "valid_from": SOON}
    forged(desk.post("/admin/fees", csrf=False, base_rupees="300.50", **window))
    refused_at(desk.post("/admin/fees", base_rupees="three hundred", **window), "base_paise")
    yesterday = (date.today() - timedelta(days=2)).isoformat()
    refused_at(
        desk.post("/admin/fees", base_rupees="300.50", **{**window, "valid_from": yesterday}), "valid_from"
    )
    other_agency = desk.post(
        "/admin/fees", "agency_admin", base_rupees="300.50", **{**window, "agency_code": "DGFT"}
    )
    assert other_agency.status_code == 403
    assert windows() == before
    made = desk.post("/admin/fees", "agency_admin", base_rupees="300.50", **window)
    assert made.status_code == 303
    assert sorted(windows()) == sorted(before + [("MPEDA", "duplicate", 30050, SOON)])
    assert "300.50" in desk.get("/admin/fees", "agency_admin").text


def test_exchange_rates_set_by_the_admin_and_read_by_the_agency_admin(desk):
    def rates():
        return [
            (r["currency"], r["valid_from"], r["rate"]) for r in desk.items("/api/v1/admin/exchange-rates")
        ]

    before = rates()
    forged(desk.post("/admin/exchange-rates", csrf=False, currency="EUR", valid_from=SOON, rate="90.25"))
    refused_at(desk.post("/admin/exchange-rates", currency="EUR", valid_from=SOON, rate="-1"), "rate")
    read_only = desk.get("/admin/exchange-rates", "agency_admin")
    assert read_only.status_code == 200 and 'name="rate"' not in read_only.text
    refused = desk.post(
        "/admin/exchange-rates", "agency_admin", currency="EUR", valid_from=SOON, rate="90.25"
    )
    assert refused.status_code == 403 and 'role="alert"' in refused.text
    assert rates() == before
    assert (
        desk.post("/admin/exchange-rates", currency="EUR", valid_from=SOON, rate="90.25").status_code == 303
    )
    assert ("EUR", SOON, "90.25") in rates() and len(rates()) == len(before) + 1
    assert "90.25" in desk.get("/admin/exchange-rates", "agency_admin").text


def test_approved_exporters_granted_and_ended(desk, smtp_mailbox, tmp_path, platform_env):
    from tests.exporters import registered_exporter

    registered_exporter(desk.base, smtp_mailbox, tmp_path, platform_env)

    def approved():
        return {(a["agency_code"], a["iec"]) for a in desk.items("/api/v1/admin/self-certification")}

    forged(desk.post("/admin/approved-exporters", "agency_admin", csrf=False, iec=IEC, agency_code="MPEDA"))
    refused_at(
        desk.post("/admin/approved-exporters", "agency_admin", iec="short", agency_code="MPEDA"), "iec"
    )
    assert approved() == set()
    made = desk.post("/admin/approved-exporters", "agency_admin", iec=IEC.lower(), agency_code="MPEDA")
    assert made.status_code == 303
    assert approved() == {("MPEDA", IEC)}
    listed = desk.get("/admin/approved-exporters", "agency_admin")
    assert f"/admin/approved-exporters/MPEDA/{IEC}/end" in listed.text
    forged(desk.post(f"/admin/approved-exporters/MPEDA/{IEC}/end", csrf=False))
    assert approved() == {("MPEDA", IEC)}
    assert desk.post(f"/admin/approved-exporters/MPEDA/{IEC}/end").status_code == 303
    assert approved() == set()
    # the same button again at once is the same request (a double click): the same answer
    assert desk.post(f"/admin/approved-exporters/MPEDA/{IEC}/end").status_code == 303
    assert approved() == set()
    # someone else ending it after: the API's refusal, on the page
    again = desk.post(f"/admin/approved-exporters/MPEDA/{IEC}/end", "agency_admin")
    assert again.status_code == 404 and 'role="alert"' in again.text


TINY_NOMENCLATURE = (
    b"section,hscode,description,parent,level\nI,03,Fish and crustaceans,TOTAL,2\nI,0306,Crustaceans,03,4\n"
)


def test_the_hs_nomenclature_upload_works_without_javascript(desk):
    def loaded():
        return desk.api("GET", "/api/v1/reference/hs")

    page = desk.get("/admin/hs")
    assert (
        'enctype="multipart/form-data"' in page.text and '<script src="/static/admin.js" defer>' in page.text
    )
    script = requests.get(desk.base + "/static/admin.js", timeout=10)
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert 'upload.addEventListener("progress"' in script.text
    before = loaded()
    forged(desk.post("/admin/hs", csrf=False, files={"file": ("hs.csv", TINY_NOMENCLATURE, "text/csv")}))
    refused_at(desk.post("/admin/hs", files={"file": ("hs.csv", b"\xff\xfe not UTF-8", "text/csv")}), "file")
    refused_at(desk.post("/admin/hs"), "file")  # no file chosen
    assert 'name="file"' not in desk.get("/admin/hs", "agency_admin").text  # the admin's alone
    refused = desk.post(
        "/admin/hs", "agency_admin", files={"file": ("hs.csv", TINY_NOMENCLATURE, "text/csv")}
    )
    assert refused.status_code == 403
    assert loaded() == before
    made = desk.post("/admin/hs", files={"file": ("tiny-hs.csv", TINY_NOMENCLATURE, "text/csv")})
    assert made.status_code == 303, made.text
    now = loaded()
    assert now["loaded"] and now["source"] == "tiny-hs.csv" and now["codes"] == 2
    assert "tiny-hs.csv" in desk.get("/admin/hs", "agency_admin").text


def test_statistics_refuse_a_window_the_api_refuses(desk):
    page = desk.get("/admin/statistics", "agency_admin", days="30")
    assert page.status_code == 200 and "<table>" in page.text
    refused = desk.get("/admin/statistics", days="0")
    assert refused.status_code == 400 and 'role="alert"' in refused.text
    assert re.search(r'<input id="days"[^>]*aria-invalid="true"', refused.text)


def bars(html: str) -> dict[str, float]:
    """The chart's bars by office, from the page's inline SVG, parsed as XML."""
    svg = ElementTree.fromstring(re.search(r"<svg.*?</svg>", html, re.S).group(0))
    assert svg.get("role") == "img" and svg.find(f"{SVG}title").text
    return {rect.get("data-office"): float(rect.get("width")) for rect in svg.iter(f"{SVG}rect")}


def test_the_chart_draws_each_office_in_proportion():
    offices = [
        {"issuing_office_code": code, "turnaround_median_hours": hours}
        for code, hours in (("MPEDA-KOCHI", 10.0), ("MPEDA-CHENNAI", 25.0), ("DGFT-PUNE", None), ("X", 5.0))
    ]
    chart = turnaround_chart(offices)
    widths = {bar["office"]: bar["width"] for bar in chart["bars"]}
    assert widths["DGFT-PUNE"] == 0 and widths["MPEDA-CHENNAI"] > 0
    assert widths["MPEDA-KOCHI"] / widths["MPEDA-CHENNAI"] == pytest.approx(10 / 25)
    assert widths["X"] / widths["MPEDA-CHENNAI"] == pytest.approx(5 / 25)
    assert turnaround_chart([])["bars"] == []


def paid_earlier(application_id, hours):
    """Move an application's payment back, so that its turnaround is hours, not the test's
    seconds (which the statistics round to 0.0)."""
    from sqlalchemy.orm import Session

    from services.application.models import Application
    from services.chassis.config import database_url
    from services.chassis.database import make_engine

    engine = make_engine(database_url("application"))
    try:
        with Session(engine) as session, session.begin():
            application = session.get(Application, application_id)
            application.paid_at -= timedelta(hours=hours)
    finally:
        engine.dispose()


def test_an_issued_certificate_revoked_and_its_office_in_the_statistics(portal_port, world, smtp_mailbox):
    from tests.conftest import wait_until
    from tests.integration.test_examination import CHENNAI, decide, paid
    from tests.integration.test_payments import status_of

    application_id = paid(world)
    paid(world, **CHENNAI)  # waits in Chennai's queue: an office with no turnaround yet
    with desk_at(world["base"], portal_port, smtp_mailbox) as desk:
        assert decide(world, desk.tokens["officer"], application_id, "approve").status_code == 200
        wait_until(lambda: status_of(world, application_id) == "issued", timeout=60, what="issued")
        paid_earlier(application_id, hours=5)
        number = next(
            c["number"] for c in desk.items("/api/v1/certificates") if c["application_id"] == application_id
        )

        def verified():
            return requests.get(desk.base + "/api/v1/verify", params={"number": number}, timeout=10).json()

        # the statistics: one bar per office the API counts, in proportion to its hours
        stats = desk.api("GET", "/api/v1/admin/stats", "agency_admin")["offices"]
        assert {office["issuing_office_code"] for office in stats} == {"MPEDA-KOCHI", "MPEDA-CHENNAI"}
        page = desk.get("/admin/statistics", "agency_admin")
        drawn = bars(page.text)
        assert set(drawn) == {office["issuing_office_code"] for office in stats}
        hours = {o["issuing_office_code"]: o["turnaround_median_hours"] or 0 for o in stats}
        longest = max(hours, key=hours.get)
        assert hours[longest] > 0
        for office, width in drawn.items():
            assert width / drawn[longest] == pytest.approx(hours[office] / hours[longest], rel=1e-3)

        # revocation: found by number, refused without a reason, then revoked with one
        missing = desk.get("/admin/revocation", "agency_admin", number="MPEDA/2026/013/9999999Z")
        assert missing.status_code == 200 and "No certificate" in missing.text
        too_long = desk.get("/admin/revocation", "agency_admin", number="9" * 81)
        assert too_long.status_code == 400 and 'role="alert"' in too_long.text
        found = desk.get("/admin/revocation", "agency_admin", number=number)
        assert found.status_code == 200 and "Reason for revoking" in found.text
        certificate_id = re.search(r'action="/admin/revocation/([0-9a-f-]+)"', found.text).group(1)
        path = f"/admin/revocation/{certificate_id}"
        forged(desk.post(path, "agency_admin", csrf=False, number=number, reason="Forged invoice"))
        refused_at(desk.post(path, "agency_admin", number=number, reason="   "), "reason")
        assert verified()["status"] == "valid"
        revoked = desk.post(path, "agency_admin", number=number, reason="The invoice was forged")
        assert revoked.status_code == 303 and "/admin/revocation?number=" in revoked.headers["Location"]
        assert verified()["status"] == "revoked"
        assert verified()["status_reason"] == "The invoice was forged"
        after = desk.get(revoked.headers["Location"], "agency_admin")
        assert "The invoice was forged" in after.text and "Reason for revoking" not in after.text
        again = desk.post(path, "agency_admin", number=number, reason="Twice")
        assert again.status_code == 409 and verified()["status_reason"] == "The invoice was forged"
