"""Rendering of messages from the Jinja2 templates in ``templates/``, one set per message kind.

For each kind and channel:

- email: ``<kind>.subject.txt``, ``<kind>.email.txt`` (plain text) and ``<kind>.email.html``
- sms: ``<kind>.sms.txt``

HTML emails may extend ``_layout.email.html`` (the page, the signature) and fill its ``body``.
Templates may use the ``excerpt`` filter to fit free text (a comment, a reason) into an SMS.

HTML templates are autoescaped; text templates are not (they are never read as markup). Every
variable a template uses must be given (StrictUndefined), so a missing field fails loudly at render
time rather than sending "Dear ,".
"""

from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"

# kind -> the channels it is sent on.
KINDS: dict[str, tuple[str, ...]] = {
    "credentials": ("email",),
    # registration.password_reset_requested: the link, to the account's own email only.
    "password_reset": ("email",),
    # registration.login_failures_alert: the owner, told that others are trying the password.
    "login_failures_alert": ("email",),
    # SMS only: the credentials email (reason "registration") is the exporter's confirmation by
    # email, so a second email at the same moment would only say "see the other email".
    "exporter_registered": ("sms",),
    # application.application_submitted: to the exporter, "your application was submitted" ...
    "application_submitted": ("email", "sms"),
    # ... and to every active officer of the issuing office, "a new application is waiting".
    "application_received": ("email", "sms"),
    # application.application_resubmitted: to every active officer of the issuing office, "the
    # corrected application is back in your queue" (the exporter knows: it resubmitted).
    "application_resubmitted": ("email", "sms"),
    # application.discrepancy_raised: to the exporter, with the officer's comment.
    "discrepancy_raised": ("email", "sms"),
    # application.application_rejected: to the exporter, with the reason. (application_approved
    # sends nothing: the certificate_issued email follows it.)
    "application_rejected": ("email", "sms"),
    # certificate.certificate_issued: to the exporter, the email with the signed PDF attached.
    "certificate_issued": ("email", "sms"),
}

SUBJECT_MAX = 300

_env = Environment(
    loader=FileSystemLoader(str(TEMPLATE_DIR)),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def excerpt(text: str, length: int = 80) -> str:
    """``text`` on one line, cut at a word boundary to at most ``length`` characters with "…":
    an officer's comment or reason as far as it fits in an SMS (the email carries it whole)."""
    text = " ".join(str(text).split())
    if len(text) <= length:
        return text
    cut = text[: length - 1]
    if " " in cut and not text[length - 1].isspace():
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.-") + "…"


_env.filters["excerpt"] = excerpt


@dataclass(frozen=True)
class Rendered:
    subject: str | None
    text: str
    html: str | None


class UnknownTemplate(LookupError):
    pass


def render(kind: str, channel: str, context: dict) -> Rendered:
    if channel not in KINDS.get(kind, ()):
        raise UnknownTemplate(f"no {channel} template for message kind {kind!r}")
    if channel == "sms":
        text = _env.get_template(f"{kind}.sms.txt").render(context)
        return Rendered(subject=None, text=" ".join(text.split()), html=None)
    subject = " ".join(_env.get_template(f"{kind}.subject.txt").render(context).split())
    subject = subject[:SUBJECT_MAX]
    context = {**context, "subject": subject}
    text = _env.get_template(f"{kind}.email.txt").render(context).strip() + "\n"
    html = _env.get_template(f"{kind}.email.html").render(context)
    return Rendered(subject=subject, text=text, html=html)
