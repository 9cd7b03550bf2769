"""RPC between services with a deadline.

nameko's RpcProxy waits forever for a reply. Here every call gives up after OPENCOO_RPC_TIMEOUT
seconds with RpcTimeout, and the request itself expires in the broker after the same time, so a
service that comes back later does not run calls whose callers have long gone.
"""

import eventlet
from nameko.exceptions import UnknownService, deserialize_to_instance
from nameko.rpc import MethodProxy, RpcProxy, ServiceProxy

from services.chassis import config
from services.chassis.errors import DOMAIN_ERRORS, RpcTimeout, ServiceUnavailable

# A domain error raised by the service called arrives here as its own class, not a RemoteError.
for _error in DOMAIN_ERRORS:
    deserialize_to_instance(_error)


class TimedMethodProxy(MethodProxy):
    def __init__(self, worker_ctx, service_name, method_name, reply_listener, timeout, **options):
        self.timeout = timeout
        super().__init__(worker_ctx, service_name, method_name, reply_listener, expiration=timeout, **options)

    def __call__(self, *args, **kwargs):
        return self.call_async(*args, **kwargs).result()

    def call_async(self, *args, **kwargs):
        try:
            reply = self._call(*args, **kwargs)
        except UnknownService:
            raise ServiceUnavailable(
                f"service {self.service_name!r} is not running",
                code="SERVICE_UNAVAILABLE",
                extra={"service": self.service_name},
            ) from None
        return TimedReply(reply, self)


class TimedReply:
    def __init__(self, reply, proxy: TimedMethodProxy):
        self.reply = reply
        self.proxy = proxy

    def result(self):
        try:
            with eventlet.Timeout(self.proxy.timeout):
                return self.reply.result()
        except eventlet.Timeout:
            self._forget()
            raise RpcTimeout(
                f"service {self.proxy.service_name!r} did not answer "
                f"{self.proxy.method_name} within {self.proxy.timeout:g}s",
                extra={"service": self.proxy.service_name},
            ) from None

    def _forget(self):
        # The reply listener keeps an event per outstanding call; drop ours so that timed-out calls
        # do not accumulate.
        events = self.proxy.reply_listener._reply_events
        for key, value in list(events.items()):
            if value is self.reply.reply_event:
                events.pop(key, None)


class TimedServiceProxy(ServiceProxy):
    def __init__(self, worker_ctx, service_name, reply_listener, timeout, **options):
        self.timeout = timeout
        super().__init__(worker_ctx, service_name, reply_listener, **options)

    def with_timeout(self, timeout: float) -> "TimedServiceProxy":
        return TimedServiceProxy(
            self.worker_ctx, self.service_name, self.reply_listener, timeout, **self.options
        )

    def __getattr__(self, name):
        return TimedMethodProxy(
            self.worker_ctx, self.service_name, name, self.reply_listener, self.timeout, **self.options
        )


class TimedRpcProxy(RpcProxy):
    """``svc = TimedRpcProxy("registration")``; ``timeout`` defaults to OPENCOO_RPC_TIMEOUT."""

    def __init__(self, target_service, timeout: float | None = None, **options):
        self._timeout = timeout
        super().__init__(target_service, **options)

    def get_dependency(self, worker_ctx):
        timeout = self._timeout if self._timeout is not None else config.rpc_timeout()
        return TimedServiceProxy(
            worker_ctx, self.target_service, self.rpc_reply_listener, timeout, **self.options
        )
