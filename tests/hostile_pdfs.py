"""A corpus of hostile PDFs, by class, made here byte by byte: what an attacker posts to the public
verification or uploads as a supporting document. Each maker returns the file's bytes; ``CORPUS``
names them all. None of them may cost the platform more than the bounds of an untrusted PDF, and
none may be stored or called valid.

The files are small on purpose where the attack is in what the file claims (sizes, counts, object
numbers, loops), and as large as the route allows where it is in the work they cause (bombs,
many objects, many pages).
"""

import struct
import zlib
from functools import lru_cache

PAGE = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"
CATALOG = b"<< /Type /Catalog /Pages 2 0 R >>"
ONE_PAGE_TREE = b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"


def assemble(objects, *, trailer=b"", header=b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", size=None, first=1) -> bytes:
    """A PDF with a classic cross-reference table: ``objects`` numbered from ``first``; the
    trailer gets /Size (``size`` or the true one), /Root 1 0 R and ``trailer``."""
    out = bytearray(header)
    offsets = []
    for number, body in enumerate(objects, start=first):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 1\n0000000000 65535 f \n%d %d\n" % (first, len(objects))
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R %s >>\nstartxref\n%d\n%%%%EOF\n" % (
        size if size is not None else first + len(objects),
        trailer,
        xref,
    )
    return bytes(out)


def stream(data: bytes, dictionary: bytes = b"") -> bytes:
    return b"<< %s /Length %d >>\nstream\n%s\nendstream" % (dictionary, len(data), data)


def minimal() -> bytes:
    """A well-formed one-page PDF: the control every class is measured against."""
    return assemble([CATALOG, ONE_PAGE_TREE, PAGE])


# --- cross-reference data that claims too much ------------------------------------------------


def _objects_before_xref_stream() -> tuple[bytes, bytes]:
    """The catalog, page tree and page as objects 1 to 3, and the packed entries (/W [1 4 2]) of
    a cross-reference stream to follow them as object 4."""
    out = b"%PDF-1.7\n"
    offsets = []
    for body in (CATALOG, ONE_PAGE_TREE, PAGE):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (len(offsets), body)
    entries = [(0, 0, 65535)] + [(1, f, 0) for f in offsets] + [(1, len(out), 0)]
    return out, b"".join(struct.pack(">BIH", *e) for e in entries)


def xref_stream_size() -> bytes:
    """The 365-byte file of the report: an xref stream whose /Size and /Index claim 2^31 entries."""
    out, data = _objects_before_xref_stream()
    x = len(out)
    out += (
        b"4 0 obj\n<< /Type /XRef /Size 2147483647 /Index [0 2147483647] /W [1 4 2] "
        b"/Root 1 0 R /Length %d >>\nstream\n%s\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n"
        % (len(data), data, x)
    )
    return out


def xref_table_subsection() -> bytes:
    """A classic table whose subsection header claims 2^31 - 1 entries."""
    pdf = minimal()
    return pdf.replace(b"\n1 3\n", b"\n1 2147483646\n", 1)


def trailer_size() -> bytes:
    return assemble([CATALOG, ONE_PAGE_TREE, PAGE], size=2_000_000_000)


def xref_stream_widths() -> bytes:
    """/W claiming 200-byte offsets (the spec's largest useful width is 8)."""
    return xref_stream_size().replace(
        b"/Size 2147483647 /Index [0 2147483647] /W [1 4 2]", b"/Size 5 /W [1 200 2]"
    )


def xref_stream_bomb() -> bytes:
    """An xref stream that inflates to far more than its entries could ever need."""
    out, entries = _objects_before_xref_stream()
    x = len(out)
    packed = deflated_zeros(400 * 1024 * 1024, prefix=entries)
    out += (
        b"4 0 obj\n<< /Type /XRef /Size 5 /W [1 4 2] /Root 1 0 R /Filter /FlateDecode "
        b"/Length %d >>\nstream\n%s\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % (len(packed), packed, x)
    )
    return out


