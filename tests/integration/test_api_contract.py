"""The API accepts what its OpenAPI document allows and refuses what it does not, as schemathesis
(a tool we did not write) finds by generating requests from the document the gateway serves:
`positive_data_acceptance` (data the schema allows is never refused as malformed, 400) and
`negative_data_rejection` (data it forbids is refused with a 4xx), on every operation, each
called with a token of a role it declares (`x-roles`), so the body is read and checked."""

import subprocess
import sys
from pathlib import Path

import eventlet

from tests.conftest import ADMIN_PASSWORD, login

PREFERENCE = ("exporter", "officer", "agency_admin", "admin")
# Operations whose answer depends on a secret no schema can hold: the captcha's answer, the
# emailed single-use reset token. A wrong one is refused with 400 (CAPTCHA_INVALID,
# RESET_LINK_INVALID) whatever its shape, so there well-formed data may meet a 400.
SECRET_GUARDED = (
    "POST /api/v1/auth/login",
    "POST /api/v1/auth/forgot-password",
    "POST /api/v1/auth/reset-password",
    "POST /reset-password",
)


def _config(document: dict, role_tokens: dict, draft_id: str, doomed_id: str) -> str:
    """schemathesis.toml: each secured operation called with a token of a role it declares, and
    the exporter's draft as the application in paths (beside generated ids), so the checks reach
    the services' own validation and not only "not found" (another draft is the one to delete)."""
    lines = [
        "[parameters]",
        f'"path.application_id" = "{draft_id}"',
        "",
        # JSON text is Unicode (RFC 8259 §8.1): the gateway refuses lone surrogates and NUL
        # everywhere with 400, which no schema keyword can say.
        "[generation]",
        "max-examples = 8",
        'codec = "utf-8"',
        "allow-x00 = false",
        "",
        # 400 is for what the schema could have told (shape, lengths, patterns); 422 is a rule
        # about stored state the request cannot know (a draft not yet complete enough to be
        # priced or submitted), so valid data may meet it.
        "[checks.positive_data_acceptance]",
        'expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]',
        "",
        # refusing a body over the route's byte limit before reading it is a refusal too
        "[checks.negative_data_rejection]",
        'expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", '
        '"422", "428", "429", "5xx"]',
        "",
    ]
    for name in SECRET_GUARDED:
        lines += [
            "[[operations]]",
            f'include-name = "{name}"',
            "[operations.checks.positive_data_acceptance]",
            'expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "422", "429", "5xx"]',
            "",
        ]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            allowed = operation.get("x-roles")
            if not allowed:
                continue
            role = next(role for role in PREFERENCE if role in allowed)
            name = f"{method.upper()} {path}"
            # logout ends the token it is called with: a token of its own, not the exporter's
            token = role_tokens["spare"] if name == "POST /api/v1/auth/logout" else role_tokens[role]
            lines += [
                "[[operations]]",
                f'include-name = "{name}"',
                f'headers = {{ Authorization = "Bearer {token}" }}',
            ]
            if name == "DELETE /api/v1/applications/{application_id}":
                lines += [f'parameters = {{ "path.application_id" = "{doomed_id}" }}']
            lines += [""]
    return "\n".join(lines)


def test_every_operation_accepts_what_its_schema_allows_and_refuses_the_rest(everyone, tmp_path):
    import requests

    base, role_tokens = everyone
    document = requests.get(f"{base}/api/v1/openapi.json", timeout=10).json()
    config = tmp_path / "schemathesis.toml"
    role_tokens = {**role_tokens, "spare": login(base, "admin", ADMIN_PASSWORD)}
    drafts = [
        requests.post(
            f"{base}/api/v1/applications",
            json={"kind": "preferential"},
            headers={"Authorization": f"Bearer {role_tokens['exporter']}"},
            timeout=10,
        )
        for _ in range(2)
    ]
    assert [draft.status_code for draft in drafts] == [201, 201], drafts[0].text
    config.write_text(_config(document, role_tokens, *(draft.json()["id"] for draft in drafts)))
    log = tmp_path / "schemathesis.log"
    with open(log, "wb") as out:
        run = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "st"),
                "--config-file",
                str(config),
                "run",
                f"{base}/api/v1/openapi.json",
                "--url",
                base,
                "--checks",
                "not_a_server_error,positive_data_acceptance,negative_data_rejection",
                "--phases",
                "examples,coverage,fuzzing",
                "--seed",
                "20261204",
                "--generation-deterministic",
                "--workers",
                "1",
                "--no-color",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
        while run.poll() is None:  # the gateway under test runs in this process's green threads
            eventlet.sleep(0.2)
    text = log.read_text(errors="replace")
    assert run.returncode == 0, text[-20000:]
