"""Start the platform the way `make up` does (`opencoo up`) and stop it with Ctrl-C."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


def _command_line(pid: int) -> str:
    """What a process left behind was, for the failure message."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:200]
    except OSError:
        return "?"


class Stack:
    def __init__(self, env, log: Path):
        self.env = env
        self.base = env["OPENCOO_PUBLIC_URL"]
        self.process = None
        self.log = log  # a file, not a pipe: a pipe nobody drains would block the services

    def start(self, timeout=120):
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [str(Path(sys.executable).parent / "opencoo"), "up"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the stack exited:\n{self.text[-4000:]}")
            try:
                if requests.get(f"{self.base}/health", timeout=3).status_code == 200:
                    return self
            except requests.RequestException:  # not listening yet, or too busy starting to answer
                pass
            time.sleep(0.5)
        self.stop()  # a stack that never became healthy must not outlive the test
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
            left = {pid: _command_line(pid) for pid in running if Path(f"/proc/{pid}").exists()}
            for pid in set(left) | {self.process.pid}:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        return code, left

    def descendants(self) -> set[int]:
        """Every process below `opencoo up` (the supervisor starts each service in a session of its own,
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
    # SOFTHSM2_CONF too: an in-process signing service of an earlier test sets it process-wide
    # (cli.devpki), and the stack's tokens are its own under OPENCOO_VAR.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("OPENCOO_") and k not in ("PYTHONWARNINGS", "SOFTHSM2_CONF")
    }
    env.update(
        {
            "OPENCOO_VAR": str(tmp_path / "var"),
            "OPENCOO_AMQP_URI": amqp_uri,
            "OPENCOO_HTTP": f"127.0.0.1:{port}",
            "OPENCOO_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "OPENCOO_PORTAL_HTTP": f"127.0.0.1:{free_port()}",
        }
    )
    return env


def exporter_bridge(stack: Stack, env: dict, port: int, folder: Path, iec: str, holder: str):
    """`opencoo bridge` on the exporter's computer: a SoftHSM2 token holding a DSC for ``iec``
    made by `opencoo dev make-dsc`, the bridge answering the stack's portal on ``port``.
    Returns (process, URL, make-dsc's output: certificate, module, token, PIN, conf)."""
    from tests.e2e.test_registration_walk import run
    from tests.integration.test_bridge import start_bridge

    out = run(
        Path(sys.executable).parent / "opencoo", "dev", "make-dsc", "--iec", iec, "--name", holder, env=env
    )
    made = dict(re.findall(r"^(certificate|module|token|PIN):\s+(\S+)$", out, re.M))
    made["conf"] = re.search(r"^SOFTHSM2_CONF=(\S+)$", out, re.M).group(1)
    bridge, url = start_bridge(
        made, made["PIN"], stack.base, port, {**env, "SOFTHSM2_CONF": made["conf"]}, folder
    )
    assert bridge.poll() is None, bridge.communicate()[1]
    return bridge, url, made


def browser_walk(stack: Stack, module: str, *args, timeout: float = 300) -> dict:
    """A walk in Chromium: ``python -m tests.e2e.<module> ARGS`` in a process of its own
    (Playwright brings its own event loop, which eventlet's patching of this one would
    disturb). Its output's last line is its report."""
    walk = subprocess.run(
        [sys.executable, "-m", f"tests.e2e.{module}", *(str(arg) for arg in args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    assert walk.returncode == 0, walk.stderr[-6000:] + stack.text[-3000:]
    return json.loads(walk.stdout.strip().splitlines()[-1])
