"""chassis.untrusted_pdf and the supporting documents' rules against the hostile corpus of
tests/hostile_pdfs.py: cheap refusals before any parser, the sandboxed look at the rest, active
content found wherever it hides, and honest PDFs (WeasyPrint's, pyHanko's) let through."""

import io
import time

import pytest

from services.application.documents import MAX_DOCUMENT_BYTES, check_pdf
from services.chassis import untrusted_pdf
from services.chassis.errors import RuleViolation
from services.chassis.pdf import render_pdf
from tests import hostile_pdfs

# What the structural caps refuse before any parser sees the file, and what they name.
CLAIMS = {
    "xref-stream-size": "/Size of 2,147,483,647",
    "xref-table-subsection": "xref subsection of 2,147,483,647",
    "trailer-size": "/Size of 2,000,000,000",
    "xref-stream-widths": "/W of 200",
    "huge-length": "/Length of 99,999,999,999,999",
    "huge-count": "/Count of 99,999,999,999,999,999,999",
    "count-int32": "/Count of 2,147,483,648",
    "huge-object-number": "object number of 2,147,483,646",
    "many-pages": "/Count of 75,000",
    "prev-chain": "incremental updates of 5,001",
}


def weasyprint_pdf() -> bytes:
    return render_pdf("<h1>Commercial invoice</h1>" + "<p>Frozen shrimps</p>" * 200)


def pyhanko_pdf() -> bytes:
    from pyhanko.pdf_utils.writer import PdfFileWriter

    out = io.BytesIO()
    PdfFileWriter().write(out)
    return out.getvalue()


@pytest.mark.parametrize("name", sorted(CLAIMS))
def test_claims_past_the_caps_are_refused_before_parsing(name):
    data = hostile_pdfs.CORPUS[name]()
    with pytest.raises(untrusted_pdf.PdfTooComplex, match=CLAIMS[name]):
        untrusted_pdf.precheck(data)


@pytest.mark.parametrize(
    "make",
    [
        hostile_pdfs.minimal,
        hostile_pdfs.goto_open_action,
        weasyprint_pdf,
        pyhanko_pdf,
        *hostile_pdfs.ACTIVE.values(),
    ],
)
def test_honest_structures_pass_the_caps(make):
    untrusted_pdf.precheck(make())


def test_no_header_is_not_a_pdf():
    with pytest.raises(untrusted_pdf.NotAPdf):
        untrusted_pdf.precheck(b"GIF89a" + b"x" * 2000)
    with pytest.raises(untrusted_pdf.NotAPdf):
        untrusted_pdf.precheck(b"\x00" * 1024 + b"%PDF-1.7")


@pytest.mark.parametrize("name", sorted(set(hostile_pdfs.CORPUS) - set(CLAIMS)))
def test_the_rest_is_answered_in_the_sandbox(name):
    """Each class the caps let through is a refusal or a readable one-page file: nothing
    else, whatever its parse costs (bounded by the sandbox in a service)."""
    data = hostile_pdfs.CORPUS[name]()
    untrusted_pdf.precheck(data)
    try:
        found = untrusted_pdf.inspect(data)
    except (untrusted_pdf.NotAPdf, untrusted_pdf.PdfTooComplex):
        return
    assert found == {"encrypted": False, "pages": 1, "active_content": []}


@pytest.mark.parametrize("name", ["content-bomb", "object-stream-bomb", "xref-stream-bomb"])
def test_decompression_bombs_are_too_complex(name):
    with pytest.raises(untrusted_pdf.PdfTooComplex, match="inflate past the limits"):
        untrusted_pdf.inspect(hostile_pdfs.CORPUS[name]())


