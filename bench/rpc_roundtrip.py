"""HTTP -> RPC round trip: the platform against a bare nameko echo, and the platform's idle memory.

Run from the repository root:

    .venv/bin/python bench/rpc_roundtrip.py [--duration 20] [--connections 16]

In one run, one after the other (never concurrently):

1. Baseline: ``bench/echo_services.py`` as two ``nameko run`` processes (``echo`` with an @rpc
   method returning 18 agreement-sized dicts, ``echo_gateway`` with ``GET /echo`` calling it
   through RpcProxy), loaded with wrk on ``GET /echo``.
2. Platform: ``opencoo up`` (init, then honcho with the Procfile: the services, the gateway and
   the portal), loaded with wrk on ``GET /api/v1/reference/agreements``, a list the gateway keeps
   (HTTP -> gateway, no RPC once kept: target at least twice the echo), then on
   ``GET /api/v1/reference/agreements/013`` (HTTP -> gateway -> RPC -> application service ->
   SQLite: one agreement, a smaller answer than the echo's 18).
3. The ratios platform_rps / baseline_rps (targets >= 2 for the kept read, >= 0.5 for the RPC)
   and p50/p99 latencies.
4. Resident memory (sum of VmRSS) of every platform process (descendants of ``opencoo up``, itself
   included) and of RabbitMQ (beam.smp, its descendants, epmd) at idle, after the load and a rest;
   target < 1 GB.

Both runs use a fresh RabbitMQ virtual host made through the management API and deleted at the
end, and a fresh OPENCOO_VAR, so nothing of another run is touched. The figures are printed as a
table and written to bench/results/rpc_roundtrip.json.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import http.client
import json
import os
import platform as pyplatform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VENV_BIN = Path(sys.executable).parent
RESULTS = BENCH / "results" / "rpc_roundtrip.json"
PLATFORM_PATH = "/api/v1/reference/agreements"  # a read the gateway keeps: no RPC once kept
UNCACHED_PATH = "/api/v1/reference/agreements/013"  # one agreement: an RPC and a SQLite read each
TARGET_CACHED_RATIO = 2.0
ECHO_PATH = "/echo"
TARGET_RATIO = 0.5
TARGET_MEMORY_MB = 1024


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --- RabbitMQ management API ------------------------------------------------------------------


class Management:
    def __init__(self, base: str, user: str, password: str):
        self.base = base.rstrip("/")
        self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def call(self, method: str, path: str, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.base + path,
            data=data,
            method=method,
            headers={"Authorization": self.auth, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=15) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def make_vhost(self, name: str, user: str) -> None:
        quoted = urllib.request.quote(name, safe="")
        self.call("PUT", f"/api/vhosts/{quoted}", {})
        self.call(
            "PUT", f"/api/permissions/{quoted}/{user}", {"configure": ".*", "write": ".*", "read": ".*"}
        )

    def delete_vhost(self, name: str) -> None:
        try:
            self.call("DELETE", f"/api/vhosts/{urllib.request.quote(name, safe='')}")
        except urllib.error.HTTPError as exc:
            if exc.code != 404:
                raise


# --- processes ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _proc_ppids() -> dict[int, int]:
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        # "pid (comm) state ppid ..."; comm may hold spaces and parentheses.
        out[int(entry)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    return out


def descendants(root: int) -> list[int]:
    """``root`` and every process below it (by parent pid)."""
    ppids = _proc_ppids()
    children: dict[int, list[int]] = {}
    for pid, ppid in ppids.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], [root] if root in ppids else []
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return sorted(found)


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def cmdline(pid: int) -> list[str]:
    try:
        return [
            a for a in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0") if a
        ]
    except OSError:
        return []


def status_kb(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def pss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def label(pid: int) -> str:
    args = cmdline(pid)
    joined = " ".join(args)
    if "nameko" in joined and " run " in f" {joined} ":
        return "nameko " + args[-1]
    if "services.chassis.offloading" in joined:  # a service's worker process (PDF renders)
        return "worker of " + args[-1]
    if "honcho" in joined:
        return "honcho"
    if args[-2:] == ["-m", "portal"]:
        return "portal"
    if any(a.endswith("/opencoo") or a == "opencoo" for a in args):
        return "opencoo " + " ".join(args[args.index(next(a for a in args if a.endswith("opencoo"))) + 1 :])
    return comm(pid)


def rabbit_pids() -> list[int]:
    beams = [pid for pid in _proc_ppids() if comm(pid) == "beam.smp"]
    # The broker itself, not a rabbitmqctl/rabbitmq-plugins CLI that happens to be running.
    servers = [pid for pid in beams if "rabbit boot" in " ".join(cmdline(pid))]
    beams = servers or beams
    pids = set()
    for beam in beams:
        pids.update(descendants(beam))
    pids.update(pid for pid in _proc_ppids() if comm(pid) == "epmd")
    return sorted(pids)


def memory_of(pids: list[int]) -> dict:
    procs = []
    for pid in pids:
        rss = status_kb(pid, "VmRSS")
        if rss is None:
            continue
        procs.append({"pid": pid, "name": label(pid), "rss_kb": rss, "pss_kb": pss_kb(pid)})
    return {
        "rss_mb": round(sum(p["rss_kb"] for p in procs) / 1024, 1),
        "pss_mb": round(sum(p["pss_kb"] or 0 for p in procs) / 1024, 1),
        "processes": procs,
    }


class Group:
    """Processes started with start_new_session=True, stopped politely then by force."""

    def __init__(self, name: str):
        self.name = name
        self.procs: list[subprocess.Popen] = []
        self.logs = []

    def start(self, args, *, log_path: Path, **kwargs) -> subprocess.Popen:
        fh = open(log_path, "ab")
        self.logs.append(fh)
        proc = subprocess.Popen(
            args,
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            **kwargs,
        )
        self.procs.append(proc)
        return proc

    def stop(self, sig=signal.SIGTERM, wait: float = 30) -> None:
        # Everything below our processes, remembered with its command line so that a pid reused
        # meanwhile by someone else is never signalled.
        tree = {}
        for proc in self.procs:
            for pid in descendants(proc.pid):
                tree[pid] = cmdline(pid)
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    proc.send_signal(sig)
                except ProcessLookupError:
                    pass
        deadline = time.time() + wait
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                pass
        while time.time() < deadline and any(
            Path(f"/proc/{pid}").exists() and cmdline(pid) == args for pid, args in tree.items()
        ):
            time.sleep(0.2)
        for proc in self.procs:  # fallback: the process groups we made
            if proc.poll() is None:
                log(f"{self.name}: pid {proc.pid} still running; killing its process group")
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                proc.wait(timeout=10)
        for pid, args in tree.items():  # and what they started in groups of their own
            if Path(f"/proc/{pid}").exists() and cmdline(pid) == args:
                log(f"{self.name}: leftover pid {pid} ({label(pid)}); killing it")
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for fh in self.logs:
            fh.close()


def wait_http(url: str, timeout: float, procs: list[subprocess.Popen]) -> float:
    start = time.time()
    while time.time() - start < timeout:
        for proc in procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args!r} exited with {proc.returncode} while starting")
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                if resp.status == 200:
                    return time.time() - start
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f}s")


# --- load --------------------------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if not m:
        raise ValueError(f"cannot read the duration {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(out: str) -> dict:
    res = {"tool": "wrk"}
    for pct in ("50", "75", "90", "99"):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", out, re.M)
        if m:
            res[f"p{pct}_ms"] = round(_ms(m.group(1)), 2)
    m = re.search(r"^\s+Latency\s+(\S+)\s+(\S+)\s+(\S+)", out, re.M)
    if m:
        res["mean_ms"], res["max_ms"] = round(_ms(m.group(1)), 2), round(_ms(m.group(3)), 2)
    m = re.search(r"^\s*(\d+) requests in ([\d.]+)(\w+)", out, re.M)
    if m:
        res["requests"] = int(m.group(1))
        res["seconds"] = round(_ms(m.group(2) + m.group(3)) / 1000, 2)
    m = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    res["rps"] = float(m.group(1)) if m else None
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    res["non_2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    res["socket_errors"] = (
        dict(zip(("connect", "read", "write", "timeout"), map(int, m.groups()), strict=True)) if m else {}
    )
    return res


def run_wrk(wrk: str, url: str, duration: float, connections: int, threads: int) -> dict:
    args = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{int(round(duration))}s",
        "--timeout",
        "10s",
        "--latency",
        url,
    ]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=duration + 60)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr or proc.stdout}")
    res = parse_wrk(proc.stdout)
    res["raw"] = proc.stdout
    return res


def run_python_load(url: str, duration: float, connections: int, threads: int = 0) -> dict:
    """Fallback when wrk cannot be had: closed loop, one keep-alive connection per thread."""
    from urllib.parse import urlparse

    u = urlparse(url)
    latencies: list[float] = []
    errors = {"non_2xx": 0, "socket": 0}
    lock = threading.Lock()
    deadline = time.perf_counter() + duration

    def worker():
        conn, mine, bad, sock_err = None, [], 0, 0
        while time.perf_counter() < deadline:
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
                t0 = time.perf_counter()
                conn.request("GET", u.path or "/")
                resp = conn.getresponse()
                resp.read()
                mine.append((time.perf_counter() - t0) * 1000)
                if not 200 <= resp.status < 400:
                    bad += 1
            except (OSError, http.client.HTTPException):
                sock_err += 1
                conn = None
        with lock:
            latencies.extend(mine)
            errors["non_2xx"] += bad
            errors["socket"] += sock_err

    start = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(connections)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - start
    latencies.sort()

    def pct(p):
        return (
            round(latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))], 2) if latencies else None
        )

    return {
        "tool": "python",
        "requests": len(latencies),
        "seconds": round(elapsed, 2),
        "rps": round(len(latencies) / elapsed, 2),
        "p50_ms": pct(50),
        "p75_ms": pct(75),
        "p90_ms": pct(90),
        "p99_ms": pct(99),
        "mean_ms": round(sum(latencies) / len(latencies), 2) if latencies else None,
        "max_ms": round(latencies[-1], 2) if latencies else None,
        "non_2xx": errors["non_2xx"],
        "socket_errors": {"any": errors["socket"]},
    }


def find_wrk(install: bool) -> str | None:
    wrk = shutil.which("wrk")
    if wrk or not install:
        return wrk
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("wrk is missing; apt-get install -y wrk")
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], capture_output=True)
        wrk = shutil.which("wrk")
        if not wrk:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True)
            subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], capture_output=True)
            wrk = shutil.which("wrk")
    return wrk


def cpu_busy(seconds: float = 2.0) -> float:
    """Percentage of all cores busy over ``seconds`` (before a run: what else the machine does)."""

    def snap():
        vals = list(map(int, Path("/proc/stat").read_text().splitlines()[0].split()[1:]))
        return sum(vals), vals[3] + vals[4]  # total, idle + iowait

    t0, i0 = snap()
    time.sleep(seconds)
    t1, i1 = snap()
    return round(100 * (1 - (i1 - i0) / max(1, t1 - t0)), 1)


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            stat = fh.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def machine_cpu_seconds() -> float:
    """Busy CPU-seconds of the whole machine so far (all cores)."""
    vals = list(map(int, Path("/proc/stat").read_text().splitlines()[0].split()[1:]))
    return (sum(vals[:8]) - vals[3] - vals[4]) / CLK_TCK


def cpu_groups(groups: dict[str, list[int]]) -> dict[str, float]:
    out = {}
    for name, pids in groups.items():
        out[name] = sum(c for c in map(cpu_seconds, pids) if c is not None)
    return out


def load(wrk: str | None, url: str, args, what: str, groups=None) -> dict:
    """Warm-up, then the measured run. ``groups()`` names the processes whose CPU time is
    counted during the measured run ({label: [pid, ...]}), to give CPU milliseconds per request."""
    busy = cpu_busy()
    if busy > 15:
        log(
            f"{what}: WARNING the machine is already {busy}% busy before the load "
            "(other processes); figures will be lower than on a quiet machine"
        )
    run = (
        (lambda d: run_wrk(wrk, url, d, args.connections, args.threads))
        if wrk
        else (lambda d: run_python_load(url, d, args.connections))
    )
    log(f"{what}: warm-up {args.warmup:g}s on {url}")
    warm = run(args.warmup)
    log(f"{what}: warm-up done ({warm['rps']} req/s); measuring {args.duration:g}s")
    pids = groups() if groups else {}
    before, machine_before = cpu_groups(pids), machine_cpu_seconds()
    res = run(args.duration)
    after, machine_after = cpu_groups(pids), machine_cpu_seconds()
    n = max(1, res.get("requests") or 0)
    cpu = {name: round(after[name] - before[name], 2) for name in pids}
    cpu["whole machine"] = round(machine_after - machine_before, 2)
    res["cpu_seconds"] = cpu
    res["cpu_ms_per_request"] = {name: round(1000 * v / n, 2) for name, v in cpu.items()}
    log(
        f"{what}: {res['rps']} req/s, p50 {res.get('p50_ms')} ms, p99 {res.get('p99_ms')} ms"
        + (f", NON-2xx {res['non_2xx']}" if res["non_2xx"] else "")
    )
    res["warmup_rps"] = warm["rps"]
    res["cpu_busy_before_pct"] = busy
    res["loadavg_before"] = Path("/proc/loadavg").read_text().split()[:3]
    return res


# --- machine -----------------------------------------------------------------------------------


def machine(mgmt: Management, wrk: str | None) -> dict:
    info = {
        "nproc": None,
        "cpu_model": None,
        "mem_total_mb": None,
        "python": pyplatform.python_version(),
        "kernel": pyplatform.release(),
    }
    try:
        info["nproc"] = int(subprocess.run(["nproc"], capture_output=True, text=True).stdout)
    except (OSError, ValueError):
        info["nproc"] = os.cpu_count()
    try:
        m = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        info["cpu_model"] = m.group(1).strip() if m else None
    except OSError:
        pass
    total = None
    try:
        m = re.search(r"^MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
        total = int(m.group(1)) if m else None
    except OSError:
        pass
    info["mem_total_mb"] = round(total / 1024) if total else None
    try:
        overview = mgmt.call("GET", "/api/overview")
        info["rabbitmq"] = overview.get("rabbitmq_version")
        info["erlang"] = overview.get("erlang_version")
    except (urllib.error.URLError, OSError):
        info["rabbitmq"] = None
    if wrk:
        proc = subprocess.run([wrk, "--version"], capture_output=True, text=True)
        first = (proc.stdout or proc.stderr).splitlines()
        info["wrk"] = first[0].split(" [")[0] if first else None
    else:
        info["wrk"] = None
    try:
        import importlib.metadata as md

        info["nameko"] = md.version("nameko")
        info["eventlet"] = md.version("eventlet")
    except Exception:
        pass
    return info


# --- the two runs ------------------------------------------------------------------------------


def clean_up(mgmt: Management, vhost: str, tmp: Path, keep: bool) -> None:
    """Delete the run's vhost and temporary folder (kept with --keep, for its logs)."""
    try:
        mgmt.delete_vhost(vhost)
        log(f"vhost {vhost} deleted")
    except (urllib.error.URLError, OSError) as exc:
        log(f"could not delete vhost {vhost}: {exc}")
    if keep:
        log(f"logs kept in {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)


def add_broker_arguments(ap) -> None:
    """The options every benchmark here takes to reach RabbitMQ and to start the platform."""
    ap.add_argument("--start-timeout", type=float, default=180)
    ap.add_argument("--amqp-host", default="127.0.0.1")
    ap.add_argument("--amqp-port", type=int, default=5672)
    ap.add_argument("--management", default="http://127.0.0.1:15672")
    ap.add_argument("--user", default="guest")
    ap.add_argument("--password", default="guest")


def platform_run(args, prefix: str, admin_password: str):
    """A virtual host, a temporary OPENCOO_VAR and a port of this run, and the environment that
    `opencoo up` gets: (management, vhost, tmp, base URL, env)."""
    mgmt = Management(args.management, args.user, args.password)
    vhost = f"opencoo-bench-{os.getpid()}-{int(time.time())}"
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    (tmp / "var").mkdir()
    log(f"vhost {vhost}, temporary folder {tmp}")
    mgmt.make_vhost(vhost, args.user)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k != "OPENCOO_SMTP_URL"}
    env.update(
        {
            "OPENCOO_VAR": str(tmp / "var"),
            "OPENCOO_HTTP": f"127.0.0.1:{port}",
            "OPENCOO_PUBLIC_URL": base,
            "OPENCOO_AMQP_URI": amqp_uri(args, vhost),
            "OPENCOO_ADMIN_PASSWORD": admin_password,
            "PYTHONWARNINGS": "ignore",
        }
    )
    return mgmt, vhost, tmp, base, env


