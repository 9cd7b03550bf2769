"""Message templates: every kind renders on its channels, HTML is autoescaped, text is not, and
the wording carries what the recipient needs."""

import uuid

import pytest
from jinja2 import UndefinedError
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from services.notification import messages
from services.notification.models import Base
from services.notification.rendering import KINDS, UnknownTemplate, render

HOSTILE = 'Sea <script>alert("x")</script> & Sons'

CONTEXTS = {
    "credentials": {
        "name": "Sea Foods Pvt Ltd",
        "username": "ABCDE12345",
        "password": "Xy7#kP2q<&>Lm9",
        "role": "exporter",
        "role_label": "exporter",
        "reason": "registration",
        "login_url": "https://coo.example.in/",
    },
    "password_reset": {
        "name": "Sea Foods Pvt Ltd",
        "username": "ABCDE12345",
        "link": "https://coo.example.in/reset-password?token=Zx8v0Qm3l4W0s2c1",
        "expires_in_minutes": 30,
    },
    "login_failures_alert": {
        "name": "Sea Foods Pvt Ltd",
        "username": "ABCDE12345",
        "failures": 7,
        "addresses": 5,
        "window_minutes": 15,
        "login_url": "https://coo.example.in/",
    },
    "exporter_registered": {
        "iec": "ABCDE12345",
        "name": "Sea Foods Pvt Ltd",
        "login_url": "https://coo.example.in/",
    },
    "application_submitted": {
        "name": "Sea Foods Pvt Ltd",
        "iec": "ABCDE12345",
        "application_number": "MPEDA/2026/013/0000066A",
        "agency_code": "MPEDA",
        "office_name": "MPEDA Head Office, Kochi",
        "certificate": "preferential (scheme 013)",
        "url": "https://coo.example.in/applications/7d0f6a52-5b6e-4c1e-9d3a-0c5f2b1e9a11",
    },
    "application_received": {
        "name": "Anil Nair",
        "exporter_name": "Sea Foods Pvt Ltd",
        "iec": "ABCDE12345",
        "application_number": "MPEDA/2026/013/0000066A",
        "office_name": "MPEDA Head Office, Kochi",
        "certificate": "preferential (scheme 013)",
        "url": "https://coo.example.in/officer/applications/7d0f6a52-5b6e-4c1e-9d3a-0c5f2b1e9a11",
    },
    "application_resubmitted": {
        "name": "Anil Nair",
        "exporter_name": "Sea Foods Pvt Ltd",
        "iec": "ABCDE12345",
        "application_number": "MPEDA/2026/013/0000066A",
        "office_name": "MPEDA Head Office, Kochi",
        "url": "https://coo.example.in/officer/applications/7d0f6a52-5b6e-4c1e-9d3a-0c5f2b1e9a11",
    },
    "discrepancy_raised": {
        "name": "Sea Foods Pvt Ltd",
        "iec": "ABCDE12345",
        "application_number": "MPEDA/2026/013/0000066A",
        "agency_code": "MPEDA",
        "comment": "The invoice value does not match the FOB value in item 2.\nAttach the corrected invoice.",
        "url": "https://coo.example.in/applications/7d0f6a52-5b6e-4c1e-9d3a-0c5f2b1e9a11",
    },
    "application_rejected": {
        "name": "Sea Foods Pvt Ltd",
        "iec": "ABCDE12345",
        "application_number": "MPEDA/2026/013/0000066A",
        "agency_code": "MPEDA",
        "reason": "The goods do not meet the AIFTA origin criterion (RVC 22% < 35%).",
        "url": "https://coo.example.in/applications/7d0f6a52-5b6e-4c1e-9d3a-0c5f2b1e9a11",
    },
    "certificate_issued": {
        "name": "Sea Foods Pvt Ltd",
        "iec": "ABCDE12345",
        "certificate_number": "MPEDA/2026/013/0000066A",
        "agency_code": "MPEDA",
        "filename": "MPEDA-2026-013-0000066A.pdf",
        "url": "https://coo.example.in/api/v1/verify?number=MPEDA%2F2026%2F013%2F0000066A",
        "application_url": "https://coo.example.in/applications/7d0f6a52-5b6e-4c1e-9d3a-0c5f2b1e9a11",
    },
}
# The link each kind carries, and the context key that holds the exporter's name.
LINKS = {
    kind: context.get("url", context.get("link", context.get("login_url")))
    for kind, context in CONTEXTS.items()
}
EXPORTER_NAME_KEY = {"application_received": "exporter_name", "application_resubmitted": "exporter_name"}
# Messages that do not name their recipient: the exporter's own SMS about its application.
NAMELESS = {
    ("application_submitted", "sms"),
    ("discrepancy_raised", "sms"),
    ("application_rejected", "sms"),
    ("certificate_issued", "sms"),
}


