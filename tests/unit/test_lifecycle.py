"""The application lifecycle's table: every status reachable, every move's event a contract, who
makes each, and the drawing in docs/architecture.md made from the table. Plain Python."""

import importlib.util
from pathlib import Path

import pytest

from services.application.lifecycle import MOVES, Mover, Status, mover_of, record
from services.contracts import events

ROOT = Path(__file__).resolve().parents[2]


def test_every_status_is_reached_and_only_issued_rejected_and_deleted_end():
    reached = {move.target for move in MOVES.values()}
    assert set(Status) <= reached
    leaving = {move.source for move in MOVES.values()}
    assert set(Status) - leaving == {Status.ISSUED, Status.REJECTED}


def test_the_officer_decides_only_what_is_in_the_queue():
    for move in MOVES.values():
        if move.by is Mover.OFFICER:
            assert move.source is Status.SUBMITTED, move.name


def test_every_announced_move_is_an_application_event_of_the_contracts():
    announced = {move.emits for move in MOVES.values() if move.emits}
    assert announced == {event for source, event in events.EVENTS if source == "application"}


@pytest.mark.parametrize(
    "actor, mover",
    [
        ({"username": "AAACM4821K", "role": "exporter"}, Mover.EXPORTER),
        ({"username": "kochi.officer", "role": "officer"}, Mover.OFFICER),
        ({"username": "payment", "role": "system"}, Mover.PAYMENT),
        ({"username": "self-certification", "role": "system"}, Mover.SELF_CERTIFICATION),
    ],
)
def test_who_an_actor_moves_as(actor, mover):
    assert mover_of(actor) is mover


def test_a_move_made_by_the_wrong_mover_is_refused_before_anything_is_written():
    class Nothing:
        session = None  # record must not reach it

    with pytest.raises(ValueError, match="approve is made by officer"):
        record(Nothing(), object(), MOVES["approve"], {"username": "X", "role": "exporter"})


def test_the_drawing_in_the_design_document_is_the_table():
    spec = importlib.util.spec_from_file_location("gen_architecture", ROOT / "docs" / "gen_architecture.py")
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    text = (ROOT / "docs" / "architecture.md").read_text()
    assert generator.render(text) == text, "run python docs/gen_architecture.py"
    for move in MOVES.values():
        assert f": {move.name} ({move.by.value})" in text
