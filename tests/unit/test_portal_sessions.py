"""The portal's sessions: a session read lately costs no query, ends at once in the process
that ends it, and what another process changes is seen after ``REREAD`` seconds."""

import time
from datetime import datetime, timezone

import pytest
from sqlalchemy import event, update

from portal import sessions


@pytest.fixture
def store(tmp_path):
    return sessions.SessionStore(f"sqlite:///{tmp_path / 'portal.db'}")


def queries(store) -> list[str]:
    seen: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    return seen


def test_a_session_read_lately_costs_no_query(store):
    session = store.log_in(None, "token-1", "exporter", "AAACM4821K", 3600)
    assert store.find(session.id).token == "token-1"
    made = queries(store)
    for _ in range(20):
        assert store.find(session.id).username == "AAACM4821K"
    assert made == []


def test_ending_a_session_is_seen_at_once_by_its_process(store):
    session = store.log_in(None, "token-1", "exporter", "AAACM4821K", 3600)
    store.find(session.id)
    store.end(session)
    assert store.find(session.id) is None


def test_a_copy_cannot_change_the_kept_session(store):
    session = store.log_in(None, "token-1", "exporter", "AAACM4821K", 3600)
    store.find(session.id).token = "tampered"
    assert store.find(session.id).token == "token-1"


def test_what_another_process_changes_is_seen_after_the_reread_delay(store, tmp_path):
    other = sessions.SessionStore(f"sqlite:///{tmp_path / 'portal.db'}")
    session = store.log_in(None, "token-1", "exporter", "AAACM4821K", 3600)
    assert store.find(session.id) is not None
    other.end(session)  # a logout answered by another portal process
    time.sleep(sessions.REREAD)
    assert store.find(session.id) is None


def test_an_idle_session_ends_even_when_kept(store):
    session = store.log_in(None, "token-1", "exporter", "AAACM4821K", 3600)
    store.find(session.id)
    with store.engine.begin() as db:
        idle = datetime.now(timezone.utc).replace(tzinfo=None) - sessions.IDLE
        db.execute(update(sessions.sessions).values(last_seen=idle))
    time.sleep(sessions.REREAD)
    assert store.find(session.id) is None


def test_unknown_and_oversized_ids_find_nothing(store):
    assert store.find("nope") is None and store.find("x" * 101) is None and store.find(None) is None
    assert store.recent == {}
