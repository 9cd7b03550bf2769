"""chassis.sandbox: work on outside input in a child process that cannot exceed its memory, its
time or its queue, and leaves nothing behind in the service. Real child processes."""

import os
import signal
import time

import eventlet
import eventlet.patcher
import pytest

from services.chassis import sandbox
from services.chassis.sandbox import BoundsExceeded, Sandbox, SandboxBusy

pytestmark = pytest.mark.skipif(
    not eventlet.patcher.is_monkey_patched("thread"),
    reason="needs eventlet monkey patching (tests/conftest.py does it)",
)

MiB = 1024 * 1024


def allocate(megabytes):
    block = bytearray(megabytes * MiB)
    return len(block)


def spin(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass
    return "done"


def crash():
    os.kill(os.getpid(), signal.SIGSEGV)


def niceness():
    return os.nice(0)


def gone(pid, within=3.0) -> bool:
    """The process ended (killed: the kernel takes a moment) and its parent reaped it."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not os.path.exists(f"/proc/{pid}"):
            return True
        eventlet.sleep(0.05)
    return False


def resident_mib(pid):
    with open(f"/proc/{pid}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // MiB


@pytest.fixture
def bounded(monkeypatch):
    monkeypatch.setenv("OPENCOO_UNTRUSTED_SECONDS", "2")
    monkeypatch.setenv("OPENCOO_UNTRUSTED_MEMORY_MB", "256")
    box = Sandbox("test")
    yield box
    box.stop()


def test_the_deadline_follows_the_rpc_timeout_unless_set(monkeypatch):
    monkeypatch.delenv("OPENCOO_UNTRUSTED_SECONDS", raising=False)
    monkeypatch.setenv("OPENCOO_RPC_TIMEOUT", "10")
    assert sandbox.seconds_per_job() == 4.0
    monkeypatch.setenv("OPENCOO_UNTRUSTED_SECONDS", "1.5")
    assert sandbox.seconds_per_job() == 1.5


def test_a_job_runs_in_a_child_at_a_lower_priority(bounded):
    assert bounded.run(sorted, [3, 1, 2]) == [1, 2, 3]
    assert bounded.pid not in (None, os.getpid())
    assert bounded.run(niceness) == os.nice(0) + 10
    with pytest.raises(ValueError):  # the job's own exception, with its class
        bounded.run(int, "not a number")


def test_memory_past_the_bound_fails_the_job_not_the_service(bounded):
    before = resident_mib(os.getpid())
    with pytest.raises(BoundsExceeded) as exc:
        bounded.run(allocate, 400)
    assert exc.value.bound == "memory"
    assert resident_mib(os.getpid()) - before < 20  # nothing of it here
    assert bounded.run(allocate, 50) == 50 * MiB  # a fresh child for the next job


def test_time_past_the_bound_kills_the_child(bounded):
    bounded.run(niceness)
    first = bounded.pid
    started = time.monotonic()
    with pytest.raises(BoundsExceeded) as exc:
        bounded.run(spin, 30)
    assert exc.value.bound == "time"
    assert time.monotonic() - started < 5  # the 2 s deadline, and the kill
    assert gone(first)
    assert bounded.run(spin, 0.1) == "done"
    assert bounded.pid != first


def test_a_child_that_dies_is_a_bound_exceeded(bounded):
    with pytest.raises(BoundsExceeded) as exc:
        bounded.run(crash)
    assert exc.value.bound == "process"
    assert bounded.run(sorted, [2, 1]) == [1, 2]


def test_a_child_that_grew_is_replaced_before_the_next_job(bounded):
    bounded.run(niceness)
    first = bounded.pid
    bounded.run(allocate, 10)  # freed again: well under a quarter of the bound
    assert bounded.pid == first
    bounded.run(grow_and_keep, 80)  # kept: more than 64 MiB resident
    assert bounded.pid is None or bounded.pid != first
    bounded.run(niceness)
    assert bounded.pid != first


_KEPT = []


def grow_and_keep(megabytes):
    block = bytearray(megabytes * MiB)
    block[::4096] = b"x" * (len(block) // 4096)  # every page touched: resident
    _KEPT.append(block)


def test_callers_past_the_queue_are_told_at_once(bounded):
    bounded.run(niceness)  # started
    running = [eventlet.spawn(bounded.run, spin, 1.5) for _ in range(1 + bounded.max_waiting)]
    eventlet.sleep(0.2)
    started = time.monotonic()
    with pytest.raises(SandboxBusy) as exc:
        bounded.run(spin, 0.1)
    assert time.monotonic() - started < 0.5
    assert exc.value.retry_after >= 2
    answers = []
    for thread in running:
        try:
            answers.append(thread.wait())
        except SandboxBusy:  # waited past half a deadline behind the others
            answers.append("busy")
    assert answers[0] == "done" and set(answers) <= {"done", "busy"}


def test_without_eventlet_the_function_is_called_here(bounded, monkeypatch):
    monkeypatch.setattr(sandbox.eventlet.patcher, "is_monkey_patched", lambda module: False)
    assert bounded.run(os.getpid) == os.getpid()
