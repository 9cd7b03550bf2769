"""Fees and payment over HTTP against the real services: the order summary with its GST split,
the sandbox provider's page and signed callback, refused and replayed callbacks, a real provider's
API (a local HTTPS server behaving like Razorpay) with reconciliation, and the GST receipt."""

import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from datetime import date, datetime, timedelta

import eventlet
import pytest
import requests
from sqlalchemy import text

from services.chassis.config import database_url
from services.chassis.database import make_engine
from services.chassis.timestamps import today_in_india
from tests.conftest import ADMIN_PASSWORD, login, wait_until
from tests.exporters import GSTIN_KL
from tests.fake_razorpay import start_fake_razorpay
from tests.integration.test_applications import call, ready_draft, submit, world  # noqa: F401
from tests.staff import make_staff

MPEDA_KOCHI_GSTIN = "32AAAGM0289C1ZS"  # seeded: Kerala + the seed PAN of MPEDA


def pending_application(world, **overrides) -> str:
    application_id = ready_draft(world, **overrides)
    submitted = submit(world, application_id)
    assert submitted.status_code == 200, submitted.text
    return application_id


def status_of(world, application_id) -> str:
    return call(world, "GET", f"/api/v1/applications/{application_id}").json()["status"]


def sandbox_pay(world, application_id, outcome="success") -> dict:
    payment = call(world, "POST", f"/api/v1/applications/{application_id}/payments")
    assert payment.status_code == 201, payment.text
    page = requests.get(payment.json()["redirect_url"], timeout=10)
    assert page.status_code == 200 and "392.00" in page.text, page.text
    # the page's form posts back to the platform and nowhere else
    assert "form-action 'self'" in page.headers["Content-Security-Policy"]
    decided = requests.post(payment.json()["redirect_url"], data={"outcome": outcome}, timeout=30)
    assert (
        decided.status_code == 200 and ("completed" if outcome == "success" else "failed") in decided.text
    ), decided.text
    # and, as a provider does, the way back to the application's page
    assert f'<a href="/applications/{application_id}">Return to OpenCoO</a>' in decided.text
    return payment.json()


def rows(service, sql, **params):
    engine = make_engine(database_url(service))
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).all()
    finally:
        engine.dispose()


def submitted_changes(world, application_id):
    history = call(world, "GET", f"/api/v1/applications/{application_id}/history").json()["items"]
    return [h for h in history if h["to"] == "submitted"]


# --- order summary --------------------------------------------------------------------------------


def test_order_summary_same_state_and_inter_state(world):
    kerala = pending_application(world)  # branch B1 in Kerala, MPEDA Kochi in Kerala
    summary = call(world, "GET", f"/api/v1/applications/{kerala}/fee")
    assert summary.status_code == 200, summary.text
    body = summary.json()
    assert (body["base"], body["cgst"], body["sgst"], body["igst"], body["total"]) == (
        35000,
        2100,
        2100,
        0,
        39200,
    )
    assert body["tax"] == "CGST+SGST" and body["gst_rate"] == "12" and not body["paid"]
    assert body["agency_name"] == "Marine Products Export Development Authority"
    assert "AIFTA" in body["certificate_name"] and body["application_number"].startswith("MPEDA/")

    maharashtra = pending_application(world, branch_id="B2")  # the Mumbai branch
    body = call(world, "GET", f"/api/v1/applications/{maharashtra}/fee").json()
    assert (body["cgst"], body["sgst"], body["igst"], body["total"]) == (0, 0, 4200, 39200)
    assert body["tax"] == "IGST" and body["place_of_supply"] == "IN-MH"


