"""CPU-bound work off the eventlet hub: in a child process of the service (``in_worker_process``,
for renders) or in a real OS thread (``offload``, for calls that need this process's own state,
such as the signing service's open PKCS#11 session).

Why a process and not a tpool thread: a certificate render is about 150 ms of Python (WeasyPrint's
layout, fontTools' subsetting, thousands of Pango calls through cffi) holding the GIL. In a thread
it fights the eventlet hub, which meanwhile serves the other workers' RPCs, and both slow down;
in its own process it runs at the speed of a plain loop while the service process keeps its core
for messages (bench/README.md, "issuance.py").

Each service process has at most one child, started by its first job, so a service that renders
nothing costs no memory. The child runs one job at a time (more would only share a core), and
one more waits in the pipe so that it never idles between jobs. A job (a module-level function,
its arguments, its result) goes pickled over the child's stdin and stdout: a private pipe
between a process and its own child, never anything from outside. The child exits when the pipe
closes; its service kills and reaps it as it exits, and the kernel kills it if the service dies,
so it never outlives its service. A child that dies, overruns ``JOB_TIMEOUT`` or is left with
half a job in its pipe is killed, its jobs fail with ``WorkerProcessError``, and the next job
starts a fresh child.

A child may be given ``ChildBounds`` for work on input from outside (chassis.sandbox): an address
space it cannot grow past (RLIMIT_AS: a MemoryError in the child, not a service eating the
machine), a lower CPU priority than its service, modules imported before its first job (so the
job's deadline measures the job, not the imports), and a resident size past which it is replaced
between jobs (a heap that a hostile job grew is not kept).

Without eventlet's patching (CLI, scripts, plain unit tests) the function is simply called.
"""

from __future__ import annotations

import atexit
import ctypes
import ctypes.util
import importlib
import json
import logging
import os
import pickle
import resource
import signal
import struct
import sys
import traceback
import weakref
from collections import deque
from dataclasses import dataclass

import eventlet
import eventlet.patcher
from eventlet import tpool
from eventlet.event import Event
from eventlet.hubs import trampoline
from eventlet.semaphore import Semaphore

log = logging.getLogger(__name__)

JOB_TIMEOUT = 120.0  # seconds; a certificate takes well under one
START_TIMEOUT = 60.0  # seconds for a new child to import its modules and say it is ready
_HEADER = struct.Struct(">I")
_READY = b""  # the child's first frame: its imports are done


class WorkerProcessError(RuntimeError):
    """The child process died, overran its time, or returned an exception that cannot be
    rebuilt here (its text and traceback are in the message)."""


class WorkerProcessTimeout(WorkerProcessError):
    """A job ran over its time; the child was killed."""


class WorkerProcessDied(WorkerProcessError):
    """The child ended (killed, crashed, out of its memory) before it answered the job."""


@dataclass(frozen=True)
class ChildBounds:
    """What a child may use. ``memory_bytes``: its address space (RLIMIT_AS), None for no limit;
    ``nice``: how much lower its CPU priority is than its service's; ``preload``: modules it
    imports before it says it is ready; ``recycle_rss_bytes``: a resident size after a job past
    which the child is replaced before the next one."""

    memory_bytes: int | None = None
    nice: int = 0
    preload: tuple[str, ...] = ()
    recycle_rss_bytes: int | None = None

    def argument(self) -> str:
        return json.dumps(
            {"memory_bytes": self.memory_bytes, "nice": self.nice, "preload": list(self.preload)}
        )


def _read_exactly(stream, size: int) -> bytes:
    chunks, missing = [], size
    while missing:
        chunk = stream.read(missing)
        if not chunk:
            raise EOFError("the pipe closed")
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def _send(stream, data: bytes) -> None:
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _send_green(fd: int, data: bytes) -> None:
    """The frame to a non-blocking pipe, waiting on the hub while it is full. Not through
    eventlet's green file, which retries a write to a dead child forever (EPIPE) instead of
    raising BrokenPipeError."""
    for part in (_HEADER.pack(len(data)), data):  # not joined: a job may be megabytes
        view = memoryview(part)
        while view:
            try:
                view = view[_os_write(fd, view) :]
            except BlockingIOError:
                trampoline(fd, write=True)


_os_write = eventlet.patcher.original("os").write


def _receive_frame(stream) -> bytes:
    (size,) = _HEADER.unpack(_read_exactly(stream, _HEADER.size))
    return _read_exactly(stream, size)


