"""The hostile corpus (tests/hostile_pdfs.py) against the running services, over HTTP: posted to
the public verification and uploaded as supporting documents. Each file is answered within its
bound with a clear answer (a 422 naming what was refused, or a verdict of not valid), nothing
is stored, and a certificate of ours still verifies after them."""

import time

import pytest
import requests

from tests import hostile_pdfs
from tests.conftest import wait_until
from tests.integration.test_applications import call, ready_draft, upload, world  # noqa: F401
from tests.integration.test_certificates import issue, officer  # noqa: F401
from tests.integration.test_payments import rows

DEADLINE = 3  # OPENCOO_UNTRUSTED_SECONDS here
SLACK = 4  # a child's start after a kill, the base64 and the RPCs around the job


@pytest.fixture
def bounded(platform_env, monkeypatch):  # after platform_env, whose RPC timeout it raises
    monkeypatch.setenv("OPENCOO_UNTRUSTED_SECONDS", str(DEADLINE))
    monkeypatch.setenv("OPENCOO_RPC_TIMEOUT", "10")


def post_verify(base, content: bytes):
    started = time.monotonic()
    answer = requests.post(
        f"{base}/api/v1/verify", timeout=60, files={"file": ("c.pdf", content, "application/pdf")}
    )
    return answer, time.monotonic() - started


@pytest.mark.parametrize("name", sorted(hostile_pdfs.CORPUS))
def test_a_hostile_file_posted_to_verify_is_answered_within_its_bound(bounded, world, name):
    answer, took = post_verify(world["base"], hostile_pdfs.CORPUS[name]())
    assert took < DEADLINE + SLACK, (name, took)
    if answer.status_code == 422:
        error = answer.json()["error"]
        assert error["code"] == "PDF_TOO_COMPLEX" and error["fields"]["file"], error
    else:
        assert answer.status_code == 200, answer.text
        verdict = answer.json()
        assert not verdict["valid"] and not verdict["signature_valid"]
        assert not verdict["matches_registry"] and verdict["signature"]["problem"]


def test_the_reports_file_is_refused_at_once_and_nothing_waits_behind_it(bounded, world, officer):
    """The 365-byte file of the report, then a certificate of ours, which still verifies."""
    answer, took = post_verify(world["base"], hostile_pdfs.xref_stream_size())
    assert answer.status_code == 422 and "/Size of 2,147,483,647" in answer.text
    assert took < 1.5
    certificate = issue(world, officer)
    pdf = call(world, "GET", f"/api/v1/certificates/{certificate['id']}.pdf").content
    answer, _ = post_verify(world["base"], pdf)
    assert answer.status_code == 200 and answer.json()["valid"], answer.text


@pytest.mark.parametrize(
    "name",
    [
        "xref-stream-size",
        "huge-count",
        "content-bomb",
        "object-stream-bomb",
        "deep-arrays",
        "reference-loop",
        "prev-loop",
        "signature-field-kids",
        "signature-deep-cms",
    ],
)
def test_a_hostile_document_upload_is_refused_and_nothing_is_stored(bounded, world, name):
    application_id = ready_draft(world)
    before = rows("application", "select count(*) from document")
    started = time.monotonic()
    answer = upload(world, application_id, hostile_pdfs.CORPUS[name]())
    assert time.monotonic() - started < DEADLINE + SLACK
    if name in ("deep-arrays", "reference-loop", "signature-deep-cms"):
        # readable one-page files, however odd: stored like any other (bounded work)
        assert answer.status_code == 201, answer.text
        return
    if name == "signature-field-kids" and answer.status_code == 201:
        return  # 20,000 nested fields read within the deadline on a quiet machine, not on a busy one
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] in ("DOCUMENT_NOT_PDF", "DOCUMENT_TOO_COMPLEX")
    assert rows("application", "select count(*) from document") == before


@pytest.mark.parametrize("name", sorted(hostile_pdfs.ACTIVE))
def test_a_document_with_active_content_is_refused(bounded, world, name):
    application_id = ready_draft(world)
    before = rows("application", "select count(*) from document")
    answer = upload(world, application_id, hostile_pdfs.ACTIVE[name]())
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "DOCUMENT_ACTIVE_CONTENT" and "active content" in error["message"]
    assert rows("application", "select count(*) from document") == before


def test_verification_answers_busy_rather_than_queueing_behind_an_attack(world, monkeypatch):
    """With every place in the large files' sandbox queue taken by slow files, the next large
    one is told 503 VERIFICATION_BUSY with Retry-After at once, a certificate-sized file is
    verified meanwhile (it queues apart), and the queue drains."""
    import eventlet

    slow = hostile_pdfs.wide_fields()
    callers = [eventlet.spawn(post_verify, world["base"], slow) for _ in range(8)]
    eventlet.sleep(1.0)
    small, took = post_verify(world["base"], hostile_pdfs.minimal())
    assert small.status_code == 200 and took < 3, (small.text, took)
    answers = [thread.wait()[0] for thread in callers]
    codes = sorted({a.status_code for a in answers})
    assert set(codes) <= {200, 422, 429, 503}, codes
    busy = [a for a in answers if a.status_code == 503]
    assert busy, "eight slow files never filled the queue"
    assert all(
        a.json()["error"]["code"] == "VERIFICATION_BUSY" and int(a.headers["Retry-After"]) > 0 for a in busy
    )
    wait_until(
        lambda: post_verify(world["base"], slow)[0].status_code != 503, timeout=60, what="the queue drained"
    )
