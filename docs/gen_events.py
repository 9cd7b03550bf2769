"""Regenerates the generated parts of docs/events.md from the event contracts, so the document
cannot drift from what the platform publishes.

    python docs/gen_events.py           rewrite docs/events.md in place
    python docs/gen_events.py --check   exit 1 when docs/events.md is stale

The prose of docs/events.md is written by hand. Each part between
``<!-- BEGIN GENERATED: name -->`` and ``<!-- END GENERATED: name -->`` is made here:

    catalogue  every event of services/contracts/events.py EVENTS, one line each
    envelope   the fields every event carries
    events     per event: what it means, its fields (from the marshmallow schema), the message's
               exchange, routing key and headers (from the outbox relay's own function) and an
               example payload, validated through the schema
    topology   the binding recipe's kombu code, taken from examples/agency_consumer.py

A new event, version or field without a description or example here makes this script fail.
"""

import argparse
import inspect
import json
import re
import sys
import uuid
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

from marshmallow import fields, validate  # noqa: E402

from examples import agency_consumer  # noqa: E402
from services.chassis.outbox import event_headers  # noqa: E402
from services.contracts import events  # noqa: E402

DOC = ROOT / "docs" / "events.md"

# What each field means; a field keeps its meaning in every event that has it. (event type,
# field) overrides the meaning for one event.
FIELD_DOCS = {
    "event_id": "Unique id of this event (UUID 4). The same event delivered twice has the same "
    "event_id: deduplicate by it.",
    "event_type": "The event type; equal to the routing key and the `event_type` header.",
    "version": "Version of this event type's schema; equal to the `version` header.",
    "occurred_at": "When the change happened, ISO 8601 with UTC offset "
    "(e.g. `2026-03-02T10:15:30.123456+00:00`).",
    "correlation_id": "Id of the request that caused the event, for tracing across services and "
    "in support requests; null when none.",
    "iec": "Import Export Code of the exporter.",
    "name": "The firm's name from the IEC directory.",
    "email": "Email address (from the IEC record for exporters).",
    "mobile": "Mobile number with country code.",
    "username": "The account's login name (the IEC for exporters).",
    "role": "The account's role.",
    "password": "The new password, to be sent to the person and forgotten.",
    "application_id": "Id of the application in OpenCoO (opaque string).",
    "application_number": "Application number `{AGENCY}/{YEAR}/{SCHEME}/{SEQ:07d}A`, given at "
    "submission; a duplicate adds `/{SEQ:08d}`.",
    "agreement_code": "Scheme code of the trade agreement (e.g. `013` ASEAN-India FTA); null for "
    "a non-preferential certificate.",
    "agency_code": "Code of the issuing agency (e.g. `MPEDA`, `EIC`); also the `agency_code` "
    "header that agencies bind by.",
    "issuing_office_code": "Code of the issuing office within the agency; also the "
    "`issuing_office_code` header.",
    "comment": "The officer's discrepancy, as the exporter sees it.",
    "officer": "Username of the officer who decided.",
    "reason": "Why, in words.",
    "payment_id": "Id of the payment in OpenCoO.",
    "amount_paise": "Fee before GST, in paise.",
    "cgst": "Central GST, in paise (0 for an inter-state supply).",
    "sgst": "State GST, in paise (0 for an inter-state supply).",
    "igst": "Integrated GST, in paise (0 for an intra-state supply).",
    "total": "Amount paid: fee plus GST, in paise.",
    "certificate_id": "Id of the certificate in OpenCoO.",
    "certificate_number": "Certificate number (the application number it was issued for).",
    "sha256": "SHA-256 of the signed certificate PDF, lowercase hex: compare it with the file you hold.",
    "url": "Public verification address of the certificate.",
    "link": "The reset link (`/reset-password?token=…`); it works once, and only the newest.",
    "expires_in_minutes": "How long the link works.",
    "failures": "Failed logins on the account in the window, from any address.",
    "addresses": "How many addresses they came from.",
    "window_minutes": "The window the failures were counted in.",
}
EVENT_FIELD_DOCS = {
    ("credentials_issued", "reason"): "Why the password was made (`password_reset` is no longer "
    "sent: resets go by link, `password_reset_requested`).",
    ("credentials_changed", "credentials_version"): "The account's credentials version now: tokens with an "
    "older `ver` claim are refused.",
    ("token_revoked", "token_id"): "The token's `jti` claim.",
    ("token_revoked", "expires_at"): "When the token would have expired: forget it after that.",
    ("payment_failed", "reason"): "The payment provider's reason, in words.",
    ("application_rejected", "reason"): "The officer's reason for rejecting, as the exporter sees it.",
    ("certificate_revoked", "reason"): "Why the certificate was revoked.",
}

