"""Rules of exporters' supporting documents (architecture §4 "Documents", §9 "Uploads").

The PDFs are made here: by pyHanko's writer, and by hand (to reach an exact size and to build
broken files). Plain Python: no broker, no database.
"""

import hashlib
import io
import os

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.writer import PdfFileWriter

from services.application.documents import DOCUMENT_KINDS, MAX_DOCUMENT_BYTES, check_kind, check_pdf
from services.chassis.errors import PayloadTooLarge, RuleViolation

PNG_HEAD = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(13)
JPEG_HEAD = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
ZIP_HEAD = b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00"


def pyhanko_pdf(pages=1, password=None) -> bytes:
    writer = PdfFileWriter()
    for _ in range(pages):
        writer.insert_page(
            generic.DictionaryObject(
                {
                    pdf_name("/Type"): pdf_name("/Page"),
                    pdf_name("/MediaBox"): generic.ArrayObject(
                        [generic.NumberObject(n) for n in (0, 0, 595, 842)]
                    ),
                }
            )
        )
    if password is not None:
        writer.encrypt(password)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def hand_pdf(pages=1, comment=b"", count=None, prev_loop=False) -> bytes:
    """A minimal PDF 1.4 with a classic cross-reference table; ``comment`` pads the file."""
    kids = " ".join(f"{3 + i} 0 R" for i in range(pages))
    count = pages if count is None else count
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode(),
    ]
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"] * pages
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    if comment:
        out += b"%" + comment + b"\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    prev = b" /Prev %d" % xref if prev_loop else b""
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, prev, xref)
    return bytes(out)


def pdf_of_size(size: int) -> bytes:
    """A valid one-page PDF of exactly ``size`` bytes (padded with a comment line)."""
    pad = size - len(hand_pdf()) - 2
    for _ in range(5):  # the startxref number may gain a digit; settle in a step or two
        data = hand_pdf(comment=b"x" * pad)
        if len(data) == size:
            return data
        pad += size - len(data)
    raise AssertionError("could not reach the size")


def refused(data, filename="invoice.pdf", error=RuleViolation):
    with pytest.raises(error) as e:
        check_pdf(data, filename)
    return e.value


# --- kinds ----------------------------------------------------------------------------------------


def test_document_kinds():
    assert DOCUMENT_KINDS == ("invoice", "packing_list", "bill_of_lading", "other")


@pytest.mark.parametrize("kind", DOCUMENT_KINDS)
def test_every_listed_kind_is_accepted(kind):
    check_kind(kind)


@pytest.mark.parametrize("kind", ["Invoice", "commercial_invoice", "", None, "packing list", 1])
def test_other_kinds_are_refused_with_the_allowed_list(kind):
    with pytest.raises(RuleViolation) as e:
        check_kind(kind)
    assert e.value.code == "DOCUMENT_KIND_INVALID" and isinstance(e.value, RuleViolation)
    assert list(e.value.fields) == ["kind"]
    for allowed in DOCUMENT_KINDS:
        assert allowed in e.value.fields["kind"][0]


# --- good PDFs ------------------------------------------------------------------------------------


