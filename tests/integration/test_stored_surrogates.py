"""The migration that replaces lone surrogates stored before the gateway refused them, on a real
database at the revision before it, with a row as the old gateway stored it."""

import json

from sqlalchemy import text

from services.chassis import migrations
from services.chassis.config import database_url
from services.chassis.database import make_engine

BEFORE = "b081141ad0d6"


def test_stored_lone_surrogates_become_the_replacement_character(platform_env):
    migrations.upgrade("application", BEFORE)
    engine = make_engine(database_url("application"))
    bad = {
        "importer": {"name": "Saigon \udfff Co."},
        "products": [{"description": "x\ud800"}],
        "remarks": "fine \U0001f41f",
    }  # a real emoji is a surrogate pair in JSON: kept
    good = {"importer": {"name": "Hanoi Foods"}}
    with engine.begin() as db:
        for application_id, data in (("a-bad", bad), ("a-good", good)):
            db.execute(
                text(
                    "insert into application (id, iec, status, data, created_at, "
                    "updated_at) values (:id, 'AAACM4821K', 'draft', :data, "
                    "'2026-12-01 10:00:00', '2026-12-01 10:00:00')"
                ),
                {"id": application_id, "data": json.dumps(data)},
            )
        untouched = db.execute(text("select data from application where id = 'a-good'")).scalar()
    migrations.upgrade("application")
    with engine.connect() as db:
        stored = dict(db.execute(text("select id, data from application")).all())
    engine.dispose()
    assert json.loads(stored["a-bad"]) == {
        "importer": {"name": "Saigon \ufffd Co."},
        "products": [{"description": "x\ufffd"}],
        "remarks": "fine \U0001f41f",
    }
    assert stored["a-good"] == untouched  # not rewritten
