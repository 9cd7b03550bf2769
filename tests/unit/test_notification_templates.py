"""Message templates: every kind renders on its channels, HTML is autoescaped, text is not, and
the wording carries what the recipient needs."""
import pytest
from jinja2 import UndefinedError

from services.notification.rendering import KINDS, UnknownTemplate, render

HOSTILE = 'Sea <script>alert("x")</script> & Sons'

CONTEXTS = {
    "credentials": {"name": "Sea Foods Pvt Ltd", "username": "ABCDE12345",
                    "password": "Xy7#kP2q<&>Lm9", "role": "exporter", "role_label": "exporter",
                    "reason": "registration", "login_url": "https://coo.example.in/"},
    "exporter_registered": {"iec": "ABCDE12345", "name": "Sea Foods Pvt Ltd",
                            "login_url": "https://coo.example.in/"},
}


def test_every_kind_has_a_context_here():
    assert set(KINDS) == set(CONTEXTS)
    assert KINDS == {"credentials": ("email",), "exporter_registered": ("sms",)}


@pytest.mark.parametrize("kind,channel", [(k, c) for k, cs in KINDS.items() for c in cs])
def test_every_kind_renders_on_its_channels(kind, channel):
    rendered = render(kind, channel, CONTEXTS[kind])
    assert rendered.text.strip()
    if channel == "email":
        assert rendered.subject and "\n" not in rendered.subject
        assert rendered.html.lstrip().startswith("<!DOCTYPE html>")
        assert "Sea Foods Pvt Ltd" in rendered.text and "Sea Foods Pvt Ltd" in rendered.html
        assert "https://coo.example.in/" in rendered.text
        assert 'href="https://coo.example.in/"' in rendered.html
    else:
        assert rendered.subject is None and rendered.html is None
        assert "\n" not in rendered.text
        assert len(rendered.text) <= 160 + len("Sea Foods Pvt Ltd")   # about one SMS


@pytest.mark.parametrize("kind,channel", [(k, c) for k, cs in KINDS.items() for c in cs])
def test_html_is_autoescaped_and_text_is_not(kind, channel):
    rendered = render(kind, channel, {**CONTEXTS[kind], "name": HOSTILE})
    assert HOSTILE in rendered.text
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


@pytest.mark.parametrize("reason,subject,phrase", [
    ("registration", "OpenCoO: your password for IEC ABCDE12345", "registration of your Import"),
    ("password_reset", "OpenCoO: your new password", "The old password no longer"),
    ("staff_account", "OpenCoO: your officer account", "OpenCoO officer account has been opened"),
])
def test_credentials_wording_follows_the_reason(reason, subject, phrase):
    context = {**CONTEXTS["credentials"], "reason": reason, "role": "officer",
               "role_label": "officer"}
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
        render("certificate_issued", "email", {})
