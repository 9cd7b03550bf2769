"""PDFs we did not make (an exporter's supporting document, a file posted to the public
verification) are hostile until checked, and are checked in two steps.

1. ``precheck``, in the service process, in milliseconds: the numbers a parser sizes its work by,
   read straight off the bytes by one regular expression, against what a file of this length
   can honestly hold. A file that claims 2^31 cross-reference entries in 365 bytes, a page tree of
   10^20 pages, 200-byte offsets or thousands of incremental updates is refused before any parser
   sees it.
2. Everything else runs in the sandbox (``chassis.sandbox``: a child process with a capped address
   space, a deadline and a low priority) through ``open_reader``, which reads with decoding limits
   far tighter than pyHanko's defaults: what a certificate or an invoice needs, and no more.
   ``inspect`` is the sandboxed look at a supporting document: pages, encryption, active content.

Plain Python: no nameko. ``inspect`` is called in the sandbox child by its name, so it stays a
module-level function with picklable arguments and result.
"""

from __future__ import annotations

import re
from io import BytesIO

PDF_MAGIC = b"%PDF-"
MAX_OBJECTS = 500_000  # a 10 MB certificate of 100 products has a few thousand
MAX_PAGES = 5_000
MAX_UPDATES = 1_000  # incremental updates (each with its startxref)
MAX_FIELD_WIDTH = 8  # bytes of an xref stream field: 8 address any file there can be
MAX_GENERATION = 65_535

# Every number a parser sizes its work by, with what it belongs to; 21 digits are enough to see
# that a number is too big without reading a megabyte of digits. Each pattern starts with a
# literal, so that a file of many objects costs C-speed scans, not a Python step per object.
_CLAIMS = re.compile(
    rb"/(?P<key>Size|Count|Length|Prev|N)\s+(?P<number>\d{1,21})"
    rb"|/W\s*\[(?P<widths>[^\]]{0,200})\]"
    rb"|/Index\s*\[(?P<index>[^\]]{0,20000})\]"
)
# A classic cross-reference table's subsection headers: the first after "xref", each next one
# after the 20-byte entries of the one before.
_XREF_TABLE = re.compile(rb"xref[ \t]*\r?\n")
_SUBSECTION = re.compile(rb"(\d{1,21}) (\d{1,21})[ \t]*\r?\n")
# Object headers ("12 0 obj") searched in the reversed file, from the literal "obj" backwards:
# only those with a number of seven digits or a generation of six, beyond every cap.
_BIG_OBJECT_REVERSED = re.compile(
    rb"jbo\s+(?:(?P<generation>\d{6,21})\s+\d{1,21}|\d{1,21}\s+(?P<number>\d{7,21}))(?![\d.])"
)


class NotAPdf(ValueError):
    """The bytes are not a PDF that can be read."""


class PdfTooComplex(ValueError):
    """The file claims, or needs, more than an honest PDF of its kind: the message says what."""


def precheck(data: bytes, max_objects: int = MAX_OBJECTS) -> None:
    """Refuse, cheaply, a file whose structure claims more than its length can hold, or more
    than ``max_objects`` objects (a caller that knows what its files hold says less). Raises
    NotAPdf without the %PDF- header in the first kilobyte, PdfTooComplex for a claim past a
    cap (the message names it)."""
    if PDF_MAGIC not in data[:1024]:
        raise NotAPdf("it does not start with %PDF-")
    length = len(data)
    # No honest object takes less than a byte of the file, however well compressed.
    objects_cap = min(max_objects, length)
    objects = data.count(b"endobj")
    _claim("objects", objects, max_objects)
    _claim("incremental updates", data.count(b"startxref"), MAX_UPDATES)
    for match in _CLAIMS.finditer(data):
        key = match.group("key")
        if key == b"N":  # objects packed in an object stream count as objects too
            objects += int(match.group("number"))
            _claim("objects", objects, max_objects)
        if key is not None:
            _claim(
                f"/{key.decode()}",
                int(match.group("number")),
                {
                    b"Size": objects_cap,
                    b"Count": MAX_PAGES,
                    b"Length": length,
                    b"Prev": length,
                    b"N": objects_cap,
                }[key],
            )
        elif match.group("widths") is not None:
            widths = _numbers(match.group("widths"), "/W")
            if len(widths) != 3:
                raise PdfTooComplex("/W must give three field widths")
            for width in widths:
                _claim("/W", width, MAX_FIELD_WIDTH)
        elif match.group("index") is not None:
            index = _numbers(match.group("index"), "/Index")
            total = 0
            # an odd last start has no count: it claims nothing
            for start, count in zip(index[::2], index[1::2], strict=False):
                _claim("/Index", start + count, objects_cap)
                total += count
            _claim("/Index", total, objects_cap)
    for table in _XREF_TABLE.finditer(data):
        at = table.end()
        while (header := _SUBSECTION.match(data, at)) is not None:
            first, entries = int(header.group(1)), int(header.group(2))
            _claim("xref subsection", first + entries, objects_cap)
            at = header.end() + 20 * entries
    for match in _BIG_OBJECT_REVERSED.finditer(data[::-1]):
        if match.group("number"):
            _claim("object number", int(match.group("number")[::-1]), objects_cap)
        else:
            _claim("generation", int(match.group("generation")[::-1]), MAX_GENERATION)


def _claim(what: str, value: int, cap: int) -> None:
    if value > cap:
        raise PdfTooComplex(f"{what} of {value:,} is more than {cap:,}")


