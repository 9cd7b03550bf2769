"""Running pyHanko's and certvalidator's coroutines from synchronous code.

Both libraries are async, yet nothing we ask of them waits on I/O: our token signer signs
synchronously, and fetching (OCSP, CRLs, AIA) is off. So a coroutine is run to completion on a
private event loop of this OS thread whose selector never waits. The same function serves the
nameko workers (eventlet green threads sharing one OS thread, where ``asyncio.run`` would find
another green thread's loop "running") and the tpool threads that sign. (The CLI, a plain
process whose pyHanko PKCS#11 signer hands token calls to threads, uses ``asyncio.run``.)

The loop and the selector call nothing of eventlet's: in a tpool thread the patched
``threading``/``selectors``/``time`` would reach for the hub of another OS thread.
"""

from __future__ import annotations

import asyncio
import selectors
from typing import Any, Coroutine, TypeVar

import eventlet.patcher

_threading = eventlet.patcher.original("threading")
_time = eventlet.patcher.original("time")
_loops = _threading.local()  # one loop per OS thread, not per green thread

T = TypeVar("T")


class _NoWaitSelector(selectors.BaseSelector):
    """``select`` returns at once (or after a timer's timeout, which these libraries do not use)
    and refuses to block for good. The loop's wake-up pipe is never needed: nothing is handed
    to threads."""

    def __init__(self) -> None:
        self._keys: dict = {}

    def register(self, fileobj, events, data=None):
        fd = fileobj if isinstance(fileobj, int) else fileobj.fileno()
        key = selectors.SelectorKey(fileobj, fd, events, data)
        self._keys[fileobj] = key
        return key

    def unregister(self, fileobj):
        return self._keys.pop(fileobj)

    def select(self, timeout=None):
        if timeout is None:
            raise RuntimeError("a coroutine tried to wait on I/O")
        if timeout > 0:
            _time.sleep(timeout)
        return []

    def get_map(self):
        return self._keys

    def close(self):
        self._keys.clear()


def run_to_completion(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on this OS thread's own loop (made on first use and kept:
    the threads that call this are few and long-lived). A coroutine that waits on I/O fails
    with RuntimeError rather than blocking."""
    loop = getattr(_loops, "loop", None)
    if loop is None or loop.is_closed():
        loop = asyncio.SelectorEventLoop(_NoWaitSelector())
        _loops.loop = loop
    return loop.run_until_complete(coro)
