"""Officer examination over HTTP against the real services: the issuing office's FIFO queue,
discrepancy -> the exporter's edit (numbered fields frozen) -> resubmission with the DSC,
approval and rejection with their events, one decision when two officers click at once, who may
do what, turnaround statistics, self-certification of approved exporters, and the certificate's
number coming back on issue."""

import json
import uuid

import eventlet
from kombu import Connection, Exchange

from services.contracts.events import make_event
from tests.conftest import ADMIN_PASSWORD, login, wait_until
from tests.exporters import IEC
from tests.integration.test_applications import call, signature_for, world  # noqa: F401
from tests.integration.test_payments import pending_application, rows, sandbox_pay, status_of
from tests.staff import make_staff

QUEUE = "/api/v1/officer/applications"
CHENNAI = {"regional_office_code": "MPEDA-RO-CHENNAI", "issuing_office_code": "MPEDA-CHENNAI"}
IKCEPA = {
    "agreement_code": "002",
    "importer": {"name": "Busan Marine Foods Co.", "country": "KR", "address": "Busan"},
}


def paid(world, until=("submitted",), **overrides) -> str:
    """An application paid through the sandbox, once it has left pending_payment."""
    application_id = pending_application(world, **overrides)
    sandbox_pay(world, application_id)
    wait_until(lambda: status_of(world, application_id) in until, what=" or ".join(until))
    return application_id


def queue(world, token, **params) -> list[str]:
    answer = call(world, "GET", QUEUE, token=token, params=params)
    assert answer.status_code == 200, answer.text
    return [a["id"] for a in answer.json()["items"]]


def decide(world, token, application_id, decision, body=None):
    return call(world, "POST", f"{QUEUE}/{application_id}/{decision}", token=token, json=body)


def history(world, application_id, token=None) -> list[tuple]:
    answer = call(world, "GET", f"/api/v1/applications/{application_id}/history", token=token)
    assert answer.status_code == 200, answer.text
    return [(h["from"], h["to"], h["actor"]) for h in answer.json()["items"]]


def events(event_type, application_id) -> list[dict]:
    """The application service's outbox: what it announced about this application."""
    found = [
        json.loads(p) if isinstance(p, str) else p
        for (p,) in rows(
            "application", "select payload from outbox where event_type = :t order by id", t=event_type
        )
    ]
    return [p for p in found if p["application_id"] == application_id]


def officers(world, smtp_mailbox):
    return (
        make_staff(world["base"], smtp_mailbox, "kochi.officer", office="MPEDA-KOCHI"),
        make_staff(world["base"], smtp_mailbox, "chennai.officer", office="MPEDA-CHENNAI"),
    )