def test_the_schedule_kept_by_admins_decides_the_fee(world, smtp_mailbox):
    admin = login(world["base"], "admin", ADMIN_PASSWORD)
    application_id = pending_application(world)
    today = today_in_india()  # what the schedule's calendar says, not this machine's (UTC)
    window = {
        "agency_code": "MPEDA",
        "service": "issue",
        "base_paise": 50000,
        "gst_rate": "18",
        "valid_from": today.isoformat(),
    }
    for bad, field in (
        (dict(window, base_paise="500"), "base_paise"),
        (dict(window, base_paise=-1), "base_paise"),
        (dict(window, base_paise=0), "base_paise"),
        (dict(window, gst_rate="40"), "gst_rate"),
        (dict(window, gst_rate="12.345"), "gst_rate"),
        (dict(window, service="express"), "service"),
        (dict(window, valid_to="2000-01-01"), "valid_to"),
        (dict(window, valid_from="yesterday"), "valid_from"),
    ):
        refused = call(world, "POST", "/api/v1/admin/fees", token=admin, json=bad)
        assert refused.status_code == 400 and field in refused.json()["error"]["fields"], (bad, refused.text)
    for start in (today - timedelta(days=1), date(1, 1, 1)):  # what past dates cost is settled
        past = call(
            world, "POST", "/api/v1/admin/fees", token=admin, json=dict(window, valid_from=start.isoformat())
        )
        assert past.status_code == 422 and past.json()["error"]["code"] == "STARTS_IN_THE_PAST"
    unknown = call(world, "POST", "/api/v1/admin/fees", token=admin, json=dict(window, agency_code="NOPE"))
    assert unknown.status_code == 422
    assert requests.post(f"{world['base']}/api/v1/admin/fees", json=window, timeout=10).status_code == 401
    assert call(world, "POST", "/api/v1/admin/fees", json=window, token=world["token"]).status_code == 403
    eic_admin = make_staff(world["base"], smtp_mailbox, "eic.admin", agency="EIC")
    other_agency = call(world, "POST", "/api/v1/admin/fees", token=eic_admin, json=window)
    assert other_agency.status_code == 403, other_agency.text
    seen_by_eic = call(world, "GET", "/api/v1/admin/fees?agency=MPEDA&per_page=100", token=eic_admin).json()[
        "items"
    ]
    assert seen_by_eic and {f["agency_code"] for f in seen_by_eic} == {"EIC"}
    assert call(world, "GET", f"/api/v1/applications/{application_id}/fee").json()["total"] == 39200
    before = call(world, "GET", "/api/v1/admin/fees?agency=MPEDA&per_page=100", token=admin).json()
    assert [f["base_paise"] for f in before["items"] if f["service"] == "issue"] == [35000]

    added = call(world, "POST", "/api/v1/admin/fees", token=admin, json=window)
    assert added.status_code == 201, added.text
    body = call(world, "GET", f"/api/v1/applications/{application_id}/fee").json()
    assert (body["base"], body["cgst"], body["sgst"], body["total"]) == (50000, 4500, 4500, 59000)
    listed = call(world, "GET", "/api/v1/admin/fees?agency=MPEDA&per_page=100", token=admin).json()
    assert [f["base_paise"] for f in listed["items"] if f["service"] == "issue"] == [35000, 50000]


def seeded_order_summary(application, exporter, agencies):
    """The order summary from the schedule as a fresh install seeds it, without HTTP."""
    from sqlalchemy.orm import Session

    from services.chassis import migrations, seeding
    from services.payment import payments

    migrations.upgrade("payment")
    seeding.seed("payment")
    parties = payments.billing_parties(application, exporter, agencies, None)
    engine = make_engine(database_url("payment"))
    with Session(engine) as session:
        summary = payments.order_summary(session, application, parties)
    engine.dispose()
    return parties, summary


def test_eic_duplicate_fee_from_the_seeded_schedule(platform_env):
    """The manual's EIC case through the schedule as seeded and the billing of a duplicate."""
    duplicate = {
        "id": "a1",
        "number": "EIC/2026/013/0000001A/00000001",
        "kind": "preferential",
        "request_kind": "duplicate",
        "iec": "AAACM4821K",
        "form": {"agency_code": "EIC", "issuing_office_code": "EIC-MUMBAI", "branch_id": "B1"},
    }
    exporter = {
        "iec": "AAACM4821K",
        "name": "Malabar Sea Foods",
        "branches": [{"branch_id": "B1", "state": "IN-KL", "gstin": GSTIN_KL}],
    }
    agencies = [
        {
            "code": "EIC",
            "name": "Export Inspection Council of India",
            "regional_offices": [
                {"issuing_offices": [{"code": "EIC-MUMBAI", "name": "EIA Mumbai", "state": "IN-MH"}]}
            ],
        }
    ]
    parties, summary = seeded_order_summary(duplicate, exporter, agencies)
    assert parties["service"] == "duplicate"
    assert (summary["base"], summary["igst"], summary["total"]) == (60000, 10800, 70800)


