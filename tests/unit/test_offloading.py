"""chassis.offloading: CPU-bound work in the service's worker process or in an OS thread, with the
other green threads running meanwhile. The worker process tests start real child processes."""

import functools
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import eventlet
import eventlet.patcher
import pytest

from services.chassis import offloading
from services.chassis.offloading import (
    ChildBounds,
    WorkerProcess,
    WorkerProcessError,
    in_worker_process,
    offload,
)
from services.chassis.pdf import render_pdf

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    not eventlet.patcher.is_monkey_patched("thread"),
    reason="needs eventlet monkey patching (tests/conftest.py does it)",
)


class NeedsTwoArguments(Exception):
    def __init__(self, message, detail):
        super().__init__(message)  # pickles as (message,): cannot be rebuilt on the other side
        self.detail = detail


def raise_unrebuildable():
    raise NeedsTwoArguments("the message", "the detail")


def write_to_fd_1_then_answer():
    print("a library printing to stdout")
    os.write(1, b"C code writing to fd 1\n")
    return "the answer"


def ticking(seconds):
    """Green ticks counted while ``seconds`` pass; a frozen hub counts almost none."""
    ticks = []

    def ticker():
        while True:
            ticks.append(1)
            eventlet.sleep(0.01)

    return ticks, eventlet.spawn(ticker)


@pytest.fixture
def worker():
    worker = WorkerProcess(timeout=20)
    yield worker
    worker.stop()


# --- the worker process -------------------------------------------------------------------------


def test_runs_the_function_in_another_process_and_returns_its_result(worker):
    assert worker.run(sorted, [3, 1, 2], reverse=True) == [3, 2, 1]
    child = worker.run(os.getpid)
    assert child == worker.pid and child != os.getpid()
    assert worker.run(os.getppid) == os.getpid()


def test_the_exception_keeps_its_class_and_message(worker):
    with pytest.raises(ValueError, match="invalid literal"):
        worker.run(int, "not a number")
    assert worker.run(int, "42") == 42  # the same child goes on


def test_an_exception_that_cannot_be_rebuilt_arrives_as_its_traceback(worker):
    with pytest.raises(WorkerProcessError, match="NeedsTwoArguments: the message"):
        worker.run(raise_unrebuildable)
    assert worker.run(int, "7") == 7


def test_output_on_stdout_does_not_corrupt_the_answers(worker):
    assert worker.run(write_to_fd_1_then_answer) == "the answer"
    assert worker.run(write_to_fd_1_then_answer) == "the answer"


def test_green_threads_run_while_the_child_works(worker):
    worker.run(os.getpid)  # started
    ticks, green = ticking(0.3)
    try:
        eventlet.sleep(0)
        before = len(ticks)
        worker.run(time.sleep, 0.3)
        assert len(ticks) - before >= 10
    finally:
        green.kill()


def test_jobs_run_one_at_a_time_in_the_same_child(worker):
    def job(_):
        started = time.monotonic()
        pid = worker.run(time.sleep, 0.2) or worker.pid
        return started, time.monotonic(), pid

    results = list(eventlet.GreenPool(3).imap(job, range(3)))
    assert len({pid for _, _, pid in results}) == 1
    ends = sorted(end for _, end, _ in results)
    assert ends[1] - ends[0] >= 0.18 and ends[2] - ends[1] >= 0.18  # no two slept together


def test_a_child_killed_during_a_job_fails_that_job_and_the_next_gets_a_new_child(worker):
    first = worker.run(os.getpid)
    eventlet.spawn_after(0.3, os.kill, first, signal.SIGKILL)
    with pytest.raises(WorkerProcessError, match=r"ended during sleep \(exit status -9\)"):
        worker.run(time.sleep, 10)
    second = worker.run(os.getpid)
    assert second != first


def test_a_child_that_died_between_jobs_is_replaced_without_failing_a_job(worker):
    first = worker.run(os.getpid)
    os.kill(first, signal.SIGKILL)
    eventlet.sleep(0.2)
    assert worker.run(int, "5") == 5
    assert worker.pid != first


def test_a_job_over_its_time_is_killed_with_its_child():
    worker = WorkerProcess(timeout=0.5)
    try:
        first = worker.run(os.getpid)
        started = time.monotonic()
        queued = eventlet.spawn_after(0.1, worker.run, int, "1")  # behind it in the pipe
        with pytest.raises(WorkerProcessError, match="ran over 0.5 s"):
            worker.run(time.sleep, 30)
        assert time.monotonic() - started < 5
        with pytest.raises(WorkerProcessError, match=r"ended during int \(exit status -9\)"):
            queued.wait()
        with pytest.raises(ProcessLookupError):
            os.kill(first, 0)  # killed and reaped, not left behind
        assert worker.run(int, "3") == 3
    finally:
        worker.stop()


def imported(name):
    return name in sys.modules


def test_a_new_childs_imports_are_not_its_first_jobs_time():
    """Importing WeasyPrint takes longer than this deadline; the job itself does not."""
    worker = WorkerProcess(timeout=0.3, bounds=ChildBounds(preload=("weasyprint",)))
    try:
        assert worker.run(imported, "weasyprint") is True
    finally:
        worker.stop()


