"""Harmonized System (HS 2022) code rules and the nomenclature file parser.

Products on a certificate carry either a 6-digit international HS subheading or an 8-digit
Indian ITC(HS) tariff item (architecture §4); chapters (2 digits) and headings (4 digits) are
accepted too because reference data and search work at those levels.

The nomenclature file is the UN Comtrade HS 2022 classification as CSV with the header
``section,hscode,description,parent,level``. Besides the HS tree it holds a few statistical
aggregate rows with section ``TOTAL``: the root row ``TOTAL`` (level 5) that every chapter points
to, and chapter 99 "Commodities not specified according to kind". Those are checked but not
returned, because they are not codes an exporter can declare.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from typing import Iterable, Iterator, NamedTuple

# HS 2022 chapters 01..97. Chapter 77 is reserved for future use; 98 and 99 are left to
# national use (statistics, special transactions), so they are not valid on a certificate.
HS_CHAPTERS: frozenset[str] = frozenset(f"{n:02d}" for n in range(1, 98) if n != 77)

LEVEL_NAMES = {2: "chapter", 4: "heading", 6: "subheading", 8: "tariff item"}

# HS sections are numbered I..XXI in Roman numerals.
HS_SECTIONS: tuple[str, ...] = (
    "I",
    "II",
    "III",
    "IV",
    "V",
    "VI",
    "VII",
    "VIII",
    "IX",
    "X",
    "XI",
    "XII",
    "XIII",
    "XIV",
    "XV",
    "XVI",
    "XVII",
    "XVIII",
    "XIX",
    "XX",
    "XXI",
)

NOMENCLATURE_HEADER = ("section", "hscode", "description", "parent", "level")
ROOT = "TOTAL"  # the nomenclature's root code, also the section of aggregate rows
AGGREGATE_CHAPTER = "99"
MAX_ERRORS = 20

_DIGITS = re.compile(r"[0-9]+")  # ASCII only: str.isdigit() would accept '²' or Devanagari


class InvalidHsCode(ValueError):
    pass


class HsCodeForm(NamedTuple):
    code: str  # digits only
    level: int  # number of digits: 2, 4, 6 or 8
    chapter: str  # first two digits


def check_form(code: str) -> HsCodeForm:
    """Check the shape of an HS code; spaces and dots are ignored ("0101.21" -> "010121").

    Only the form is checked here; whether the code exists is a question for the nomenclature.
    """
    if not isinstance(code, str):
        raise InvalidHsCode("HS code must be a string")
    normalized = code.replace(" ", "").replace(".", "").strip()
    if not normalized:
        raise InvalidHsCode("HS code is empty")
    if not _DIGITS.fullmatch(normalized):
        raise InvalidHsCode(f"HS code '{code}' must contain only digits")
    if len(normalized) not in LEVEL_NAMES:
        raise InvalidHsCode(f"HS code '{code}' has {len(normalized)} digits; expected 2, 4, 6 or 8")
    chapter = normalized[:2]
    if chapter not in HS_CHAPTERS:
        raise InvalidHsCode(f"chapter {chapter} of HS code '{code}' is not an HS 2022 chapter")
    return HsCodeForm(normalized, len(normalized), chapter)


@dataclass(frozen=True, slots=True)
class HsEntry:
    code: str
    description: str
    parent: str | None  # None for a chapter (the file writes "TOTAL")
    level: int  # 2, 4 or 6
    section: str  # Roman numeral I..XXI


class NomenclatureError(ValueError):
    """All problems found in a nomenclature file, each as 'line N: ...'."""

    def __init__(self, errors: list[str], truncated: bool = False):
        self.errors = list(errors)
        self.truncated = truncated
        summary = "; ".join(self.errors)
        if truncated:
            summary += f" (stopped after {MAX_ERRORS} errors)"
        super().__init__(summary)


class _TooManyErrors(Exception):
    pass


class _Errors:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, line: int, message: str) -> None:
        self.items.append(f"line {line}: {message}")
        if len(self.items) >= MAX_ERRORS:
            raise _TooManyErrors


def _lines(source: str | bytes | Iterable[str]) -> Iterator[str]:
    # A str is the whole file; anything else is an iterable of lines (an open text file).
    if isinstance(source, bytes):
        source = source.decode("utf-8")
    if isinstance(source, str):
        source = source.splitlines(keepends=True)
    first = True
    for line in source:
        if first:
            line = line.removeprefix("\ufeff")  # spreadsheet exports start with a BOM
            first = False
        yield line


def parse_nomenclature(source: str | bytes | Iterable[str]) -> list[HsEntry]:
    """Parse and validate an HS nomenclature CSV; raise NomenclatureError listing every problem.

    A file is accepted whole or not at all: a half-imported nomenclature would make valid
    products fail lookups, so the importer gets the full list of errors to fix at once.
    """
    errors = _Errors()
    entries: list[HsEntry] = []
    try:
        _parse_rows(_lines(source), errors, entries)
    except _TooManyErrors:
        raise NomenclatureError(errors.items, truncated=True) from None
    if errors.items:
        raise NomenclatureError(errors.items)
    return entries


def _parse_rows(lines: Iterator[str], errors: _Errors, entries: list[HsEntry]) -> None:
    reader = csv.reader(lines)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        errors.add(1, f"unreadable CSV: {exc}")
        return
    if header is None:
        errors.add(1, "file is empty")
        return
    if tuple(h.strip() for h in header) != NOMENCLATURE_HEADER:
        errors.add(1, f"header must be '{','.join(NOMENCLATURE_HEADER)}', found '{','.join(header)}'")
        return

    first_line: dict[str, int] = {}  # every code seen (HS and aggregate) -> its line
    pending_parents: list[tuple[int, str, str]] = []  # (line, code, parent) to resolve at the end
    root_line: int | None = None
    rows = 0
    end_of_previous = reader.line_num
    while True:
        try:
            row = next(reader, None)
        except csv.Error as exc:
            errors.add(end_of_previous + 1, f"unreadable CSV: {exc}")
            return
        if row is None:
            break
        # A quoted field may span lines: report the line where the record starts.
        line = end_of_previous + 1
        end_of_previous = reader.line_num
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # blank line
        rows += 1
        if len(row) != len(NOMENCLATURE_HEADER):
            errors.add(line, f"expected {len(NOMENCLATURE_HEADER)} fields, found {len(row)}")
            continue
        section, code, description, parent, level_text = (field.strip() for field in row)

        if code == ROOT:
            # The aggregate root row; chapters point to it. Its level (5) is not an HS level.
            if root_line is not None:
                errors.add(line, f"hscode '{ROOT}' duplicates line {root_line}")
            elif parent != ROOT:
                errors.add(line, f"the root row '{ROOT}' must have parent '{ROOT}', not '{parent}'")
            else:
                root_line = line
            continue

        if not _DIGITS.fullmatch(code):
            errors.add(line, f"hscode '{code}' is not digits")
            continue
        try:
            level = int(level_text)
        except ValueError:
            level = None
        if level not in (2, 4, 6):
            errors.add(line, f"level '{level_text}' is not 2, 4 or 6")
            continue
        if level != len(code):
            errors.add(line, f"level {level} does not match hscode '{code}' ({len(code)} digits)")
            continue
        if code in first_line:
            errors.add(line, f"hscode '{code}' duplicates line {first_line[code]}")
            continue
        first_line[code] = line

        aggregate = section == ROOT
        if aggregate:
            if code[:2] != AGGREGATE_CHAPTER:
                errors.add(
                    line, f"section '{ROOT}' is only for chapter {AGGREGATE_CHAPTER} rows, not '{code}'"
                )
                continue
        else:
            if section not in HS_SECTIONS:
                errors.add(line, f"section '{section}' is not an HS section (I to XXI)")
                continue
            if code[:2] not in HS_CHAPTERS:
                errors.add(line, f"chapter {code[:2]} of hscode '{code}' is not an HS 2022 chapter")
                continue
        if not description:
            errors.add(line, f"hscode '{code}' has no description")
            continue

        if level == 2:
            if parent != ROOT:
                errors.add(line, f"chapter '{code}' must have parent '{ROOT}', not '{parent}'")
                continue
        else:
            expected = code[: level - 2]
            if parent != expected:
                errors.add(line, f"parent '{parent}' of hscode '{code}' must be '{expected}'")
                continue
            # Resolved after the whole file is read: a parent may come later in the file.
            pending_parents.append((line, code, parent))

        if not aggregate:
            entries.append(HsEntry(code, description, parent if level > 2 else None, level, section))

    if rows == 0:
        errors.add(end_of_previous + 1, "no entries after the header")
        return
    for line, code, parent in pending_parents:
        if parent not in first_line:
            errors.add(line, f"parent '{parent}' of hscode '{code}' is not in the file")
