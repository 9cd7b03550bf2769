"""The certificate service's process killed mid-issuance and started again: exactly one
certificate, nothing lost (architecture §9).

Everything runs in this process except the certificate service, which runs as `nameko run` of its
own, as in the Procfile. The signing service here is the real one with one change: the first time
it is asked to sign a certificate it signs, then SIGKILLs the certificate process, then answers
(to nobody). So the certificate process dies holding a signed PDF it has neither stored nor
registered, with the `application_approved` delivery unacked. Started again, it gets the event
redelivered and must issue the certificate once, with one `certificate_issued`.
"""

import os
import signal
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
import requests

from services.chassis.entrypoints import rpc
from services.signing.service import SigningService
from tests.conftest import ADMIN_PASSWORD, login, wait_until
from tests.integration.test_applications import HS2022, USD_RATE, call
from tests.integration.test_payments import pending_application, rows, sandbox_pay, status_of
from tests.staff import make_staff

ROOT = Path(__file__).resolve().parents[2]
NAMEKO = Path(sys.executable).parent / "nameko"
APPROVALS_HANDLED = "select count(*) from inbox where handler like '%.on_application_approved'"


class KillingSigningService(SigningService):
    """SigningService whose first certificate signature kills ``victim`` before it answers."""

    victim = None  # the certificate process (subprocess.Popen), set by the test
    signed = 0  # how many certificates it signed
    killed_after = None  # which signature the kill followed

    @rpc  # an override is an entrypoint only when decorated again
    def sign_certificate(self, agency_code, pdf_b64, reason=None, location=None):
        signed = super().sign_certificate(agency_code, pdf_b64, reason, location)
        cls = type(self)
        cls.signed += 1
        if cls.victim is not None and cls.killed_after is None:
            cls.killed_after = cls.signed
            os.kill(cls.victim.pid, signal.SIGKILL)
            cls.victim.wait(timeout=10)
        return signed


class CertificateProcess:
    """`nameko run ... services.certificate.service` with this test's environment; its output
    goes to a file (a pipe nobody drains would block it)."""

    def __init__(self, log: Path):
        self.log = log
        self.process = None

    def start(self):
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [str(NAMEKO), "run", "--config", "deploy/nameko.yaml", "services.certificate.service"],
                cwd=ROOT,
                env=dict(os.environ),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return self.process

    def kill(self):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    @property
    def text(self):
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@pytest.fixture
def certificate_process(tmp_path):
    process = CertificateProcess(tmp_path / "certificate.log")
    yield process
    process.kill()
    KillingSigningService.victim = None


def wait_for_certificate_service(base, process, timeout=60):
    """Until the gateway's health check reaches the certificate process (its consumers, the
    application_approved queue among them, are up by then)."""

    def up():
        assert process.process.poll() is None, process.text[-4000:]
        try:
            health = requests.get(f"{base}/health", timeout=5).json()
        except requests.RequestException:
            return False
        return health["services"]["certificate"]["status"] == "ok"

    wait_until(up, timeout=timeout, what=f"the certificate process\n{process.text[-2000:]}")


@pytest.fixture
def crash_world(platform, smtp_mailbox, tmp_path, platform_env, certificate_process):
    """test_applications' world, with the certificate service as its own process and the
    killing signing service in place of the signing service."""
    from tests.exporters import registered_exporter

    KillingSigningService.signed, KillingSigningService.killed_after = 0, None
    base = platform(
        "registration", "application", "payment", "notification", "verification", KillingSigningService
    )
    certificate_process.start()
    admin = {"Authorization": f"Bearer {login(base, 'admin', ADMIN_PASSWORD)}"}
    with open(HS2022, "rb") as f:
        assert (
            requests.post(
                f"{base}/api/v1/admin/reference/hs",
                headers=admin,
                timeout=60,
                files={"file": ("hs2022.csv", f, "text/csv")},
            ).status_code
            == 200
        )
    rate = requests.post(
        f"{base}/api/v1/admin/exchange-rates",
        headers=admin,
        timeout=10,
        json={
            "currency": "USD",
            "valid_from": (date.today() - timedelta(days=90)).isoformat(),
            "rate": USD_RATE,
        },
    )
    assert rate.status_code == 201, rate.text
    token, dsc = registered_exporter(base, smtp_mailbox, tmp_path, platform_env)
    wait_for_certificate_service(base, certificate_process)
    return {"base": base, "token": token, "dsc": dsc, "tmp": tmp_path, "var": platform_env}


def test_certificate_process_killed_mid_issuance_issues_exactly_once(
    crash_world, smtp_mailbox, certificate_process
):
    world = crash_world
    officer = make_staff(world["base"], smtp_mailbox, "kochi.officer", office="MPEDA-KOCHI")
    application_id = pending_application(world)
    sandbox_pay(world, application_id)
    wait_until(lambda: status_of(world, application_id) == "submitted", what="submitted")

    first = certificate_process.process
    KillingSigningService.victim = first
    approved = call(
        world,
        "POST",
        f"/api/v1/officer/applications/{application_id}/approve",
        token=officer,
        json={"remarks": "Checked against the invoice."},
    )
    assert approved.status_code == 200, approved.text

    # The certificate process dies right after its PDF was signed, before anything is stored.
    wait_until(lambda: first.poll() is not None, timeout=60, what="the kill")
    assert first.returncode == -signal.SIGKILL
    assert KillingSigningService.killed_after == 1
    assert rows("certificate", "select count(*) from certificate") == [(0,)]
    assert rows("certificate", APPROVALS_HANDLED) == [(0,)]
    assert status_of(world, application_id) == "approved"

    # Started again, it gets the unacked approval back and issues the certificate once.
    certificate_process.start()
    wait_until(
        lambda: rows("certificate", "select count(*) from certificate") == [(1,)],
        timeout=90,
        what=f"the certificate\n{certificate_process.text[-3000:]}",
    )
    wait_until(lambda: status_of(world, application_id) == "issued", timeout=30, what="issued")
    assert KillingSigningService.signed == 2  # signed again by the new process, not reused

    [(number, sha256, status)] = rows(
        "certificate",
        "select number, sha256, status from certificate where application_id = :a",
        a=application_id,
    )
    assert status == "valid" and number == approved.json()["number"]
    assert rows("certificate", "select count(*) from outbox where event_type = 'certificate_issued'") == [
        (1,)
    ]
    assert rows("certificate", APPROVALS_HANDLED) == [(1,)]
    # the application heard of it once: approved -> issued, once
    history = call(world, "GET", f"/api/v1/applications/{application_id}/history").json()["items"]
    assert [(h["from"], h["to"]) for h in history].count(("approved", "issued")) == 1

    verified = requests.get(f"{world['base']}/api/v1/verify", params={"number": number}, timeout=10)
    assert verified.status_code == 200, verified.text
    assert (verified.json()["status"], verified.json()["sha256"]) == ("valid", sha256)
    [listed] = call(world, "GET", "/api/v1/certificates").json()["items"]
    pdf = call(world, "GET", f"/api/v1/certificates/{listed['id']}.pdf")
    assert pdf.status_code == 200 and pdf.headers["X-Content-SHA256"] == sha256
    verdict = requests.post(
        f"{world['base']}/api/v1/verify",
        timeout=60,
        files={"file": ("c.pdf", pdf.content, "application/pdf")},
    ).json()
    assert verdict["valid"] and verdict["matches_registry"], verdict

    # Nothing left over: no dead letters, no handler failing, the second process still running.
    assert certificate_process.process.poll() is None, certificate_process.text[-3000:]
    assert "gave up" not in certificate_process.text
