"""The `opencoo` command."""

import os

# eventlet prints a deprecation banner when imported (nameko imports it); EVENTLET_TESTS is its
# one switch for that banner and changes nothing else. The services started by `opencoo up` get
# it in their environment too.
os.environ.setdefault("EVENTLET_TESTS", "1")
