"""Applications over HTTP: create + validate + submit throughput, and list/search latency with
100,000 applications in the store.

Run from the repository root:

    .venv/bin/python bench/applications.py [--count 30] [--clients 4] [--rows 100000]

In one run, against one ``opencoo up`` (own RabbitMQ virtual host and OPENCOO_VAR, as in
``bench/rpc_roundtrip.py``, whose helpers this reuses):

1. Baseline: ``--rpc-calls`` (500) sequential ``application.health`` calls through a nameko
   ``ClusterRpcProxy`` against the running platform (bare RPC round trip, no HTTP), p50/p99.
2. The admin loads the HS nomenclature and a USD rate; the demo exporter registers with a fresh DSC
   (its password is read from the .eml in $OPENCOO_VAR/mail/) and logs in. Then ``--count``
   applications of 10 products x 3 raw materials each are created, given a signed invoice PDF,
   signed (``openssl cms -sign`` over the signing payload) and submitted by ``--clients``
   concurrent threads: applications/s and p50/p99 of every step and of the whole.
3. ``--rows`` applications of that exporter are bulk-inserted (SQLAlchemy Core) into
   $OPENCOO_VAR/db/application.sqlite3, then ``--requests`` (50) sequential requests each of the
   list, its filters and the Excel export are timed. SQLite's query plan of each list query is
   recorded as well.

Figures are printed as a table and written to bench/results/applications.json.
"""

from __future__ import annotations

import argparse
import base64
import copy
import datetime as dt
import email
import json
import os
import random
import re
import signal
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.dont_write_bytecode = True  # no __pycache__ beside the sources

from bench.rpc_roundtrip import (  # noqa: E402
    VENV_BIN,
    Group,
    add_broker_arguments,
    clean_up,
    cpu_busy,
    log,
    machine,
    platform_run,
    wait_http,
    write_result,
)

RESULTS = ROOT / "bench" / "results" / "applications.json"
HS2022 = ROOT.parent / "shared" / "data" / "hs2022.csv"
ADMIN_PASSWORD = "bench horse battery staple"
USD_RATE = "83.2500"


def pct(values, p):
    if not values:
        return None
    s = sorted(values)
    return round(s[min(len(s) - 1, int(p / 100 * len(s)))], 2)


def stats(values) -> dict:
    return {
        "n": len(values),
        "p50_ms": pct(values, 50),
        "p99_ms": pct(values, 99),
        "mean_ms": round(statistics.fmean(values), 2) if values else None,
        "max_ms": round(max(values), 2) if values else None,
    }


# --- 1. RPC baseline ---------------------------------------------------------------------------


def rpc_baseline(uri: str, calls: int) -> dict:
    from nameko.standalone.rpc import ClusterRpcProxy

    times = []
    with ClusterRpcProxy({"AMQP_URI": uri, "serializer": "json"}, timeout=30) as rpc:
        for _ in range(20):  # warm-up: reply queue, connections
            rpc.application.health()
        for _ in range(calls):
            t0 = time.perf_counter()
            rpc.application.health()
            times.append((time.perf_counter() - t0) * 1000)
    return {
        "what": f"{calls} sequential application.health calls via nameko ClusterRpcProxy "
        "(rpc_roundtrip.py exposes no RPC-only echo function)",
        **stats(times),
    }


# --- 2. set-up and submissions -----------------------------------------------------------------


def admin_setup(base: str) -> None:
    import requests

    from tests.conftest import login

    token = login(base, "admin", ADMIN_PASSWORD)
    auth = {"Authorization": f"Bearer {token}"}
    with open(HS2022, "rb") as f:
        r = requests.post(
            f"{base}/api/v1/admin/reference/hs",
            headers=auth,
            timeout=120,
            files={"file": ("hs2022.csv", f, "text/csv")},
        )
    assert r.status_code == 200, r.text
    r = requests.post(
        f"{base}/api/v1/admin/exchange-rates",
        headers=auth,
        timeout=10,
        json={
            "currency": "USD",
            "valid_from": (dt.date.today() - dt.timedelta(days=90)).isoformat(),
            "rate": USD_RATE,
        },
    )
    assert r.status_code == 201, r.text


