"""The nameko edge of the notification dispatcher: runs ``dispatch.Dispatcher`` in a managed
greenthread beside the service and wakes it after commits that recorded messages."""

import logging

import eventlet
from eventlet.queue import Empty, LightQueue
from nameko.extensions import DependencyProvider

from services.chassis.database import Database
from services.notification import settings
from services.notification.dispatch import BATCH, MIN_WAIT, STOP_GRACE, Dispatcher

log = logging.getLogger(__name__)


class MessageDispatcher(DependencyProvider):
    """Runs a Dispatcher in a managed greenthread beside the service. Workers get a handle whose
    ``wake_after_commit()`` wakes it once their unit of work has committed."""

    def __init__(self):
        self.dispatcher = None
        self._wakeups = None
        self._thread = None
        self._to_wake = set()

    def setup(self):
        self._wakeups = LightQueue(maxsize=1)

    def start(self):
        database = next(d for d in self.container.dependencies if isinstance(d, Database))
        self.dispatcher = Dispatcher(database.session_factory, self.container.service_name)
        self._thread = self.container.spawn_managed_thread(self._run, identifier="message_dispatcher")

    def stop(self):
        """Let a message on the wire finish (so it is recorded, not sent again later), then end."""
        if self._thread is None:
            return
        self.dispatcher.stopping = True
        self.wake()
        with eventlet.Timeout(STOP_GRACE, False):
            self._thread.wait()
        self.kill()

    def kill(self):
        if self._thread is not None:
            self._thread.kill()
            self._thread = None

    def wake(self):
        try:
            self._wakeups.put_nowait(True)
        except eventlet.queue.Full:
            pass  # a wake-up is already pending; it will see these messages too

    def get_dependency(self, worker_ctx):
        return _Handle(self, worker_ctx)

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        # Runs after the entrypoint committed (or rolled back: then there is nothing new).
        if worker_ctx in self._to_wake and exc_info is None:
            self.wake()

    def worker_teardown(self, worker_ctx):
        self._to_wake.discard(worker_ctx)

    def _run(self):
        failures = 0
        wait = 0.0  # look at once: messages may have been left by a stopped process
        while not self.dispatcher.stopping:
            try:
                self._wakeups.get(timeout=wait)
            except Empty:
                pass
            if self.dispatcher.stopping:
                break
            try:
                while self.dispatcher.dispatch_due() == BATCH and not self.dispatcher.stopping:
                    pass
                poll = settings.dispatch_poll()
                due = self.dispatcher.seconds_to_next_due()
                wait = max(MIN_WAIT, poll if due is None else min(poll, due))
                failures = 0
            except Exception:
                failures += 1
                log.exception("message dispatcher of %s failed; retrying", self.dispatcher.service)
                wait = min(30, 0.5 * 2**failures)


class _Handle:
    def __init__(self, provider: MessageDispatcher, worker_ctx):
        self._provider = provider
        self._worker_ctx = worker_ctx

    def wake_after_commit(self):
        """Send what this worker recorded as soon as its transaction has committed."""
        self._provider._to_wake.add(self._worker_ctx)