def test_the_queue_decisions_and_who_may_decide(world, smtp_mailbox):
    kochi, chennai = officers(world, smtp_mailbox)
    first, second = pending_application(world), pending_application(world)
    for application_id in (second, first):  # paid in the other order than made
        sandbox_pay(world, application_id)
        wait_until(lambda a=application_id: status_of(world, a) == "submitted", what="submitted")
    elsewhere = paid(world, **CHENNAI)
    unpaid = pending_application(world)

    # Each office sees its own paid applications, first paid first.
    assert queue(world, kochi) == [second, first]
    assert queue(world, chennai) == [elsewhere]
    assert queue(world, kochi, status="pending_payment") == [unpaid]
    export = call(world, "GET", f"{QUEUE}/export.xlsx", token=kochi)
    assert export.status_code == 200 and export.content.startswith(b"PK")
    admin = login(world["base"], "admin", ADMIN_PASSWORD)
    for token in (world["token"], admin):  # exporters and admins are not officers
        assert call(world, "GET", QUEUE, token=token).status_code == 403
        assert decide(world, token, first, "approve").status_code == 403

    # Another office's officer finds nothing: not the application, not a way to decide it.
    assert call(world, "GET", f"/api/v1/applications/{first}", token=chennai).status_code == 404
    assert decide(world, chennai, first, "approve").status_code == 404
    assert call(world, "GET", f"/api/v1/applications/{first}", token=kochi).status_code == 200

    # Bodies: a reason is required, not blank, at most 2000 characters; so are remarks' limits.
    for decision, body in (
        ("reject", {}),
        ("reject", {"reason": "   "}),
        ("reject", {"reason": "x" * 2001}),
        ("approve", {"remarks": "x" * 2001}),
    ):
        refused = decide(world, kochi, first, decision, body)
        assert refused.status_code == 400, (decision, body, refused.text)
    assert status_of(world, first) == "submitted"

    # Two officers' clicks at once: one decision, one 409.
    pool = eventlet.GreenPool(2)
    answers = list(
        pool.imap(
            lambda body: decide(world, kochi, second, "approve", body),
            [{"remarks": "Checked against the invoice."}, None],
        )
    )
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    conflict = next(a for a in answers if a.status_code == 409)
    assert conflict.json()["error"]["code"] == "APPLICATION_NOT_PENDING"
    approved = next(a for a in answers if a.status_code == 200).json()
    assert (approved["status"], approved["decided_by"]) == ("approved", "kochi.officer")
    assert approved["decided_at"] and approved["post_audit"] is False

    rejected = decide(world, kochi, first, "reject", {"reason": "Origin not established."})
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    for decision, body in (
        ("reject", {"reason": "again"}),
        ("approve", None),
        ("discrepancy", {"comment": "too late"}),
    ):
        late = decide(world, kochi, first, decision, body)
        assert late.status_code == 409 and late.json()["error"]["code"] == "APPLICATION_NOT_PENDING"
    assert decide(world, kochi, unpaid, "approve").status_code == 409
    assert queue(world, kochi) == []

    assert history(world, first)[-2:] == [
        ("pending_payment", "submitted", "payment"),
        ("submitted", "rejected", "kochi.officer"),
    ]
    [event] = events("application_rejected", first)
    assert (event["reason"], event["agency_code"], event["issuing_office_code"]) == (
        "Origin not established.",
        "MPEDA",
        "MPEDA-KOCHI",
    )
    [event] = events("application_approved", second)
    assert (event["officer"], event["application_number"]) == ("kochi.officer", approved["number"])

    # Turnaround: counts per office (the hours are exact in tests/unit/test_examination.py).
    stats = call(world, "GET", "/api/v1/admin/stats", token=admin)
    assert stats.status_code == 200, stats.text
    by_office = {o["issuing_office_code"]: o for o in stats.json()["offices"]}
    assert (by_office["MPEDA-KOCHI"]["waiting"], by_office["MPEDA-KOCHI"]["decided"]) == (0, 2)
    assert by_office["MPEDA-KOCHI"]["turnaround_median_hours"] >= 0
    assert (by_office["MPEDA-CHENNAI"]["waiting"], by_office["MPEDA-CHENNAI"]["decided"]) == (1, 0)
    assert by_office["MPEDA-CHENNAI"]["turnaround_p90_hours"] is None
    eic_admin = make_staff(world["base"], smtp_mailbox, "eic.admin", agency="EIC")
    assert call(world, "GET", "/api/v1/admin/stats", token=eic_admin).json()["offices"] == []
    for days in ("0", "367", "soon"):
        assert (
            call(world, "GET", "/api/v1/admin/stats", token=admin, params={"days": days}).status_code == 400
        )
    assert call(world, "GET", "/api/v1/admin/stats").status_code == 403  # the exporter


