"""The platform started the way `make up` starts it (`opencoo up`: init, then every service and the
gateway as their own processes under honcho), driven over HTTP as a client would."""
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port, login

ROOT = Path(__file__).resolve().parents[2]


class Stack:
    def __init__(self, env, log: Path):
        self.env = env
        self.base = env["OPENCOO_PUBLIC_URL"]
        self.process = None
        self.log = log  # a file, not a pipe: a pipe nobody drains would block the services

    def start(self, timeout=120):
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [str(Path(sys.executable).parent / "opencoo"), "up"], cwd=ROOT, env=self.env,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            assert self.process.poll() is None, self.text
            try:
                if requests.get(f"{self.base}/health", timeout=3).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"the stack did not become healthy:\n{self.text[-4000:]}")

    @property
    def text(self):
        return self.log.read_text(errors="replace")

    def stop(self, timeout=60):
        """Ctrl-C, as a developer stops `make up`. Returns the exit code and the processes that
        outlived it (killed here so that a failing test leaves nothing behind)."""
        running = self.descendants()
        self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(timeout=timeout)
        finally:
            time.sleep(0.5)
            left = {pid for pid in running if Path(f"/proc/{pid}").exists()}
            for pid in left | {self.process.pid}:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        return code, left

    def descendants(self) -> set[int]:
        """Every process below `opencoo up` (honcho starts each service in a session of its own,
        so a process group would miss them)."""
        parents = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            parents[int(stat.parent.name)] = int(fields[1])
        found, frontier = set(), {self.process.pid}
        while frontier:
            frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
            found |= frontier
        return found


@pytest.fixture
def stack_env(tmp_path, amqp_uri):
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("OPENCOO_") and k != "PYTHONWARNINGS"}
    env.update({"OPENCOO_VAR": str(tmp_path / "var"), "OPENCOO_AMQP_URI": amqp_uri,
                "OPENCOO_HTTP": f"127.0.0.1:{port}",
                "OPENCOO_PUBLIC_URL": f"http://127.0.0.1:{port}"})
    return env


def test_the_stack_runs_answers_and_stops_cleanly(stack_env, tmp_path):
    stack = Stack(stack_env, tmp_path / "stack.log").start()
    try:
        health = requests.get(f"{stack.base}/health", timeout=10).json()
        assert health["down"] == [] and len(health["services"]) == 7

        agreements = requests.get(f"{stack.base}/api/v1/reference/agreements", timeout=10)
        assert agreements.status_code == 200
        assert "013" in {a["code"] for a in agreements.json()["items"]}
        hs = requests.get(f"{stack.base}/api/v1/reference/hs/0306", timeout=10).json()
        assert hs["verified"] is False

        # set-up printed the URL and the admin password, which works
        assert f"OpenCoO is starting at {stack.base}" in stack.text
        password = re.search(r"admin password \(printed once\): (\S+)", stack.text).group(1)
        assert login(stack.base, "admin", password)
        # one process per service and the gateway, each its own `nameko run`
        for name in ("registration", "application", "payment", "signing", "certificate",
                     "notification", "gateway"):
            assert re.search(rf"{name}\.1 +\| .*starting services: {name}", stack.text), name
        assert len(stack.descendants()) >= 8  # honcho and the seven processes
    finally:
        code, left = stack.stop()
    assert left == set(), "processes left behind after Ctrl-C"
    assert code == 128 + signal.SIGINT, stack.text[-3000:]  # the shell's convention for Ctrl-C
    for name in ("registration", "application", "payment", "signing", "certificate",
                 "notification", "gateway"):  # each stopped its workers and exited on its own
        assert f"stopping services: {name}" in stack.text, name
        assert re.search(rf"{name}\.1 +stopped \(rc=0\)", stack.text), name


def test_a_second_start_reuses_what_the_first_made(stack_env, tmp_path):
    first = Stack(stack_env, tmp_path / "first.log").start()
    try:
        password = re.search(r"admin password \(printed once\): (\S+)", first.text).group(1)
    finally:
        first.stop()
    var = Path(stack_env["OPENCOO_VAR"])
    made = {p: p.stat().st_mtime_ns for p in (var / "pki").iterdir()}

    second = Stack(stack_env, tmp_path / "second.log").start()
    try:
        assert "admin password (printed once)" not in second.text
        assert login(second.base, "admin", password)
        assert {p: p.stat().st_mtime_ns for p in (var / "pki").iterdir()} == made
    finally:
        second.stop()