def huge_length() -> bytes:
    return assemble([CATALOG, ONE_PAGE_TREE, PAGE, b"<< /Length 99999999999999 >>\nstream\nx\nendstream"])


# --- objects, pages and numbers -----------------------------------------------------------------


def huge_count() -> bytes:
    """A page tree claiming more pages than a database integer holds."""
    return assemble([CATALOG, b"<< /Type /Pages /Kids [3 0 R] /Count 99999999999999999999 >>", PAGE])


def count_int32() -> bytes:
    return assemble([CATALOG, b"<< /Type /Pages /Kids [3 0 R] /Count 2147483648 >>", PAGE])


def huge_object_number() -> bytes:
    """An object numbered near 2^31: a reader that sizes a table by it allocates gigabytes."""
    return (
        assemble([CATALOG, ONE_PAGE_TREE, PAGE], first=1)
        .replace(b"3 0 obj", b"2147483646 0 obj")
        .replace(b"[3 0 R]", b"[2147483646 0 R]")
    )


def many_pages(count=75_000) -> bytes:
    """``count`` page objects under one tree: about 8 MB at 75,000 (the body limit is 8 MiB)."""
    kids = b" ".join(b"%d 0 R" % (3 + i) for i in range(count))
    pages = [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"] * count
    return assemble([CATALOG, b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, count), *pages])


def many_objects(count=180_000) -> bytes:
    """A one-page PDF carrying ``count`` unused objects."""
    return assemble([CATALOG, ONE_PAGE_TREE, PAGE] + [b"null"] * count)


# --- decompression bombs ------------------------------------------------------------------------


