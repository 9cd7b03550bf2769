"""Verification of a certificate PDF: POST /api/v1/verify through the platform against pyHanko's
validation in a bare loop, then the same while hostile files are posted beside it.

    .venv/bin/python bench/verification.py [--duration 20] [--clients 4] [--attackers 2]

It starts `opencoo up` in a virtual host and data folder of its own (OPENCOO_TRUSTED_PROXIES=1, so
that each request may say it comes from its own address and the public rate limit does not
count them together), signs one PDF with the MPEDA key of the platform's token, and measures:

1. **Bare loop**: ``pades_validation.validate`` (what the verification service's sandbox runs) on
   that PDF, one after another in this process, with the trust material the signing service
   gives: the ceiling for one process.
2. **Platform**: ``--clients`` clients posting the PDF for ``--duration`` seconds: req/s, p50, p99
   and the ratio to the bare loop.
3. **Under attack**: the same clients while ``--attackers`` more post, without pause, the
   costliest files within the caps (`tests/hostile_pdfs.py`'s wide-fields: 6 MB that parse for
   seconds) and, in a second run, the same kind cut to certificate size (240 KB, a quarter of a
   second each, in the sandbox certificates use): the clients' req/s and p99, and how often
   anyone was told 503 VERIFICATION_BUSY.
4. The resident memory of the verification process and its sandbox child before and after.

Figures go to `bench/results/verification.json` and bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import sys
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.dont_write_bytecode = True

from bench.rpc_roundtrip import (  # noqa: E402
    VENV_BIN,
    Group,
    add_broker_arguments,
    clean_up,
    cmdline,
    descendants,
    log,
    platform_run,
    status_kb,
    wait_http,
    write_result,
)

RESULTS = ROOT / "bench" / "results" / "verification.json"
ADMIN_PASSWORD = "bench horse battery staple"


def signed_certificate_pdf() -> tuple[bytes, list[bytes], dict]:
    """A PDF signed with the MPEDA key on the platform's token, and the trust material the
    signing service would give for it (anchors as DER, agency certificates by SHA-256)."""
    from services.chassis.pdf import render_pdf
    from services.signing import pades, trust

    pdf = render_pdf("<h1>Certificate of Origin</h1><p>Frozen shrimps, HS 0306.17</p>" * 20)
    signer = pades.AgencySigner()
    try:
        signed = signer.sign(pdf, "MPEDA", reason="Certificate of Origin issued", location="Kochi")
        agencies = {digest.hex(): code for digest, code in signer.agency_certificates().items()}
    finally:
        signer.close()
    return signed, [anchor.dump() for anchor in trust.trust_anchors()], agencies


def bare_loop(pdf: bytes, anchors, agencies, duration: float) -> dict:
    from services.verification import pades_validation

    pades_validation.validate(pdf, anchors, agencies)  # warm: imports and caches
    times = []
    started = time.monotonic()
    while time.monotonic() - started < duration:
        t0 = time.monotonic()
        verdict = pades_validation.validate(pdf, anchors, agencies)
        times.append(time.monotonic() - t0)
    assert verdict["signature_valid"], verdict
    return {
        "count": len(times),
        "per_s": round(len(times) / sum(times), 2),
        "p50_ms": round(statistics.median(times) * 1000, 1),
    }


def post(base: str, content: bytes) -> requests.Response:
    address = f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(256)}"
    return requests.post(
        f"{base}/api/v1/verify",
        timeout=60,
        headers={"X-Forwarded-For": address},
        files={"file": ("c.pdf", content, "application/pdf")},
    )


def load(
    base: str, pdf: bytes, clients: int, duration: float, attackers: int = 0, hostile: bytes = b""
) -> dict:
    """``clients`` posting ``pdf`` (and ``attackers`` posting ``hostile``) for ``duration``."""
    stop = time.monotonic() + duration
    results: dict[str, list] = {"client": [], "attacker": []}

    def run(kind, content):
        while time.monotonic() < stop:
            t0 = time.monotonic()
            answer = post(base, content)
            results[kind].append(
                (
                    time.monotonic() - t0,
                    answer.status_code,
                    answer.json().get("signature_valid") if answer.ok else None,
                )
            )

    threads = [threading.Thread(target=run, args=("client", pdf)) for _ in range(clients)]
    threads += [threading.Thread(target=run, args=("attacker", hostile)) for _ in range(attackers)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    served = [r for r in results["client"] if r[1] == 200]
    assert all(r[2] for r in served), "a valid certificate was not found valid"
    times = sorted(r[0] for r in served)
    return {
        "clients": clients,
        "attackers": attackers,
        "seconds": round(elapsed, 1),
        "valid_per_s": round(len(served) / elapsed, 2),
        "p50_ms": round(times[len(times) // 2] * 1000) if times else None,
        "p99_ms": round(times[int(len(times) * 0.99)] * 1000) if times else None,
        "client_busy_503": sum(1 for r in results["client"] if r[1] == 503),
        "client_other": sorted({r[1] for r in results["client"]} - {200, 503}),
        "attacker_answers": {
            str(code): sum(1 for r in results["attacker"] if r[1] == code)
            for code in sorted({r[1] for r in results["attacker"]})
        },
    }


def verification_processes(root: int) -> dict[str, int]:
    """The verification service's `nameko run` and its sandbox child: name -> resident KB."""
    found = {}
    for pid in descendants(root):
        text = " ".join(cmdline(pid))
        if "services.verification.service" not in text:
            continue
        name = "sandbox" if "chassis.offloading import main" in text else "service"
        found[name] = status_kb(pid, "VmRSS")
    return found