@pytest.mark.parametrize(
    "name,found",
    [
        ("javascript-open-action", ["JavaScript"]),
        ("javascript-name-tree", ["JavaScript"]),
        ("launch-action", ["Launch action"]),
        ("escaped-javascript", ["JavaScript"]),
        ("compressed-javascript", ["JavaScript"]),
        ("embedded-file", ["embedded file"]),
        ("xfa-form", ["XFA form"]),
    ],
)
def test_active_content_is_found_wherever_it_hides(name, found):
    assert untrusted_pdf.inspect(hostile_pdfs.ACTIVE[name]())["active_content"] == found


def test_an_open_action_that_only_opens_a_page_is_not_active():
    assert untrusted_pdf.inspect(hostile_pdfs.goto_open_action())["active_content"] == []


# --- the supporting documents' rules, with the sandbox -------------------------------------------


def fits(data: bytes) -> bytes:
    assert len(data) <= MAX_DOCUMENT_BYTES
    return data


DOCUMENT_SIZED = {
    **{
        name: make
        for name, make in hostile_pdfs.CORPUS.items()
        if name not in ("many-pages", "many-objects", "wide-fields")
    },
    "many-pages": lambda: hostile_pdfs.many_pages(20_000),
    "many-objects": lambda: hostile_pdfs.many_objects(40_000),
    "wide-fields": lambda: hostile_pdfs.wide_fields(60_000),
}


@pytest.mark.parametrize("name", sorted(DOCUMENT_SIZED))
def test_a_hostile_document_is_refused_within_its_bounds(name, monkeypatch):
    monkeypatch.setenv("OPENCOO_UNTRUSTED_SECONDS", "3")
    data = fits(DOCUMENT_SIZED[name]())
    started = time.monotonic()
    try:
        checked = check_pdf(data, "invoice.pdf")
    except RuleViolation as exc:
        assert exc.code in ("DOCUMENT_NOT_PDF", "DOCUMENT_TOO_COMPLEX"), exc
        assert exc.fields["file"]
    else:  # bounded and harmless: a one-page PDF with unused objects, loops or broken fields
        assert checked["pages"] == 1, name
    assert time.monotonic() - started < 3 + 2  # the deadline, a child's start and the kill


@pytest.mark.parametrize("name", sorted(hostile_pdfs.ACTIVE))
def test_a_document_with_active_content_is_refused(name):
    with pytest.raises(RuleViolation) as exc:
        check_pdf(hostile_pdfs.ACTIVE[name](), "invoice.pdf")
    assert exc.value.code == "DOCUMENT_ACTIVE_CONTENT"
    assert "active content" in exc.value.message


def test_a_page_count_past_a_database_integer_is_a_422_not_a_500():
    with pytest.raises(RuleViolation) as exc:
        check_pdf(hostile_pdfs.huge_count(), "invoice.pdf")
    assert exc.value.code == "DOCUMENT_TOO_COMPLEX" and "/Count" in exc.value.message


def test_a_caller_may_cap_objects_lower_counting_those_in_object_streams():
    """The verification's cap (a certificate has a few dozen objects): objects packed in object
    streams count with the others, so many streams each under the cap do not slip past it."""
    untrusted_pdf.precheck(hostile_pdfs.minimal(), max_objects=2_000)
    untrusted_pdf.precheck(hostile_pdfs.many_objects(1_996), max_objects=2_000)  # /Size 2,000
    with pytest.raises(untrusted_pdf.PdfTooComplex, match="objects of 2,001 is more than 2,000"):
        untrusted_pdf.precheck(hostile_pdfs.many_objects(1_998), max_objects=2_000)
    streams = hostile_pdfs.assemble(
        [hostile_pdfs.CATALOG, hostile_pdfs.ONE_PAGE_TREE, hostile_pdfs.PAGE]
        + [b"<< /Type /ObjStm /N 300 /First 0 /Length 0 >>\nstream\n\nendstream"] * 8
    )
    untrusted_pdf.precheck(streams)  # the default cap of any PDF
    with pytest.raises(untrusted_pdf.PdfTooComplex, match="objects of"):
        untrusted_pdf.precheck(streams, max_objects=2_000)
