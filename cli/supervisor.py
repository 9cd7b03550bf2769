"""The supervisor `opencoo up` hands the platform to: every Procfile entry as its own process
(N of them with ``--scale``), their output interleaved with the process's name, a process that
exits restarted with backoff (and the restart logged), and Ctrl-C or SIGTERM stopping them all
gracefully (SIGTERM, then SIGKILL for what is still running after the grace period).

It imports the standard library only and runs in a fresh interpreter, so it stays a few MB: the
supervisor that production mode runs beside the services must not cost what they cost.

    python -m cli.supervisor PROCFILE [NAME=N ...]
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

# seconds a process has to stop after SIGTERM (a certificate being issued finishes)
GRACE = float(os.environ.get("OPENCOO_SUPERVISOR_GRACE", "20"))
STEADY = 60.0  # a process that ran this long had started well: its next failure starts backoff anew
LONGEST_WAIT = 30.0


def read_procfile(text: str) -> list[tuple[str, str]]:
    """The Procfile's ``name: command`` lines, in order."""
    entries = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, colon, command = line.partition(":")
        if not colon or not name.strip() or not command.strip():
            raise ValueError(f"not a Procfile line: {line!r}")
        entries.append((name.strip(), command.strip()))
    return entries


def backoff(failures: int) -> float:
    """Seconds before the next start after this many failures in a row: 1, 2, 4 … 30."""
    return min(LONGEST_WAIT, 2.0 ** max(0, failures - 1))


def end_with_supervisor() -> None:
    """In the child before its command: the kernel sends it SIGTERM if the supervisor dies
    (killed with SIGKILL, say), so no service outlives it unsupervised."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


@dataclass
class Child:
    name: str
    command: str
    process: subprocess.Popen | None = None
    started: float = 0.0
    failures: int = 0
    start_at: float = 0.0  # when it is to be started (again)
    pending: bytes = field(default=b"")


class Supervisor:
    def __init__(self, children: list[Child], cwd: str, out=None):
        self.children = children
        self.cwd = cwd
        self.out = out or sys.stdout.buffer
        self.selector = selectors.DefaultSelector()
        self.stopping: int | None = None  # the signal that asked us to stop
        self.width = max(len(child.name) for child in children)

    def say(self, child: Child, text: str) -> None:
        """The supervisor's own line about a process (its output's lines carry ``|``)."""
        self.write(child, text.encode())

    def write(self, child: Child, line: bytes) -> None:
        stamp = time.strftime("%H:%M:%S").encode()
        self.out.write(stamp + b" " + child.name.ljust(self.width).encode() + b" " + line + b"\n")
        self.out.flush()

    def start(self, child: Child) -> None:
        # its own session: Ctrl-C in the terminal reaches the supervisor only, which then
        # stops every process the same way whether a person or an orchestrator asked
        child.process = subprocess.Popen(
            ["/bin/sh", "-c", child.command],
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=end_with_supervisor,
        )
        child.started = time.monotonic()
        os.set_blocking(child.process.stdout.fileno(), False)  # type: ignore[union-attr]
        self.selector.register(child.process.stdout, selectors.EVENT_READ, child)  # type: ignore[arg-type]
        self.say(child, f"started (pid={child.process.pid})")

    def drain(self, child: Child, final: bool = False) -> None:
        stream = child.process.stdout  # type: ignore[union-attr]
        while True:
            try:
                chunk = os.read(stream.fileno(), 65536)  # type: ignore[union-attr]
            except BlockingIOError:
                break
            if not chunk:
                final = True
                break
            child.pending += chunk
        *lines, child.pending = child.pending.split(b"\n")
        for line in lines:
            self.write(child, b"| " + line)
        if final:
            if child.pending:
                self.write(child, b"| " + child.pending)
                child.pending = b""
            try:
                self.selector.unregister(stream)  # type: ignore[arg-type]
            except KeyError:
                pass

    def reap(self, child: Child) -> None:
        """A process ended: log it, and start it again later unless we are stopping."""
        code = child.process.returncode  # type: ignore[union-attr]
        self.drain(child, final=True)
        child.process.stdout.close()  # type: ignore[union-attr]
        child.process = None
        if self.stopping is not None:
            self.say(child, f"stopped (rc={code})")
            return
        ran = time.monotonic() - child.started
        child.failures = 1 if ran >= STEADY else child.failures + 1
        wait = backoff(child.failures)
        child.start_at = time.monotonic() + wait
        self.say(child, f"exited (rc={code}) after {ran:.1f} s; restarting in {wait:.0f} s")

    def ask_to_stop(self, signum, _frame) -> None:
        if self.stopping is None:
            self.stopping = signum

    def run(self) -> int:
        signal.signal(signal.SIGINT, self.ask_to_stop)
        signal.signal(signal.SIGTERM, self.ask_to_stop)
        for child in self.children:
            self.start(child)
        while self.stopping is None:
            self.step(0.5)
        return self.stop_all()

    def step(self, timeout: float) -> None:
        for key, _ in self.selector.select(timeout):
            self.drain(key.data)
        now = time.monotonic()
        for child in self.children:
            if child.process is not None and child.process.poll() is not None:
                self.reap(child)
            elif child.process is None and self.stopping is None and now >= child.start_at:
                self.start(child)

    def stop_all(self) -> int:
        running = [child for child in self.children if child.process is not None]
        for child in running:
            self.signal_group(child, signal.SIGTERM)
        deadline = time.monotonic() + GRACE
        while any(child.process is not None for child in self.children) and time.monotonic() < deadline:
            self.step(0.2)
        for child in self.children:
            if child.process is not None:
                self.say(child, f"did not stop within {GRACE:.0f} s: killed")
                self.signal_group(child, signal.SIGKILL)
                child.process.wait()
                self.reap(child)
        return 128 + (self.stopping or signal.SIGTERM)  # the shell's convention for a signal

    @staticmethod
    def signal_group(child: Child, signum: int) -> None:
        try:
            os.killpg(child.process.pid, signum)  # type: ignore[union-attr]
        except ProcessLookupError:
            pass


def children_of(entries: list[tuple[str, str]], scale: dict[str, int]) -> list[Child]:
    return [
        Child(f"{name}.{n}", command) for name, command in entries for n in range(1, scale.get(name, 1) + 1)
    ]


def main(argv: list[str]) -> int:
    procfile = Path(argv[0])
    scale = {name: int(count) for name, _, count in (value.partition("=") for value in argv[1:])}
    children = children_of(read_procfile(procfile.read_text()), scale)
    return Supervisor(children, str(procfile.parent)).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