def test_discrepancy_edit_and_resubmission_with_the_dsc(world, smtp_mailbox):
    kochi, _ = officers(world, smtp_mailbox)
    application_id = paid(world)
    path = f"/api/v1/applications/{application_id}"
    for body in ({}, {"comment": ""}, {"comment": "x" * 2001}):
        assert decide(world, kochi, application_id, "discrepancy", body).status_code == 400
    sent_back = decide(
        world, kochi, application_id, "discrepancy", {"comment": "The invoice date differs from the invoice."}
    )
    assert sent_back.status_code == 200 and sent_back.json()["status"] == "discrepancy"
    assert queue(world, kochi) == []
    [event] = events("discrepancy_raised", application_id)
    assert (event["comment"], event["iec"], event["issuing_office_code"]) == (
        "The invoice date differs from the invoice.",
        IEC,
        "MPEDA-KOCHI",
    )

    # What the number was given for stays; the rest may be corrected.
    before = call(world, "GET", path).json()
    for field, value in (
        ("issuing_office_code", "MPEDA-ALAPPUZHA"),
        ("agreement_code", "002"),
        ("branch_id", "B2"),
        ("kind", "non_preferential"),
    ):
        frozen = call(world, "PUT", path, json=dict(before["form"], **{field: value}))
        assert frozen.status_code == 422, frozen.text
        assert frozen.json()["error"]["code"] == "APPLICATION_FIELD_FROZEN"
        assert list(frozen.json()["error"]["fields"]) == [field]
    assert call(world, "GET", path).json()["form"] == before["form"]
    corrected = dict(before["form"], invoice=dict(before["form"]["invoice"], number="MSF/2026/119"))
    edited = call(world, "PUT", path, json=corrected)
    assert edited.status_code == 200 and edited.json()["status"] == "discrepancy"
    assert call(world, "POST", f"{path}/resubmit", token=kochi, json={"signature": "AAAA"}).status_code == 403

    signature = signature_for(world, application_id)  # over the new payload
    resubmitted = call(world, "POST", f"{path}/resubmit", json={"signature": signature})
    assert resubmitted.status_code == 200, resubmitted.text
    body = resubmitted.json()
    assert (body["status"], body["number"]) == ("submitted", before["number"])
    assert body["form"]["invoice"]["number"] == "MSF/2026/119"
    again = call(world, "POST", f"{path}/resubmit", json={"signature": signature})
    assert again.status_code == 200  # a retried request: nothing new
    assert queue(world, kochi) == [application_id]
    assert rows(
        "application",
        "select count(*) from submission_evidence where application_id = :id",
        id=application_id,
    ) == [(2,)]
    assert history(world, application_id) == [
        (None, "draft", IEC),
        ("draft", "pending_payment", IEC),
        ("pending_payment", "submitted", "payment"),
        ("submitted", "discrepancy", "kochi.officer"),
        ("discrepancy", "submitted", IEC),
    ]
    [event] = events("application_resubmitted", application_id)
    assert event["application_number"] == before["number"]
    assert (event["agency_code"], event["issuing_office_code"]) == ("MPEDA", "MPEDA-KOCHI")
    assert call(world, "PUT", path, json=corrected).status_code == 409  # examined again