def write_result(args, result: dict, table: str) -> None:
    """Print the run's table and keep its figures, with the settings, in ``args.output``."""
    result["settings"] = {k: v for k, v in vars(args).items() if k != "output"}
    print()
    print(table)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"\nwritten to {args.output}")


def amqp_uri(args, vhost: str) -> str:
    return f"amqp://{args.user}:{args.password}@{args.amqp_host}:{args.amqp_port}/{vhost}"


def run_baseline(args, wrk, vhost: str, tmp: Path) -> dict:
    port = free_port()
    config = tmp / "echo.yaml"
    config.write_text(
        f"AMQP_URI: {amqp_uri(args, vhost)}\nWEB_SERVER_ADDRESS: 127.0.0.1:{port}\nserializer: json\n"
    )
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "PYTHONWARNINGS": "ignore",
        "PYTHONDONTWRITEBYTECODE": "1",
    }  # no bench/__pycache__
    group = Group("baseline")
    nameko = str(VENV_BIN / "nameko")
    try:
        log(f"baseline: starting echo + echo_gateway on 127.0.0.1:{port}")
        group.start(
            [nameko, "run", "--config", str(config), "echo_services:EchoService"],
            log_path=tmp / "echo.log",
            cwd=BENCH,
            env=env,
        )
        group.start(
            [nameko, "run", "--config", str(config), "echo_services:EchoGateway"],
            log_path=tmp / "echo_gateway.log",
            cwd=BENCH,
            env=env,
        )
        url = f"http://127.0.0.1:{port}{ECHO_PATH}"
        started = wait_http(url, 60, group.procs)
        with urllib.request.urlopen(url, timeout=5) as resp:
            body_bytes = len(resp.read())
        echo, gw = group.procs

        def groups():
            return {
                "echo_gateway (HTTP + RPC client)": descendants(gw.pid),
                "echo (RPC service)": descendants(echo.pid),
                "RabbitMQ": rabbit_pids(),
            }

        res = load(wrk, url, args, "baseline", groups)
        res.update(url=url, response_bytes=body_bytes, startup_s=round(started, 1))
        time.sleep(args.rest)
        mem = memory_of([pid for p in group.procs for pid in descendants(p.pid)])
        res["idle_memory"] = mem
        return res
    finally:
        group.stop()