def exporter_setup(base: str, var: Path, tmp: Path):
    """Register the demo exporter with a fresh DSC, read its password from the mail folder:
    (token, DSC, password)."""
    from tests.conftest import login, mail_text
    from tests.exporters import DIRECTOR, IEC, form, register
    from tests.pki import make_dsc

    dsc = make_dsc(var, tmp / "exporter-dsc", IEC, DIRECTOR)
    r = register(base, form(base, tmp, var, dsc=dsc))
    assert r.status_code == 201, r.text
    deadline = time.time() + 60
    while time.time() < deadline:
        for path in sorted((var / "mail").glob("*.eml")) if (var / "mail").exists() else []:
            msg = email.message_from_bytes(path.read_bytes())
            if "exports@malabarseafoods.in" in (msg["To"] or "").lower():
                m = re.search(r"Password:\s*(\S+)", mail_text(msg))
                if m:
                    return login(base, IEC, m.group(1)), dsc, m.group(1)
        time.sleep(0.3)
    raise RuntimeError("no password mail for the exporter in $OPENCOO_VAR/mail within 60s")


def big_application(i: int) -> dict:
    """valid_application() with 10 products of 3 raw materials each; every product keeps FOB
    12,012.00 USD = 1,000,000 INR and 600,000 INR of non-originating CIF (RVC 40%)."""
    from tests.application_fixtures import valid_application

    body = valid_application(today=dt.date.today())
    product = body["products"][0]
    product["raw_materials"].append(
        {
            "hs_code": "481910",
            "description": "Corrugated cartons, 5-ply",
            "quantity": "600",
            "unit": "NOS",
            "unit_cif_value": "25.00",
            "total_cif_value": "15000.00",
            "origin_country": "IN",
            "bill_of_entry_or_invoice_no": "KPK/2026/311",
            "invoice_date": (dt.date.today() - dt.timedelta(days=15)).isoformat(),
            "supplier": "Kerala Packaging Ltd",
        }
    )
    products = []
    for n in range(10):
        p = copy.deepcopy(product)
        p["marks_and_numbers"] = f"MSF/VN/{i}/{n * 600 + 1}-{(n + 1) * 600}"
        products.append(p)
    body["products"] = products
    body["invoice"]["number"] = f"MSF/2026/B{i:05d}"
    return body


def run_submissions(base: str, token: str, dsc, tmp: Path, count: int, clients: int) -> dict:
    import requests

    from tests.integration.test_applications import minimal_pdf
    from tests.pki import openssl_sign

    cert, key = dsc
    pdf = minimal_pdf()
    pdf_signature = base64.b64encode(openssl_sign(pdf, cert, key, tmp)).decode()
    steps = {"create": [], "upload": [], "payload+sign": [], "submit": [], "whole": []}
    numbers, errors = [], []
    lock = threading.Lock()
    todo = list(range(count))

    def worker():
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {token}"
        while True:
            with lock:
                if not todo:
                    return
                i = todo.pop(0)
            try:
                mine = {}
                t_all = t0 = time.perf_counter()
                r = s.post(f"{base}/api/v1/applications", json=big_application(i), timeout=60)
                assert r.status_code == 201, r.text
                app_id = r.json()["id"]
                t1 = time.perf_counter()
                mine["create"] = (t1 - t0) * 1000
                # the PDF's signature is made once: the exporter's tool signs each file once
                r = s.post(
                    f"{base}/api/v1/applications/{app_id}/documents",
                    timeout=60,
                    files={"file": ("invoice.pdf", pdf, "application/pdf")},
                    data={"kind": "invoice", "signature": pdf_signature},
                )
                assert r.status_code == 201, r.text
                t2 = time.perf_counter()
                mine["upload"] = (t2 - t1) * 1000
                r = s.get(f"{base}/api/v1/applications/{app_id}/signing-payload", timeout=60)
                assert r.status_code == 200, r.text
                sig = base64.b64encode(
                    openssl_sign(base64.b64decode(r.json()["payload"]), cert, key, tmp)
                ).decode()
                t3 = time.perf_counter()
                mine["payload+sign"] = (t3 - t2) * 1000
                r = s.post(f"{base}/api/v1/applications/{app_id}/submit", json={"signature": sig}, timeout=60)
                assert r.status_code == 200, r.text
                t4 = time.perf_counter()
                mine["submit"] = (t4 - t3) * 1000
                mine["whole"] = (t4 - t_all) * 1000
                with lock:
                    for k, v in mine.items():
                        steps[k].append(v)
                    numbers.append(r.json()["number"])
            except Exception as exc:  # noqa: BLE001 - reported, not fatal
                with lock:
                    errors.append(str(exc)[:300])

    start = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    done = len(steps["whole"])
    return {
        "count": count,
        "clients": clients,
        "completed": done,
        "errors": errors[:5],
        "error_count": len(errors),
        "seconds": round(wall, 2),
        "applications_per_s": round(done / wall, 2),
        "numbers_consecutive": sorted(int(n.split("/")[-1][:7]) for n in numbers) == list(range(1, done + 1)),
        "steps": {k: stats(v) for k, v in steps.items()},
    }


