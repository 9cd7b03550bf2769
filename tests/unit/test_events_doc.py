"""docs/events.md is what docs/gen_events.py makes of the event contracts today: every event, its
fields, headers and a valid example. A contract change without `python docs/gen_events.py` fails
here."""

import importlib.util
import json
import re
from pathlib import Path

import pytest

from services.contracts import events

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gen():
    spec = importlib.util.spec_from_file_location("gen_events", ROOT / "docs" / "gen_events.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_document_is_what_the_generator_makes(gen):
    committed = gen.DOC.read_text(encoding="utf-8")
    assert gen.render(committed) == committed, (
        "docs/events.md is stale: run python docs/gen_events.py and commit the result"
    )
    assert gen.main(["--check"]) == 0


def test_a_stale_document_is_caught(gen, tmp_path, monkeypatch):
    committed = gen.DOC.read_text(encoding="utf-8")
    stale = committed.replace("| `agency_code` | string | yes |", "| `agency_code` | int | no |", 1)
    assert stale != committed
    doc = tmp_path / "events.md"
    doc.write_text(stale, encoding="utf-8")
    monkeypatch.setattr(gen, "DOC", doc)
    assert gen.main(["--check"]) == 1
    assert gen.main([]) == 0 and doc.read_text(encoding="utf-8") == committed


def test_every_event_version_has_a_section_and_an_example_its_consumers_can_read(gen):
    committed = gen.DOC.read_text(encoding="utf-8")
    for (source, event_type), versions in events.EVENTS.items():
        for version in versions:
            assert f"### `{event_type}` v{version}" in committed
            example = gen.example(source, event_type, version)
            assert f"```json\n{json.dumps(example, indent=2)}\n```" in committed
            parsed = events.parse_event(source, event_type, json.loads(json.dumps(example)))
            assert set(parsed) == set(example)


def test_a_new_field_without_example_or_description_stops_the_generator(gen, monkeypatch):
    class Extended(events.CertificateRevokedV1):
        revoked_by = events.fields.String(required=True)

    monkeypatch.setitem(events.EVENTS, ("certificate", "certificate_revoked"), {1: Extended})
    with pytest.raises(gen.DocError, match="fields .*revoked_by"):
        gen.render(gen.DOC.read_text(encoding="utf-8"))
    key = ("certificate", "certificate_revoked", 1)
    monkeypatch.setitem(gen.EXAMPLES, key, {**gen.EXAMPLES[key], "revoked_by": "mpeda.admin"})
    with pytest.raises(gen.DocError, match="certificate_revoked.revoked_by has no description"):
        gen.render(gen.DOC.read_text(encoding="utf-8"))


def test_the_document_shows_the_headers_the_relay_sets(gen):
    committed = gen.DOC.read_text(encoding="utf-8")
    line = re.search(
        r"Exchange `certificate.events`, routing key `certificate_issued`, "
        r"headers (.*)\.\n",
        committed,
    ).group(1)
    assert line == (
        '`event_type: "certificate_issued"`, `version: 1`, `source: "certificate"`, '
        '`agency_code: "MPEDA"`, `issuing_office_code: "MPEDA-KOCHI"`'
    )
