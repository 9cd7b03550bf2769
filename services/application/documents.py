"""Rules for exporters' supporting documents (DESIGN.md §4 "Documents", §9 "Uploads").

A document is a PDF of at most 2 MiB, of one of the kinds below; the commercial invoice (kind
``invoice``) is required at submission. The checks run on bytes already in memory, cheapest first:
kind, size, emptiness, the ``%PDF-`` magic (naming the real format when the exporter renamed a
PNG, JPEG or ZIP), then a full parse by pyHanko, which must find the page tree and an unencrypted
document (an officer must be able to open it without a password).

The gateway refuses a body over the limit before reading it (413); ``check_pdf`` repeats the size
check so that no other path can store an oversized document. Plain Python: no nameko, no database.
"""
import hashlib
import io

from services.chassis.errors import PayloadTooLarge, RuleViolation

DOCUMENT_KINDS = ("invoice", "packing_list", "bill_of_lading", "other")
MAX_DOCUMENT_BYTES = 2 * 1024 * 1024

PDF_MAGIC = b"%PDF-"

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
        raise RuleViolation(f"document kind must be one of {allowed}",
                            code="DOCUMENT_KIND_INVALID",
                            fields={"kind": [f"must be one of {allowed}; got {kind!r}"]})


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
            code="DOCUMENT_TOO_LARGE", fields={"file": ["larger than 2 MB"]},
            extra={"limit": MAX_DOCUMENT_BYTES})
    if not data:
        raise RuleViolation(f"{label} is empty", code="DOCUMENT_EMPTY",
                            fields={"file": ["empty file"]})
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
    """Parse with pyHanko and return the page count.

    The input is bounded (2 MiB in memory) and pyHanko's default ``DecodeLimits`` for untrusted
    input cap stream decompression; only the cross-reference data, the trailer, the catalogue and
    the page-tree root are read, so no content streams are decoded at all.
    """
    from pyhanko.pdf_utils.reader import PdfFileReader

    unreadable = f"{label} cannot be read as a PDF"
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        encrypted = reader.encrypted
    except Exception:  # RecursionError included: deep nesting in a hostile file
        raise RuleViolation(unreadable, code="DOCUMENT_NOT_PDF",
                            fields={"file": [unreadable]}) from None
    if encrypted:
        message = (f"{label} is encrypted or password-protected; upload it without a password "
                   "so that officers can open it")
        raise RuleViolation(message, code="DOCUMENT_ENCRYPTED", fields={"file": [message]})
    try:
        count = reader.root["/Pages"]["/Count"]
        count = int(count) if isinstance(count, int) and not isinstance(count, bool) else None
    except Exception:  # RecursionError included: deep nesting in a hostile file
        count = None
    if count is None or count < 0:
        raise RuleViolation(unreadable, code="DOCUMENT_NOT_PDF", fields={"file": [unreadable]})
    if count == 0:
        message = f"{label} has no pages"
        raise RuleViolation(message, code="DOCUMENT_EMPTY", fields={"file": [message]})
    return count
