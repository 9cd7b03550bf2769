"""The portal's pages against the API calls they make, in one run.

Run from the repository root:

    .venv/bin/python bench/portal.py [--rows 10000] [--waiting 1000] [--users 20] [--duration 15]

Against one ``opencoo up`` (own RabbitMQ virtual host and OPENCOO_VAR, the helpers of
``bench/rpc_roundtrip.py`` and ``bench/applications.py``): the demo exporter registers, submits
one application, and ``--rows`` applications of its own are bulk-inserted; an officer of
``OFFICE`` is made by the admin (its password read from the mail folder) and ``--waiting`` paid
applications of 50 other exporters, submitted to that office, are bulk-inserted the same way
(the demo exporter's lists keep their ``--rows``; nothing else is in that office: its queue holds
exactly them). Then ``--users`` threads, each logged in to the portal with its own session (the
exporter's, or the officer's for the queue), load each page for ``--duration`` seconds, and the
same threads make the API calls that page makes (with the user's token) for as long: pages/s,
p50 and p95 of both, the portal's own cost per page (how much longer a page takes than its API
calls, as a share of them: target under 25 %), and each page's weight (HTML and CSS; target
under 150 KB). Each page is also loaded at the portal's own address, as an ingress that routes
by path reaches it: the difference is what the gateway's handing on of pages costs.

    dashboard          5 counts (the menu): GET /api/v1/applications?status=…&per_page=1
    application list   GET /api/v1/applications?per_page=25&page=…
    officer queue      GET /api/v1/officer/applications?per_page=25&page=… (the officer's)
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import functools
import os
import re
import signal
import socket
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

import requests

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

from applications import ADMIN_PASSWORD, admin_setup, bulk_insert, exporter_setup, run_submissions  # noqa: E402
from rpc_roundtrip import (  # noqa: E402
    ROOT,
    VENV_BIN,
    Group,
    add_broker_arguments,
    clean_up,
    cmdline,
    cpu_busy,
    cpu_seconds,
    descendants,
    log,
    machine,
    machine_cpu_seconds,
    platform_run,
    wait_http,
    write_result,
)

RESULTS = BENCH / "results" / "portal.json"
STATUSES = ("draft", "pending_payment", "submitted", "discrepancy", "issued")
TARGET_OWN_COST = 0.25
TARGET_WEIGHT = 150_000
OTHERS_WARNING = 10  # % of the machine used by processes not of this run during a measurement
# the officer's issuing office: one the bulk insert of the exporter's applications never uses
OFFICE = "MPEDA-CHENNAI"
OFFICER = "chennai.officer"


def portal_login(base: str, username: str, password: str) -> requests.Session:
    browser = requests.Session()
    form = browser.get(f"{base}/login", timeout=30).text
    field = lambda name: re.search(rf'name="{name}" value="([^"]*)"', form).group(1)  # noqa: E731
    a, b = (int(n) for n in re.search(r"What is (\d+) \+ (\d+)\?", form).groups())
    done = browser.post(
        f"{base}/login",
        timeout=30,
        allow_redirects=False,
        data={
            "csrf_token": field("csrf_token"),
            "captcha_id": field("captcha_id"),
            "next": "/dashboard",
            "username": username,
            "password": password,
            "captcha_answer": str(a + b),
        },
    )
    assert done.status_code == 303, done.text[:300]
    return browser


def officer_setup(base: str, var: Path) -> tuple[str, str]:
    """The admin makes an officer of ``OFFICE``; its password is read from the mail folder:
    (token, password)."""
    from tests.conftest import login
    from tests.e2e.mail_drop import emailed_password

    admin = {"Authorization": f"Bearer {login(base, 'admin', ADMIN_PASSWORD)}"}
    address = f"{OFFICER}@mpeda.example.in"
    made = requests.post(
        f"{base}/api/v1/admin/officers",
        headers=admin,
        timeout=30,
        json={
            "username": OFFICER,
            "name": "Chennai Officer",
            "email": address,
            "mobile": "+919847000123",
            "agency_code": "MPEDA",
            "issuing_office_code": OFFICE,
        },
    )
    assert made.status_code == 201, made.text
    password = emailed_password(var, address, after=0)
    return login(base, OFFICER, password), password


def queue_insert(db_path: Path, office: str, rows: int) -> dict:
    """``rows`` paid applications of 50 exporters waiting in ``office``'s queue, bulk-inserted as
    ``applications.bulk_insert`` inserts the demo exporter's (SQLAlchemy Core, its one-product
    form), paid two minutes apart (the queue's order is the payment's)."""
    from sqlalchemy import create_engine, insert, select

    from services.application.models import Application

    engine = create_engine(f"sqlite:///{db_path}")
    with engine.connect() as conn:
        template = conn.execute(
            select(Application.data).where(Application.status == "pending_payment").limit(1)
        ).scalar_one()
    template = copy.deepcopy(template)
    template["products"] = template["products"][:1]
    now = dt.datetime.utcnow()
    year = now.year
    t0 = time.perf_counter()
    batch = []
    for n in range(rows):
        created = now - dt.timedelta(days=3, minutes=2 * (rows - n))
        paid = created + dt.timedelta(minutes=1)
        data = {
            **template,
            "kind": "preferential",
            "agreement_code": "013",
            "agency_code": "MPEDA",
            "issuing_office_code": office,
            "invoice": {"number": f"MSF/{year}/Q{n:05d}", "date": (created.date()).isoformat()},
        }
        batch.append(
            {
                "id": str(uuid.uuid4()),
                "iec": f"AAAQ{n % 50:05d}X",  # not the demo exporter: its lists stay as they were
                "status": "submitted",
                "kind": "preferential",
                "agreement_code": "013",
                "agency_code": "MPEDA",
                "issuing_office_code": office,
                # far past the numbers of the live submission and of the bulk insert
                "number": f"MPEDA/{year}/013/{5_000_000 + n:07d}A",
                "data": data,
                "cloned_from": None,
                "created_at": created,
                "updated_at": paid,
                "submitted_at": created,
                "paid_at": paid,
            }
        )
    with engine.begin() as conn:
        conn.execute(insert(Application.__table__), batch)
    seconds = time.perf_counter() - t0
    engine.dispose()
    return {"rows": rows, "office": office, "seconds": round(seconds, 2), "rows_per_s": round(rows / seconds)}


def is_rabbitmq(pid: int) -> bool:
    return any(arg.endswith("/beam.smp") for arg in cmdline(pid)[:1])


def others_busy(up_pid: int):
    """A probe of how busy the machine is with processes not of this run (neither the platform,
    nor RabbitMQ, which other users of the broker share, nor this script): call it before a
    measurement, and what it returns after, for that share in % of all cores."""

    def ours() -> float:
        pids = descendants(up_pid) + [os.getpid()]
        pids += [pid for pid in map(int, filter(str.isdigit, os.listdir("/proc"))) if is_rabbitmq(pid)]
        return sum(c for c in map(cpu_seconds, pids) if c is not None)

    began, machine_before, ours_before = time.perf_counter(), machine_cpu_seconds(), ours()

    def share() -> float:
        others = (machine_cpu_seconds() - machine_before) - (ours() - ours_before)
        return round(max(0.0, others) / (time.perf_counter() - began) / (os.cpu_count() or 1) * 100, 1)

    return share


def hammer(sessions, work, duration: float) -> dict:
    """Each session in its own thread runs ``work(session, n)`` (one page, or its API calls)
    until the time is up: units/s and latency percentiles of a unit."""
    times: list[float] = []
    errors = [0]
    stop = time.perf_counter() + duration
    lock = threading.Lock()

    def user(session):
        n = 0
        while time.perf_counter() < stop:
            started = time.perf_counter()
            try:
                work(session, n)
            except Exception:  # noqa: BLE001  (counted, the run goes on)
                with lock:
                    errors[0] += 1
                continue
            with lock:
                times.append(time.perf_counter() - started)
            n += 1

    threads = [threading.Thread(target=user, args=(s,)) for s in sessions]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    times.sort()
    return {
        "per_s": round(len(times) / elapsed, 1),
        "units": len(times),
        "errors": errors[0],
        "mean_ms": round(statistics.fmean(times) * 1000, 1) if times else None,
        "p50_ms": round(times[len(times) // 2] * 1000, 1) if times else None,
        "p95_ms": round(times[int(len(times) * 0.95)] * 1000, 1) if times else None,
    }


def checked(response):
    response.raise_for_status()
    return response


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=10_000, help="applications of the exporter")
    ap.add_argument("--waiting", type=int, default=1000, help="paid applications in the officer's queue")
    ap.add_argument("--users", type=int, default=20, help="concurrent users (threads)")
    ap.add_argument("--duration", type=float, default=15, help="seconds per measurement")
    add_broker_arguments(ap)
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, data)")
    ap.add_argument("--output", type=Path, default=RESULTS)
    args = ap.parse_args()

    mgmt, vhost, tmp, base, env = platform_run(args, "opencoo-bench-portal-", ADMIN_PASSWORD)
    with socket.socket() as probe_port:
        probe_port.bind(("127.0.0.1", 0))
        env["OPENCOO_PORTAL_HTTP"] = f"127.0.0.1:{probe_port.getsockname()[1]}"
    portal_root = f"http://{env['OPENCOO_PORTAL_HTTP']}"
    var = tmp / "var"
    for k in ("OPENCOO_VAR", "OPENCOO_AMQP_URI"):
        os.environ[k] = env[k]
    group = Group("platform")
    result: dict = {
        "benchmark": "portal",
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    try:
        result["machine"] = machine(mgmt, None)
        result["cpu_busy_before_pct"] = cpu_busy()
        up = group.start(
            [str(VENV_BIN / "opencoo"), "up"], log_path=tmp / "opencoo-up.log", cwd=ROOT, env=env
        )
        log(f"platform: /health after {wait_http(f'{base}/health', args.start_timeout, [up]):.1f}s")
        admin_setup(base)
        token, dsc, password = exporter_setup(base, var, tmp)
        run_submissions(base, token, dsc, tmp, 1, 1)
        from tests.exporters import IEC

        log(f"bulk insert: {args.rows} applications")
        result["bulk_insert"] = bulk_insert(var / "db" / "application.sqlite3", IEC, args.rows)
        officer_token, officer_password = officer_setup(base, var)
        log(f"bulk insert: {args.waiting} applications waiting in {OFFICE}")
        result["queue_insert"] = queue_insert(var / "db" / "application.sqlite3", OFFICE, args.waiting)
        pages = [portal_login(base, IEC, password) for _ in range(args.users)]
        apis = [requests.Session() for _ in range(args.users)]
        for s in apis:
            s.headers.update({"Authorization": f"Bearer {token}"})
        officers = [portal_login(base, OFFICER, officer_password) for _ in range(args.users)]
        officer_apis = [requests.Session() for _ in range(args.users)]
        for s in officer_apis:
            s.headers.update({"Authorization": f"Bearer {officer_token}"})
        total = checked(
            apis[0].get(f"{base}/api/v1/applications", params={"per_page": 1}, timeout=30)
        ).json()["total"]
        last_page = max(1, total // 25)
        waiting = checked(
            officer_apis[0].get(f"{base}/api/v1/officer/applications", params={"per_page": 1}, timeout=30)
        ).json()["total"]
        assert waiting == args.waiting, f"{waiting} in the queue, {args.waiting} expected"
        queue_last_page = max(1, -(-waiting // 25))

        def dashboard_page(session, n, root=base):
            checked(session.get(f"{root}/dashboard", timeout=60))

        def dashboard_api(session, n):
            for status in STATUSES:
                checked(
                    session.get(
                        f"{base}/api/v1/applications", params={"status": status, "per_page": 1}, timeout=60
                    )
                )

        def list_page(session, n, root=base):
            checked(session.get(f"{root}/applications", params={"page": 1 + n * 7 % last_page}, timeout=60))

        def list_api(session, n):
            checked(
                session.get(
                    f"{base}/api/v1/applications",
                    params={"per_page": 25, "page": 1 + n * 7 % last_page},
                    timeout=60,
                )
            )

        def queue_page(session, n, root=base):
            checked(
                session.get(
                    f"{root}/officer/applications", params={"page": 1 + n * 7 % queue_last_page}, timeout=60
                )
            )

        def queue_api(session, n):
            checked(
                session.get(
                    f"{base}/api/v1/officer/applications",
                    params={"per_page": 25, "page": 1 + n * 7 % queue_last_page},
                    timeout=60,
                )
            )

        result["pages"] = {}
        for name, page, calls, path, browsers, clients in (
            ("dashboard", dashboard_page, dashboard_api, "/dashboard", pages, apis),
            ("application list", list_page, list_api, "/applications?page=2", pages, apis),
            (
                "officer queue",
                queue_page,
                queue_api,
                "/officer/applications?page=2",
                officers,
                officer_apis,
            ),
        ):
            log(f"{name}: the API calls, {args.users} users, {args.duration:g}s")
            probe = others_busy(up.pid)
            direct = hammer(clients, calls, args.duration)
            direct["others_cpu_pct"] = probe()
            log(f"{name}: the portal's page, {args.users} users, {args.duration:g}s")
            probe = others_busy(up.pid)
            portal = hammer(browsers, page, args.duration)
            portal["others_cpu_pct"] = probe()
            # the same pages at the portal's own address, as an ingress routing by path reaches
            # it: what the gateway's handing on of pages (make up's one address) adds is the rest
            log(f"{name}: the page at the portal's own address, {args.users} users, {args.duration:g}s")
            probe = others_busy(up.pid)
            ingress = hammer(browsers, functools.partial(page, root=portal_root), args.duration)
            ingress["others_cpu_pct"] = probe()
            for what, run in (
                ("API calls", direct),
                ("portal's page", portal),
                ("page, own address", ingress),
            ):
                if run["others_cpu_pct"] > OTHERS_WARNING:
                    log(
                        f"{name}, {what}: WARNING other processes kept the machine "
                        f"{run['others_cpu_pct']}% busy during the measurement; the figures are off"
                    )
            html = checked(browsers[0].get(f"{base}{path}", timeout=30))
            css = browsers[0].get(f"{base}/static/portal.css", timeout=30)
            own = (portal["mean_ms"] - direct["mean_ms"]) / direct["mean_ms"]
            own_behind_ingress = (ingress["mean_ms"] - direct["mean_ms"]) / direct["mean_ms"]
            result["pages"][name] = {
                "api": direct,
                "portal": portal,
                "portal_own_address": ingress,
                "own_cost": round(own, 3),
                "own_cost_behind_ingress": round(own_behind_ingress, 3),
                "weight_bytes": len(html.content) + len(css.content),
            }
            log(
                f"{name}: portal {portal['per_s']}/s p95 {portal['p95_ms']} ms, "
                f"API {direct['per_s']}/s, own {own:.0%} ({own_behind_ingress:.0%} at its own address)"
            )
    finally:
        group.stop(sig=signal.SIGTERM, wait=45)
        clean_up(mgmt, vhost, tmp, args.keep)

    write_result(args, result, report(result))
    return 0


def report(result: dict) -> str:
    lines = [
        f"OpenCoO portal — {result['date']}  |  {result['machine']['nproc']} cores, "
        f"{result['machine']['cpu_model']}",
        f"{'page':<18}{'portal /s':>10}{'p50 ms':>9}{'p95 ms':>9}{'API /s':>9}{'p50 ms':>9}{'p95 ms':>9}"
        f"{'own cost':>10}{'ingress':>9}{'weight':>10}",
    ]
    for name, r in result["pages"].items():
        p, a = r["portal"], r["api"]
        lines.append(
            f"{name:<18}{p['per_s']:>10}{p['p50_ms']:>9}{p['p95_ms']:>9}{a['per_s']:>9}{a['p50_ms']:>9}"
            f"{a['p95_ms']:>9}{r['own_cost']:>10.0%}{r['own_cost_behind_ingress']:>9.0%}{r['weight_bytes']:>10}"
        )
    worst = max(r["own_cost"] for r in result["pages"].values())
    heaviest = max(r["weight_bytes"] for r in result["pages"].values())
    lines.append(
        f"own cost per page at most {worst:.0%} (target < {TARGET_OWN_COST:.0%}: "
        f"{'MET' if worst < TARGET_OWN_COST else 'NOT MET'}); heaviest page {heaviest} B "
        f"(target < {TARGET_WEIGHT}: {'MET' if heaviest < TARGET_WEIGHT else 'NOT MET'})"
    )
    others = max(
        r[side].get("others_cpu_pct", 0) for r in result["pages"].values() for side in ("api", "portal")
    )
    lines.append(
        f"other processes kept the machine at most {others}% busy during a measurement"
        + (f" (over {OTHERS_WARNING}%: the figures are off)" if others > OTHERS_WARNING else "")
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