# --- 3. 100,000 applications in the store ------------------------------------------------------

STATUSES = [
    ("draft", 30),
    ("pending_payment", 15),
    ("submitted", 15),
    ("discrepancy", 5),
    ("approved", 10),
    ("rejected", 5),
    ("issued", 20),
]
AGREEMENTS = ["013", "013", "008", "015", "006", "002", "004", None]  # None: non-preferential
AGENCIES = ["MPEDA", "MPEDA", "EIC", "APEDA", "FIEO"]
IMPORTERS = [
    ("Saigon Seafood Trading JSC", "VN"),
    ("Bangkok Frozen Foods Co", "TH"),
    ("Jakarta Marine Imports PT", "ID"),
    ("Kuala Lumpur Fisheries Sdn Bhd", "MY"),
    ("Manila Ocean Traders Inc", "PH"),
    ("Seoul Foods Corp", "KR"),
]


def bulk_insert(db_path: Path, iec: str, rows: int, seed: int = 7) -> dict:
    from sqlalchemy import create_engine, insert, select

    from services.application.models import Application

    engine = create_engine(f"sqlite:///{db_path}")
    with engine.connect() as conn:
        template = conn.execute(
            select(Application.data).where(Application.status == "pending_payment").limit(1)
        ).scalar_one()
    template = copy.deepcopy(template)
    template["products"] = template["products"][:1]  # a small, realistic one-product form
    rnd = random.Random(seed)
    now = dt.datetime.utcnow()
    weights = [w for _, w in STATUSES]
    names = [s for s, _ in STATUSES]
    sequences: dict[tuple, int] = {}
    batch, t0, inserted = [], time.perf_counter(), 0
    with engine.begin() as conn:
        for n in range(rows):
            status = rnd.choices(names, weights)[0]
            agreement = rnd.choice(AGREEMENTS)
            agency = rnd.choice(AGENCIES)
            created = now - dt.timedelta(seconds=rnd.randint(3600, 730 * 86400))
            importer, country = rnd.choice(IMPORTERS)
            data = copy.copy(template)
            data["kind"] = "preferential" if agreement else "non_preferential"
            data["agreement_code"], data["agency_code"] = agreement, agency
            data["importer"] = {**template["importer"], "name": importer, "country": country}
            data["invoice"] = {
                "number": f"MSF/{created.year}/{n:06d}",
                "date": (created.date() - dt.timedelta(days=1)).isoformat(),
            }
            number = submitted = None
            if status != "draft":
                key = (agency, created.year, agreement or "000")
                # the live submissions of this run hold MPEDA/<this year>/013/0000001A onwards
                first = 1000 if key == ("MPEDA", now.year, "013") else 0
                sequences[key] = sequences.get(key, first) + 1
                number = f"{agency}/{created.year}/{agreement or '000'}/{sequences[key]:07d}A"
                submitted = created + dt.timedelta(hours=rnd.randint(1, 72))
            batch.append(
                {
                    "id": str(uuid.uuid4()),
                    "iec": iec,
                    "status": status,
                    "kind": data["kind"],
                    "agreement_code": agreement,
                    "agency_code": agency,
                    "issuing_office_code": f"{agency}-KOCHI",
                    "number": number,
                    "data": data,
                    "cloned_from": None,
                    "created_at": created,
                    "updated_at": submitted or created,
                    "submitted_at": submitted,
                }
            )
            if len(batch) == 10_000:
                conn.execute(insert(Application.__table__), batch)
                inserted += len(batch)
                batch = []
        if batch:
            conn.execute(insert(Application.__table__), batch)
            inserted += len(batch)
    seconds = time.perf_counter() - t0
    engine.dispose()
    return {
        "rows": inserted,
        "seconds": round(seconds, 1),
        "rows_per_s": round(inserted / seconds),
        "db_mb": round(db_path.stat().st_size / 2**20, 1),
        "data_json_bytes": len(json.dumps(template)),
    }