class _Child:
    """A started child, the jobs sent to it and not yet answered (in order), and the green thread
    that reads its answers and hands each to its job."""

    def __init__(self, process) -> None:
        self.process = process
        self.waiting: deque[tuple[str, Event]] = deque()
        self.ready = Event()
        self.reader = eventlet.spawn(self._read_answers)

    def _read_answers(self):
        try:
            if _receive_frame(self.process.stdout) != _READY:
                raise EOFError("the child did not start as a worker process")
            self.ready.send(True)
            while True:
                frame = _receive_frame(self.process.stdout)
                name, answer = self.waiting.popleft()
                try:
                    answer.send(pickle.loads(frame))
                except Exception as exc:  # an answer this process cannot rebuild
                    answer.send_exception(
                        WorkerProcessError(f"the answer of {name} cannot be read here: {exc!r}")
                    )
        except (OSError, EOFError, struct.error) as exc:
            cause = exc
        code = self.process.wait()
        # Closed here, after the child is gone, never while a sender may wait on the fd.
        self.process.stdout.close()
        self.process.stdin.close()
        if not self.ready.ready():
            self.ready.send_exception(
                WorkerProcessError(
                    f"the worker process ended before it was ready (exit status {code}): {cause!r}"
                )
            )
        while self.waiting:
            name, answer = self.waiting.popleft()
            answer.send_exception(
                WorkerProcessDied(f"the worker process ended during {name} (exit status {code}): {cause!r}")
            )

    def resident_bytes(self) -> int:
        """The child's resident set size now (0 once it is gone)."""
        try:
            with open(f"/proc/{self.process.pid}/statm") as statm:
                return int(statm.read().split()[1]) * resource.getpagesize()
        except (OSError, IndexError, ValueError):
            return 0


# Every worker of this process (the one below and the sandboxes'), for the exit.
_ALL_WORKERS: "weakref.WeakSet[WorkerProcess]" = weakref.WeakSet()


class WorkerProcess:
    """One child Python process running jobs for this process in the order they come. One more
    job waits in the pipe while one runs, so the child never idles between jobs."""

    def __init__(self, timeout: float = JOB_TIMEOUT, queued: int = 1, bounds: ChildBounds = ChildBounds()):
        self.timeout = timeout
        self.bounds = bounds
        self._child: _Child | None = None
        self._in_child = Semaphore(1 + queued)
        self._sending = Semaphore(1)
        _ALL_WORKERS.add(self)

    @property
    def pid(self) -> int | None:
        return self._child.process.pid if self._child is not None else None

    def run(self, fn, *args, **kwargs):
        """``fn(*args, **kwargs)`` in the child; its exception is raised here with its class.
        ``fn`` and the arguments go pickled: a module-level function by its name, a bound method
        or a ``functools.partial`` with what they hold; a lambda or a local function fails here."""
        job = pickle.dumps((fn, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
        name = getattr(fn, "__qualname__", None) or repr(fn)
        answer = Event()
        with self._in_child:
            child = None
            with eventlet.Timeout(self.timeout) as timer:  # the send and the wait
                try:
                    with self._sending:
                        if self._child is not None and self._child.process.poll() is not None:
                            self.stop()  # died between jobs (killed, out of memory)
                        child = self._child or self._start()
                        if not child.ready.ready():
                            timer.cancel()  # the job's time starts once the child is ready
                            self._wait_until_ready(child)
                            timer.start()
                        child.waiting.append((name, answer))
                        try:
                            _send_green(child.process.stdin.fileno(), job)
                        except BaseException:
                            # Part of a frame may be in the pipe (the child died, the caller was
                            # killed, time ran out): the child cannot read another job.
                            self._discard(child)
                            raise
                    # A caller killed while it waits leaves its answer to nobody: the reader
                    # still reads it, so the answers stay in step with the jobs.
                    ok, value = answer.wait()
                except eventlet.Timeout as expired:
                    if expired is not timer:
                        raise  # the caller's own deadline, not this job's
                    self._discard(child)
                    raise WorkerProcessTimeout(
                        f"{name} ran over {self.timeout:g} s in the worker process (killed; the "
                        "next job starts a new one)"
                    ) from None
                except OSError as exc:
                    raise WorkerProcessError(
                        f"the worker process took no job ({exc!r}); the next job starts a new one"
                    ) from None
            self._recycle_if_grown(child)
        if ok:
            return value
        raise value

    def _wait_until_ready(self, child: _Child) -> None:
        """A new child's imports are not the job's time: waited for outside the job's deadline."""
        try:
            with eventlet.Timeout(START_TIMEOUT):
                child.ready.wait()
        except eventlet.Timeout:
            self._discard(child)
            raise WorkerProcessError(f"the worker process was not ready within {START_TIMEOUT:g} s") from None

    def _recycle_if_grown(self, child: _Child) -> None:
        limit = self.bounds.recycle_rss_bytes
        if limit is None or child is not self._child or child.waiting:
            return
        if child.resident_bytes() > limit:
            log.info("worker process %s grew past %d MiB; replaced", child.process.pid, limit >> 20)
            self.stop()

    def _start(self) -> _Child:
        from eventlet.green import subprocess

        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (root, env.get("PYTHONPATH"))))
        # eventlet's deprecation banner at every child start would fill the service's log
        # (EVENTLET_TESTS is eventlet's one switch for it, and changes nothing else).
        env["EVENTLET_TESTS"] = "1"
        # The parent's entrypoint in the command line says whose worker this is (ps, top, bench).
        # Not "-m": the child's classes (WorkerProcessError) must be this module's, not __main__'s.
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                f"from {__name__} import main; main({os.getpid()})",
                os.path.basename(sys.argv[-1]) if sys.argv else "",
                self.bounds.argument(),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=root,
        )
        log.info("worker process %s started", process.pid)
        self._child = _Child(process)
        return self._child

    def _discard(self, child: _Child | None) -> None:
        """Kill ``child`` and forget it if it is still the current one; its reader reaps it and
        fails the jobs it had not answered."""
        if child is None:
            return
        if self._child is child:
            self._child = None
        if child.process.poll() is None:
            child.process.kill()

    def stop(self) -> int | None:
        """Kill the child (if any) and wait for it; its exit status. Jobs it had not answered
        fail with WorkerProcessError."""
        child = self._child
        if child is None:
            return None
        self._discard(child)
        child.reader.wait()
        return child.process.returncode