def test_a_pdf_made_by_pyhanko_is_accepted_with_its_page_count():
    data = pyhanko_pdf(pages=3)
    assert check_pdf(data, "invoice.pdf") == {
        "pages": 3,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def test_a_hand_written_minimal_pdf_is_accepted():
    data = hand_pdf(pages=2)
    assert check_pdf(data, "packing.pdf")["pages"] == 2


def test_the_filename_does_not_matter():
    assert check_pdf(pyhanko_pdf(), "")["pages"] == 1
    assert check_pdf(pyhanko_pdf(), None)["pages"] == 1
    assert check_pdf(pyhanko_pdf(), "scan.PNG")["pages"] == 1


# --- size -----------------------------------------------------------------------------------------


def test_max_document_bytes_is_two_mebibytes():
    assert MAX_DOCUMENT_BYTES == 2 * 1024 * 1024


def test_exactly_two_mebibytes_passes():
    data = pdf_of_size(MAX_DOCUMENT_BYTES)
    assert len(data) == MAX_DOCUMENT_BYTES
    assert check_pdf(data, "invoice.pdf") == {
        "pages": 1,
        "size": MAX_DOCUMENT_BYTES,
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def test_two_mebibytes_and_one_byte_is_too_large():
    data = pdf_of_size(MAX_DOCUMENT_BYTES + 1)
    error = refused(data, error=PayloadTooLarge)
    assert error.code == "DOCUMENT_TOO_LARGE" and isinstance(error, PayloadTooLarge)
    assert "2,097,153" in error.message


def test_size_is_checked_before_anything_else():
    error = refused(PNG_HEAD + b"\0" * MAX_DOCUMENT_BYTES, error=PayloadTooLarge)
    assert error.code == "DOCUMENT_TOO_LARGE"


def test_an_empty_file_is_refused():
    error = refused(b"")
    assert error.code == "DOCUMENT_EMPTY" and isinstance(error, RuleViolation)


# --- not a PDF ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, named",
    [
        (PNG_HEAD + os.urandom(100), "PNG"),
        (JPEG_HEAD + os.urandom(100), "JPEG"),
        (ZIP_HEAD + os.urandom(100), "ZIP"),
    ],
)
def test_a_renamed_image_or_archive_is_named(data, named):
    error = refused(data, filename="invoice.pdf")
    assert error.code == "DOCUMENT_NOT_PDF" and isinstance(error, RuleViolation)
    assert named in error.message and "invoice.pdf" in error.message
    assert error.fields["file"]


@pytest.mark.parametrize("data", [b"hello", b" %PDF-1.4\n", b"%pdf-1.4\n", b"\x00" * 50])
def test_anything_not_starting_with_the_pdf_magic_is_refused(data):
    error = refused(data)
    assert error.code == "DOCUMENT_NOT_PDF"
    assert "is not a PDF" in error.message


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-",
        b"%PDF-1.7\n" + bytes(range(256)) * 20,
        b"%PDF-1.4\n%%EOF\n",
        b"%PDF-1.4\nstartxref\n999999999\n%%EOF\n",
        b"%PDF-1.4\nstartxref\n-5\n%%EOF\n",
        b"%PDF-1.4\n1 0 obj " + b"[" * 100_000 + b"\nendobj\ntrailer <</Root 1 0 R>>\n%%EOF",
    ],
    ids=["magic-only", "binary-noise", "no-xref", "bad-startxref", "negative-startxref", "deep-nesting"],
)
def test_bytes_after_the_magic_that_do_not_parse_are_refused(data):
    error = refused(data)
    assert error.code == "DOCUMENT_NOT_PDF"
    assert "cannot be read as a PDF" in error.message


def test_random_bytes_after_the_magic_are_refused():
    error = refused(b"%PDF-1.7\n" + os.urandom(64 * 1024))
    assert error.code == "DOCUMENT_NOT_PDF"


def test_a_truncated_pdf_is_refused():
    data = pyhanko_pdf()
    assert refused(data[: len(data) // 2]).code == "DOCUMENT_NOT_PDF"


def test_a_cross_reference_loop_ends_with_a_refusal():
    assert check_pdf(hand_pdf(), "a.pdf")["pages"] == 1  # the same file without the loop parses
    assert refused(hand_pdf(prev_loop=True)).code == "DOCUMENT_NOT_PDF"


def test_the_page_count_is_read_from_the_page_tree():
    assert check_pdf(hand_pdf(count=7), "a.pdf")["pages"] == 7


@pytest.mark.parametrize("count", ["-1", "(one)", "1.5", "2 0 R", "true", "null"])
def test_a_page_tree_without_a_sensible_count_is_refused(count):
    assert refused(hand_pdf(count=count)).code == "DOCUMENT_NOT_PDF"


def test_a_catalog_without_a_page_tree_is_refused():
    data = hand_pdf().replace(b"/Pages 2 0 R", b"/Pagez 2 0 R")  # same length: offsets hold
    assert refused(data).code == "DOCUMENT_NOT_PDF"


def test_a_pdf_without_pages_is_refused_as_empty():
    error = refused(pyhanko_pdf(pages=0))
    assert error.code == "DOCUMENT_EMPTY"
    assert "no pages" in error.message


# --- encryption -----------------------------------------------------------------------------------


def test_a_password_protected_pdf_is_refused():
    error = refused(pyhanko_pdf(password="secret"))
    assert error.code == "DOCUMENT_ENCRYPTED" and isinstance(error, RuleViolation)
    assert "password" in error.message


def test_an_encrypted_pdf_that_opens_without_a_password_is_refused_too():
    # Encryption with an empty user password still restricts the document and hides its
    # content from simple tools; officers' tools must not depend on decryption.
    assert refused(pyhanko_pdf(password="")).code == "DOCUMENT_ENCRYPTED"
