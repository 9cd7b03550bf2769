"""The web portal: the screens of exporters, officers, agency admins and admins, rendered on the
server (Jinja2) from OpenCoO's public HTTP API, exactly as an integrator would call it: no RPC
and no database of the platform's (architecture §10 "The portal").

``api.py`` is its one way to OpenCoO, ``sessions.py`` its own state (the browser's session with
its API token and CSRF token), ``app.py`` the WSGI application, ``views/`` the screens by role.
"""
