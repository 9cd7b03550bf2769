"""The applications list as an Excel workbook: read back with openpyxl. Plain Python."""

import io
from datetime import date, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from services.application.spreadsheet import applications_xlsx

HEADERS = [
    "Application number",
    "Status",
    "Kind",
    "Agreement",
    "Agency",
    "Issuing office",
    "Importer",
    "Importer country",
    "Invoice number",
    "Invoice date",
    "Products",
    "FOB (INR)",
    "Created",
    "Submitted",
]


def application(**changes):
    row = {
        "number": "MPEDA/2019/013/0000066A",
        "status": "pending_payment",
        "kind": "preferential",
        "agreement_code": "013",
        "agency_code": "MPEDA",
        "issuing_office_code": "MPEDA-KOCHI",
        "importer_name": "Saigon Seafood Co.",
        "importer_country": "VN",
        "invoice_number": "INV-2019-0042",
        "invoice_date": "2019-03-01",
        "product_count": 10,
        "fob_inr": Decimal("1000000.50"),
        "created_at": "2019-03-01T04:30:00Z",
        "submitted_at": "2019-03-02T10:15:30.123456Z",
    }
    row.update(changes)
    return row


def sheet_of(rows):
    data = applications_xlsx(rows)
    assert data[:2] == b"PK"
    workbook = load_workbook(io.BytesIO(data))
    assert workbook.sheetnames == ["Applications"]
    return workbook["Applications"]


def values(sheet):
    return [[c.value for c in row] for row in sheet.iter_rows()]


