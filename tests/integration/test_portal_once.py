"""Forms that people send twice, and sessions that end under them: a double-clicked "Save as
draft" makes one draft and both clicks land on it; a form sent again with other values is a new
request; a draft saved before the session expired is there after logging in again, on the page
the user was on."""

import time
from datetime import datetime, timedelta, timezone

import eventlet
import requests

from tests.integration.test_portal import (  # noqa: F401  (fixtures)
    exporter,
    hidden,
    log_in,
    portal_port,
    site,
)


def draft_form(csrf: str, importer: str) -> dict:
    return {
        "csrf_token": csrf,
        "kind": "preferential",
        "agreement_code": "013",
        "agency_code": "MPEDA",
        "importer.name": importer,
        "products.0.hs_code": "030617",
        "products.0.quantity": "12000",
    }


def drafts(site, token) -> list[dict]:
    api = {"Authorization": f"Bearer {token}"}
    return requests.get(site + "/api/v1/applications", headers=api, timeout=10).json()["items"]


def test_a_double_clicked_save_makes_one_draft_and_both_clicks_land_on_it(site, exporter):
    iec, password, token = exporter
    browser = requests.Session()
    assert log_in(browser, site, iec, password).status_code == 303
    csrf = hidden(browser.get(site + "/applications/new", timeout=10).text, "csrf_token")
    form = draft_form(csrf, "Saigon Seafood Trading JSC")

    def click():
        return browser.post(site + "/applications/new", data=form, timeout=60, allow_redirects=False)

    first, second = eventlet.spawn(click), eventlet.spawn(click)  # the two clicks, at once
    answers = [first.wait(), second.wait()]
    assert [answer.status_code for answer in answers] == [303, 303], [a.text[:300] for a in answers]
    assert answers[0].headers["Location"] == answers[1].headers["Location"]
    made = drafts(site, token)
    assert len(made) == 1 and answers[0].headers["Location"].endswith(made[0]["id"])

    # a third click a moment later: still the same request, still one draft
    assert click().headers["Location"] == answers[0].headers["Location"]
    assert len(drafts(site, token)) == 1
    # the same form with other values is another request
    other = browser.post(
        site + "/applications/new", data=draft_form(csrf, "Hanoi Foods"), timeout=30, allow_redirects=False
    )
    assert other.status_code == 303 and other.headers["Location"] != answers[0].headers["Location"]
    assert len(drafts(site, token)) == 2


def test_a_refused_form_sent_again_is_checked_again(site, exporter):
    iec, password, token = exporter
    browser = requests.Session()
    assert log_in(browser, site, iec, password).status_code == 303
    csrf = hidden(browser.get(site + "/applications/new", timeout=10).text, "csrf_token")
    refused = {**draft_form(csrf, "Saigon Seafood Trading JSC"), "products.0.quantity": "lots"}
    for _ in range(2):  # nothing to repeat: each sending gets the refusal, next to its field
        answer = browser.post(site + "/applications/new", data=refused, timeout=30)
        assert answer.status_code == 400 and 'id="error-products.0.quantity"' in answer.text
    assert drafts(site, token) == []


def test_a_draft_saved_before_the_session_expired_is_there_after_logging_in_again(site, exporter):
    from sqlalchemy import update

    from portal import sessions

    iec, password, token = exporter
    browser = requests.Session()
    assert log_in(browser, site, iec, password).status_code == 303
    csrf = hidden(browser.get(site + "/applications/new", timeout=10).text, "csrf_token")
    saved = browser.post(
        site + "/applications/new",
        data=draft_form(csrf, "Saigon Seafood Trading JSC"),
        timeout=30,
        allow_redirects=False,
    )
    edit = saved.headers["Location"] + "/edit"
    # the user leaves for lunch: the session's last request is now 31 minutes old
    store = sessions.SessionStore()
    with store.engine.begin() as db:
        old = datetime.now(timezone.utc).replace(tzinfo=None) - sessions.IDLE - timedelta(minutes=1)
        db.execute(update(sessions.sessions).values(last_seen=old))
    time.sleep(sessions.REREAD)  # the portal's copy of the session is believed that long
    back = browser.get(site + edit, timeout=10, allow_redirects=False)
    assert back.status_code == 302 and back.headers["Location"] == f"/login?next={edit}"
    again = log_in(browser, site, iec, password, next_page=edit)
    assert again.status_code == 303 and again.headers["Location"] == edit
    page = browser.get(site + edit, timeout=10)
    assert page.status_code == 200 and 'value="Saigon Seafood Trading JSC"' in page.text


def test_a_form_over_the_bound_is_refused_before_the_portal_reads_it(site, exporter):
    from gateway.portal_forwarding import MAX_BODY

    iec, password, token = exporter
    browser = requests.Session()
    assert log_in(browser, site, iec, password).status_code == 303
    too_big = browser.post(
        site + "/applications/new",
        data=b"x" * (MAX_BODY + 1),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=30,
    )
    assert too_big.status_code == 413
    assert drafts(site, token) == []