@lru_cache(maxsize=8)
def deflated_zeros(size: int, prefix: bytes = b"") -> bytes:
    """``prefix`` and ``size`` zero bytes, deflated a megabyte at a time (never all in memory)."""
    packer = zlib.compressobj(9)
    parts = [packer.compress(prefix)]
    chunk = bytes(1024 * 1024)
    for _ in range(size // len(chunk)):
        parts.append(packer.compress(chunk))
    parts.append(packer.flush())
    return b"".join(parts)


def content_bomb() -> bytes:
    """A page whose content stream inflates a thousandfold, twice over (1 GiB from ~1 KB)."""
    packed = zlib.compress(deflated_zeros(1024 * 1024 * 1024), 9)
    return assemble(
        [
            CATALOG,
            ONE_PAGE_TREE,
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
            stream(packed, b"/Filter [/FlateDecode /FlateDecode]"),
        ]
    )


def object_stream_bomb() -> bytes:
    """The page tree inside an object stream that inflates to 1 GiB of padding."""
    header = b"2 0 3 48 "
    body = header + ONE_PAGE_TREE + b" " + PAGE
    packed = deflated_zeros(256 * 1024 * 1024, prefix=body)
    out = bytearray(b"%PDF-1.7\n")
    offsets = {}
    offsets[1] = len(out)
    out += b"1 0 obj\n%s\nendobj\n" % CATALOG
    offsets[4] = len(out)
    out += b"4 0 obj\n%s\nendobj\n" % stream(
        packed, b"/Type /ObjStm /N 2 /First %d /Filter /FlateDecode" % len(header)
    )
    x = len(out)
    entries = [(0, 0, 65535), (1, offsets[1], 0), (2, 4, 0), (2, 4, 1), (1, offsets[4], 0), (1, x, 0)]
    data = b"".join(struct.pack(">BIH", *e) for e in entries)
    out += (
        b"5 0 obj\n<< /Type /XRef /Size 6 /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n%s"
        b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % (len(data), data, x)
    )
    return bytes(out)


# --- nesting and loops --------------------------------------------------------------------------


def deep_arrays(depth=100_000) -> bytes:
    return assemble([CATALOG, ONE_PAGE_TREE, PAGE, b"[" * depth + b"]" * depth])


def wide_fields(references=1_000_000) -> bytes:
    """Few objects, within every cap, but a form whose /Fields array lists one signature field a
    million times (6 MB): seconds of parsing for a validator that looks for its field."""
    return assemble(
        [
            b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [%s] >> >>" % (b"4 0 R " * references),
            ONE_PAGE_TREE,
            PAGE,
            b"<< /FT /Sig /T (OpenCoO) /Rect [0 0 0 0] >>",
        ]
    )


def deep_dictionaries(depth=50_000) -> bytes:
    return assemble(
        [
            b"<< /Type /Catalog /Pages 2 0 R /X " + b"<< /A " * depth + b"1" + b" >>" * depth + b" >>",
            ONE_PAGE_TREE,
            PAGE,
        ]
    )


def reference_loop() -> bytes:
    """The root refers to 4, 4 to 5, 5 back to 4; the page tree lists itself as its own kid."""
    return assemble(
        [
            b"<< /Type /Catalog /Pages 2 0 R /Loop 4 0 R >>",
            b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 1 >>",
            PAGE,
            b"5 0 R",
            b"4 0 R",
        ]
    )


def prev_loop() -> bytes:
    """An incremental update whose /Prev points at itself."""
    pdf = minimal()
    update = b"xref\n0 1\n0000000000 65535 f \ntrailer\n<< /Size 4 /Root 1 0 R /Prev %d >>\n"
    start = len(pdf)
    return pdf + update % start + b"startxref\n%d\n%%%%EOF\n" % start


def prev_chain(length=5_000) -> bytes:
    """Thousands of incremental updates, each /Prev to the one before."""
    out = bytearray(minimal())
    previous = int(bytes(out).rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    for _ in range(length):
        here = len(out)
        out += (
            b"xref\n0 1\n0000000000 65535 f \ntrailer\n<< /Size 4 /Root 1 0 R /Prev %d >>\n"
            b"startxref\n%d\n%%%%EOF\n" % (previous, here)
        )
        previous = here
    return bytes(out)


# --- signature fields ---------------------------------------------------------------------------


def _signed_looking(value: bytes, *, field_extra=b"") -> bytes:
    return assemble(
        [
            b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [4 0 R] /SigFlags 3 >> >>",
            ONE_PAGE_TREE,
            PAGE,
            b"<< /FT /Sig /T (OpenCoO) /V 5 0 R /Rect [0 0 0 0] /Subtype /Widget /P 3 0 R %s >>"
            % field_extra,
            value,
        ]
    )


def signature_huge_byterange() -> bytes:
    return _signed_looking(
        b"<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached "
        b"/ByteRange [0 9999999999 9999999999 9999999999] /Contents <3082> >>"
    )


def signature_garbage_contents() -> bytes:
    junk = b"30" + b"84" + b"7fffffff" + b"02" * 4000
    return _signed_looking(
        b"<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached "
        b"/ByteRange [0 10 20 10] /Contents <%s> >>" % junk
    )


def signature_deep_cms() -> bytes:
    """A /Contents of 20,000 nested DER SEQUENCEs with indefinite lengths."""
    der = b"3080" * 20_000 + b"0000" * 20_000
    return _signed_looking(
        b"<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached "
        b"/ByteRange [0 10 20 10] /Contents <%s> >>" % der
    )


def signature_field_kids(depth=20_000) -> bytes:
    """A signature field at the bottom of a 20,000-level /Kids hierarchy."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [4 0 R] >> >>", ONE_PAGE_TREE, PAGE]
    for level in range(depth):
        objects.append(b"<< /T (f%d) /Kids [%d 0 R] >>" % (level, 5 + level))
    objects.append(b"<< /FT /Sig /T (OpenCoO) /Rect [0 0 0 0] >>")
    return assemble(objects)


CORPUS = {
    "xref-stream-size": xref_stream_size,
    "xref-table-subsection": xref_table_subsection,
    "trailer-size": trailer_size,
    "xref-stream-widths": xref_stream_widths,
    "xref-stream-bomb": xref_stream_bomb,
    "huge-length": huge_length,
    "huge-count": huge_count,
    "count-int32": count_int32,
    "huge-object-number": huge_object_number,
    "many-pages": many_pages,
    "many-objects": many_objects,
    "content-bomb": content_bomb,
    "object-stream-bomb": object_stream_bomb,
    "deep-arrays": deep_arrays,
    "deep-dictionaries": deep_dictionaries,
    "reference-loop": reference_loop,
    "prev-loop": prev_loop,
    "prev-chain": prev_chain,
    "signature-huge-byterange": signature_huge_byterange,
    "signature-garbage-contents": signature_garbage_contents,
    "signature-deep-cms": signature_deep_cms,
    "signature-field-kids": signature_field_kids,
    "wide-fields": wide_fields,
}


# --- active content (refused in supporting documents) -------------------------------------------


def javascript_open_action() -> bytes:
    return assemble(
        [
            b"<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>",
            ONE_PAGE_TREE,
            PAGE,
            b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>",
        ]
    )


def javascript_name_tree() -> bytes:
    return assemble(
        [
            b"<< /Type /Catalog /Pages 2 0 R /Names << /JavaScript 4 0 R >> >>",
            ONE_PAGE_TREE,
            PAGE,
            b"<< /Names [(x) << /S /JavaScript /JS (this.print\\(\\)) >>] >>",
        ]
    )


def launch_action() -> bytes:
    return assemble(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            ONE_PAGE_TREE,
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /AA << /O 4 0 R >> >>",
            b"<< /S /Launch /F (cmd.exe) >>",
        ]
    )


def escaped_javascript() -> bytes:
    """/JavaScript spelt with #-escapes, as a byte scan would miss it."""
    return assemble(
        [
            b"<< /Type /Catalog /Pages 2 0 R /OpenAction << /S /J#61vaScript /J#53 (1) >> >>",
            ONE_PAGE_TREE,
            PAGE,
        ]
    )


def compressed_javascript() -> bytes:
    """The JavaScript action inside a compressed object stream, invisible to a byte scan."""
    action = b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>"
    header = b"4 0 "
    packed = zlib.compress(header + action)
    out = bytearray(b"%PDF-1.7\n")
    offsets = {}
    for number, body in (
        (1, b"<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>"),
        (2, ONE_PAGE_TREE),
        (3, PAGE),
    ):
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    offsets[5] = len(out)
    out += b"5 0 obj\n%s\nendobj\n" % stream(
        packed, b"/Type /ObjStm /N 1 /First %d /Filter /FlateDecode" % len(header)
    )
    x = len(out)
    entries = [
        (0, 0, 65535),
        (1, offsets[1], 0),
        (1, offsets[2], 0),
        (1, offsets[3], 0),
        (2, 5, 0),
        (1, offsets[5], 0),
        (1, x, 0),
    ]
    data = b"".join(struct.pack(">BIH", *e) for e in entries)
    out += (
        b"6 0 obj\n<< /Type /XRef /Size 7 /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n%s"
        b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % (len(data), data, x)
    )
    return bytes(out)


def embedded_file() -> bytes:
    return assemble(
        [
            b"<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles << /Names [(a.exe) 4 0 R] >> >> >>",
            ONE_PAGE_TREE,
            PAGE,
            b"<< /Type /Filespec /F (a.exe) /EF << /F 5 0 R >> >>",
            stream(b"MZ", b"/Type /EmbeddedFile"),
        ]
    )


def xfa_form() -> bytes:
    return assemble(
        [
            b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [] /XFA 4 0 R >> >>",
            ONE_PAGE_TREE,
            PAGE,
            stream(b"<xdp:xdp/>"),
        ]
    )


ACTIVE = {
    "javascript-open-action": javascript_open_action,
    "javascript-name-tree": javascript_name_tree,
    "launch-action": launch_action,
    "escaped-javascript": escaped_javascript,
    "compressed-javascript": compressed_javascript,
    "embedded-file": embedded_file,
    "xfa-form": xfa_form,
}


def goto_open_action() -> bytes:
    """Not active: an /OpenAction that only opens page one, as word processors write."""
    return assemble([b"<< /Type /Catalog /Pages 2 0 R /OpenAction [3 0 R /Fit] >>", ONE_PAGE_TREE, PAGE])