_worker = WorkerProcess()


@atexit.register
def _end_workers_with_this_process():
    """Kill and reap the children as the service exits. Killed by the kernel after their parent is
    gone, they would stay zombies until init reaps them, which in a container may be never."""
    for worker in list(_ALL_WORKERS):
        child = worker._child
        if child is None:
            continue
        try:
            child.process.kill()
            eventlet.patcher.original("os").waitpid(child.process.pid, 0)
        except (OSError, ChildProcessError):
            pass  # already gone and reaped


def in_worker_process(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` in this process's worker process when eventlet has patched the
    process (a service), so a long CPU-bound call neither freezes nor slows the other green
    threads; a plain call otherwise. ``fn`` must be importable by name, and its arguments and
    result picklable."""
    if eventlet.patcher.is_monkey_patched("thread"):
        return _worker.run(fn, *args, **kwargs)
    return fn(*args, **kwargs)


# --- in a thread -------------------------------------------------------------------------------

# One CPU-bound job at a time per process: renders in parallel threads only fight for the GIL
# (10 concurrent renders ran at about half the rate of one after another). Scale with processes.
_cpu_slot = Semaphore(1)


def offload(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` in a real OS thread when eventlet has patched threads, so a long
    CPU-bound call does not freeze the process's other green threads; a plain call otherwise."""
    if eventlet.patcher.is_monkey_patched("thread"):
        _os_locks_for_log_handlers()
        with _cpu_slot:
            return tpool.execute(fn, *args, **kwargs)
    return fn(*args, **kwargs)


def _os_locks_for_log_handlers():
    """WeasyPrint and pyHanko log from the tpool thread. The handlers' locks are eventlet's green
    locks after monkey patching, and a real thread that meets one held cannot wait on the hub;
    real OS locks serialise both kinds of thread correctly (a log write holds it for
    microseconds). Handlers configured later than the first offload keep their own lock."""
    global _LOG_LOCKS_DONE
    if _LOG_LOCKS_DONE:
        return
    os_rlock = eventlet.patcher.original("threading").RLock
    loggers = [logging.getLogger()] + [
        lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    for handler in {h for lg in loggers for h in lg.handlers}:
        handler.lock = os_rlock()
    _LOG_LOCKS_DONE = True


_LOG_LOCKS_DONE = False


# --- the child ----------------------------------------------------------------------------------


def _failure(exc: BaseException):
    """The exception itself when it survives pickling, otherwise its text and traceback."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return WorkerProcessError("".join(traceback.format_exception(exc)).strip())


def serve(jobs, results) -> None:
    """Run jobs from ``jobs`` until it closes; answer each ``(True, result)`` or ``(False, exc)``.
    A job that cannot be read or a result that cannot be pickled is that job's failure, never
    the end of the child (the frames keep jobs and answers in step)."""
    while True:
        try:
            frame = _receive_frame(jobs)
        except EOFError:
            return
        try:
            fn, args, kwargs = pickle.loads(frame)
            answer = pickle.dumps((True, fn(*args, **kwargs)), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # the parent raises it in the job's caller
            answer = pickle.dumps((False, _failure(exc)), protocol=pickle.HIGHEST_PROTOCOL)
        _send(results, answer)


def _end_with_parent(parent: int) -> None:
    """The parent decides when the child ends: Ctrl-C and the SIGTERM that a supervisor sends to the
    process group leave a job running to its end (the parent waits for it while it stops), and
    the kernel kills the child when the parent is gone, even in the middle of a job."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    # Died before prctl took effect? Compared with its pid, not with 1: in a container the
    # service itself may be pid 1.
    if os.getppid() != parent:
        sys.exit(0)


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _apply_bounds(bounds: dict) -> None:
    """Imports first (they may need more room than a job), then the limits."""
    for module in bounds.get("preload", ()):
        importlib.import_module(module)
    if bounds.get("nice"):
        os.nice(bounds["nice"])
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core file of a hostile job
    if bounds.get("memory_bytes"):
        limit = int(bounds["memory_bytes"])
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def main(parent: int) -> None:
    _end_with_parent(parent)
    # The pipe to the parent is a private copy of stdout; anything printed (by a library, or by C
    # code on fd 1) goes to stderr, the service's log, and cannot corrupt an answer.
    results = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="worker process: %(levelname)s %(name)s: %(message)s"
    )
    _apply_bounds(json.loads(sys.argv[-1]) if len(sys.argv) > 2 else {})
    _send(results, _READY)
    serve(sys.stdin.buffer, results)
