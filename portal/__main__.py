"""``python -m portal``: serve the portal at OPENCOO_PORTAL_HTTP (default 127.0.0.1:8001)."""

import eventlet

eventlet.monkey_patch()

import logging  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

from eventlet import wsgi  # noqa: E402

import portal.views  # noqa: E402,F401  (declares the screens)
from portal import api, sessions  # noqa: E402
from portal.app import Portal  # noqa: E402
from services.chassis import config  # noqa: E402

SWEEP_SECONDS = 600


def main():
    logging.basicConfig(level=logging.INFO, format="%(asctime)s portal %(levelname)s %(message)s")
    store = sessions.SessionStore()
    app = Portal(api.from_config(), store, config.public_url())

    def sweep():
        while True:
            eventlet.sleep(SWEEP_SECONDS)
            store.sweep()

    eventlet.spawn(sweep)
    host, _, port = config.portal_address().rpartition(":")
    listener = eventlet.listen((host, int(port)))
    logging.info("portal at http://%s (public URL %s)", config.portal_address(), config.public_url())
    # Stopped as the services are (SIGTERM from a supervisor, Ctrl-C): quietly, exit code 0.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        serve(listener, app)
    except KeyboardInterrupt:
        pass
    logging.info("portal stopped")


def serve(listener, app):
    wsgi.server(
        listener,
        app,
        log_output=False,
        debug=False,  # eventlet's default sends a traceback to the browser
        max_size=int(config.env("OPENCOO_PORTAL_CONNECTIONS", "500")),
        keepalive=config.keepalive_seconds(),
        socket_timeout=config.socket_timeout_seconds(),
    )


if __name__ == "__main__":
    main()
