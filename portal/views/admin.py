"""The agency admin's and the admin's screens besides staff: offices, the fee schedule, exchange
rates, approved exporters, revocation, the HS nomenclature and turnaround statistics. Each shows
what the API lists and sends its form to the API, which decides what each role may do (an agency
admin its own agency; exchange rates and the HS nomenclature the admin alone)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Callable
from urllib.parse import urlencode

from werkzeug.utils import redirect

from portal.api import ApiError
from portal.app import Page, screen
from portal.catalogues import N_
from services.contracts.actors import STAFF, Role
from services.contracts.fees import SERVICES

ALL = {"per_page": 500}  # every row of an admin's list fits one page of the API


def _refusal(exc: ApiError) -> ApiError:
    """The API's refusal of what the user sent, to show beside the form; a fault or an ended
    login goes on up (to the error page, or to log in again)."""
    if exc.status >= 500 or exc.status == 401:
        raise exc
    return exc


@dataclass(frozen=True)
class AdminPage:
    """A screen of one list and its forms: the page shows what ``gather`` reads from the API;
    a form the API refuses comes back with its message beside the fields, what was typed kept."""

    template: str
    gather: Callable[[Page], dict]

    def show(self, page: Page, status: int = 200, problem: ApiError | None = None, typed: dict | None = None):
        page.ensure_session()
        values = self.gather(page)
        asked = values.pop("refused", None)  # the page's own question (days, a number) refused
        if asked is not None and problem is None:
            problem, status = asked, asked.status
        return page.render(
            self.template,
            status,
            problem=problem,
            errors=problem.fields if problem else {},
            typed=typed or {},
            **values,
        )

    def send(self, page: Page, done: str, method: str, path: str, typed: dict | None = None, **call):
        """Send a form to the API: then 303 to ``done``, or this page again with the refusal."""
        try:
            page.api(method, path, **call)
        except ApiError as exc:
            return self.show(page, exc.status, _refusal(exc), typed)
        return redirect(done, code=303)


def _typed(page: Page, *names: str) -> dict:
    return {name: page.form_value(name, 500).strip() for name in names}


def _given(typed: dict) -> dict:
    """The fields filled in: a blank optional field is left out, not sent as empty text."""
    return {name: value for name, value in typed.items() if value}


def _agencies(page: Page) -> list[dict]:
    """The agencies with their offices (an agency admin's own only)."""
    return page.api("GET", "/api/v1/admin/agencies", query=ALL)["items"]


def _choices(rows: list[dict]) -> list[tuple[str, str]]:
    """Agencies, currencies and the like as a select's options: (code, name)."""
    return [(row["code"], row["name"]) for row in rows]


def _asked(page: Page, path: str, query: dict) -> tuple[dict | None, ApiError | None]:
    """A read the page's own query string shapes: the answer, or the API's refusal of it."""
    try:
        return page.api("GET", path, query=query), None
    except ApiError as exc:
        return None, _refusal(exc)


# --- offices -------------------------------------------------------------------------------------

OFFICE_FIELDS = ("kind", "code", "name", "state", "agency_code", "regional_office_code", "address", "gstin")


def _offices(page: Page) -> dict:
    agencies = _agencies(page)
    return {
        "agencies": agencies,
        "agency_choices": _choices(agencies),
        "region_choices": [(agency["name"], _choices(agency["regional_offices"])) for agency in agencies],
    }


OFFICES = AdminPage("admin_offices.html", _offices)


@screen("/admin/offices", roles=STAFF)
def offices(page: Page):
    return OFFICES.show(page)


@screen("/admin/offices", methods=("POST",), roles=STAFF)
def create_office(page: Page):
    typed = _typed(page, *OFFICE_FIELDS)
    return OFFICES.send(
        page, "/admin/offices", "POST", "/api/v1/admin/offices", typed, json_body=_given(typed)
    )


# --- fee schedule --------------------------------------------------------------------------------

FEE_FIELDS = ("agency_code", "service", "base_rupees", "gst_rate", "valid_from", "valid_to")

SERVICE_NAMES = {
    "issue": N_("Issue of a certificate"),
    "duplicate": N_("A duplicate"),
    "in_lieu": N_("A certificate in lieu"),
    "non_preferential": N_("A non-preferential certificate"),
}

FEES = AdminPage(
    "admin_fees.html",
    lambda page: {
        "windows": page.api("GET", "/api/v1/admin/fees", query=ALL)["items"],
        "agencies": _choices(_agencies(page)),
        "services": [(service, page._(SERVICE_NAMES[service])) for service in SERVICES],
    },
)


def _paise(rupees: str) -> int | str:
    """Rupees as typed (250.50) in paise, as the schedule keeps them; anything that is not an
    amount goes to the API as typed, which refuses it at its field."""
    try:
        paise = Decimal(rupees) * 100
    except InvalidOperation:
        return rupees
    return int(paise) if paise.is_finite() and paise == paise.to_integral_value() else rupees


@screen("/admin/fees", roles=STAFF)
def fees(page: Page):
    return FEES.show(page)


@screen("/admin/fees", methods=("POST",), roles=STAFF)
def add_fee_window(page: Page):
    typed = _typed(page, *FEE_FIELDS)
    window = _given(typed)
    window["base_paise"] = _paise(window.pop("base_rupees", ""))
    return FEES.send(page, "/admin/fees", "POST", "/api/v1/admin/fees", typed, json_body=window)


# --- exchange rates ------------------------------------------------------------------------------


def _exchange_rates(page: Page) -> dict:
    values = {"rates": page.api("GET", "/api/v1/admin/exchange-rates", query=ALL)["items"], "currencies": []}
    if page.user.role == Role.ADMIN:  # the one who sets them: the form's list of currencies
        currencies = page.api("GET", "/api/v1/reference/currencies", query=ALL)["items"]
        values["currencies"] = [choice for choice in _choices(currencies) if choice[0] != "INR"]
    return values


EXCHANGE_RATES = AdminPage("admin_exchange_rates.html", _exchange_rates)


@screen("/admin/exchange-rates", roles=STAFF)
def exchange_rates(page: Page):
    return EXCHANGE_RATES.show(page)


@screen("/admin/exchange-rates", methods=("POST",), roles=STAFF)
def set_exchange_rate(page: Page):
    typed = _typed(page, "currency", "valid_from", "rate")
    return EXCHANGE_RATES.send(
        page, "/admin/exchange-rates", "POST", "/api/v1/admin/exchange-rates", typed, json_body=typed
    )


# --- approved exporters (self-certification) -----------------------------------------------------

APPROVED_EXPORTERS = AdminPage(
    "admin_approved_exporters.html",
    lambda page: {
        "approved": page.api("GET", "/api/v1/admin/self-certification", query=ALL)["items"],
        "agencies": _choices(_agencies(page)),
    },
)


@screen("/admin/approved-exporters", roles=STAFF)
def approved_exporters(page: Page):
    return APPROVED_EXPORTERS.show(page)


@screen("/admin/approved-exporters", methods=("POST",), roles=STAFF)
def grant_self_certification(page: Page):
    typed = _typed(page, "iec", "agency_code")
    typed["iec"] = typed["iec"].upper()  # as printed on the IEC certificate
    return APPROVED_EXPORTERS.send(
        page, "/admin/approved-exporters", "POST", "/api/v1/admin/self-certification", typed, json_body=typed
    )


@screen("/admin/approved-exporters/<id:agency_code>/<id:iec>/end", methods=("POST",), roles=STAFF)
def end_self_certification(page: Page, agency_code: str, iec: str):
    return APPROVED_EXPORTERS.send(
        page, "/admin/approved-exporters", "DELETE", f"/api/v1/admin/self-certification/{agency_code}/{iec}"
    )


# --- revocation ----------------------------------------------------------------------------------


def _revocation(page: Page) -> dict:
    """The certificate asked for by number (in the address, or kept in the revocation form)."""
    number = page.request.values.get("number", "")[:200].strip()
    if not number:
        return {"number": "", "certificate": None}
    found, refused = _asked(page, "/api/v1/admin/certificates", {"number": number})
    certificate = found["items"][0] if found and found["items"] else None
    return {"number": number, "certificate": certificate, "refused": refused}


REVOCATION = AdminPage("admin_revocation.html", _revocation)


@screen("/admin/revocation", roles=STAFF)
def revocation(page: Page):
    return REVOCATION.show(page)


@screen("/admin/revocation/<id:certificate_id>", methods=("POST",), roles=STAFF)
def revoke(page: Page, certificate_id: str):
    typed = _typed(page, "reason")
    done = "/admin/revocation?" + urlencode({"number": page.form_value("number", 200)})
    return REVOCATION.send(
        page, done, "POST", f"/api/v1/admin/certificates/{certificate_id}/revoke", typed, json_body=typed
    )


# --- HS nomenclature -----------------------------------------------------------------------------

HS_NOMENCLATURE = AdminPage("admin_hs.html", lambda page: {"loaded": page.api("GET", "/api/v1/reference/hs")})


@screen("/admin/hs", roles=STAFF)
def hs_nomenclature(page: Page):
    return HS_NOMENCLATURE.show(page)


@screen("/admin/hs", methods=("POST",), roles=STAFF)
def upload_hs_nomenclature(page: Page):
    upload = page.request.files.get("file")
    # no file chosen: sent without one, for the API's own words at the field
    parts = {"file": (upload.filename, upload.read(), upload.mimetype)} if upload and upload.filename else {}
    return HS_NOMENCLATURE.send(page, "/admin/hs", "POST", "/api/v1/admin/reference/hs", fields=parts)


# --- turnaround statistics -----------------------------------------------------------------------

CHART_WIDTH = 640
LABEL_WIDTH = 170  # the office codes left of the bars
VALUE_WIDTH = 90  # the hours right of the longest bar
ROW_HEIGHT = 28


def turnaround_chart(offices: list[dict]) -> dict:
    """Each office's median turnaround as a bar, the longest the whole width left for bars; an
    office with no decision in the window has a bar of no length (its hours are unknown)."""
    room = CHART_WIDTH - LABEL_WIDTH - VALUE_WIDTH
    longest = max((office["turnaround_median_hours"] or 0 for office in offices), default=0)
    bars = [
        {
            "office": office["issuing_office_code"],
            "hours": office["turnaround_median_hours"],
            "top": row * ROW_HEIGHT,
            "width": round(room * (office["turnaround_median_hours"] or 0) / longest, 3) if longest else 0,
        }
        for row, office in enumerate(offices)
    ]
    return {
        "bars": bars,
        "width": CHART_WIDTH,
        "height": max(1, len(bars)) * ROW_HEIGHT,
        "label_width": LABEL_WIDTH,
    }


def _statistics(page: Page) -> dict:
    asked = page.request.args.get("days", "")[:12]  # none: the API's own window
    stats, refused = _asked(page, "/api/v1/admin/stats", {"days": asked})
    offices = stats["offices"] if stats else []
    return {
        "days": stats["days"] if stats else asked,
        "offices": offices,
        "chart": turnaround_chart(offices),
        "refused": refused,
    }


STATISTICS = AdminPage("admin_statistics.html", _statistics)


@screen("/admin/statistics", roles=STAFF)
def statistics(page: Page):
    return STATISTICS.show(page)