# What each event means: who publishes it, when.
EVENT_DOCS = {
    "exporter_registered": "An exporter completed registration (IEC fetched, DSC proved). Not for agencies.",
    "credentials_issued": "**Internal**, for the notification service only: a password was made "
    "for a person (registration, password reset, staff account). Agencies "
    "never bind registration.events. The platform scrubs the password from "
    "its own records once published.",
    "credentials_changed": "**Internal**, for the gateway: an account's password was changed "
    "(by its owner, a reset link or the CLI); every token issued before "
    "is refused from now on. Every gateway process gets its own copy.",
    "organisation_changed": "**Internal**, for the gateway: an agency or office was added; the "
    "cached reference list of agencies is dropped. Every gateway process gets its own copy.",
    "token_revoked": "**Internal**, for the gateway: someone logged out; that one token is refused "
    "from now on (the account's other tokens still work). Every gateway process gets its own copy.",
    "password_reset_requested": '**Internal**, for the notification service: "forgot password" '
    "matched an account; the link is emailed to it. The platform "
    "scrubs the link from its own records once published.",
    "login_failures_alert": "**Internal**, for the notification service: failed logins from "
    "elsewhere are slowing an account down; its owner is told (at most "
    "once an hour).",
    "application_submitted": "An exporter's application was paid for and is now with the issuing "
    "office for examination. Published once per submission.",
    "discrepancy_raised": "The officer sent the application back to the exporter with a comment.",
    "application_resubmitted": "The exporter corrected the application and submitted it again, "
    "signed with the DSC.",
    "application_approved": "The officer approved the application; a `certificate_issued` "
    "follows once the certificate is signed.",
    "application_rejected": "The officer rejected the application. Final.",
    "payment_completed": "The fee of an application was paid. Not for agencies.",
    "payment_failed": "A payment attempt failed; the exporter may try again. Not for agencies.",
    "certificate_issued": "The certificate was rendered, signed with the agency's key and entered "
    "in the registry. Fetch or verify it at `url`.",
    "certificate_revoked": "The agency revoked a certificate; verification now reports it revoked.",
}

