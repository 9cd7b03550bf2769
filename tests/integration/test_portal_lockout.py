"""The login page when the API locks the browser's address out: the message says how long to
wait, and the right password does not get in meanwhile."""

import re

import requests

from tests.conftest import ADMIN_PASSWORD, try_login
from tests.integration.test_portal import log_in, portal_port, site  # noqa: F401  (fixtures)


def test_after_five_wrong_passwords_the_page_says_how_long_to_wait(site):
    browser = requests.Session()
    for _ in range(5):
        refused = log_in(browser, site, "admin", "not the password")
        assert refused.status_code == 401 and "username or password" in refused.text.lower()
    locked = log_in(browser, site, "admin", ADMIN_PASSWORD)
    assert locked.status_code == 429, locked.text[:500]
    waiting = re.search(r"try again in (\d+) seconds", locked.text)
    assert waiting and 0 < int(waiting.group(1)) <= 15 * 60 + 1
    assert 'role="alert"' in locked.text and 'value="admin"' in locked.text  # the username kept
    # the portal counted the browser's address, not its own: the API locks this address too
    direct = try_login(site, "admin", ADMIN_PASSWORD)
    assert direct.status_code == 429 and direct.json()["error"]["code"] == "ACCOUNT_LOCKED", direct.text
