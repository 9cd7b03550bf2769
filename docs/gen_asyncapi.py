"""Makes docs/asyncapi.json, the AsyncAPI 3.0 description of OpenCoO's events, from the event
contracts (``services/contracts/events.py``) and the examples of docs/events.md. Run it after
changing a contract; a unit test fails while the file differs, and checks it against the
AsyncAPI 3.0.0 JSON schema.

    python docs/gen_asyncapi.py
"""

import importlib.util
import json
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

from apispec import APISpec  # noqa: E402
from apispec.ext.marshmallow import MarshmallowPlugin  # noqa: E402

from services.chassis.outbox import event_headers  # noqa: E402
from services.contracts import events  # noqa: E402

DOCUMENT = ROOT / "docs" / "asyncapi.json"
# The payload schemas are OpenAPI 3.0 schema objects (what the marshmallow converter writes).
SCHEMA_FORMAT = "application/vnd.oai.openapi+json;version=3.0.0"


def _events_doc():
    """docs/gen_events.py, for the meanings and examples it keeps."""
    spec = importlib.util.spec_from_file_location("gen_events", ROOT / "docs" / "gen_events.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _payload_schema(name: str, schema_class) -> dict:
    spec = APISpec(title="-", version="-", openapi_version="3.0.3", plugins=[MarshmallowPlugin()])
    spec.components.schema(name, schema=schema_class)
    return spec.to_dict()["components"]["schemas"][name]


def build() -> dict:
    doc = _events_doc()
    channels, operations, messages = {}, {}, {}
    for (source, event_type), versions in events.EVENTS.items():
        exchange = events.exchange_name(source)
        channel = f"{exchange}.{event_type}"
        channels[channel] = {
            "address": event_type,
            "title": f"{event_type} on {exchange}",
            "messages": {},
            "bindings": {
                "amqp": {
                    "is": "routingKey",
                    "exchange": {"name": exchange, "type": "topic", "durable": True, "autoDelete": False},
                    "bindingVersion": "0.3.0",
                }
            },
        }
        for version, schema_class in sorted(versions.items()):
            key = f"{event_type}.v{version}"
            example = doc.example(source, event_type, version)
            headers = event_headers(source, example)
            messages[key] = {
                "name": event_type,
                "title": f"{event_type} v{version}",
                "summary": doc.EVENT_DOCS[event_type],
                "contentType": "application/json",
                "headers": {
                    "type": "object",
                    "properties": {
                        name: {"type": "integer" if isinstance(value, int) else "string"}
                        for name, value in headers.items()
                    },
                },
                "payload": {
                    "schemaFormat": SCHEMA_FORMAT,
                    "schema": _payload_schema(f"{event_type}.v{version}", schema_class),
                },
                "examples": [{"name": f"{event_type}-v{version}", "headers": headers, "payload": example}],
                "bindings": {
                    "amqp": {"contentEncoding": "utf-8", "messageType": event_type, "bindingVersion": "0.3.0"}
                },
            }
            channels[channel]["messages"][key] = {"$ref": f"#/components/messages/{key}"}
        operations[f"publish.{channel}"] = {
            "action": "send",
            "title": f"The {source} service publishes {event_type}",
            "channel": {"$ref": f"#/channels/{channel}"},
            "messages": [
                {"$ref": f"#/channels/{channel}/messages/{key}"} for key in channels[channel]["messages"]
            ],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "OpenCoO events",
            "version": "1.0.0",
            "description": "What OpenCoO's services announce, on RabbitMQ: each service on its "
            "topic exchange `<service>.events`, the routing key being the event "
            "type. Issuing agencies bind application.events and "
            "certificate.events by their `agency_code` header. docs/events.md "
            "says the same in prose, with the rules of delivery.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "broker": {
                "host": "localhost:5672",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "description": "The platform's RabbitMQ (OPENCOO_AMQP_URI).",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False, default=str) + "\n"


def main() -> int:
    DOCUMENT.write_text(render())
    print(f"{DOCUMENT.relative_to(ROOT)} regenerated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
