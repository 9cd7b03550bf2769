"""The IEC directory: DGFT's record of an Import Export Code (firm, PAN, contacts, directors,
branches). Two adapters behind one interface: a JSON file (the bundled demo directory by default)
and an HTTP API (``GET {base}/iec/{iec}``). OPENCOO_IEC_DIRECTORY chooses (architecture §3)."""

import json
import logging
import re
from functools import lru_cache
from pathlib import Path

import requests
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from services.chassis.config import env
from services.chassis.errors import BadRequest, RuleViolation, ServiceUnavailable

DEMO_DIRECTORY = Path(__file__).parent / "data" / "iec_demo.json"
IEC_RE = re.compile(r"^[A-Z0-9]{10}$")
log = logging.getLogger(__name__)


class Director(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1))
    mobile = fields.String(load_default=None, allow_none=True)
    address = fields.String(load_default="")

    class Meta:
        unknown = EXCLUDE


class Branch(Schema):
    branch_id = fields.String(required=True, validate=validate.Length(min=1, max=32))
    address = fields.String(load_default="", validate=validate.Length(max=500))
    state = fields.String(required=True, validate=validate.Regexp(r"^IN-[A-Z]{2}$"))

    class Meta:
        unknown = EXCLUDE


class IecRecord(Schema):
    iec = fields.String(required=True, validate=validate.Regexp(IEC_RE))
    name = fields.String(required=True, validate=validate.Length(min=1, max=300))
    pan = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{5}[0-9]{4}[A-Z]$"))
    email = fields.String(required=True)
    mobile = fields.String(required=True)
    address = fields.String(load_default="", validate=validate.Length(max=500))
    state = fields.String(load_default=None, allow_none=True)
    directors = fields.List(fields.Nested(Director), required=True)
    branches = fields.List(fields.Nested(Branch), required=True)

    class Meta:
        unknown = EXCLUDE


_RECORD = IecRecord()


def normalise_iec(raw) -> str:
    iec = str(raw or "").strip().upper()
    if not IEC_RE.match(iec):
        raise BadRequest(
            "an IEC is 10 letters and digits",
            code="IEC_INVALID",
            fields={"iec": ["An IEC is 10 letters and digits."]},
        )
    return iec


class FileDirectory:
    """A JSON file ``{"records": [...]}``, re-read when it changes on disk.

    One record this platform cannot read is reported once in the log (its IEC and fields) and
    answered, for that IEC only, with ``IEC_RECORD_INVALID``: the others are served. A file that
    cannot be read or parsed at all is the directory's outage (503), as the HTTP directory's is.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self._loaded_at: int | float | None = None
        self._records: dict[str, dict] = {}
        self._unreadable: dict[str, list[str]] = {}  # IEC -> the fields its record gets wrong

    def _records_now(self) -> dict[str, dict]:
        try:
            mtime = self.path.stat().st_mtime_ns
            if mtime != self._loaded_at:
                self._load(json.loads(self.path.read_text(encoding="utf-8"))["records"])
                self._loaded_at = mtime
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise ServiceUnavailable(
                f"the IEC directory file cannot be read: {str(exc)[:200]}", code="IEC_DIRECTORY_UNAVAILABLE"
            ) from None
        return self._records

    def _load(self, rows) -> None:
        records: dict[str, dict] = {}
        unreadable: dict[str, list[str]] = {}
        for position, row in enumerate(rows):
            try:
                record = _RECORD.load(row)
            except ValidationError as exc:
                iec = row.get("iec") if isinstance(row, dict) else None
                fields_wrong = sorted(exc.messages) if isinstance(exc.messages, dict) else ["record"]
                log.warning(
                    "IEC directory %s: record %s (IEC %s) skipped, wrong fields: %s",
                    self.path,
                    position,
                    iec,
                    ", ".join(fields_wrong),
                )
                if isinstance(iec, str):
                    unreadable[iec.strip().upper()] = fields_wrong
                continue
            records[record["iec"]] = record
        self._records, self._unreadable = records, unreadable

    def lookup(self, iec: str) -> dict | None:
        records = self._records_now()
        if iec in self._unreadable:
            raise RuleViolation(
                "the IEC directory's record of this IEC cannot be read (wrong: "
                f"{', '.join(self._unreadable[iec])}); DGFT's directory must correct it",
                code="IEC_RECORD_INVALID",
                fields={
                    "iec": ["The IEC directory's record of this IEC is incomplete; DGFT must correct it."]
                },
            )
        return records.get(iec)


class HttpDirectory:
    """An IEC API: ``GET {base}/iec/{iec}`` answers one record, 404 when unknown. A failure is
    retried once, then the directory is reported down (503). The worst case (two tries of 1.5 s
    to connect and 2.5 s to read) stays under the callers' RPC deadline, so the exporter sees
    "directory down", not a timeout."""

    def __init__(self, base: str, timeout=(1.5, 2.5)):
        self.base = base.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        retry = Retry(
            total=1,
            connect=1,
            read=1,
            status=1,
            backoff_factor=0.2,
            status_forcelist=(500, 502, 503, 504),
            allowed_methods=("GET",),
            raise_on_status=False,
        )
        self.session.mount("http://", HTTPAdapter(max_retries=retry))
        self.session.mount("https://", HTTPAdapter(max_retries=retry))

    def lookup(self, iec: str) -> dict | None:
        try:
            response = self.session.get(
                f"{self.base}/iec/{iec}", timeout=self.timeout, headers={"Accept": "application/json"}
            )
        except requests.RequestException as exc:
            raise ServiceUnavailable(
                "the IEC directory does not answer; try again in a few minutes",
                code="IEC_DIRECTORY_UNAVAILABLE",
                extra={"detail": str(exc)[:200]},
            ) from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise ServiceUnavailable(
                f"the IEC directory answered {response.status_code}; try again in a few minutes",
                code="IEC_DIRECTORY_UNAVAILABLE",
            )
        try:
            record = _RECORD.load(response.json())
        except (ValueError, ValidationError):
            raise ServiceUnavailable(
                "the IEC directory sent a record this platform cannot read", code="IEC_DIRECTORY_UNAVAILABLE"
            ) from None
        return record if record["iec"] == iec else None


@lru_cache(maxsize=4)
def _directory(setting: str):
    if setting.startswith(("http://", "https://")):
        return HttpDirectory(setting)
    return FileDirectory(Path(setting))


def directory():
    return _directory(env("OPENCOO_IEC_DIRECTORY", str(DEMO_DIRECTORY)))