def test_an_sez_unit_in_the_offices_state_pays_igst(platform_env):
    """IGST Act §7(5)(b): a supply to an SEZ unit is inter-state, even within Kerala."""
    application = {
        "id": "a2",
        "number": "MPEDA/2026/013/0000002A",
        "kind": "preferential",
        "iec": "AAACM4821K",
        "form": {"agency_code": "MPEDA", "issuing_office_code": "MPEDA-KOCHI", "branch_id": "B2"},
    }
    exporter = {
        "iec": "AAACM4821K",
        "name": "Malabar Sea Foods",
        "branches": [
            {"branch_id": "B1", "state": "IN-KL", "gstin": GSTIN_KL},
            {"branch_id": "B2", "state": "IN-KL", "gstin": None, "in_sez": True},
        ],
    }
    agencies = [
        {
            "code": "MPEDA",
            "name": "Marine Products Export Development Authority",
            "regional_offices": [
                {"issuing_offices": [{"code": "MPEDA-KOCHI", "name": "MPEDA Kochi", "state": "IN-KL"}]}
            ],
        }
    ]
    _, summary = seeded_order_summary(application, exporter, agencies)
    assert (summary["cgst"], summary["sgst"], summary["igst"], summary["total"]) == (0, 0, 4200, 39200)
    assert summary["tax"] == "IGST" and summary["place_of_supply"] == "IN-KL"


# --- the sandbox ----------------------------------------------------------------------------------


def test_sandbox_payment_submits_the_application_and_issues_a_receipt(sms_endpoint, world, smtp_mailbox):
    application_id = pending_application(world)
    pending = call(world, "GET", "/api/v1/applications?status=pending_payment").json()
    assert application_id in [a["id"] for a in pending["items"]]

    payment = sandbox_pay(world, application_id)
    wait_until(lambda: status_of(world, application_id) == "submitted", what="submitted")
    [change] = submitted_changes(world, application_id)
    assert change["actor"] == "payment" and payment["payment_id"] in change["comment"]
    pending = call(world, "GET", "/api/v1/applications?status=pending_payment").json()
    assert application_id not in [a["id"] for a in pending["items"]]
    # The submission messages reach a real SMTP server and the local SMS gateway.
    number = call(world, "GET", f"/api/v1/applications/{application_id}").json()["number"]
    mail = smtp_mailbox.wait_for(lambda m: number in m["Subject"] and "malabarseafoods" in m["To"].lower())
    assert mail
    wait_until(
        lambda: any(number in sms["text"] and sms["to"] == "+919847012345" for sms in sms_endpoint.received),
        what="the exporter's SMS",
    )

    [paid] = call(world, "GET", f"/api/v1/applications/{application_id}/payments").json()["items"]
    assert paid["status"] == "completed" and paid["receipt_number"].endswith("/0000001")
    summary = call(world, "GET", f"/api/v1/applications/{application_id}/fee").json()
    assert summary["paid"] and summary["payment_id"] == paid["payment_id"]
    again = call(world, "POST", f"/api/v1/applications/{application_id}/payments")
    assert again.status_code == 409 and again.json()["error"]["code"] == "ALREADY_PAID"

    receipt = call(world, "GET", f"/api/v1/payments/{paid['payment_id']}/receipt.pdf")
    assert receipt.status_code == 200 and receipt.content.startswith(b"%PDF-")
    pdf = world["tmp"] / "receipt.pdf"
    pdf.write_bytes(receipt.content)
    shown = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    for expected in (GSTIN_KL, MPEDA_KOCHI_GSTIN, paid["receipt_number"], "21.00", "392.00"):
        assert expected in shown, expected