# One realistic example per (source, event type, version): the event's own fields. The envelope
# comes from EXAMPLE_ENVELOPE below (event_id made from the event's name). Each is validated
# through its schema.
EXAMPLES = {
    ("registration", "exporter_registered", 1): {
        "iec": "AAACM4821K",
        "name": "Malabar Sea Foods Private Limited",
        "email": "exports@malabarseafoods.in",
        "mobile": "+919847012345",
    },
    ("registration", "credentials_issued", 1): {
        "username": "AAACM4821K",
        "role": "exporter",
        "name": "Malabar Sea Foods Private Limited",
        "email": "exports@malabarseafoods.in",
        "mobile": "+919847012345",
        "password": "tWq7-hR2x-Lm9e",
        "reason": "registration",
    },
    ("registration", "credentials_changed", 1): {"username": "AAACM4821K", "credentials_version": 3},
    ("registration", "organisation_changed", 1): {"agency_code": "MPEDA"},
    ("registration", "token_revoked", 1): {
        "username": "AAACM4821K",
        "token_id": "9f1c2b7e54a04c0fa3d1e6b8c2a47d55",
        "expires_at": "2026-12-04T19:30:00Z",
    },
    ("registration", "password_reset_requested", 1): {
        "username": "AAACM4821K",
        "name": "Malabar Sea Foods Private Limited",
        "email": "exports@malabarseafoods.in",
        "link": "https://coo.example.in/reset-password?token=Zx8v0Qm3l4W0s2c1u5r9a7n0d1o2m3e4",
        "expires_in_minutes": 30,
    },
    ("registration", "login_failures_alert", 1): {
        "username": "mpeda.kochi.officer",
        "name": "Anitha Menon",
        "email": "anitha.menon@mpeda.example.in",
        "failures": 7,
        "addresses": 5,
        "window_minutes": 15,
    },
    ("application", "application_submitted", 1): {
        "application_id": "3f9c1b0e-5d2a-4c7e-9a61-0b8d2e4f7a15",
        "application_number": "MPEDA/2026/013/0000066A",
        "iec": "AAACM4821K",
        "agreement_code": "013",
        "agency_code": "MPEDA",
        "issuing_office_code": "MPEDA-KOCHI",
    },
    ("application", "discrepancy_raised", 1): {
        "application_id": "3f9c1b0e-5d2a-4c7e-9a61-0b8d2e4f7a15",
        "application_number": "MPEDA/2026/013/0000066A",
        "iec": "AAACM4821K",
        "comment": "The commercial invoice is not signed; upload the signed invoice.",
        "agency_code": "MPEDA",
        "issuing_office_code": "MPEDA-KOCHI",
    },
    ("application", "application_resubmitted", 1): {
        "application_id": "3f9c1b0e-5d2a-4c7e-9a61-0b8d2e4f7a15",
        "application_number": "MPEDA/2026/013/0000066A",
        "iec": "AAACM4821K",
        "agency_code": "MPEDA",
        "issuing_office_code": "MPEDA-KOCHI",
    },
    ("application", "application_approved", 1): {
        "application_id": "3f9c1b0e-5d2a-4c7e-9a61-0b8d2e4f7a15",
        "application_number": "MPEDA/2026/013/0000066A",
        "iec": "AAACM4821K",
        "officer": "mpeda.kochi.officer1",
        "agency_code": "MPEDA",
        "issuing_office_code": "MPEDA-KOCHI",
    },
    ("application", "application_rejected", 1): {
        "application_id": "7a2e9d41-0c3b-4f58-b6e2-5d1a9c8f3e20",
        "application_number": "EIC/2026/002/0000412A",
        "iec": "AABCS7319Q",
        "reason": "The goods do not meet the IKCEPA rule of origin (CTH not satisfied).",
        "agency_code": "EIC",
        "issuing_office_code": "EIC-MUMBAI",
    },
    ("payment", "payment_completed", 1): {
        "payment_id": "c41d7e2a-9b0f-4e63-a8d5-2f7c1e9b4a06",
        "application_id": "3f9c1b0e-5d2a-4c7e-9a61-0b8d2e4f7a15",
        "amount_paise": 35000,
        "cgst": 2100,
        "sgst": 2100,
        "igst": 0,
        "total": 39200,
    },
    ("payment", "payment_failed", 1): {
        "payment_id": "e0b5a3c9-1f7d-4a2e-8c6b-3d9f0a1e5b72",
        "application_id": "3f9c1b0e-5d2a-4c7e-9a61-0b8d2e4f7a15",
        "reason": "Payment link expired.",
    },
    ("certificate", "certificate_issued", 1): {
        "certificate_id": "b8f2c6d0-4e1a-4973-9c5d-6a0e3f7b2d48",
        "certificate_number": "MPEDA/2026/013/0000066A",
        "application_id": "3f9c1b0e-5d2a-4c7e-9a61-0b8d2e4f7a15",
        "iec": "AAACM4821K",
        "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "url": "https://coo.example.gov.in/api/v1/verify?number=MPEDA%2F2026%2F013%2F0000066A",
        "agency_code": "MPEDA",
        "issuing_office_code": "MPEDA-KOCHI",
    },
    ("certificate", "certificate_revoked", 1): {
        "certificate_id": "b8f2c6d0-4e1a-4973-9c5d-6a0e3f7b2d48",
        "certificate_number": "MPEDA/2026/013/0000066A",
        "reason": "Issued on a forged invoice.",
        "agency_code": "MPEDA",
        "issuing_office_code": "MPEDA-KOCHI",
    },
}