def rabbit_node_memory(mgmt: Management) -> dict | None:
    """RabbitMQ's own account of its memory (MB): what it uses, and what the Erlang allocators
    hold without using (``reserved_unallocated``, kept after a load and counted in VmRSS)."""
    try:
        node = mgmt.call("GET", "/api/nodes")[0]["name"]
        detail = mgmt.call("GET", f"/api/nodes/{urllib.request.quote(node, safe='')}?memory=true")
        breakdown = detail.get("memory") or {}
        connections = mgmt.call("GET", "/api/connections")
    except (urllib.error.URLError, OSError, IndexError, KeyError, ValueError):
        return None
    mb = {k: round(v / 2**20, 1) for k, v in breakdown.items() if isinstance(v, int)}
    return {
        "mem_used_mb": round(detail.get("mem_used", 0) / 2**20, 1),
        "reserved_unallocated_mb": mb.get("reserved_unallocated"),
        "total_mb": {
            k: round(v / 2**20, 1) for k, v in (breakdown.get("total") or {}).items() if isinstance(v, int)
        },
        "breakdown_mb": {k: v for k, v in mb.items() if v >= 1},
        "connections": len(connections),
        "connections_by_vhost": {
            v: sum(1 for c in connections if c.get("vhost") == v)
            for v in sorted({c.get("vhost") for c in connections})
        },
    }