def test_a_declined_payment_leaves_the_application_pending_and_it_can_be_paid_again(world):
    application_id = pending_application(world)
    failed = sandbox_pay(world, application_id, outcome="failure")
    eventlet.sleep(1)
    assert status_of(world, application_id) == "pending_payment"
    assert rows("payment", "select status from payment where id = :id", id=failed["payment_id"]) == [
        ("failed",)
    ]
    assert call(world, "GET", f"/api/v1/payments/{failed['payment_id']}/receipt.pdf").status_code == 409

    second = sandbox_pay(world, application_id)
    assert second["payment_id"] != failed["payment_id"]
    wait_until(lambda: status_of(world, application_id) == "submitted", what="submitted")


def test_a_second_click_reuses_the_open_order(world):
    application_id = pending_application(world)
    first = call(world, "POST", f"/api/v1/applications/{application_id}/payments").json()
    second = call(world, "POST", f"/api/v1/applications/{application_id}/payments").json()
    assert first["payment_id"] == second["payment_id"]
    for outcome in ("maybe", ""):
        refused = requests.post(first["redirect_url"], data={"outcome": outcome}, timeout=10)
        assert refused.status_code == 400, refused.text
    assert rows("payment", "select status, sandbox_outcome from payment") == [("created", None)]
    assert (
        call(world, "GET", f"/api/v1/payments/{first['payment_id']}/receipt.pdf").status_code == 409
    )  # not paid yet
    assert call(world, "GET", "/api/v1/payments/no-such-payment/receipt.pdf").status_code == 404


def test_who_may_pay_and_see_payments(world, smtp_mailbox):
    from tests.exporters import register_other_exporter

    application_id = pending_application(world)
    other = register_other_exporter(world, smtp_mailbox)
    for method, path in (
        ("GET", f"/api/v1/applications/{application_id}/fee"),
        ("POST", f"/api/v1/applications/{application_id}/payments"),
        ("GET", f"/api/v1/applications/{application_id}/payments"),
    ):
        assert call(world, method, path, token=other).status_code == 404, path
    draft = call(world, "POST", "/api/v1/applications", json={"kind": "preferential"}).json()
    not_payable = call(world, "POST", f"/api/v1/applications/{draft['id']}/payments")
    assert not_payable.status_code == 409
    assert not_payable.json()["error"]["code"] == "APPLICATION_NOT_PAYABLE"
    assert rows("payment", "select count(*) from payment") == [(0,)]
    assert requests.get(f"{world['base']}/sandbox-pay/nope", timeout=10).status_code == 404
    assert (
        requests.post(
            f"{world['base']}/sandbox-pay/nope", data={"outcome": "success"}, timeout=10
        ).status_code
        == 404
    )


# --- callbacks ------------------------------------------------------------------------------------


def _sandbox_callback(world, body: dict, secret: bytes | None = None):
    from services.payment.providers import provider_from_env

    raw = json.dumps(body).encode()
    secret = secret if secret is not None else provider_from_env("sandbox").secret
    signature = hmac.new(secret, raw, hashlib.sha256).hexdigest()
    return requests.post(
        f"{world['base']}/api/v1/payments/callback/sandbox",
        data=raw,
        headers={"Content-Type": "application/json", "X-Sandbox-Signature": signature},
        timeout=30,
    )