def test_every_kind_has_a_context_here():
    assert set(KINDS) == set(CONTEXTS)
    assert KINDS == {
        "credentials": ("email",),
        "exporter_registered": ("sms",),
        "password_reset": ("email",),
        "login_failures_alert": ("email",),
        "application_submitted": ("email", "sms"),
        "application_received": ("email", "sms"),
        "application_resubmitted": ("email", "sms"),
        "discrepancy_raised": ("email", "sms"),
        "application_rejected": ("email", "sms"),
        "certificate_issued": ("email", "sms"),
    }


@pytest.mark.parametrize("kind,channel", [(k, c) for k, cs in KINDS.items() for c in cs])
def test_every_kind_renders_on_its_channels(kind, channel):
    rendered = render(kind, channel, CONTEXTS[kind])
    assert rendered.text.strip()
    if channel == "email":
        assert rendered.subject and "\n" not in rendered.subject
        assert rendered.html.lstrip().startswith("<!DOCTYPE html>")
        assert "Sea Foods Pvt Ltd" in rendered.text and "Sea Foods Pvt Ltd" in rendered.html
        assert LINKS[kind] in rendered.text
        assert f'href="{LINKS[kind]}"' in rendered.html
        assert rendered.html.rstrip().endswith("</html>")
    else:
        assert rendered.subject is None and rendered.html is None
        assert "\n" not in rendered.text
        # About one SMS, besides the name and the link (a link is kept whole, never cut).
        link = LINKS[kind] if LINKS[kind] in rendered.text else ""
        assert len(rendered.text) <= 160 + len("Sea Foods Pvt Ltd") + len(link)


@pytest.mark.parametrize("kind,channel", [(k, c) for k, cs in KINDS.items() for c in cs])
def test_html_is_autoescaped_and_text_is_not(kind, channel):
    rendered = render(kind, channel, {**CONTEXTS[kind], EXPORTER_NAME_KEY.get(kind, "name"): HOSTILE})
    assert (HOSTILE in rendered.text) is ((kind, channel) not in NAMELESS)
    if rendered.html is not None:
        assert "<script>" not in rendered.html
        assert "Sea &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Sons" in rendered.html


def test_credentials_say_username_password_and_to_change_it():
    rendered = render("credentials", "email", CONTEXTS["credentials"])
    assert "Username: ABCDE12345" in rendered.text
    assert "Password: Xy7#kP2q<&>Lm9" in rendered.text
    assert "<code>Xy7#kP2q&lt;&amp;&gt;Lm9</code>" in rendered.html
    assert "change it after you log in" in rendered.text
    assert "change it after you log in" in rendered.html
    assert "Import Export Code (IEC) ABCDE12345" in rendered.text
    assert rendered.subject == "OpenCoO: your password for IEC ABCDE12345"
    assert "Xy7#kP2q" not in rendered.subject


@pytest.mark.parametrize(
    "reason,subject,phrase",
    [
        ("registration", "OpenCoO: your password for IEC ABCDE12345", "registration of your Import"),
        ("password_reset", "OpenCoO: your new password", "The old password no longer"),
        ("staff_account", "OpenCoO: your officer account", "OpenCoO officer account has been opened"),
    ],
)
def test_credentials_wording_follows_the_reason(reason, subject, phrase):
    context = {**CONTEXTS["credentials"], "reason": reason, "role": "officer", "role_label": "officer"}
    rendered = render("credentials", "email", context)
    assert rendered.subject == subject
    assert phrase in " ".join(rendered.text.split())
    assert phrase in " ".join(rendered.html.split())


def test_exporter_registered_sms_names_the_iec():
    rendered = render("exporter_registered", "sms", CONTEXTS["exporter_registered"])
    assert rendered.text.startswith("OpenCoO: IEC ABCDE12345 (Sea Foods Pvt Ltd) is registered")


def test_a_missing_field_fails_loudly():
    context = dict(CONTEXTS["credentials"])
    del context["password"]
    with pytest.raises(UndefinedError):
        render("credentials", "email", context)


def test_unknown_kind_or_channel():
    with pytest.raises(UnknownTemplate):
        render("credentials", "sms", CONTEXTS["credentials"])
    with pytest.raises(UnknownTemplate):
        render("certificate_revoked", "email", {})


# --- the submission messages ------------------------------------------------------------------

SUBMISSION_KINDS = [(k, c) for k in ("application_submitted", "application_received") for c in KINDS[k]]


