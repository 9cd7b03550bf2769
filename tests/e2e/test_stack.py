"""The platform started the way `make up` starts it (`opencoo up`: init, then every service and the
gateway as their own processes under its supervisor), driven over HTTP as a client would."""

import os
import re
import signal
import time
from pathlib import Path

import requests

from services.chassis import config
from tests.conftest import login
from tests.e2e.conftest import Stack


def test_the_stack_runs_answers_and_stops_cleanly(stack_env, tmp_path):
    stack = Stack(stack_env, tmp_path / "stack.log").start()
    try:
        health = requests.get(f"{stack.base}/health", timeout=10).json()
        assert health["down"] == [] and set(health["services"]) == {*config.SERVICES, "gateway"}

        agreements = requests.get(f"{stack.base}/api/v1/reference/agreements", timeout=10)
        assert agreements.status_code == 200
        assert "013" in {a["code"] for a in agreements.json()["items"]}
        hs = requests.get(f"{stack.base}/api/v1/reference/hs/0306", timeout=10).json()
        assert hs["verified"] is False

        # set-up printed the URL and the admin password, which works
        assert f"OpenCoO is starting at {stack.base}" in stack.text
        assert "Eventlet is deprecated" not in stack.text  # no third-party banner
        assert "pkg_resources is deprecated" not in stack.text
        password = re.search(r"admin password \(printed once\): (\S+)", stack.text).group(1)
        assert login(stack.base, "admin", password)
        # one process per service and the gateway, each its own `nameko run`
        for name in (*config.SERVICES, "gateway"):
            assert re.search(rf"{name}\.1 +\| .*starting services: {name}", stack.text), name
        assert len(stack.descendants()) >= len(config.SERVICES) + 2  # supervisor, services, gateway

        # a service killed outright is started again, and the platform answers as before
        killed = int(re.search(r"application\.1 +started \(pid=(\d+)\)", stack.text).group(1))
        os.kill(killed, signal.SIGKILL)
        deadline = time.time() + 60
        while time.time() < deadline and len(re.findall(r"starting services: application", stack.text)) < 2:
            time.sleep(0.5)
        assert re.search(r"application\.1 +exited \(rc=-9\) after [\d.]+ s; restarting in 1 s", stack.text)
        assert len(re.findall(r"starting services: application", stack.text)) == 2, stack.text[-3000:]
        while time.time() < deadline and requests.get(f"{stack.base}/health", timeout=10).status_code != 200:
            time.sleep(0.5)
        assert requests.get(f"{stack.base}/health", timeout=10).json()["down"] == []
        assert login(stack.base, "admin", password)
    finally:
        code, left = stack.stop()
    assert left == {}, "processes left behind after Ctrl-C"
    assert code == 128 + signal.SIGINT, stack.text[-3000:]  # the shell's convention for Ctrl-C
    for name in (*config.SERVICES, "gateway"):  # each stopped its workers and exited on its own
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