def test_forged_changed_unknown_and_replayed_callbacks(world):
    application_id = pending_application(world)
    payment = call(world, "POST", f"/api/v1/applications/{application_id}/payments").json()
    order_id = rows("payment", "select order_id from payment where id = :id", id=payment["payment_id"])[0][0]
    paid = {
        "event": "payment.succeeded",
        "order_id": order_id,
        "payment_id": "sbxpay_1",
        "amount": 39200,
        "currency": "INR",
        "reason": None,
        "created_at": int(time.time()),
    }

    def unchanged():
        assert rows("payment", "select status, receipt_number from payment") == [("created", None)]
        assert status_of(world, application_id) == "pending_payment"

    forged = _sandbox_callback(world, paid, secret=b"not the sandbox's secret")
    assert forged.status_code == 401
    assert forged.json()["error"]["code"] == "CALLBACK_SIGNATURE_INVALID"
    unsigned = requests.post(
        f"{world['base']}/api/v1/payments/callback/sandbox",
        data=json.dumps(paid),
        timeout=10,
        headers={"Content-Type": "application/json"},
    )
    assert unsigned.status_code == 401
    changed = _sandbox_callback(world, dict(paid, amount=100))
    assert changed.status_code == 422
    assert changed.json()["error"]["code"] == "PAYMENT_AMOUNT_MISMATCH"
    assert _sandbox_callback(world, dict(paid, currency="USD")).status_code == 422
    unknown = _sandbox_callback(world, dict(paid, order_id="sbx_unknown"))
    assert unknown.status_code == 404
    assert (
        requests.post(
            f"{world['base']}/api/v1/payments/callback/razorpay", data=b"{}", timeout=10
        ).status_code
        == 404
    )  # not the provider in use
    assert (
        requests.post(f"{world['base']}/api/v1/payments/callback/paypal", data=b"{}", timeout=10).status_code
        == 404
    )
    unchanged()

    first = _sandbox_callback(world, paid)
    assert first.status_code == 200 and first.json()["outcome"] == "completed"
    replayed = _sandbox_callback(world, paid)
    assert replayed.status_code == 200 and replayed.json()["outcome"] == "duplicate"
    late_failure = _sandbox_callback(world, dict(paid, event="payment.failed", reason="x"))
    assert late_failure.status_code == 200 and late_failure.json()["outcome"] == "ignored"

    wait_until(lambda: status_of(world, application_id) == "submitted", what="submitted")
    eventlet.sleep(0.5)
    assert len(submitted_changes(world, application_id)) == 1
    assert rows("payment", "select status from payment") == [("completed",)]
    assert rows("payment", "select count(*) from outbox where event_type = 'payment_completed'") == [(1,)]


def test_paying_twice_completes_once_and_marks_the_second_for_refund(world):
    application_id = pending_application(world)
    first = call(world, "POST", f"/api/v1/applications/{application_id}/payments").json()
    engine = make_engine(database_url("payment"))
    with engine.begin() as conn:  # the first order is older than the reuse window
        conn.execute(text("update payment set created_at = '2000-01-01 00:00:00'"))
    engine.dispose()
    second = call(world, "POST", f"/api/v1/applications/{application_id}/payments").json()
    assert second["payment_id"] != first["payment_id"]
    orders = dict(rows("payment", "select id, order_id from payment"))
    paid = {
        "event": "payment.succeeded",
        "payment_id": "sbxpay_x",
        "amount": 39200,
        "currency": "INR",
        "reason": None,
        "created_at": int(time.time()),
    }
    answers = [
        _sandbox_callback(world, dict(paid, order_id=orders[p["payment_id"]])).json() for p in (second, first)
    ]
    assert [a["outcome"] for a in answers] == ["completed", "refund_due"]
    assert (
        _sandbox_callback(world, dict(paid, order_id=orders[first["payment_id"]])).json()["outcome"]
        == "duplicate"
    )
    assert sorted(rows("payment", "select status from payment")) == [("completed",), ("refund_due",)]
    wait_until(lambda: status_of(world, application_id) == "submitted", what="submitted")
    assert rows("payment", "select count(*) from outbox where event_type = 'payment_completed'") == [(1,)]
    assert rows("payment", "select count(*) from payment where receipt_number is not null") == [(1,)]


# --- a real provider's API ------------------------------------------------------------------------


@pytest.fixture
def razorpay(tmp_path, monkeypatch):
    server = start_fake_razorpay(tmp_path / "razorpay")
    for name, value in (
        ("OPENCOO_PAYMENT_PROVIDER", "razorpay"),
        ("OPENCOO_RAZORPAY_API", server.api_base),
        ("OPENCOO_RAZORPAY_KEY_ID", server.key_id),
        ("OPENCOO_RAZORPAY_KEY_SECRET", server.key_secret),
        ("OPENCOO_RAZORPAY_WEBHOOK_SECRET", server.webhook_secret),
        ("OPENCOO_RAZORPAY_CA", str(server.ca_path)),
    ):
        monkeypatch.setenv(name, value)
    yield server
    server.stop()