def report(result: dict) -> str:
    bare, calm = result["bare"], result["platform"]
    memory = result["memory_kb"]
    attacks = [
        f"  the same, {attacked['attackers']} attackers ({what:>9s}): "
        f"{attacked['valid_per_s']:7.2f} /s  p50 {attacked['p50_ms']} ms  p99 "
        f"{attacked['p99_ms']} ms  clients told busy: {attacked['client_busy_503']}  "
        f"attackers' answers: {attacked['attacker_answers']}"
        for what, attacked in result["under_attack"].items()
    ]
    return "\n".join(
        [
            "verification of one signed PDF (MPEDA, 1 signature)",
            f"  bare pades_validation.validate loop : {bare['per_s']:7.2f} /s  p50 {bare['p50_ms']} ms",
            f"  POST /api/v1/verify, {calm['clients']} clients     : {calm['valid_per_s']:7.2f} /s  "
            f"p50 {calm['p50_ms']} ms  p99 {calm['p99_ms']} ms  ratio "
            f"{calm['valid_per_s'] / bare['per_s']:.2f}",
            *attacks,
            f"  memory (RSS KB) before / after      : {memory['before']} / {memory['after']}",
        ]
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_broker_arguments(ap)
    ap.add_argument("--duration", type=float, default=20)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--attackers", type=int, default=2)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--output", type=Path, default=RESULTS)
    args = ap.parse_args()

    from tests import hostile_pdfs

    mgmt, vhost, tmp, base, env = platform_run(args, "opencoo-bench-verify-", ADMIN_PASSWORD)
    env["OPENCOO_TRUSTED_PROXIES"] = "1"
    group = Group("platform")
    try:
        up = group.start(
            [str(VENV_BIN / "opencoo"), "up"], log_path=tmp / "opencoo-up.log", cwd=ROOT, env=env
        )
        started = wait_http(f"{base}/health", args.start_timeout, [up])
        log(f"platform: /health answers 200 after {started:.1f}s")
        os.environ.update({k: env[k] for k in ("OPENCOO_VAR", "OPENCOO_PUBLIC_URL")})
        pdf, anchors, agencies = signed_certificate_pdf()
        log(f"bare loop: {args.duration:g}s")
        bare = bare_loop(pdf, anchors, agencies, args.duration)
        for _ in range(3):  # warm the service and its sandbox
            post(base, pdf)
        before = verification_processes(up.pid)
        log(f"platform: {args.clients} clients for {args.duration:g}s")
        calm = load(base, pdf, args.clients, args.duration)
        attacked = {}
        for what, hostile in (
            ("6 MB", hostile_pdfs.wide_fields()),
            ("240 KB", hostile_pdfs.wide_fields(40_000)),
        ):
            log(f"under attack: {args.attackers} attackers ({what}) for {args.duration:g}s")
            attacked[what] = load(base, pdf, args.clients, args.duration, args.attackers, hostile)
        result = {
            "bare": bare,
            "platform": calm,
            "under_attack": attacked,
            "memory_kb": {"before": before, "after": verification_processes(up.pid)},
            "pdf_bytes": len(pdf),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        }
        write_result(args, result, report(result))
        return 0
    finally:
        group.stop(sig=signal.SIGINT, wait=45)
        clean_up(mgmt, vhost, tmp, args.keep)


if __name__ == "__main__":
    sys.exit(main())