def test_the_child_exits_when_its_parent_closes_the_pipe(worker):
    worker.run(os.getpid)
    child = worker._child.process
    child.stdin.close()  # the parent has nothing more to ask
    with eventlet.Timeout(10):
        assert child.wait() == 0


def test_a_caller_killed_while_it_waits_leaves_the_answers_in_step(worker):
    first = worker.run(os.getpid)
    caller = eventlet.spawn(worker.run, time.sleep, 0.5)
    eventlet.sleep(0.1)
    caller.kill()  # nameko killing a worker while its render runs
    assert worker.run(sorted, "cba") == ["a", "b", "c"]  # not the sleep's None
    assert worker.pid == first


def test_the_next_job_waits_in_the_pipe_so_the_child_never_idles(worker):
    worker.run(os.getpid)
    started = time.monotonic()
    pool = eventlet.GreenPool(3)
    sleeps = [pool.spawn(worker.run, time.sleep, 0.3) for _ in range(3)]
    eventlet.sleep(0.1)
    assert len(worker._child.waiting) == 2  # one running, one queued; the third waits here
    assert [s.wait() for s in sleeps] == [None, None, None]
    assert time.monotonic() - started < 1.3


def test_arguments_that_cannot_be_pickled_fail_before_the_child_sees_them(worker):
    first = worker.run(os.getpid)
    with pytest.raises((TypeError, AttributeError, pickle.PicklingError)):
        worker.run(sorted, [lambda: 1])
    assert worker.run(os.getpid) == first


def returns_a_generator():
    return (n for n in range(3))  # cannot be pickled


def test_a_result_that_cannot_be_pickled_fails_that_job_only(worker):
    child = worker.run(os.getpid)
    queued = eventlet.spawn_after(0.05, worker.run, sorted, "ba")
    with pytest.raises(TypeError, match="pickle .generator"):
        worker.run(returns_a_generator)
    assert queued.wait() == ["a", "b"]
    assert worker.run(os.getpid) == child  # the same child goes on


def test_bound_methods_and_partials_are_called_as_they_are(worker):
    assert worker.run("a-b-c".split, "-") == ["a", "b", "c"]
    assert worker.run(functools.partial(int, base=2), "101") == 5


def test_the_callers_own_timeout_is_its_own_and_the_child_stays(worker):
    child = worker.run(os.getpid)
    queued = eventlet.spawn_after(0.05, worker.run, sorted, "ba")
    with pytest.raises(eventlet.Timeout):
        with eventlet.Timeout(0.3):
            worker.run(time.sleep, 1)
    assert queued.wait() == ["a", "b"]  # queued behind the sleep, answered in turn
    assert worker.run(os.getpid) == child


BIG = "x" * 2_000_000  # more than a pipe holds: its send waits on the hub


def test_a_send_that_outruns_its_time_fails_and_the_next_job_is_served():
    worker = WorkerProcess(timeout=1)
    try:
        worker.run(os.getpid)
        busy = eventlet.spawn(worker.run, time.sleep, 3)  # the child reads nothing meanwhile
        eventlet.sleep(0.1)
        with pytest.raises(WorkerProcessError):
            worker.run(len, BIG)  # its send waits behind the sleep until time runs out
        with pytest.raises(WorkerProcessError):
            busy.wait()  # killed with the child that had half a job in its pipe
        started = time.monotonic()
        assert worker.run(sorted, "ba") == ["a", "b"]
        assert time.monotonic() - started < 5  # not a hang, not JOB_TIMEOUT
    finally:
        worker.stop()


def test_a_child_that_dies_during_a_send_fails_the_job_at_once(worker):
    child = worker.run(os.getpid)
    eventlet.spawn(worker.run, time.sleep, 5)
    eventlet.sleep(0.1)
    eventlet.spawn_after(0.3, os.kill, child, signal.SIGKILL)
    started = time.monotonic()
    with pytest.raises(WorkerProcessError):
        worker.run(len, BIG)
    assert time.monotonic() - started < 5  # a broken pipe, not a spin until the deadline
    assert worker.run(len, BIG) == len(BIG)  # a new child takes it whole


def test_a_caller_killed_during_its_send_takes_the_half_sent_job_with_the_child(worker):
    child = worker.run(os.getpid)
    eventlet.spawn(worker.run, time.sleep, 0.5)
    eventlet.sleep(0.1)
    sender = eventlet.spawn(worker.run, len, BIG)
    eventlet.sleep(0.1)
    sender.kill()  # nameko killing a worker: half of its job is in the pipe
    started = time.monotonic()
    assert worker.run(sorted, "ba") == ["a", "b"]
    assert time.monotonic() - started < 5
    assert worker.pid != child


