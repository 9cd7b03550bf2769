"""Work on input from outside (an uploaded PDF, a file posted to the public verification) in a
child process that cannot exceed its bounds, whatever the input says.

- Memory: the child's address space is capped (RLIMIT_AS), so a file that makes the parser
  allocate without end gets a MemoryError in the child; the service's own memory never moves.
- Time: each job has a deadline; a child that overruns it is killed, and the next job starts a
  fresh one. Nothing goes on after the caller has its answer.
- CPU: the child runs at a lower priority than the services, so a flood of hostile files on two
  cores leaves signing and rendering their share.
- Queue: one job at a time per child; a few more callers may wait, briefly. Past that a caller is
  told at once that the sandbox is busy, rather than waiting behind an attack until its own
  deadline (an RPC's worker held for nothing).
- Leftovers: a child that grew is replaced between jobs, so memory stays flat over thousands of
  hostile requests.

Each service process that needs one keeps its own ``Sandbox`` (a module-level instance), started
by its first job. Without eventlet (CLI, scripts, plain unit tests) the function is called
directly, unbounded: callers there are not serving the internet.
"""

from __future__ import annotations

import logging

import eventlet.patcher
from eventlet.semaphore import Semaphore

from services.chassis import config
from services.chassis.offloading import ChildBounds, WorkerProcess, WorkerProcessDied, WorkerProcessTimeout

log = logging.getLogger(__name__)

MiB = 1024 * 1024


class BoundsExceeded(Exception):
    """The input needed more than its bounds: ``bound`` is "time", "memory" or "process" (the
    child died under it: a crash or a stack too deep)."""

    def __init__(self, bound: str, detail: str):
        super().__init__(f"{bound}: {detail}")
        self.bound = bound
        self.detail = detail


class SandboxBusy(Exception):
    """Too many jobs are waiting already; try again in ``retry_after`` seconds."""

    def __init__(self, retry_after: int):
        super().__init__(f"busy; retry after {retry_after} s")
        self.retry_after = retry_after


def seconds_per_job() -> float:
    """``OPENCOO_UNTRUSTED_SECONDS``: a job's deadline; by default 0.4 of the RPC timeout, so that
    the job, the wait before it (at most half a deadline) and the caller's other calls end before
    the caller's own caller gives up: it gets this bound's answer, not a timeout."""
    return float(config.env("OPENCOO_UNTRUSTED_SECONDS", 0.4 * config.rpc_timeout()))


def memory_per_child() -> int:
    """``OPENCOO_UNTRUSTED_MEMORY_MB``: a child's address space."""
    return int(config.env("OPENCOO_UNTRUSTED_MEMORY_MB", "512")) * MiB


class Sandbox:
    def __init__(self, name: str, preload: tuple[str, ...] = (), waiting: int = 4):
        self.name = name
        self.preload = preload
        self.max_waiting = waiting
        self._worker: WorkerProcess | None = None
        self._slot = Semaphore(1)
        self._waiting = 0

    def _current_worker(self) -> WorkerProcess:
        """Made at the first job, with the bounds the environment says; made again when the
        environment says otherwise (tests run many services in one process, one after another)."""
        timeout, memory = seconds_per_job(), memory_per_child()
        worker = self._worker
        if worker is not None and (worker.timeout, worker.bounds.memory_bytes) != (timeout, memory):
            worker.stop()
            worker = None
        if worker is None:
            worker = self._worker = WorkerProcess(
                timeout=timeout,
                queued=0,
                bounds=ChildBounds(
                    memory_bytes=memory, nice=10, preload=self.preload, recycle_rss_bytes=memory // 4
                ),
            )
        return worker

    @property
    def pid(self) -> int | None:
        return self._worker.pid if self._worker is not None else None

    def run(self, fn, *args):
        """``fn(*args)`` in the child: its result, or its exception with its class. Raises
        BoundsExceeded when it ran out of time or memory, SandboxBusy when the queue is full."""
        if not eventlet.patcher.is_monkey_patched("thread"):
            return fn(*args)
        worker = self._current_worker()
        if self._waiting >= self.max_waiting:
            raise SandboxBusy(retry_after=int(worker.timeout) + 1)
        self._waiting += 1
        try:
            # Waiting long means the jobs ahead are overrunning theirs: an attack, most likely.
            acquired = self._slot.acquire(timeout=worker.timeout / 2)
        finally:
            self._waiting -= 1
        if not acquired:
            raise SandboxBusy(retry_after=int(worker.timeout) + 1)
        try:
            return worker.run(fn, *args)
        except WorkerProcessTimeout as exc:
            raise BoundsExceeded("time", f"more than {worker.timeout:g} s") from exc
        except MemoryError:
            worker.stop()  # its heap may be anywhere now
            raise BoundsExceeded("memory", f"more than {worker.bounds.memory_bytes >> 20} MiB") from None
        except WorkerProcessDied as exc:
            log.warning("%s sandbox: the child died under a job: %s", self.name, exc)
            raise BoundsExceeded("process", "the check ended abnormally") from exc
        finally:
            self._slot.release()

    def stop(self) -> None:
        if self._worker is not None:
            self._worker.stop()
