"""Reference lists are kept by the gateway: a cached read costs no RPC (it answers with the
service that made it stopped), a conditional read costs no body (304 with the same ETag), and
a new agency or office drops the kept list of agencies in every gateway (organisation_changed)."""

import requests

from tests.conftest import ADMIN_PASSWORD, login, wait_until

AGREEMENTS = "/api/v1/reference/agreements"


def test_a_cached_read_needs_no_service_and_a_conditional_one_no_body(platform, run_services):
    from services.application.service import ApplicationService

    base = platform("registration")
    assert requests.get(base + AGREEMENTS, timeout=10).status_code == 503  # nothing kept yet
    application = run_services(ApplicationService)
    first = requests.get(base + AGREEMENTS, timeout=10)
    assert first.status_code == 200 and first.json()["total"] >= 10
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "public, max-age=60"
    application.kill()  # no application service from here on
    again = requests.get(base + AGREEMENTS, timeout=10)
    assert again.status_code == 200 and again.content == first.content and again.headers["ETag"] == etag
    held = requests.get(base + AGREEMENTS, headers={"If-None-Match": etag}, timeout=10)
    assert held.status_code == 304 and held.content == b"" and held.headers["ETag"] == etag
    other_page = requests.get(
        base + AGREEMENTS, params={"per_page": 2}, headers={"If-None-Match": etag}, timeout=10
    )
    assert other_page.status_code == 200 and other_page.headers["ETag"] != etag  # another body
    stale = requests.get(base + AGREEMENTS, headers={"If-None-Match": '"not-ours"'}, timeout=10)
    assert stale.status_code == 200


def test_a_new_agency_drops_the_kept_list(platform):
    base = platform("registration")
    first = requests.get(base + "/api/v1/reference/agencies", timeout=10)
    assert first.status_code == 200
    admin = {"Authorization": f"Bearer {login(base, 'admin', ADMIN_PASSWORD)}"}
    made = requests.post(
        base + "/api/v1/admin/agencies",
        headers=admin,
        timeout=10,
        json={"code": "TEA-BOARD", "name": "Tea Board"},
    )
    assert made.status_code == 201, made.text

    def listed():
        answer = requests.get(
            base + "/api/v1/reference/agencies", headers={"If-None-Match": first.headers["ETag"]}, timeout=10
        )
        return answer.status_code == 200 and "TEA-BOARD" in {a["code"] for a in answer.json()["items"]}

    wait_until(listed, timeout=10, what="the new agency in the reference list")