def run_platform(args, wrk, vhost: str, tmp: Path, mgmt: Management) -> dict:
    port = free_port()
    var = tmp / "var"
    var.mkdir()
    env = {
        **os.environ,
        "OPENCOO_VAR": str(var),
        "OPENCOO_HTTP": f"127.0.0.1:{port}",
        "OPENCOO_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "OPENCOO_AMQP_URI": amqp_uri(args, vhost),
        "PYTHONWARNINGS": "ignore",
    }
    group = Group("platform")
    try:
        log(f"platform: opencoo up on 127.0.0.1:{port} (OPENCOO_VAR={var})")
        up = group.start(
            [str(VENV_BIN / "opencoo"), "up"], log_path=tmp / "opencoo-up.log", cwd=ROOT, env=env
        )
        started = wait_http(f"http://127.0.0.1:{port}/health", args.start_timeout, [up])
        log(f"platform: /health answers 200 after {started:.1f}s")
        url = f"http://127.0.0.1:{port}{PLATFORM_PATH}"
        with urllib.request.urlopen(url, timeout=10) as resp:
            body = resp.read()
        items = json.loads(body).get("items", [])

        def groups():
            named: dict[str, list[int]] = {}
            for pid in descendants(up.pid):
                name = label(pid)
                key = (
                    "gateway"
                    if name == "nameko gateway.service"
                    else "application service"
                    if name == "nameko services.application.service"
                    else "other five services"
                    if name.startswith("nameko ")
                    else "portal"
                    if name == "portal"
                    else "honcho (log relay)"
                    if name == "honcho"
                    else "opencoo up"
                )
                named.setdefault(key, []).append(pid)
            named["RabbitMQ"] = rabbit_pids()
            return named

        res = load(wrk, url, args, "platform", groups)
        res.update(url=url, response_bytes=len(body), items=len(items), startup_s=round(started, 1))
        uncached_url = f"http://127.0.0.1:{port}{UNCACHED_PATH}"
        with urllib.request.urlopen(uncached_url, timeout=10) as resp:
            uncached_bytes = len(resp.read())
        uncached = load(wrk, uncached_url, args, "platform uncached", groups)
        uncached.update(url=uncached_url, response_bytes=uncached_bytes)
        res["uncached"] = {k: v for k, v in uncached.items() if k != "raw"}
        log(f"platform: resting {args.rest:g}s before reading memory")
        time.sleep(args.rest)
        res["idle_memory"] = memory_of(descendants(up.pid))
        res["idle_memory_rabbitmq"] = memory_of(rabbit_pids())
        res["rabbitmq_node_memory"] = rabbit_node_memory(mgmt)
        return res
    finally:
        group.stop(sig=signal.SIGTERM, wait=45)