EXAMPLE_ENVELOPE = {
    "correlation_id": "5b2f0c7e9a1d4e86b3c2a7f1d0e9b845",
    "occurred_at": "2026-03-02T10:15:30.123456+00:00",
}

ENVELOPE_FIELDS = list(events.Envelope().fields)

BEGIN = "<!-- BEGIN GENERATED: {} (python docs/gen_events.py; do not edit) -->"
END = "<!-- END GENERATED: {} -->"


class DocError(Exception):
    pass


# --- fields ---------------------------------------------------------------------------------


def _type(field) -> str:
    # Subclasses first: Email, Url and UUID are Strings, AwareDateTime is a DateTime.
    for cls, name in (
        (fields.Email, "string (email)"),
        (fields.Url, "string (URL)"),
        (fields.UUID, "string (UUID)"),
        (fields.AwareDateTime, "string (ISO 8601 date-time with offset)"),
        (fields.Integer, "integer"),
        (fields.String, "string"),
    ):
        if isinstance(field, cls):
            return name
    raise DocError(f"no JSON type known for {type(field).__name__}: teach docs/gen_events.py")


def _constraints(field) -> str:
    said = []
    for v in field.validators:
        if isinstance(v, validate.Regexp):
            said.append(f"matches `{v.regex.pattern}`")
        elif isinstance(v, validate.Range):
            if v.min is not None:
                said.append(f"{'≥' if v.min_inclusive else '>'} {v.min}")
            if v.max is not None:
                said.append(f"{'≤' if v.max_inclusive else '<'} {v.max}")
        elif isinstance(v, validate.OneOf):
            said.append("one of " + ", ".join(f"`{c}`" for c in v.choices))
        elif isinstance(v, validate.Length):
            said.append(f"{v.min or 0} to {v.max} characters")
        elif isinstance(v, (validate.URL, validate.Email)):
            pass  # said by the type
        else:
            raise DocError(f"no wording for validator {v!r}: teach docs/gen_events.py")
    if field.allow_none:
        said.append("may be null")
    return "; ".join(said)


def _describe(event_type, name) -> str:
    text = EVENT_FIELD_DOCS.get((event_type, name)) or FIELD_DOCS.get(name)
    if not text:
        raise DocError(f"{event_type}.{name} has no description in docs/gen_events.py")
    return text


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def field_table(schema, names, event_type=None) -> list[str]:
    lines = ["| field | type | required | constraints | meaning |", "|---|---|---|---|---|"]
    for name in names:
        f = schema.fields[name]
        lines.append(
            f"| `{name}` | {_type(f)} | {'yes' if f.required else 'no'} | "
            f"{_cell(_constraints(f))} | {_cell(_describe(event_type, name))} |"
        )
    return lines


# --- examples -------------------------------------------------------------------------------


def example(source, event_type, version) -> dict:
    """The example payload of one event, in the schema's field order, validated by the schema."""
    data = EXAMPLES.get((source, event_type, version))
    if data is None:
        raise DocError(f"no example for {source}.{event_type} v{version} in docs/gen_events.py")
    schema = events.schema_for(source, event_type, version)
    own = [n for n in schema.fields if n not in ENVELOPE_FIELDS]
    if set(data) != set(own):
        raise DocError(
            f"example of {event_type} v{version}: fields {sorted(set(data) ^ set(own))}"
            " differ from the schema's"
        )
    envelope = {
        "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"opencoo:{source}:{event_type}:{version}")),
        "event_type": event_type,
        "version": version,
        **EXAMPLE_ENVELOPE,
    }
    payload = {**envelope, **data}
    payload = {name: payload[name] for name in schema.fields}
    errors = schema.validate(payload)
    if errors:
        raise DocError(f"example of {event_type} v{version} breaks its schema: {errors}")
    return payload


