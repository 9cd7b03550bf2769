"""Every route of the OpenAPI document, called with no token and with a token of each role: the
gateway answers from the route's one declaration (its `x-roles`), before it reads the body. A
role the route does not name gets 403 ROLE_FORBIDDEN whatever it sends, no token 401, a role it
names never 401/403 for its role, and nothing answers 500."""

import re

import pytest
import requests

from gateway.http import RouteDeclarationError, route
from services.contracts import tokens


def concrete(path: str) -> str:
    """A path of the document with its parameters filled in (ids that exist nowhere)."""
    return re.sub(r"\{[^}]+\}", "00000000-0000-4000-8000-000000000000", path)


def test_every_route_answers_each_role_as_it_declares(everyone):
    base, role_tokens = everyone
    document = requests.get(f"{base}/api/v1/openapi.json", timeout=10).json()
    assert set(role_tokens) == set(tokens.ROLES)
    checked = 0
    # logout ends the token it is called with: last, so that each role's token serves the rest
    for path, operations in sorted(
        document["paths"].items(), key=lambda item: item[0] == "/api/v1/auth/logout"
    ):
        for method, operation in operations.items():
            allowed = set(operation.get("x-roles", ()))
            if not allowed:
                continue  # public: the other tests of each route cover it
            url = base + concrete(path)
            # a body that would be refused if read: authorization must come first
            send = {"data": b"{not json", "headers": {"Content-Type": "application/json"}}
            anonymous = requests.request(method, url, timeout=30, **send)
            assert anonymous.status_code == 401, (method, path, anonymous.text)
            for role, token in role_tokens.items():
                answer = requests.request(
                    method,
                    url,
                    timeout=30,
                    **{**send, "headers": {**send["headers"], "Authorization": f"Bearer {token}"}},
                )
                where = (method, path, role, answer.status_code, answer.text[:200])
                assert answer.status_code < 500, where
                code = answer.json()["error"]["code"] if answer.status_code >= 400 else None
                if role in allowed:
                    assert answer.status_code != 401 and code != "ROLE_FORBIDDEN", where
                else:
                    assert answer.status_code == 403 and code == "ROLE_FORBIDDEN", where
            checked += 1
    assert checked >= 40  # every secured route of the API


def test_a_route_that_says_nothing_of_who_may_call_it_is_refused_at_start_up():
    with pytest.raises(RouteDeclarationError, match="declare roles"):
        route("GET", "/api/v1/forgotten", "A route that forgot its roles")
    with pytest.raises(RouteDeclarationError, match="declare roles"):
        route("GET", "/api/v1/confused", "Both", roles=["admin"], public=True)
    with pytest.raises(RouteDeclarationError, match="no such roles"):
        route("GET", "/api/v1/typo", "A typo", roles=["amdin"])