def test_the_child_of_a_pid_1_service_serves_jobs():
    """In a container the service may be pid 1 (docker-compose runs `exec nameko run`)."""
    script = (
        "import eventlet; eventlet.monkey_patch()\n"
        "import os\n"
        "from services.chassis.offloading import in_worker_process\n"
        "print(os.getpid(), in_worker_process(sorted, 'ba'), flush=True)\n"
    )
    try:
        done = subprocess.run(
            [
                "unshare",
                "--user",
                "--map-root-user",
                "--pid",
                "--fork",
                "--mount-proc",
                sys.executable,
                "-c",
                script,
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
    except FileNotFoundError:
        pytest.skip("unshare(1) is not installed")
    if done.returncode != 0 and "Operation not permitted" in done.stderr:
        pytest.skip("this machine allows no new user and pid namespaces")
    assert done.stdout.split() == ["1", "['a',", "'b']"], done.stderr[-2000:]


def test_ctrl_c_and_sigterm_to_the_process_group_let_the_job_finish(worker):
    child = worker.run(os.getpid)
    eventlet.spawn_after(0.2, os.kill, child, signal.SIGINT)
    eventlet.spawn_after(0.3, os.kill, child, signal.SIGTERM)
    assert worker.run(time.sleep, 0.6) is None
    assert worker.run(os.getpid) == child


def test_the_child_dies_with_its_parent(tmp_path):
    script = (
        "import eventlet; eventlet.monkey_patch()\n"
        "import os, time\n"
        "from services.chassis.offloading import in_worker_process\n"
        "print(in_worker_process(os.getpid), flush=True)\n"
        "eventlet.spawn_after(0.3, os.kill, os.getpid(), 9)\n"
        "in_worker_process(time.sleep, 30)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT
    )
    child = int(parent.stdout.readline())
    assert parent.wait(timeout=20) == -signal.SIGKILL
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        eventlet.sleep(0.05)
    assert not _alive(child)  # killed mid-job with its parent, not left rendering alone


def test_a_service_that_exits_takes_its_child_with_it_not_even_a_zombie_left(tmp_path):
    script = (
        "import eventlet; eventlet.monkey_patch()\n"
        "import os\n"
        "from services.chassis.offloading import in_worker_process\n"
        "print(in_worker_process(os.getpid), flush=True)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT
    )
    child = int(parent.stdout.readline())
    assert parent.wait(timeout=20) == 0
    assert not Path(f"/proc/{child}").exists()  # reaped by its parent, not left to init


def _alive(pid: int) -> bool:
    try:
        state = open(f"/proc/{pid}/stat").read().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_the_child_renders_a_pdf():
    assert in_worker_process(render_pdf, "<p>rendered by the worker process</p>").startswith(b"%PDF-")
    assert offloading._worker.pid not in (None, os.getpid())


def test_without_monkey_patching_the_function_is_simply_called(monkeypatch):
    monkeypatch.setattr(offloading.eventlet.patcher, "is_monkey_patched", lambda module: False)
    monkeypatch.setattr(offloading._worker, "run", lambda *a, **k: pytest.fail("child used"))
    assert in_worker_process(os.getpid) == os.getpid()


# --- an OS thread -------------------------------------------------------------------------------


def test_offload_returns_and_raises():
    assert offload(lambda a, b=0: a + b, 2, b=3) == 5
    with pytest.raises(ZeroDivisionError):
        offload(lambda: 1 / 0)


def test_offload_lets_green_threads_run():
    real_sleep = eventlet.patcher.original("time").sleep
    ticks, green = ticking(0.3)
    try:
        eventlet.sleep(0)
        before = len(ticks)
        offload(real_sleep, 0.3)  # a blocking call: a direct call would freeze the ticker
        assert len(ticks) - before >= 5
    finally:
        green.kill()


def test_offload_calls_directly_without_monkey_patching(monkeypatch):
    monkeypatch.setattr(offloading.eventlet.patcher, "is_monkey_patched", lambda module: False)
    monkeypatch.setattr(offloading.tpool, "execute", lambda *a, **k: pytest.fail("tpool used"))
    assert offload(lambda: threading.current_thread()) is threading.current_thread()


def test_offload_renders_a_pdf():
    assert offload(render_pdf, "<p>threaded</p>").startswith(b"%PDF-")


def test_offloaded_work_and_green_threads_log_through_the_same_handler_without_deadlock():
    records = []

    class Slow(logging.Handler):
        def emit(self, record):
            time.sleep(0.001)  # hold the handler lock long enough for the threads to meet
            records.append(record.getMessage())

    handler = Slow()
    log = logging.getLogger("offload-test")
    log.addHandler(handler)
    log.propagate = False
    offloading._LOG_LOCKS_DONE = False  # this handler came after the first offload of the session
    try:

        def from_thread():
            for i in range(200):
                log.warning("thread %d", i)
            return "done"

        def from_hub():
            for i in range(200):
                log.warning("green %d", i)
                eventlet.sleep(0)

        green = eventlet.spawn(from_hub)
        with eventlet.Timeout(30):
            assert offload(from_thread) == "done"
            green.wait()
        assert type(handler.lock) is type(eventlet.patcher.original("threading").RLock())
        assert len(records) == 400
    finally:
        log.removeHandler(handler)