def query_plans(db_path: Path, iec: str, date_from: str) -> dict:
    """SQLite's plan for the statements list_applications runs (count, then the page)."""
    import sqlite3

    con = sqlite3.connect(db_path)
    cols = "id, status, number, data, created_at"
    shapes = {
        "list": ("iec = ?", [iec]),
        "status=pending_payment": ("iec = ? AND status = ?", [iec, "pending_payment"]),
        "number=0000123": ("iec = ? AND number LIKE ?", [iec, "%0000123%"]),
        "agreement=013&date_from": (
            "iec = ? AND agreement_code = ? AND created_at >= ?",
            [iec, "013", date_from + " 00:00:00.000000"],
        ),
    }
    out = {}
    for name, (where, params) in shapes.items():
        count_sql = f"SELECT count(*) FROM (SELECT {cols} FROM application WHERE {where})"
        page_sql = (
            f"SELECT {cols} FROM application WHERE {where} ORDER BY created_at DESC, id LIMIT 50 OFFSET 0"
        )
        entry = {}
        for kind, sql in (("count", count_sql), ("page", page_sql)):
            plan = [r[3] for r in con.execute("EXPLAIN QUERY PLAN " + sql, params)]
            t0 = time.perf_counter()
            for _ in range(5):
                con.execute(sql, params).fetchall()
            entry[kind] = {"plan": plan, "sqlite_ms": round((time.perf_counter() - t0) * 1000 / 5, 2)}
        entry["total"] = con.execute(count_sql, params).fetchone()[0]
        out[name] = entry
    con.close()
    return out


def time_gets(base, token, path, params, n, timeout=60) -> dict:
    import requests

    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {token}"
    r = s.get(base + path, params=params, timeout=timeout)  # warm-up, and the answer's size
    first = {"status": r.status_code, "bytes": len(r.content)}
    if r.headers.get("Content-Type", "").startswith("application/json"):
        first["total"] = r.json().get("total")
    times, bad = [], 0
    for _ in range(n):
        t0 = time.perf_counter()
        r = s.get(base + path, params=params, timeout=timeout)
        times.append((time.perf_counter() - t0) * 1000)
        bad += r.status_code != 200
    return {"path": path, "params": params, **first, "non_200": bad, **stats(times)}


def run_lists(base, token, n, date_from) -> dict:
    import requests

    out = {}
    for name, params in (
        ("list (first page, -created_at)", {}),
        ("status=pending_payment", {"status": "pending_payment"}),
        ("number=0000123", {"number": "0000123"}),
        (f"agreement=013&date_from={date_from}", {"agreement": "013", "date_from": date_from}),
    ):
        log(f"lists: {name}")
        out[name] = time_gets(base, token, "/api/v1/applications", params, n)
    # the export: once first, to see whether it finishes within ~30 s at all
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {token}"
    export = {}
    for params in ({"status": "draft"}, {"status": "draft", "agreement": "013", "date_from": date_from}):
        log(f"export.xlsx {params}: one trial request")
        t0 = time.perf_counter()
        try:
            r = s.get(f"{base}/api/v1/applications/export.xlsx", params=params, timeout=35)
            trial = {
                "params": params,
                "status": r.status_code,
                "bytes": len(r.content),
                "ms": round((time.perf_counter() - t0) * 1000, 1),
            }
            if r.status_code != 200:
                trial["error"] = r.text[:300]
        except requests.RequestException as exc:
            trial = {
                "params": params,
                "status": None,
                "error": str(exc)[:300],
                "ms": round((time.perf_counter() - t0) * 1000, 1),
            }
        export.setdefault("trials", []).append(trial)
        if trial["status"] == 200 and trial["ms"] < 30_000:
            # 50 requests unless that would take more than ~3 minutes
            reps = max(5, min(n, int(180_000 / max(trial["ms"], 1))))
            log(f"export.xlsx {params}: {trial['ms']:.0f} ms; timing {reps} requests")
            export["timed"] = time_gets(base, token, "/api/v1/applications/export.xlsx", params, reps)
            break
    out["export.xlsx"] = export
    return out


# --- report ------------------------------------------------------------------------------------