@pytest.mark.parametrize("kind,channel", SUBMISSION_KINDS)
def test_submission_messages_carry_number_office_and_link(kind, channel):
    rendered = render(kind, channel, CONTEXTS[kind])
    for part in (rendered.subject, rendered.text, rendered.html):
        if part is not None:
            assert "None" not in part
    assert "MPEDA/2026/013/0000066A" in rendered.text
    assert LINKS[kind] in rendered.text
    if channel == "email":
        assert "MPEDA/2026/013/0000066A" in rendered.subject
        assert "MPEDA/2026/013/0000066A" in rendered.html
        assert f"Dear {CONTEXTS[kind]['name']}," in rendered.text
        assert "preferential (scheme 013) Certificate of Origin" in " ".join(rendered.text.split())


def test_submitted_names_the_office_to_the_exporter():
    email = render("application_submitted", "email", CONTEXTS["application_submitted"])
    assert email.subject == (
        "OpenCoO: application MPEDA/2026/013/0000066A submitted to MPEDA Head Office, Kochi"
    )
    sms = render("application_submitted", "sms", CONTEXTS["application_submitted"])
    assert sms.text == (
        "OpenCoO: application MPEDA/2026/013/0000066A (IEC ABCDE12345) was "
        "submitted to MPEDA Head Office, Kochi. Track it at " + LINKS["application_submitted"]
    )


def test_received_names_the_exporter_and_its_iec_to_the_officer():
    context = CONTEXTS["application_received"]
    email = render("application_received", "email", context)
    assert email.subject == (
        "OpenCoO: new application MPEDA/2026/013/0000066A from Sea Foods Pvt Ltd (ABCDE12345)"
    )
    assert "waiting in the queue of MPEDA Head Office, Kochi" in " ".join(email.text.split())
    assert "Dear Anil Nair," in email.html
    sms = render("application_received", "sms", context)
    assert sms.text.startswith(
        "OpenCoO: new application MPEDA/2026/013/0000066A from Sea Foods "
        "Pvt Ltd (IEC ABCDE12345) is waiting in your queue"
    )


@pytest.mark.parametrize("kind,channel", SUBMISSION_KINDS)
def test_an_exporter_name_with_markup_characters(kind, channel):
    name = "Sea <Foods> & Sons"
    context = {**CONTEXTS[kind], EXPORTER_NAME_KEY.get(kind, "name"): name}
    rendered = render(kind, channel, context)
    # Plain text is never read as markup: the name stays as it is.
    assert (name in rendered.text) is ((kind, channel) not in NAMELESS)
    if kind == "application_received":
        assert name in (rendered.subject or rendered.text)
    if channel == "email":
        assert "Sea &lt;Foods&gt; &amp; Sons" in rendered.html
        assert "<Foods>" not in rendered.html


@pytest.mark.parametrize("kind", ["application_submitted", "application_received"])
def test_submission_templates_need_every_field(kind):
    for field in CONTEXTS[kind]:
        context = dict(CONTEXTS[kind])
        del context[field]
        with pytest.raises(UndefinedError):
            for channel in KINDS[kind]:
                render(kind, channel, context)


# --- recording them (an in-memory database, no broker) ----------------------------------------


@pytest.fixture
def session(monkeypatch):
    monkeypatch.setenv("OPENCOO_PUBLIC_URL", "https://coo.example.in/")
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        yield s
    engine.dispose()


APPLICATION_ID = "7d0f6a52-5b6e-4c1e-9d3a-0c5f2b1e9a11"
EXPORTER = {
    "iec": "ABCDE12345",
    "name": "Sea <Foods> & Sons",
    "email": "exports@seafoods.in",
    "mobile": "+919876543210",
    "state": "IN-KL",
}
OFFICE = {"code": "MPEDA-KOCHI", "name": "MPEDA Head Office, Kochi", "state": "IN-KL", "agency_code": "MPEDA"}


def submitted(**over):
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "application_submitted",
        "version": 1,
        "correlation_id": "corr-1",
        "application_id": APPLICATION_ID,
        "application_number": "MPEDA/2026/013/0000066A",
        "iec": "ABCDE12345",
        "agreement_code": "013",
        "agency_code": "MPEDA",
        "issuing_office_code": "MPEDA-KOCHI",
        **over,
    }


def officer(username, email, mobile):
    return {"username": username, "name": username.title(), "email": email, "mobile": mobile}


