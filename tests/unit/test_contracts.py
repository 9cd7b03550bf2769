"""Event contracts: every event of docs/events.md exists, validates what producers send and refuses
what consumers could not read."""

import uuid

import pytest
from marshmallow import ValidationError

from services.contracts import events

# Every application.* and certificate.* event names its agency, so agencies can bind by it.
AGENCY = ("agency_code", "issuing_office_code")
DESIGN_EVENTS = {
    ("registration", "exporter_registered"): {"iec", "name", "email", "mobile"},
    ("registration", "credentials_issued"): {
        "username",
        "role",
        "name",
        "email",
        "mobile",
        "password",
        "reason",
    },
    ("registration", "credentials_changed"): {"username", "credentials_version"},
    ("registration", "token_revoked"): {"username", "token_id", "expires_at"},
    ("registration", "organisation_changed"): {"agency_code"},
    ("registration", "password_reset_requested"): {"username", "name", "email", "link", "expires_in_minutes"},
    ("registration", "login_failures_alert"): {
        "username",
        "name",
        "email",
        "failures",
        "addresses",
        "window_minutes",
    },
    ("application", "application_submitted"): {
        "application_id",
        "application_number",
        "iec",
        "agreement_code",
        "agency_code",
        "issuing_office_code",
    },
    ("application", "discrepancy_raised"): {
        "application_id",
        "application_number",
        "iec",
        "comment",
        *AGENCY,
    },
    ("application", "application_resubmitted"): {"application_id", "application_number", "iec", *AGENCY},
    ("application", "application_approved"): {
        "application_id",
        "application_number",
        "iec",
        "officer",
        *AGENCY,
    },
    ("application", "application_rejected"): {
        "application_id",
        "application_number",
        "iec",
        "reason",
        *AGENCY,
    },
    ("payment", "payment_completed"): {
        "payment_id",
        "application_id",
        "amount_paise",
        "cgst",
        "sgst",
        "igst",
        "total",
    },
    ("payment", "payment_failed"): {"payment_id", "application_id", "reason"},
    ("certificate", "certificate_issued"): {
        "certificate_id",
        "certificate_number",
        "application_id",
        "iec",
        "sha256",
        "url",
        *AGENCY,
    },
    ("certificate", "certificate_revoked"): {"certificate_id", "certificate_number", "reason", *AGENCY},
}
ENVELOPE = {"event_id", "event_type", "version", "occurred_at", "correlation_id"}

SAMPLES = {
    "iec": "AAACM1234F",
    "name": "Malabar Sea Foods",
    "email": "exports@malabar.in",
    "mobile": "+919847012345",
    "application_id": "a-1",
    "application_number": "MPEDA/2026/013/0000066A",
    "agreement_code": "013",
    "agency_code": "MPEDA",
    "issuing_office_code": "MPEDA-KOCHI",
    "comment": "invoice unsigned",
    "officer": "officer1",
    "payment_id": "p-1",
    "amount_paise": 35000,
    "cgst": 2100,
    "sgst": 2100,
    "igst": 0,
    "total": 39200,
    "certificate_id": "c-1",
    "certificate_number": "MPEDA/2026/013/0000066A",
    "sha256": "ab" * 32,
    "username": "AAACM1234F",
    "role": "exporter",
    "password": "s3cret",
    "reason": "registration",
    "url": "http://127.0.0.1:8000/api/v1/verify?number=X",
    "credentials_version": 2,
    "token_id": "9f1c2b7e54a04c0fa3d1e6b8c2a47d55",
    "expires_at": "2026-12-04T19:30:00Z",
    "link": "http://127.0.0.1:8000/reset-password?token=t",
    "expires_in_minutes": 30,
    "failures": 5,
    "addresses": 3,
    "window_minutes": 15,
}


def test_every_design_event_has_a_versioned_schema_with_its_fields():
    assert set(events.EVENTS) == set(DESIGN_EVENTS)
    for key, fields in DESIGN_EVENTS.items():
        schema = events.schema_for(*key, events.latest_version(*key))
        assert set(schema.fields) == ENVELOPE | fields, key


@pytest.mark.parametrize("source, event_type", sorted(DESIGN_EVENTS))
def test_make_event_builds_an_envelope_that_parses_back(source, event_type):
    data = {f: SAMPLES[f] for f in DESIGN_EVENTS[(source, event_type)]}
    payload = events.make_event(source, event_type, data, "corr-1")
    assert uuid.UUID(payload["event_id"]).version == 4
    assert payload["event_type"] == event_type and payload["version"] == 1
    assert payload["occurred_at"].endswith("+00:00")
    parsed = events.parse_event(source, event_type, payload)
    assert parsed["correlation_id"] == "corr-1"
    assert {k: parsed[k] for k in data} == data


def test_producers_cannot_publish_what_breaks_the_contract():
    good = {"iec": "AAACM1234F", "name": "X", "email": "a@b.in", "mobile": "+91"}
    with pytest.raises(ValidationError) as missing:
        events.make_event("registration", "exporter_registered", {"iec": "AAACM1234F"}, None)
    assert set(missing.value.messages) == {"name", "email", "mobile"}
    with pytest.raises(ValidationError, match="iec"):
        events.make_event("registration", "exporter_registered", {**good, "iec": "short"}, None)
    with pytest.raises(ValidationError, match="Unknown field"):
        events.make_event("registration", "exporter_registered", {**good, "extra": 1}, None)
    with pytest.raises(ValidationError, match="amount_paise"):
        events.make_event(
            "payment",
            "payment_completed",
            {**{f: SAMPLES[f] for f in DESIGN_EVENTS[("payment", "payment_completed")]}, "amount_paise": -1},
            None,
        )
    with pytest.raises(events.UnknownEvent):
        events.make_event("registration", "exporter_deleted", {}, None)


def test_consumers_tolerate_added_fields_but_not_missing_ones_or_unknown_versions():
    payload = events.make_event(
        "application",
        "application_resubmitted",
        {
            "application_id": "a",
            "application_number": "n",
            "iec": "AAACM1234F",
            "agency_code": "MPEDA",
            "issuing_office_code": "MPEDA-KOCHI",
        },
        None,
    )
    assert "added_later" not in events.parse_event(
        "application", "application_resubmitted", {**payload, "added_later": True}
    )
    with pytest.raises(events.UnknownEvent):
        events.parse_event("application", "application_resubmitted", {**payload, "version": 2})
    with pytest.raises(ValidationError):
        events.parse_event(
            "application",
            "application_resubmitted",
            {k: v for k, v in payload.items() if k != "application_id"},
        )
    with pytest.raises(ValidationError):
        events.parse_event("application", "application_approved", payload)  # wrong type
    with pytest.raises(ValidationError):
        events.parse_event("application", "application_resubmitted", ["not", "a", "dict"])


def test_every_event_an_agency_binds_to_names_its_agency():
    """Agencies bind application.events and certificate.events by the agency_code header, which
    the outbox relay copies from the payload: an event without it would reach no agency."""
    for (source, event_type), versions in events.EVENTS.items():
        if source in ("application", "certificate"):
            for version, schema in versions.items():
                field = schema().fields.get("agency_code")
                assert field is not None and field.required, (event_type, version)
