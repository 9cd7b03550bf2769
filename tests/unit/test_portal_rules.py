"""The portal's small rules that need no server: where login may send the browser back to, whose
address the gateway believes, and a screen that says nothing of who may see it."""

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from gateway.clients import client_address
from portal.app import safe_next, screen


@pytest.mark.parametrize(
    ("asked", "goes_to"),
    [
        ("/applications?status=draft", "/applications?status=draft"),
        ("/officer/applications/abc", "/officer/applications/abc"),
        (None, "/dashboard"),
        ("", "/dashboard"),
        ("//evil.example/x", "/dashboard"),
        ("https://evil.example/", "/dashboard"),
        ("/\\evil.example", "/dashboard"),
        ("javascript:alert(1)", "/dashboard"),
    ],
)
def test_login_sends_back_only_to_a_page_of_ours(asked, goes_to):
    assert safe_next(asked) == goes_to


def request(headers, remote="10.0.0.9"):
    return Request(EnvironBuilder(headers=headers, environ_base={"REMOTE_ADDR": remote}).get_environ())


def test_the_gateway_believes_a_forwarded_address_only_with_the_portals_key(monkeypatch):
    monkeypatch.setenv("OPENCOO_PORTAL_KEY", "the-key")
    monkeypatch.delenv("OPENCOO_TRUSTED_PROXIES", raising=False)
    told = {"X-Forwarded-For": "203.0.113.7", "X-OpenCoO-Portal": "the-key"}
    assert client_address(request(told)) == "203.0.113.7"
    assert client_address(request({**told, "X-OpenCoO-Portal": "guess"})) == "10.0.0.9"
    assert client_address(request({**told, "X-OpenCoO-Portal": "ключ"})) == "10.0.0.9"  # not ASCII
    assert client_address(request({"X-Forwarded-For": "203.0.113.7"})) == "10.0.0.9"
    # a browser's own X-Forwarded-For comes first; the portal's entry is the last
    chained = {"X-Forwarded-For": "1.2.3.4, 203.0.113.7", "X-OpenCoO-Portal": "the-key"}
    assert client_address(request(chained)) == "203.0.113.7"


def test_a_screen_must_say_who_may_see_it():
    with pytest.raises(ValueError, match="declare roles"):
        screen("/forgotten")
    with pytest.raises(ValueError, match="declare roles"):
        screen("/both", roles=("admin",), public=True)


def test_only_ids_and_usernames_reach_the_views_that_put_them_into_api_paths():
    from werkzeug.exceptions import NotFound
    from werkzeug.routing import Map, Rule

    from portal.app import IdConverter, UsernameConverter

    urls = Map(
        [
            Rule("/applications/<id:application_id>", endpoint="one"),
            Rule("/staff/<username:name>/x", endpoint="two"),
        ],
        converters={"id": IdConverter, "username": UsernameConverter},
    ).bind("portal.example")
    assert urls.match("/applications/1b9e-42") == ("one", {"application_id": "1b9e-42"})
    assert urls.match("/staff/kochi.officer/x") == ("two", {"name": "kochi.officer"})
    for path in (
        "/applications/a.b",
        "/applications/" + "a" * 65,
        "/applications/..",
        "/staff/x/x",
        "/staff/../x",
    ):
        with pytest.raises(NotFound):
            urls.match(path)


def bare_portal(tmp_path):
    """The portal with its own session table and an API nobody answers."""
    from portal import app as portal_app
    from portal.api import Api
    from portal.sessions import SessionStore

    return portal_app.Portal(
        Api("http://127.0.0.1:9", "key"),
        SessionStore(f"sqlite:///{tmp_path / 'portal.db'}"),
        "https://coo.example",
    )


def test_a_fault_of_ours_is_a_plain_500_page_without_a_traceback(tmp_path, monkeypatch, caplog):
    from werkzeug.test import Client

    from portal import app as portal_app

    def broken(page):
        raise RuntimeError("secret detail of the fault")

    monkeypatch.setattr(portal_app, "SCREENS", [("/broken", ["GET"], portal_app.Screen(broken, public=True))])
    site = bare_portal(tmp_path)
    answer = Client(site).get("/broken")
    assert answer.status_code == 500
    page = answer.get_data(as_text=True)
    assert "Something went wrong" in page and "secret detail" not in page and "Traceback" not in page
    assert "secret detail of the fault" in caplog.text  # the operator sees it in the log


def test_a_body_over_the_portals_bound_is_refused_before_any_view_runs(tmp_path, monkeypatch):
    from werkzeug.test import Client

    from portal import app as portal_app

    ran = []
    monkeypatch.setattr(
        portal_app, "SCREENS", [("/upload", ["POST"], portal_app.Screen(ran.append, public=True))]
    )
    site = bare_portal(tmp_path)
    answer = Client(site).post(
        "/upload", data=b"x" * (portal_app.MAX_BODY + 1), content_type="application/x-www-form-urlencoded"
    )
    assert answer.status_code == 413 and ran == []