def test_submission_records_exporter_and_each_officer_separately(session):
    contacts = {
        "office": OFFICE,
        "officers": [
            officer("anil", "anil@mpeda.example.in", "+919400000001"),
            officer("beena", "beena@mpeda.example.in", None),  # no mobile: email only
            officer("chacko", "anil@mpeda.example.in", "09400000001"),  # shares anil's addresses
        ],
    }
    event = submitted()
    recorded = messages.record_application_submitted(session, event, EXPORTER, contacts)
    session.commit()
    assert [(m.kind, m.channel, m.recipient) for m in recorded] == [
        ("application_submitted", "email", "exports@seafoods.in"),
        ("application_submitted", "sms", "+919876543210"),
        ("application_received", "email", "anil@mpeda.example.in"),
        ("application_received", "sms", "+919400000001"),
        ("application_received", "email", "beena@mpeda.example.in"),
    ]
    assert all(m.event_id == event["event_id"] and m.status == "pending" for m in recorded)
    exporter_email, exporter_sms, anil_email, _, beena_email = recorded
    assert f"https://coo.example.in/applications/{APPLICATION_ID}" in exporter_email.body_text
    assert f"https://coo.example.in/applications/{APPLICATION_ID}" in exporter_sms.body_text
    assert "Sea &lt;Foods&gt; &amp; Sons" in anil_email.body_html
    assert "Dear Beena," in beena_email.body_text
    assert f"https://coo.example.in/officer/applications/{APPLICATION_ID}" in beena_email.body_text
    assert "MPEDA Head Office, Kochi" in exporter_email.subject


def test_non_preferential_submission_names_no_agreement(session):
    [email, sms] = messages.record_application_submitted(
        session,
        submitted(agreement_code=None, application_number="MPEDA/2026/000/0000001A"),
        EXPORTER,
        {"office": OFFICE, "officers": []},
    )
    assert "non-preferential Certificate of Origin" in " ".join(email.body_text.split())
    for text in (email.subject, email.body_text, email.body_html, sms.body_text):
        assert "None" not in text and "MPEDA/2026/000/0000001A" in text


# --- the examination and certificate messages -------------------------------------------------

EXAMINATION_KINDS = [
    (k, c) for k in ("discrepancy_raised", "application_rejected", "certificate_issued") for c in KINDS[k]
]
# The officer's free text each kind carries (the certificate email carries none).
FREE_TEXT = {"discrepancy_raised": "comment", "application_rejected": "reason"}
VERIFY_URL = CONTEXTS["certificate_issued"]["url"]
APPLICATION_URL = CONTEXTS["discrepancy_raised"]["url"]


@pytest.mark.parametrize("kind,channel", EXAMINATION_KINDS)
def test_examination_messages_carry_the_number_and_the_link_and_never_none(kind, channel):
    rendered = render(kind, channel, CONTEXTS[kind])
    for part in (rendered.subject, rendered.text, rendered.html):
        if part is not None:
            assert "None" not in part and "MPEDA/2026/013/0000066A" in part
    assert LINKS[kind] in rendered.text
    if channel == "email":
        assert f"Dear {CONTEXTS[kind]['name']}," in rendered.text
        assert f"Dear {CONTEXTS[kind]['name']}," in rendered.html
    else:
        assert len(rendered.text) <= 160 + len(LINKS[kind])
        assert rendered.text.endswith(LINKS[kind])


def test_discrepancy_email_has_the_whole_comment_and_the_link():
    context = CONTEXTS["discrepancy_raised"]
    email = render("discrepancy_raised", "email", context)
    assert email.subject == "OpenCoO: discrepancy in application MPEDA/2026/013/0000066A"
    assert context["comment"] in email.text  # whole, line breaks kept
    assert "Attach the corrected invoice." in email.html
    assert f'<a href="{APPLICATION_URL}">' in email.html
    assert "white-space: pre-wrap" in email.html  # its line breaks show in HTML too


def test_discrepancy_sms_quotes_the_start_of_the_comment():
    sms = render("discrepancy_raised", "sms", CONTEXTS["discrepancy_raised"])
    assert sms.text.startswith(
        "OpenCoO: application MPEDA/2026/013/0000066A was returned with a "
        'discrepancy: "The invoice value does not match the FOB value '
        'in…". Correct and resubmit at '
    )
    short = render(
        "discrepancy_raised", "sms", {**CONTEXTS["discrepancy_raised"], "comment": "Sign the\n invoice."}
    )
    assert '"Sign the invoice."' in short.text


