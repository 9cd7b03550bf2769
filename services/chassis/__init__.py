"""What every OpenCoO service shares: configuration, the database unit of work, the transactional
outbox and its relay, the idempotent inbox, reliable event handlers with a dead-letter queue, RPC with
timeouts, correlation ids in JSON logs, and health.

Only this package and each service's ``service.py`` know nameko; domain modules stay plain Python.
"""

from services.chassis.memory import return_large_buffers

# Every OpenCoO process (service, gateway, worker child) imports the chassis before it handles
# anything: the allocator's policy is set once, here.
return_large_buffers()