# --- report ------------------------------------------------------------------------------------


def report(result: dict) -> str:
    b, p = result["baseline"], result["platform"]
    lines = []
    m = result["machine"]
    lines.append(
        f"OpenCoO RPC round trip — {result['date']}  |  {m['nproc']} cores, "
        f"{m['cpu_model']}, {m['mem_total_mb']} MB RAM, Python {m['python']}, "
        f"RabbitMQ {m.get('rabbitmq')}, {m.get('wrk') or 'python load generator'}"
    )
    s = result["settings"]
    lines.append(
        f"load: {s['connections']} connections, {s['threads']} wrk threads, "
        f"{s['warmup_s']:g}s warm-up + {s['duration_s']:g}s measured, each run alone"
    )
    lines.append("")
    head = f"{'':<58}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'requests':>10}{'errors':>8}"
    lines.append(head)
    lines.append("-" * len(head))
    for name, r in (
        ("baseline  GET /echo (nameko HTTP->RPC)", b),
        (f"platform  GET {PLATFORM_PATH} (kept)", p),
        (f"platform  GET {UNCACHED_PATH} (RPC)", p["uncached"]),
    ):
        errs = r.get("non_2xx", 0) + sum(r.get("socket_errors", {}).values())
        lines.append(
            f"{name:<58}{r['rps']:>9.1f}{r.get('p50_ms', 0):>9.1f}"
            f"{r.get('p99_ms', 0):>9.1f}{r.get('max_ms', 0):>9.1f}"
            f"{r.get('requests', 0):>10}{errs:>8}"
        )
    lines.append("-" * len(head))
    ratio = result["ratio"]
    lines.append(
        f"{'ratio kept read / baseline (req/s)':<58}{ratio['rps']:>9.2f}   target >= "
        f"{TARGET_CACHED_RATIO}: {'MET' if ratio['rps'] >= TARGET_CACHED_RATIO else 'NOT MET'}"
    )
    lines.append(
        f"{'ratio RPC read / baseline (req/s)':<58}{ratio['uncached_rps']:>9.2f}   target >= "
        f"{TARGET_RATIO}: {'MET' if ratio['uncached_rps'] >= TARGET_RATIO else 'NOT MET'}"
        f"  ({p['uncached']['response_bytes']} B against the echo's {b['response_bytes']} B)"
    )
    lines.append(
        f"{'ratio kept read / baseline (p50, p99)':<58}{ratio['p50']:>9.2f}"
        f"{ratio['p99']:>9.2f}  (latency: higher is slower)"
    )
    lines.append("")
    lines.append("CPU milliseconds per request during the measured run (2 cores saturated):")
    for tag, r in (("baseline", b), ("platform", p)):
        per = r.get("cpu_ms_per_request") or {}
        ours = sum(v for k, v in per.items() if k != "whole machine")
        parts = ", ".join(f"{k} {v:.2f}" for k, v in per.items() if k != "whole machine")
        lines.append(f"  {tag:<9}{parts}")
        if "whole machine" in per:
            lines.append(
                f"  {'':<9}sum {ours:.2f}; whole machine {per['whole machine']:.2f} "
                f"(the rest: wrk, kernel, other users of the machine)"
            )
    lines.append(
        f"response sizes: baseline {b['response_bytes']} B, platform "
        f"{p['response_bytes']} B ({p['items']} agreements)"
    )
    lines.append("")
    mem = result["memory"]
    lines.append(
        f"idle memory (VmRSS; PSS in brackets counts shared pages once), after {s['rest_s']:g}s rest:"
    )
    for proc in sorted(p["idle_memory"]["processes"], key=lambda x: -x["rss_kb"]):
        lines.append(
            f"  {proc['name']:<58}{proc['rss_kb'] / 1024:>8.1f} MB  [{(proc['pss_kb'] or 0) / 1024:>6.1f}]"
        )
    lines.append(
        f"  {'= platform (' + str(len(p['idle_memory']['processes'])) + ' processes)':<58}"
        f"{mem['platform_rss_mb']:>8.1f} MB  [{mem['platform_pss_mb']:>6.1f}]"
    )
    for proc in p["idle_memory_rabbitmq"]["processes"]:
        lines.append(
            f"  {'rabbitmq: ' + proc['name']:<58}{proc['rss_kb'] / 1024:>8.1f} MB"
            f"  [{(proc['pss_kb'] or 0) / 1024:>6.1f}]"
        )
    lines.append(f"  {'= RabbitMQ':<58}{mem['rabbitmq_rss_mb']:>8.1f} MB  [{mem['rabbitmq_pss_mb']:>6.1f}]")
    lines.append(
        f"  {'TOTAL platform + RabbitMQ':<58}{mem['total_rss_mb']:>8.1f} MB  "
        f"[{mem['total_pss_mb']:>6.1f}]   target < {TARGET_MEMORY_MB} MB: "
        f"{'MET' if mem['total_rss_mb'] < TARGET_MEMORY_MB else 'NOT MET'}"
    )
    node = p.get("rabbitmq_node_memory")
    if node:
        others = {v: n for v, n in node["connections_by_vhost"].items() if not v.startswith("opencoo-bench-")}
        lines.append(
            f"  RabbitMQ's own account: {node['mem_used_mb']:.0f} MB, of which "
            f"{node['reserved_unallocated_mb'] or 0:.0f} MB reserved_unallocated "
            f"(allocator cache kept after the load); {node['connections']} connections"
            + (f", {sum(others.values())} of them other users' ({', '.join(others)})" if others else "")
        )
    lines.append(f"  (baseline echo, 2 processes: {b['idle_memory']['rss_mb']:.1f} MB)")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=20, help="measured seconds per run")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2, help="wrk threads (<= connections)")
    ap.add_argument("--warmup", type=float, default=5, help="warm-up seconds before each run")
    ap.add_argument("--rest", type=float, default=5, help="idle seconds before reading memory")
    add_broker_arguments(ap)
    ap.add_argument("--no-install", action="store_true", help="do not apt-get install wrk")
    ap.add_argument(
        "--python-load", action="store_true", help="use the Python load generator even if wrk is there"
    )
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (logs)")
    ap.add_argument("--output", type=Path, default=RESULTS)
    args = ap.parse_args()
    args.threads = max(1, min(args.threads, args.connections))

    wrk = None if args.python_load else find_wrk(install=not args.no_install)
    if not wrk:
        log("wrk is not available: falling back to the Python load generator")
    mgmt = Management(args.management, args.user, args.password)
    vhost = f"opencoo-bench-{os.getpid()}-{int(time.time())}"
    tmp = Path(tempfile.mkdtemp(prefix="opencoo-bench-"))
    log(f"vhost {vhost}, temporary folder {tmp}")
    mgmt.make_vhost(vhost, args.user)
    try:
        info = machine(mgmt, wrk)
        baseline = run_baseline(args, wrk, vhost, tmp)
        platform = run_platform(args, wrk, vhost, tmp, mgmt)
    finally:
        clean_up(mgmt, vhost, tmp, args.keep)

    pm, rm = platform["idle_memory"], platform["idle_memory_rabbitmq"]
    result = {
        "benchmark": "rpc_roundtrip",
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": info,
        "settings": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "connections": args.connections,
            "threads": args.threads,
            "rest_s": args.rest,
            "load_tool": "wrk" if wrk else "python",
        },
        "baseline": {k: v for k, v in baseline.items() if k != "raw"},
        "platform": {k: v for k, v in platform.items() if k != "raw"},
        "ratio": {
            "rps": round(platform["rps"] / baseline["rps"], 3),
            "p50": round(platform["p50_ms"] / baseline["p50_ms"], 3),
            "p99": round(platform["p99_ms"] / baseline["p99_ms"], 3),
            "uncached_rps": round(platform["uncached"]["rps"] / baseline["rps"], 3),
        },
        "memory": {
            "platform_rss_mb": pm["rss_mb"],
            "platform_pss_mb": pm["pss_mb"],
            "rabbitmq_rss_mb": rm["rss_mb"],
            "rabbitmq_pss_mb": rm["pss_mb"],
            "total_rss_mb": round(pm["rss_mb"] + rm["rss_mb"], 1),
            "total_pss_mb": round(pm["pss_mb"] + rm["pss_mb"], 1),
        },
        "wrk_output": {"baseline": baseline.get("raw"), "platform": platform.get("raw")},
    }
    result["targets"] = {
        "ratio_rps_min": TARGET_RATIO,
        "ratio_met": result["ratio"]["uncached_rps"] >= TARGET_RATIO,
        "cached_ratio_rps_min": TARGET_CACHED_RATIO,
        "cached_ratio_met": result["ratio"]["rps"] >= TARGET_CACHED_RATIO,
        "memory_mb_max": TARGET_MEMORY_MB,
        "memory_met": result["memory"]["total_rss_mb"] < TARGET_MEMORY_MB,
    }
    write_result(args, result, report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