def test_rejection_carries_the_reason():
    context = CONTEXTS["application_rejected"]
    email = render("application_rejected", "email", context)
    assert email.subject == "OpenCoO: application MPEDA/2026/013/0000066A rejected"
    assert context["reason"] in email.text
    assert "The goods do not meet the AIFTA origin criterion (RVC 22% &lt; 35%)." in email.html
    sms = render("application_rejected", "sms", context)
    assert sms.text == (
        "OpenCoO: application MPEDA/2026/013/0000066A was rejected. Reason: The "
        "goods do not meet the AIFTA origin criterion (RVC 22% < 35%). " + APPLICATION_URL
    )
    long = render("application_rejected", "sms", {**context, "reason": "word " * 100})
    assert "word…" in long.text and len(long.text) <= 160 + len(APPLICATION_URL)


def test_certificate_messages_name_the_attachment_and_the_verification_link():
    context = CONTEXTS["certificate_issued"]
    email = render("certificate_issued", "email", context)
    assert email.subject == "OpenCoO: Certificate of Origin MPEDA/2026/013/0000066A issued"
    text = " ".join(email.text.split())
    assert "attached to this email as MPEDA-2026-013-0000066A.pdf" in text
    assert f"verify it at {VERIFY_URL}" in text and context["application_url"] in text
    assert f'<a href="{VERIFY_URL}">' in email.html
    assert f'<a href="{context["application_url"]}">' in email.html
    sms = render("certificate_issued", "sms", context)
    assert sms.text == (
        "OpenCoO: Certificate of Origin MPEDA/2026/013/0000066A (IEC ABCDE12345) "
        f"is issued; the signed PDF is in your email. Verify: {VERIFY_URL}"
    )


@pytest.mark.parametrize("kind", sorted(FREE_TEXT))
def test_officer_text_with_markup_is_escaped_in_html_only(kind):
    hostile = '<b>Wrong</b> HS code & "value"'
    context = {**CONTEXTS[kind], FREE_TEXT[kind]: hostile}
    email = render(kind, "email", context)
    assert hostile in email.text
    assert "&lt;b&gt;Wrong&lt;/b&gt; HS code &amp; &#34;value&#34;" in email.html
    assert "<b>Wrong</b>" not in email.html
    sms = render(kind, "sms", context)
    assert hostile in sms.text  # an SMS is never markup


@pytest.mark.parametrize("kind", ["discrepancy_raised", "application_rejected", "certificate_issued"])
def test_examination_templates_need_every_field(kind):
    for field in CONTEXTS[kind]:
        context = dict(CONTEXTS[kind])
        del context[field]
        with pytest.raises(UndefinedError):
            for channel in KINDS[kind]:
                render(kind, channel, context)


@pytest.mark.parametrize(
    "text,length,expected",
    [
        ("Short enough.", 20, "Short enough."),
        ("  spread\n over\tlines  ", 20, "spread over lines"),
        ("The invoice value does not match", 20, "The invoice value…"),
        ("Supercalifragilistic", 10, "Supercali…"),
        ("one, two, three", 10, "one, two…"),
    ],
)
def test_excerpt(text, length, expected):
    from services.notification.rendering import excerpt

    result = excerpt(text, length)
    assert result == expected and len(result) <= length


def discrepancy(**over):
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "discrepancy_raised",
        "version": 1,
        "correlation_id": "corr-2",
        "application_id": APPLICATION_ID,
        "application_number": "MPEDA/2026/013/0000066A",
        "iec": "ABCDE12345",
        "comment": "Attach the packing list.",
        "agency_code": "MPEDA",
        "issuing_office_code": "MPEDA-KOCHI",
        **over,
    }


def test_discrepancy_and_rejection_record_an_email_and_an_sms_to_the_exporter(session):
    [email, sms] = messages.record_discrepancy_raised(session, discrepancy(), EXPORTER)
    assert [(m.kind, m.channel, m.recipient) for m in (email, sms)] == [
        ("discrepancy_raised", "email", "exports@seafoods.in"),
        ("discrepancy_raised", "sms", "+919876543210"),
    ]
    assert "Attach the packing list." in email.body_text and "Attach the packing" in sms.body_text
    assert f"https://coo.example.in/applications/{APPLICATION_ID}" in email.body_text
    assert "Dear Sea <Foods> & Sons," in email.body_text
    assert "Sea &lt;Foods&gt; &amp; Sons" in email.body_html and email.attachments == []

    rejected = {**discrepancy(), "event_type": "application_rejected", "reason": "Not originating."}
    del rejected["comment"]
    recorded = messages.record_application_rejected(session, rejected, {**EXPORTER, "mobile": None})
    assert [(m.kind, m.channel) for m in recorded] == [("application_rejected", "email")]
    assert "Not originating." in recorded[0].body_text
    session.commit()