# --- parts ----------------------------------------------------------------------------------


def _anchor(event_type, version):
    return f"{event_type}-v{version}"


def catalogue() -> list[str]:
    lines = [
        "| exchange | routing key = event type | version | agency headers | for agencies |",
        "|---|---|---|---|---|",
    ]
    for (source, event_type), versions in events.EVENTS.items():
        for version in sorted(versions):
            schema = versions[version]()
            routed = [n for n in ("agency_code", "issuing_office_code") if n in schema.fields]
            lines.append(
                f"| `{events.exchange_name(source)}` | "
                f"[`{event_type}`](#{_anchor(event_type, version)}) | {version} | "
                f"{', '.join(f'`{n}`' for n in routed) or '—'} | "
                f"{'yes' if source in agency_consumer.SOURCES else 'no'} |"
            )
    return lines


def envelope() -> list[str]:
    schema = events.Envelope()
    return field_table(schema, list(schema.fields))


def event_sections() -> list[str]:
    lines = []
    for (source, event_type), versions in events.EVENTS.items():
        if event_type not in EVENT_DOCS:
            raise DocError(f"{event_type} has no description in docs/gen_events.py")
        for version in sorted(versions):
            schema = versions[version]()
            own = [n for n in schema.fields if n not in ENVELOPE_FIELDS]
            payload = example(source, event_type, version)
            headers = event_headers(source, payload)
            lines += [
                f'<a id="{_anchor(event_type, version)}"></a>',
                f"### `{event_type}` v{version}",
                "",
                EVENT_DOCS[event_type],
                "",
                f"Exchange `{events.exchange_name(source)}`, routing key `{event_type}`, "
                "headers " + ", ".join(f"`{k}: {json.dumps(v)}`" for k, v in headers.items()) + ".",
                "",
                "Fields beside the [envelope](#envelope):",
                "",
            ]
            lines += field_table(schema, own, event_type)
            lines += ["", "Example:", "", "```json", json.dumps(payload, indent=2), "```", ""]
    return lines[:-1]


def topology() -> list[str]:
    # written as ruff format writes Python (double quotes): make lint checks the code in docs too
    parts = [f"SOURCES = ({', '.join(json.dumps(source) for source in agency_consumer.SOURCES)})"]
    for function in (
        agency_consumer.source_exchange,
        agency_consumer.agency_exchange,
        agency_consumer.parking_exchange,
        agency_consumer.agency_queue,
        agency_consumer.declare_topology,
    ):
        parts.append(inspect.getsource(function).rstrip())
    return ["```python", "from kombu import Exchange, Queue", "", "\n\n\n".join(parts), "```"]


PARTS = {"catalogue": catalogue, "envelope": envelope, "events": event_sections, "topology": topology}


def render(text: str) -> str:
    """``text`` with every generated part made again; fails when a part's markers are missing."""
    for name, make in PARTS.items():
        begin, end = BEGIN.format(name), END.format(name)
        pattern = re.compile(re.escape(begin) + r"\n.*?" + re.escape(end), re.S)
        if len(pattern.findall(text)) != 1:
            raise DocError(f"docs/events.md needs exactly one generated part {name!r}")
        body = "\n".join([begin, *make(), end])
        text = pattern.sub(lambda _m, body=body: body, text)
    return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate docs/events.md.")
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/events.md is stale")
    args = parser.parse_args(argv)
    current = DOC.read_text(encoding="utf-8")
    try:
        fresh = render(current)
    except DocError as exc:
        print(f"docs/gen_events.py: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if fresh != current:
            print("docs/events.md is stale: run python docs/gen_events.py", file=sys.stderr)
            return 1
        return 0
    if fresh != current:
        DOC.write_text(fresh, encoding="utf-8")
        print("docs/events.md regenerated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