def test_self_certified_exporters_are_approved_on_payment_for_post_audit(world, smtp_mailbox):
    kochi, _ = officers(world, smtp_mailbox)
    admin = login(world["base"], "admin", ADMIN_PASSWORD)
    mpeda_admin = make_staff(world["base"], smtp_mailbox, "mpeda.admin", agency="MPEDA")
    eic_admin = make_staff(world["base"], smtp_mailbox, "eic.admin", agency="EIC")
    flags = "/api/v1/admin/self-certification"
    flag = {"iec": IEC, "agency_code": "MPEDA"}

    not_yet = paid(world, **IKCEPA)  # not flagged yet: an officer examines it

    assert call(world, "POST", flags, token=eic_admin, json=flag).status_code == 403
    assert call(world, "POST", flags, json=flag).status_code == 403  # the exporter itself
    for bad, code in (
        ({"iec": "AAAAA0000A", "agency_code": "MPEDA"}, 422),
        ({"iec": IEC, "agency_code": "NOPE"}, 422),
        ({"iec": "short", "agency_code": "MPEDA"}, 400),
    ):
        assert call(world, "POST", flags, token=admin, json=bad).status_code == code, bad
    made = call(world, "POST", flags, token=mpeda_admin, json=flag)
    assert made.status_code == 201 and made.json()["flagged_by"] == "mpeda.admin"
    assert call(world, "POST", flags, token=admin, json=flag).status_code == 201  # once only
    assert [f["iec"] for f in call(world, "GET", flags, token=admin).json()["items"]] == [IEC]
    assert call(world, "GET", flags, token=eic_admin).json()["items"] == []

    approved_at_once = paid(world, until=("approved", "issued"), **IKCEPA)
    aifta = paid(world)  # AIFTA does not allow self-certification

    view = call(world, "GET", f"/api/v1/applications/{approved_at_once}").json()
    assert (view["decided_by"], view["post_audit"]) == ("self-certification", True)
    assert history(world, approved_at_once)[2:4] == [
        ("pending_payment", "submitted", "payment"),
        ("submitted", "approved", "self-certification"),
    ]
    [submitted] = events("application_submitted", approved_at_once)
    [approval] = events("application_approved", approved_at_once)
    assert submitted["agreement_code"] == "002" and approval["officer"] == "self-certification"
    assert status_of(world, aifta) == "submitted" and status_of(world, not_yet) == "submitted"
    assert queue(world, kochi) == [not_yet, aifta]
    assert queue(world, kochi, post_audit="true") == [approved_at_once]

    # A duplicate or an in-lieu of the self-certified certificate still goes to an officer.
    certificate = wait_until(
        lambda: next(
            (
                c
                for c in call(world, "GET", "/api/v1/certificates").json()["items"]
                if c["application_id"] == approved_at_once
            ),
            None,
        ),
        what="the self-certified certificate",
    )
    for kind, extra in (
        ("duplicate", {}),
        ("in_lieu", {"form": json.dumps({"exporter_comments": "Consignee's address corrected."})}),
    ):
        requested = call(
            world,
            "POST",
            f"/api/v1/certificates/{certificate['id']}/duplicates",
            data={"kind": kind, "reason": "Original lost in transit.", **extra},
        )
        assert requested.status_code == 201, requested.text
        request_id = requested.json()["id"]
        sandbox_pay(world, request_id)
        wait_until(lambda r=request_id: status_of(world, r) == "submitted", what=f"{kind} submitted")
        assert events("application_approved", request_id) == []
        assert request_id in queue(world, kochi)
        assert request_id not in queue(world, kochi, post_audit="true")

    removed = call(world, "DELETE", f"{flags}/MPEDA/{IEC}", token=eic_admin)
    assert removed.status_code == 403
    assert call(world, "DELETE", f"{flags}/MPEDA/{IEC}", token=mpeda_admin).status_code == 204
    assert call(world, "DELETE", f"{flags}/MPEDA/{IEC}", token=admin).status_code == 404
    assert call(world, "GET", flags, token=admin).json()["items"] == []


def test_the_issued_certificate_number_comes_back_once(world, smtp_mailbox, amqp_uri):
    kochi, _ = officers(world, smtp_mailbox)
    application_id = paid(world)
    assert decide(world, kochi, application_id, "approve").status_code == 200  # a bare POST
    # The certificate service renders and signs on application_approved, then announces it.
    wait_until(lambda: status_of(world, application_id) == "issued", timeout=60, what="issued")
    view = call(world, "GET", f"/api/v1/applications/{application_id}").json()
    assert view["certificate_number"] == view["number"]
    changes = call(world, "GET", f"/api/v1/applications/{application_id}/history").json()["items"]
    assert (changes[-1]["from"], changes[-1]["to"], changes[-1]["actor"]) == (
        "approved",
        "issued",
        "certificate",
    )
    assert view["certificate_number"] in changes[-1]["comment"]

    # Another announcement for the same application (a replay, a second issuance) changes nothing.
    handled = rows("application", "select count(*) from inbox")[0][0]
    event = make_event(
        "certificate",
        "certificate_issued",
        {
            "certificate_id": str(uuid.uuid4()),
            "certificate_number": "MPEDA/OTHER",
            "application_id": application_id,
            "iec": IEC,
            "sha256": "ab" * 32,
            "url": f"{world['base']}/api/v1/verify?number=MPEDA%2FOTHER",
            "agency_code": "MPEDA",
            "issuing_office_code": "MPEDA-KOCHI",
        },
        "replay",
    )
    with Connection(amqp_uri) as conn:
        conn.Producer().publish(
            event,
            exchange=Exchange("certificate.events", type="topic", durable=True),
            routing_key="certificate_issued",
            serializer="json",
        )
    wait_until(
        lambda: rows("application", "select count(*) from inbox")[0][0] > handled, what="the replay handled"
    )
    after = call(world, "GET", f"/api/v1/applications/{application_id}").json()
    assert (after["status"], after["certificate_number"]) == ("issued", view["certificate_number"])
    assert len(call(world, "GET", f"/api/v1/applications/{application_id}/history").json()["items"]) == len(
        changes
    )