def test_razorpay_webhook_and_reconciliation(razorpay, world):
    by_webhook = pending_application(world)
    payment = call(world, "POST", f"/api/v1/applications/{by_webhook}/payments").json()
    link_id = rows("payment", "select order_id from payment where id = :id", id=payment["payment_id"])[0][0]
    assert payment["redirect_url"] == razorpay.links[link_id]["short_url"]
    assert razorpay.links[link_id]["amount"] == 39200
    razorpay.pay(link_id)
    headers, body = razorpay.webhook_body(link_id)
    tampered = requests.post(
        f"{world['base']}/api/v1/payments/callback/razorpay",
        timeout=30,
        data=body.replace(b"39200", b"100"),
        headers=headers,
    )
    assert tampered.status_code == 401
    for expected in ("completed", "duplicate"):
        answer = requests.post(
            f"{world['base']}/api/v1/payments/callback/razorpay", data=body, headers=headers, timeout=30
        )
        assert answer.status_code == 200 and answer.json()["outcome"] == expected, answer.text
    wait_until(lambda: status_of(world, by_webhook) == "submitted", what="submitted by webhook")

    # The payer pays, but the provider's webhook never reaches us.
    lost = pending_application(world)
    payment = call(world, "POST", f"/api/v1/applications/{lost}/payments").json()
    link_id = rows("payment", "select order_id from payment where id = :id", id=payment["payment_id"])[0][0]
    unpaid = pending_application(world)
    call(world, "POST", f"/api/v1/applications/{unpaid}/payments")
    razorpay.pay(link_id)
    env = dict(os.environ)
    for _ in range(2):  # a second run finds nothing more to do
        reconciled = subprocess.run(
            [sys.executable, "-m", "cli.main", "payments", "reconcile", "--older-than", "0"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert reconciled.returncode == 0, reconciled.stderr
    assert "pending: 1" in reconciled.stdout and "completed" not in reconciled.stdout
    wait_until(lambda: status_of(world, lost) == "submitted", what="submitted by reconciliation")
    assert status_of(world, unpaid) == "pending_payment"
    assert len(submitted_changes(world, lost)) == 1
    assert rows("payment", "select count(*) from outbox where event_type = 'payment_completed'") == [(2,)]


def test_no_receipt_without_the_offices_gstin(platform_env):
    """An office an admin created without a GSTIN: the payment completes, but a tax invoice
    without the supplier's GSTIN would be invalid, so the receipt is refused, not made up."""
    from sqlalchemy.orm import Session

    from services.chassis import migrations
    from services.chassis.errors import Conflict
    from services.payment import receipt_register
    from services.payment.models import Payment

    migrations.upgrade("payment")
    parties = {
        "agency": {"code": "MPEDA", "name": "MPEDA"},
        "service": "issue",
        "certificate_name": "Certificate of Origin",
        "issuing_office": {
            "code": "MPEDA-GOA",
            "name": "Goa",
            "state": "IN-GA",
            "gstin": None,
            "address": "",
        },
        "exporter": {
            "iec": "AAACM4821K",
            "name": "Malabar",
            "branch_id": "B1",
            "gstin": GSTIN_KL,
            "state": "IN-KL",
            "address": "",
        },
    }
    engine = make_engine(database_url("payment"))
    with Session(engine) as session:
        session.add(
            Payment(
                id="p1",
                application_id="a1",
                application_number="N",
                iec="AAACM4821K",
                agency_code="MPEDA",
                service="issue",
                provider="sandbox",
                gst_rate="12",
                base=35000,
                cgst=0,
                sgst=0,
                igst=4200,
                total=39200,
                status="completed",
                created_by="AAACM4821K",
                created_at=datetime.utcnow(),
                completed_at=datetime.utcnow(),
                receipt_number="MPEDA",
                parties=parties,
            )
        )
        session.flush()
        exporter = {"username": "AAACM4821K", "role": "exporter"}
        with pytest.raises(Conflict) as refused:
            receipt_register.receipt_data(session, exporter, "p1")
        assert refused.value.code == "SUPPLIER_GSTIN_MISSING"
        parties["issuing_office"]["gstin"] = "30AAAGM0289C1Z1"
        session.get(Payment, "p1").parties = {**parties}
        assert receipt_register.receipt_data(session, exporter, "p1")["agency"]["gstin"] == "30AAAGM0289C1Z1"
    engine.dispose()