def _numbers(text: bytes, what: str) -> list[int]:
    parts = text.split()
    if not all(part.isdigit() and len(part) <= 21 for part in parts):
        raise PdfTooComplex(f"{what} must hold whole numbers only")
    return [int(part) for part in parts]


# --- in the sandbox -----------------------------------------------------------------------------


def decode_limits():
    """What any stream of ours, or of an exporter's invoice, needs inflated; pyHanko's defaults
    for untrusted input allow 256 MiB a stream and a document."""
    from pyhanko.pdf_utils.decode_limits import (
        DEFAULT_PURPOSE_LIMITS,
        DecodeLimits,
        DocumentDecodeBudget,
        StreamDecodeLimits,
    )

    mib = 1024 * 1024
    return DecodeLimits(
        per_stream=StreamDecodeLimits(max_ratio=200, ratio_floor=mib, max_output_size=32 * mib),
        per_purpose=dict(DEFAULT_PURPOSE_LIMITS),
        document_budget=DocumentDecodeBudget(base_allowance=64 * mib, max_ratio=20),
    )


def open_reader(data: bytes):
    """pyHanko's reader over ``data`` with ``decode_limits``; NotAPdf when it cannot be read.
    For the sandbox: a hostile file may still make it work hard, within the child's bounds."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        return PdfFileReader(BytesIO(data), strict=False, decode_limits=decode_limits())
    except Exception as exc:  # RecursionError included
        raise refusal(exc) from None


def refusal(exc: BaseException) -> ValueError:
    """What a parser's exception says of the file: too complex past a decoding limit, else not
    a readable PDF."""
    from pyhanko.pdf_utils.misc import PdfDecodeLimitError

    if isinstance(exc, PdfDecodeLimitError):
        return PdfTooComplex(f"its streams inflate past the limits: {exc}")
    return NotAPdf(f"{type(exc).__name__}: {exc}"[:200])


# Actions that run something, reach outside the document or submit it somewhere.
ACTIVE_ACTIONS = frozenset(
    {
        "/JavaScript",
        "/Launch",
        "/SubmitForm",
        "/ImportData",
        "/GoToR",
        "/GoToE",
        "/Rendition",
        "/RichMediaExecute",
        "/Movie",
        "/Sound",
    }
)
ACTIVE_ANNOTATIONS = frozenset({"/RichMedia", "/Screen", "/Movie", "/Sound", "/FileAttachment"})


def inspect(data: bytes) -> dict:
    """What a supporting document is: ``{"encrypted"}``, and for an unencrypted one ``"pages"``
    (the page tree's count, None when it has none that fits) and ``"active_content"`` (sorted
    names of what it holds that could run or reach out: JavaScript, actions such as /Launch, XFA
    forms, embedded files). Every stream a viewer would inflate is inflated here under
    ``decode_limits``: a decompression bomb is PdfTooComplex here, not a frozen viewer on an
    officer's desk. Raises NotAPdf. Run it in the sandbox."""
    from pyhanko.pdf_utils import generic

    reader = open_reader(data)
    try:
        if reader.encrypted:
            return {"encrypted": True}
        count = reader.root["/Pages"]["/Count"]
        pages = (
            count
            if isinstance(count, int) and not isinstance(count, bool) and 0 <= count <= MAX_PAGES
            else None
        )
        active = _active_content(reader, generic)
    except Exception as exc:  # RecursionError included: deep nesting in a hostile file
        raise refusal(exc) from None
    return {"encrypted": False, "pages": pages, "active_content": sorted(active)}


def _active_content(reader, generic) -> set[str]:
    """Every object of the file, nested values included, looked at once; references are not
    followed (each indirect object is visited on its own), so loops cost nothing. Streams are
    inflated on the way (PdfDecodeLimitError past the limits)."""
    from pyhanko.pdf_utils.misc import PdfDecodeLimitError

    refs = set()
    for revision in range(reader.xrefs.total_revisions):
        refs |= reader.xrefs.explicit_refs_in_revision(revision)
    found: set[str] = set()
    for top in _objects(reader, refs):
        pending = [top]
        while pending:
            value = pending.pop()
            if isinstance(value, generic.DictionaryObject):
                found |= _active_in(value)
                pending.extend(dict.values(value))
                if isinstance(value, generic.StreamObject):
                    _inflate(value, PdfDecodeLimitError)
            elif isinstance(value, generic.ArrayObject):
                pending.extend(list.__iter__(value))
    return found


def _inflate(stream, limit_error) -> None:
    try:
        stream.data  # noqa: B018 - decoded for its size, under the reader's limits
    except limit_error:
        raise
    except Exception:  # noqa: BLE001 - a filter we cannot decode (images: DCT, JPX, JBIG2)
        pass


def _objects(reader, refs):
    yield reader.trailer_view
    for ref in refs:
        try:
            yield reader.get_object(ref)
        except Exception:  # noqa: BLE001 - a broken object holds no content at all
            continue


def _active_in(dictionary) -> set[str]:
    found = set()
    if "/JS" in dictionary or "/JavaScript" in dictionary:
        found.add("JavaScript")
    action = dict.get(dictionary, "/S")
    if action in ACTIVE_ACTIONS:
        found.add(f"{action[1:]} action" if action != "/JavaScript" else "JavaScript")
    if "/XFA" in dictionary:
        found.add("XFA form")
    if (
        "/EmbeddedFiles" in dictionary
        or "/EF" in dictionary
        or dict.get(dictionary, "/Type") == "/EmbeddedFile"
    ):
        found.add("embedded file")
    subtype = dict.get(dictionary, "/Subtype")
    if subtype in ACTIVE_ANNOTATIONS:
        found.add(f"{str(subtype)[1:]} annotation")
    return found
