"""Rules for exporters' supporting documents (architecture §4 "Documents", §9 "Uploads").

A document is a PDF of at most 2 MiB, of one of the kinds below; the commercial invoice (kind
``invoice``) is required at submission. The checks run on bytes already in memory, cheapest first:
kind, size, emptiness, the ``%PDF-`` magic (naming the real format when the exporter renamed a
PNG, JPEG or ZIP), the structural caps of ``chassis.untrusted_pdf`` (sizes and counts the file
claims), then a parse in the sandbox (``chassis.sandbox``: a child process with capped memory and
a deadline), which must find the page tree, an unencrypted document (an officer must be able to
open it without a password) and no active content: JavaScript, actions that launch, submit or
fetch, XFA forms or embedded files would run, or be one click away, on an officer's machine.

The gateway refuses a body over the limit before reading it (413); ``check_pdf`` repeats the size
check so that no other path can store an oversized document. Plain Python: no nameko, no database.
"""

import hashlib

from services.chassis import untrusted_pdf
from services.chassis.errors import PayloadTooLarge, RuleViolation, ServiceUnavailable
from services.chassis.sandbox import BoundsExceeded, Sandbox, SandboxBusy

DOCUMENT_KINDS = ("invoice", "packing_list", "bill_of_lading", "other")
MAX_DOCUMENT_BYTES = 2 * 1024 * 1024

PDF_MAGIC = untrusted_pdf.PDF_MAGIC
SANDBOX = Sandbox("documents", preload=("pyhanko.pdf_utils.reader",))

# Formats exporters upload by mistake, recognised by their first bytes.
_OTHER_FORMATS = (
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"PK\x03\x04", "ZIP archive (a Word or Excel file?)"),
    (b"PK\x05\x06", "ZIP archive (a Word or Excel file?)"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"II*\x00", "TIFF image"),
    (b"MM\x00*", "TIFF image"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "legacy Office document (.doc/.xls)"),
)


def check_kind(kind):
    if kind not in DOCUMENT_KINDS:
        allowed = ", ".join(DOCUMENT_KINDS)
        raise RuleViolation(
            f"document kind must be one of {allowed}",
            code="DOCUMENT_KIND_INVALID",
            fields={"kind": [f"must be one of {allowed}; got {kind!r}"]},
        )


def _label(filename) -> str:
    return repr(filename) if filename else "the document"


def sniff(data: bytes):
    """The name of a well-known non-PDF format ``data`` starts with, or None."""
    for magic, name in _OTHER_FORMATS:
        if data.startswith(magic):
            return name
    return None


def check_pdf(data: bytes, filename: str) -> dict:
    """Check an uploaded document; return ``{"pages", "size", "sha256"}`` or raise."""
    label = _label(filename)
    if len(data) > MAX_DOCUMENT_BYTES:
        raise PayloadTooLarge(
            f"{label} is {len(data):,} bytes; a document may have at most "
            f"{MAX_DOCUMENT_BYTES:,} bytes (2 MB)",
            code="DOCUMENT_TOO_LARGE",
            fields={"file": ["larger than 2 MB"]},
            extra={"limit": MAX_DOCUMENT_BYTES},
        )
    if not data:
        raise RuleViolation(f"{label} is empty", code="DOCUMENT_EMPTY", fields={"file": ["empty file"]})
    if not data.startswith(PDF_MAGIC):
        other = sniff(data)
        if other:
            message = f"{label} is not a PDF: it is a {other} renamed .pdf"
        else:
            message = f"{label} is not a PDF (a PNG renamed .pdf?): it does not start with %PDF-"
        raise RuleViolation(message, code="DOCUMENT_NOT_PDF", fields={"file": [message]})
    pages = _parse(data, label)
    return {"pages": pages, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _parse(data: bytes, label) -> int:
    """The structural caps, then the sandboxed look (``untrusted_pdf.inspect``); the page count."""
    unreadable = f"{label} cannot be read as a PDF"
    try:
        untrusted_pdf.precheck(data)
        found = SANDBOX.run(untrusted_pdf.inspect, data)
    except untrusted_pdf.NotAPdf:
        raise RuleViolation(unreadable, code="DOCUMENT_NOT_PDF", fields={"file": [unreadable]}) from None
    except (untrusted_pdf.PdfTooComplex, BoundsExceeded) as exc:
        message = (
            f"{label} is more than a supporting document needs ({exc}); print it to PDF again, or split it"
        )
        raise RuleViolation(message, code="DOCUMENT_TOO_COMPLEX", fields={"file": [message]}) from None
    except SandboxBusy as exc:
        raise ServiceUnavailable(
            "documents are being checked for others; send it again in a moment",
            code="DOCUMENT_CHECK_BUSY",
            extra={"retry_after": exc.retry_after},
        ) from None
    if found["encrypted"]:
        message = (
            f"{label} is encrypted or password-protected; upload it without a password "
            "so that officers can open it"
        )
        raise RuleViolation(message, code="DOCUMENT_ENCRYPTED", fields={"file": [message]})
    if found["active_content"]:
        message = (
            f"{label} holds active content ({', '.join(found['active_content'])}), which "
            "could run on an officer's computer; upload a plain PDF (print it to PDF "
            "again)"
        )
        raise RuleViolation(message, code="DOCUMENT_ACTIVE_CONTENT", fields={"file": [message]})
    if found["pages"] is None:
        raise RuleViolation(unreadable, code="DOCUMENT_NOT_PDF", fields={"file": [unreadable]})
    if found["pages"] == 0:
        message = f"{label} has no pages"
        raise RuleViolation(message, code="DOCUMENT_EMPTY", fields={"file": [message]})
    return found["pages"]