def report(res: dict) -> str:
    m = res["machine"]
    lines = [
        f"OpenCoO applications — {res['date']}  |  {m['nproc']} cores, {m['cpu_model']}, "
        f"{m['mem_total_mb']} MB RAM, Python {m['python']}, RabbitMQ {m.get('rabbitmq')}",
        "",
    ]
    head = f"{'':<52}{'n':>6}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}"
    lines += [head, "-" * len(head)]

    def row(name, s):
        lines.append(f"{name:<52}{s['n']:>6}{s['p50_ms']:>10.1f}{s['p99_ms']:>10.1f}{s['max_ms']:>10.1f}")

    row("baseline RPC application.health (ClusterRpcProxy)", res["baseline_rpc"])
    sub = res["submissions"]
    lines.append(
        f"submissions: {sub['completed']}/{sub['count']} of 10 products x 3 raw materials"
        f", {sub['clients']} clients: {sub['applications_per_s']} applications/s "
        f"({sub['seconds']} s)"
    )
    for k, s in sub["steps"].items():
        if s["n"]:
            row(f"  {k}", s)
    ins = res["bulk_insert"]
    lines.append(
        f"bulk insert: {ins['rows']} rows in {ins['seconds']} s "
        f"({ins['rows_per_s']}/s), database {ins['db_mb']} MB"
    )
    for name, s in res["lists"].items():
        if name == "export.xlsx":
            continue
        row(f"  GET {name} (total {s.get('total')})", s)
    exp = res["lists"]["export.xlsx"]
    for t in exp.get("trials", []):
        lines.append(
            f"  export.xlsx {t['params']}: trial {t['ms']} ms, HTTP {t['status']}"
            + (f", {t['bytes']} B" if t.get("bytes") else "")
            + (f"  {t.get('error', '')[:80]}" if t.get("error") else "")
        )
    if exp.get("timed"):
        row(f"  GET export.xlsx {exp['timed']['params']}", exp["timed"])
    lines.append("")
    lines.append("SQLite plans (count / page) and time in SQLite alone:")
    for name, p in res["query_plans"].items():
        lines.append(
            f"  {name} (total {p['total']}): count {p['count']['sqlite_ms']} ms "
            f"{p['count']['plan']}; page {p['page']['sqlite_ms']} ms {p['page']['plan']}"
        )
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=30, help="applications submitted")
    ap.add_argument("--clients", type=int, default=4, help="concurrent submitting threads")
    ap.add_argument("--rows", type=int, default=100_000, help="applications bulk-inserted")
    ap.add_argument("--requests", type=int, default=50, help="requests per list query")
    ap.add_argument("--rpc-calls", type=int, default=500)
    add_broker_arguments(ap)
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, data)")
    ap.add_argument("--output", type=Path, default=RESULTS)
    args = ap.parse_args()

    mgmt, vhost, tmp, base, env = platform_run(args, "opencoo-bench-apps-", ADMIN_PASSWORD)
    var, uri = tmp / "var", env["OPENCOO_AMQP_URI"]
    # In this process too (tests.pki loads the dev CA from OPENCOO_VAR).
    for k in ("OPENCOO_VAR", "OPENCOO_AMQP_URI"):
        os.environ[k] = env[k]
    group = Group("platform")
    result = {
        "benchmark": "applications",
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    try:
        result["machine"] = machine(mgmt, None)
        result["cpu_busy_before_pct"] = cpu_busy()
        log(f"platform: opencoo up on {base} (OPENCOO_VAR={var})")
        up = group.start(
            [str(VENV_BIN / "opencoo"), "up"], log_path=tmp / "opencoo-up.log", cwd=ROOT, env=env
        )
        started = wait_http(f"{base}/health", args.start_timeout, [up])
        log(f"platform: /health answers 200 after {started:.1f}s")
        result["startup_s"] = round(started, 1)

        log(f"baseline: {args.rpc_calls} application.health RPC calls")
        result["baseline_rpc"] = rpc_baseline(uri, args.rpc_calls)
        log(f"baseline: p50 {result['baseline_rpc']['p50_ms']} ms")

        log("set-up: HS nomenclature, USD rate, exporter registration")
        admin_setup(base)
        token, dsc, _ = exporter_setup(base, var, tmp)
        log(f"submissions: {args.count} applications, {args.clients} clients")
        result["submissions"] = run_submissions(base, token, dsc, tmp, args.count, args.clients)
        log(
            f"submissions: {result['submissions']['applications_per_s']} applications/s, "
            f"{result['submissions']['error_count']} errors"
        )

        db_path = var / "db" / "application.sqlite3"
        log(f"bulk insert: {args.rows} applications into {db_path}")
        from tests.exporters import IEC

        result["bulk_insert"] = bulk_insert(db_path, IEC, args.rows)
        log(f"bulk insert: {result['bulk_insert']}")
        date_from = (dt.date.today() - dt.timedelta(days=60)).isoformat()
        result["lists"] = run_lists(base, token, args.requests, date_from)
        result["query_plans"] = query_plans(db_path, IEC, date_from)
    finally:
        group.stop(sig=signal.SIGTERM, wait=45)
        clean_up(mgmt, vhost, tmp, args.keep)

    write_result(args, result, report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
