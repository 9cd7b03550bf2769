"""docs/asyncapi.json: made from the event contracts by docs/gen_asyncapi.py (a contract change
without regenerating it fails here), valid against the AsyncAPI 3.0.0 JSON schema published by
the AsyncAPI Initiative (validated by jsonschema, not by us), and every example valid by its own
payload schema."""

import importlib.util
import json
from pathlib import Path

import jsonschema

from services.contracts import events

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "docs" / "asyncapi.json"


def generator():
    spec = importlib.util.spec_from_file_location("gen_asyncapi", ROOT / "docs" / "gen_asyncapi.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_document_is_what_the_contracts_make_today():
    assert DOCUMENT.read_text() == generator().render(), "run python docs/gen_asyncapi.py"


def test_the_document_is_valid_asyncapi_3():
    schema = json.loads((ROOT / "tests" / "data" / "asyncapi-3.0.0.schema.json").read_text())
    document = json.loads(DOCUMENT.read_text())
    jsonschema.Draft7Validator(schema).validate(document)


def test_every_event_of_the_contracts_is_a_message_with_a_valid_example():
    document = json.loads(DOCUMENT.read_text())
    messages = document["components"]["messages"]
    assert {(m["name"], m["title"].rsplit(" v", 1)[1]) for m in messages.values()} == {
        (event_type, str(version))
        for (_, event_type), versions in events.EVENTS.items()
        for version in versions
    }
    for (source, event_type), versions in events.EVENTS.items():
        for version in versions:
            example = messages[f"{event_type}.v{version}"]["examples"][0]["payload"]
            assert events.schema_for(source, event_type, version).validate(example) == {}
