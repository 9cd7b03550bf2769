"""The supervisor of `opencoo up`, on processes of the shell: a process that dies is started
again with backoff and the restart is logged; Ctrl-C stops every process and leaves none."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli.supervisor import backoff, children_of, read_procfile

ROOT = Path(__file__).resolve().parents[2]


def test_the_procfile_is_read_in_order_and_a_bad_line_is_refused():
    assert read_procfile("# comment\n\nweb: exec serve --port 1\nworker: run: me\n") == [
        ("web", "exec serve --port 1"),
        ("worker", "run: me"),
    ]
    with pytest.raises(ValueError):
        read_procfile("no colon here")
    with pytest.raises(ValueError):
        read_procfile("name:   ")


def test_scale_gives_each_process_its_number():
    names = [child.name for child in children_of([("a", "x"), ("b", "y")], {"b": 3})]
    assert names == ["a.1", "b.1", "b.2", "b.3"]


def test_backoff_doubles_up_to_thirty_seconds():
    assert [backoff(n) for n in (1, 2, 3, 4, 5, 6, 7, 20)] == [1, 2, 4, 8, 16, 30, 30, 30]


def wait_for(predicate, log: Path, timeout=15.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate(log.read_text()):
            return log.read_text()
        time.sleep(0.1)
    raise AssertionError(log.read_text())


def pid_of(text: str, name: str, nth: int = -1) -> int:
    return [int(pid) for pid in re.findall(rf" {re.escape(name)} +started \(pid=(\d+)\)", text)][nth]


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def supervised(tmp_path):
    procfile = tmp_path / "Procfile"
    # a worker that stops gracefully on SIGTERM, and one that ignores it (killed after the grace)
    procfile.write_text(
        "worker: trap 'echo stopping; exit 0' TERM; echo ready; while true; do sleep 0.1; done\n"
        "stubborn: trap '' TERM; echo ready; while true; do sleep 0.1; done\n"
    )
    log = tmp_path / "supervisor.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli.supervisor", str(procfile), "worker=2"],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "OPENCOO_SUPERVISOR_GRACE": "2"},
        )
    yield process, log
    if process.poll() is None:
        process.kill()


def test_a_killed_process_is_started_again_and_ctrl_c_stops_them_all(supervised):
    process, log = supervised
    text = wait_for(lambda t: t.count("| ready") == 3, log)
    first = pid_of(text, "worker.2")
    os.kill(first, signal.SIGKILL)
    text = wait_for(lambda t: t.count("| ready") == 4, log)
    assert re.search(r"worker.2 +exited \(rc=-9\)", text) and "restarting in 1 s" in text
    second = pid_of(text, "worker.2")
    assert second != first and alive(second)
    everyone = [pid_of(text, "worker.1"), second, pid_of(text, "stubborn.1")]

    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=15) == 128 + signal.SIGINT
    text = log.read_text()
    assert re.search(r"worker.1 +stopped \(rc=0\)", text) and re.search(r"worker.2 +stopped \(rc=0\)", text)
    assert "stubborn.1 did not stop within 2 s: killed" in text
    assert not [pid for pid in everyone if alive(pid)]


def test_the_services_end_when_the_supervisor_is_killed(supervised):
    process, log = supervised
    text = wait_for(lambda t: t.count("| ready") == 3, log)
    workers = [pid_of(text, "worker.1"), pid_of(text, "worker.2")]
    process.kill()
    process.wait()
    deadline = time.time() + 5
    while time.time() < deadline and any(alive(pid) for pid in workers):
        time.sleep(0.1)
    assert not [pid for pid in workers if alive(pid)]
