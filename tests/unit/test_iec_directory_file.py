"""The IEC directory as a file: one bad record is reported once and answered for its IEC only;
the others are served; a file that cannot be read at all is the directory's outage (503)."""

import json
import logging

import pytest

from services.chassis.errors import RuleViolation, ServiceUnavailable
from services.registration.iec_directory import DEMO_DIRECTORY, FileDirectory


@pytest.fixture
def records():
    return json.loads(DEMO_DIRECTORY.read_text(encoding="utf-8"))["records"]


def write(tmp_path, rows) -> FileDirectory:
    path = tmp_path / "iec.json"
    path.write_text(json.dumps({"records": rows}), encoding="utf-8")
    return FileDirectory(path)


def test_one_bad_record_is_reported_once_and_the_others_are_served(tmp_path, records, caplog):
    good, bad = records[0], dict(records[1], pan="not a PAN", directors="nobody")
    directory = write(tmp_path, [good, bad, "not even a record"])
    with caplog.at_level(logging.WARNING, logger="services.registration.iec_directory"):
        assert directory.lookup(good["iec"])["name"] == good["name"]
        with pytest.raises(RuleViolation) as refused:
            directory.lookup(bad["iec"])
        assert directory.lookup("ZZZZZ9999Z") is None
        with pytest.raises(RuleViolation):
            directory.lookup(bad["iec"])
    assert refused.value.code == "IEC_RECORD_INVALID" and "directors, pan" in str(refused.value)
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2  # once for the bad record, once for the row that is no record, not per lookup
    assert f"(IEC {bad['iec']}) skipped, wrong fields: directors, pan" in warnings[0]


def test_a_corrected_file_is_served_whole(tmp_path, records):
    bad = dict(records[1], pan="not a PAN")
    directory = write(tmp_path, [records[0], bad])
    with pytest.raises(RuleViolation):
        directory.lookup(bad["iec"])
    path = tmp_path / "iec.json"
    path.write_text(json.dumps({"records": records}), encoding="utf-8")
    import os

    os.utime(path, ns=(1, 10**18))  # a new modification time, whatever the clock's resolution
    assert directory.lookup(records[1]["iec"])["pan"] == records[1]["pan"]


@pytest.mark.parametrize("content", ["{not json", '{"rows": []}', '["a list"]', ""])
def test_a_file_that_cannot_be_read_is_the_directorys_outage(tmp_path, content):
    path = tmp_path / "iec.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ServiceUnavailable) as down:
        FileDirectory(path).lookup("AAACM4821K")
    assert down.value.code == "IEC_DIRECTORY_UNAVAILABLE"


def test_a_missing_file_is_the_directorys_outage(tmp_path):
    with pytest.raises(ServiceUnavailable):
        FileDirectory(tmp_path / "nowhere.json").lookup("AAACM4821K")