def test_header_row_is_bold_frozen_filtered_and_sized():
    sheet = sheet_of([application()])
    assert values(sheet)[0] == HEADERS
    assert all(c.font.b for c in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:N2"
    assert all(sheet.column_dimensions[letter].width >= 8 for letter in "ABCDEFGHIJKLMN")
    assert sheet.column_dimensions["A"].width >= len("MPEDA/2019/013/0000066A")


def test_one_row_per_application_with_its_values():
    sheet = sheet_of(
        [application(), application(number=None, status="draft", submitted_at=None, fob_inr="0")]
    )
    rows = values(sheet)
    assert len(rows) == 3
    assert rows[1] == [
        "MPEDA/2019/013/0000066A",
        "pending_payment",
        "preferential",
        "013",
        "MPEDA",
        "MPEDA-KOCHI",
        "Saigon Seafood Co.",
        "VN",
        "INV-2019-0042",
        datetime(2019, 3, 1),
        10,
        1000000.5,
        datetime(2019, 3, 1, 10, 0),
        datetime(2019, 3, 2, 15, 45, 30),
    ]
    assert rows[2][0] is None and rows[2][1] == "draft"
    assert rows[2][11] == 0 and rows[2][13] is None


def test_numbers_and_dates_have_real_types_and_formats():
    sheet = sheet_of([application(fob_inr="1234.5")])
    cells = {h: c for h, c in zip(HEADERS, sheet[2], strict=True)}
    assert cells["Agreement"].data_type == "s"  # "013" keeps its leading zero
    assert cells["Products"].data_type == "n" and cells["Products"].value == 10
    fob = cells["FOB (INR)"]
    assert fob.data_type == "n" and fob.value == 1234.5 and fob.number_format == "#,##0.00"
    for header in ("Invoice date", "Created", "Submitted"):
        assert cells[header].is_date, header
    assert cells["Invoice date"].number_format == "yyyy-mm-dd"
    assert cells["Created"].number_format == "yyyy-mm-dd hh:mm"


def test_timestamps_are_shown_in_india_standard_time():
    sheet = sheet_of(
        [application(created_at="2024-12-31T20:00:00Z", submitted_at="2024-12-31T20:00:00+05:30")]
    )
    created, submitted = sheet["M2"].value, sheet["N2"].value
    assert created == datetime(2025, 1, 1, 1, 30)
    assert submitted == datetime(2024, 12, 31, 20, 0)


def test_naive_timestamps_and_python_values_are_accepted():
    sheet = sheet_of(
        [
            application(
                invoice_date=date(2024, 1, 2),
                created_at=datetime(2024, 1, 2, 3, 4),
                submitted_at="2024-01-03",
                fob_inr=Decimal("12.345"),
            )
        ]
    )
    assert sheet["J2"].value == datetime(2024, 1, 2)
    assert sheet["M2"].value == datetime(2024, 1, 2, 3, 4)
    assert sheet["N2"].value == datetime(2024, 1, 3) and sheet["N2"].number_format == "yyyy-mm-dd"
    assert sheet["L2"].value == pytest.approx(12.345)


def test_each_row_keeps_its_own_values_in_formatted_columns():
    rows = [
        application(
            number=f"N{i}",
            invoice_date=f"2024-01-{i + 1:02d}",
            created_at=f"2024-02-{i + 1:02d}T00:00:00",
            submitted_at=f"2024-03-{i + 1:02d}T00:00:00",
            fob_inr=str(i),
        )
        for i in range(20)
    ]
    got = values(sheet_of(rows))[1:]
    assert [r[0] for r in got] == [f"N{i}" for i in range(20)]
    assert [r[9].day for r in got] == list(range(1, 21))
    assert [(r[12].month, r[12].day) for r in got] == [(2, d) for d in range(1, 21)]
    assert [(r[13].month, r[13].day) for r in got] == [(3, d) for d in range(1, 21)]
    assert [r[11] for r in got] == list(range(20))


def test_text_that_looks_like_a_formula_stays_text():
    sheet = sheet_of(
        [
            application(
                importer_name='=HYPERLINK("http://evil.example","x")',
                invoice_number="#N/A",
                importer_country="+VN",
            )
        ]
    )
    for ref in ("G2", "I2", "H2"):
        assert sheet[ref].data_type == "s", ref
    assert sheet["G2"].value == '=HYPERLINK("http://evil.example","x")'
    assert sheet["I2"].value == "#N/A"


def test_whatever_a_draft_holds_does_not_break_the_export():
    sheet = sheet_of(
        [
            application(
                invoice_date="01/03/2019",
                fob_inr="about a lakh",
                product_count="many",
                created_at="yesterday",
                importer_name="Bad\x00\x07 chars",
                importer_country=None,
                invoice_number=12345,
            )
        ]
    )
    assert sheet["J2"].value == "01/03/2019"
    assert sheet["K2"].value == "many"
    assert sheet["L2"].value == "about a lakh"
    assert sheet["M2"].value == "yesterday"
    assert sheet["G2"].value == "Bad chars"
    assert sheet["H2"].value is None
    assert sheet["I2"].value == "12345"


def test_a_lone_surrogate_in_any_column_is_shown_replaced_and_the_rest_is_written():
    """Stored before the gateway refused them: one such row must not fail the office's export."""
    bad = {
        key: f"x\udfff{key}"
        for key in (
            "number",
            "status",
            "importer_name",
            "invoice_number",
            "invoice_date",
            "fob_inr",
            "product_count",
            "created_at",
        )
    }
    sheet = sheet_of([application(), application(**bad), application(number="AFTER/1")])
    assert sheet["G3"].value == "x\ufffdimporter_name"
    assert sheet["J3"].value == "x\ufffdinvoice_date"
    assert sheet["L3"].value == "x\ufffdfob_inr"
    assert sheet["A4"].value == "AFTER/1"


def test_missing_keys_give_empty_cells():
    sheet = sheet_of([{"number": "X/1"}])
    assert values(sheet)[1] == ["X/1"] + [None] * 13


def test_no_applications_gives_the_header_only():
    sheet = sheet_of([])
    assert values(sheet) == [HEADERS]
    assert sheet.auto_filter.ref == "A1:N1"


def test_a_thousand_rows_from_a_generator():
    sheet = sheet_of(application(number=f"X/{i}") for i in range(1000))
    assert sheet.max_row == 1001
    assert sheet.auto_filter.ref == "A1:N1001"
    assert sheet["A1001"].value == "X/999"
