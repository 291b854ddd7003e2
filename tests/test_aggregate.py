"""Combining tests into one result per case, and the notes that explain it."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_hawzu import notes
from pytest_hawzu.aggregate import Aggregator, combine
from pytest_hawzu.model import SEVERITY, Status, Step, TestOutcome, worst
from pytest_hawzu.notes import trim_tail

P, F, B, S, N = (Status.PASSED, Status.FAILED, Status.BLOCKED, Status.SKIPPED, Status.NOT_EXECUTED)


def outcome(nodeid: str, status: Status, notes: str = "", duration: float = 0.5) -> TestOutcome:
    return TestOutcome(
        nodeid=nodeid,
        case_ids=("TCM-1",),
        status=status,
        notes=notes,
        duration=duration,
        started_at=100.0 + len(nodeid),
        finished_at=200.0 + len(nodeid),
        steps=(Step("call", status),),
    )


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([P, P], P),
        ([P, F], F),
        ([F, P], F),
        ([P, B], B),
        ([B, F], F),
        ([S, P], P),
        ([S, S], S),
        ([S, B], B),
        ([P, N], N),
        ([N, S], N),
        ([N, B], B),
        ([B, N], B),
    ],
)
def test_the_worst_status_wins(statuses, expected):
    tests = [outcome(f"t::{i}", s) for i, s in enumerate(statuses)]
    assert combine("TCM-1", tests, 8000).status is expected


@given(st.lists(st.sampled_from([P, F, B, S]), min_size=1, max_size=20))
def test_order_never_matters(statuses):
    tests = [outcome(f"t::{i}", s) for i, s in enumerate(statuses)]
    expected = max(statuses, key=SEVERITY.__getitem__)
    assert combine("TCM-1", tests, 8000).status is expected
    assert combine("TCM-1", tests[::-1], 8000).status is expected


def test_worst_is_symmetric():
    for a, b in itertools.product(Status, repeat=2):
        assert worst(a, b) is worst(b, a)


def test_durations_add_up_and_times_span_all_tests():
    result = combine("TCM-1", [outcome("t::a", P, duration=1.25), outcome("t::bb", P)], 8000)
    assert result.duration_ms == 1750
    assert (result.started_at, result.finished_at) == (104.0, 205.0)


def test_several_tests_become_one_step_each():
    result = combine(
        "TCM-1", [outcome("t.py::a[1]", P), outcome("t.py::a[2]", F, "boom\nat x")], 8000
    )
    assert result.steps == (Step("a[1]", P), Step("a[2]", F, "boom"))
    assert result.nodeids == ("t.py::a[1]", "t.py::a[2]")


def test_step_names_tell_classes_apart_and_keep_odd_parameter_ids():
    tests = [
        outcome("t.py::TestCard::test_refund", P),
        outcome("t.py::TestCash::test_refund", P),
        outcome("t.py::test_path[a/b::c]", P),
    ]
    names = [step.name for step in combine("TCM-1", tests, 8000).steps]
    assert names == ["TestCard::test_refund", "TestCash::test_refund", "test_path[a/b::c]"]


def test_one_test_keeps_its_own_steps():
    only = outcome("t::a", P)
    assert combine("TCM-1", [only], 8000).steps == only.steps


def test_notes_put_failures_first_and_fit_the_limit():
    tests = [
        outcome("t::skipped", S, "skipped: later"),
        outcome("t::failed", F, "t::failed: AssertionError\n" + "x" * 5000 + "\nE   assert 1 == 2"),
    ]
    notes = combine("TCM-1", tests, 1000).notes
    assert len(notes) <= 1000
    assert notes.index("assert 1 == 2") < notes.index("skipped: later")


def test_notes_that_already_name_their_test_do_not_name_it_again() -> None:
    tests = [
        outcome("t::failed", F, "t::failed: AssertionError: assert 1 == 2"),
        outcome("t::skipped", S, "later"),
    ]
    assert combine("TCM-1", tests, 8000).notes == (
        "t::failed: AssertionError: assert 1 == 2\n\nt::skipped: later"
    )


def test_trim_keeps_the_end():
    text = "head " + "." * 100 + " the error"
    trimmed = trim_tail(text, 60)
    assert len(trimmed) <= 60
    assert trimmed.endswith(" the error")
    assert "characters trimmed" in trimmed
    assert trim_tail("short", 60) == "short"


def test_aggregator_tracks_each_case_of_a_test():
    aggregator = Aggregator(8000)
    touched = aggregator.add(
        TestOutcome(nodeid="t::a", case_ids=("TCM-1", "TCM-2"), status=F, notes="boom")
    )
    aggregator.add(TestOutcome(nodeid="t::b", case_ids=("TCM-2",), status=P))
    assert touched == ("TCM-1", "TCM-2")
    assert aggregator.case_ids() == ["TCM-1", "TCM-2"]
    assert aggregator.result("TCM-2").status is F
    assert aggregator.result("TCM-2").nodeids == ("t::a", "t::b")
    assert "TCM-3" not in aggregator


def test_outcomes_survive_the_journal_format():
    original = TestOutcome(
        nodeid="t::a",
        case_ids=("TCM-1",),
        status=B,
        notes="setup failed",
        duration=0.25,
        started_at=1.5,
        finished_at=2.5,
        steps=(Step("setup", F, "boom"), Step("teardown", P)),
        worker="gw1",
        reruns=2,
    )
    assert TestOutcome.from_json(original.to_json()) == original


# -- results are not kept after delivery --------------------------------------------


def single(nodeid: str, case_id: str, status: Status = P) -> TestOutcome:
    return TestOutcome(nodeid=nodeid, case_ids=(case_id,), status=status, notes="why")


def test_a_delivered_single_test_case_keeps_only_its_status() -> None:
    agg = Aggregator(notes_limit=1000)
    agg.plan(shared=set())
    agg.add(single("t.py::a", "TCM-1", F))
    agg.delivered("TCM-1")
    assert agg.outcomes_kept() == 0
    assert "TCM-1" in agg
    assert agg.result("TCM-1").status is F


def test_cases_shared_by_several_tests_are_kept_until_the_end() -> None:
    agg = Aggregator(notes_limit=1000)
    agg.plan(shared={"TCM-1"})
    agg.add(single("t.py::a[1]", "TCM-1"))
    agg.delivered("TCM-1")
    agg.add(single("t.py::a[2]", "TCM-1", F))
    agg.delivered("TCM-1")
    assert agg.outcomes_kept() == 2
    assert agg.result("TCM-1").nodeids == ("t.py::a[1]", "t.py::a[2]")


def test_a_plan_that_arrives_in_parts_keeps_every_shared_case() -> None:
    # Under xdist the scope arrives from each worker, case by case.
    agg = Aggregator(notes_limit=1000)
    agg.plan(shared={"TCM-1"})
    agg.plan(shared={"TCM-2"})
    agg.add(single("t.py::a[1]", "TCM-1"))
    agg.delivered("TCM-1")
    agg.add(single("t.py::a[2]", "TCM-1", F))
    assert agg.result("TCM-1").nodeids == ("t.py::a[1]", "t.py::a[2]")


def test_without_a_plan_nothing_is_released() -> None:
    agg = Aggregator(notes_limit=1000)
    agg.add(single("t.py::a", "TCM-1"))
    agg.delivered("TCM-1")
    assert agg.outcomes_kept() == 1


def test_a_test_outside_the_plan_still_combines_with_a_released_failure() -> None:
    agg = Aggregator(notes_limit=1000)
    agg.plan(shared=set())
    agg.add(single("t.py::a", "TCM-1", F))
    agg.delivered("TCM-1")
    agg.add(single("t.py::late", "TCM-1", P))
    result = agg.result("TCM-1")
    assert result.status is F
    assert "t.py::late" in result.nodeids


def test_a_test_of_several_cases_is_released_once_all_were_delivered() -> None:
    agg = Aggregator(notes_limit=1000)
    agg.plan(shared=set())
    agg.add(TestOutcome(nodeid="t.py::a", case_ids=("TCM-1", "TCM-2"), status=P))
    agg.delivered("TCM-1")
    agg.delivered("TCM-2")
    assert agg.outcomes_kept() == 0
    assert agg.result("TCM-2").status is P


def test_joined_notes_keep_short_parts_whole_and_each_long_ones_first_line():
    short = "t::a: skipped"
    long_one = "t::b: ValueError: b\n" + "b" * 3000
    long_two = "t::c: KeyError: c\n" + "c" * 3000
    joined = notes.join([long_one, short, long_two], 1000)
    assert len(joined) <= 1000
    assert short in joined
    assert "t::b: ValueError: b\n[..." in joined
    assert "t::c: KeyError: c\n[..." in joined


def test_joined_notes_beyond_room_for_every_part_cut_the_last():
    parts = [f"t::test_{n}: AssertionError\n" + "x" * 500 for n in range(20)]
    joined = notes.join(parts, 1000)
    assert len(joined) <= 1000
    assert joined.startswith("t::test_0: AssertionError\n")
    assert joined.endswith("characters trimmed ...]")


def test_one_long_line_keeps_its_start_and_end_in_the_whole_limit():
    kept = notes.keep_head("a" * 5000 + "b" * 5000, 8000)
    assert 7900 <= len(kept) <= 8000
    assert kept.startswith("a")
    assert kept.endswith("b")
    assert "characters trimmed" in kept


class _Crash:
    """A failure's longrepr as pytest makes it: a crash line, and the text of all of it."""

    def __init__(self, message: str) -> None:
        self.reprcrash = SimpleNamespace(message=message)
        self.text = f"    def test():\n>       assert 0, {message!r}\nE       {message}"

    def __str__(self) -> str:
        return self.text


def test_a_node_id_longer_than_the_notes_keeps_the_error():
    nodeid = "test_l.py::test_long_id[" + "I" * 9000 + "]"
    report = SimpleNamespace(longrepr=_Crash("AssertionError: the real reason"))
    failure = notes.failure(nodeid, report, 8000)
    for text in (failure, notes.join([failure, "another part"], 8000)):
        assert "AssertionError: the real reason" in text
        assert text.startswith("test_l.py::test_long_id[III")
        assert len(text) <= 8000


def test_a_colour_code_cut_in_the_middle_leaves_no_escape():
    # pytest's "Full output truncated" can end a coloured line inside a code.
    assert "\x1b" not in notes.plain("{'b': [0\x1b[39;49;0...\nE  more")
    assert notes.plain("\x1b[1m\x1b[31mred\x1b[0m plain\x1b") == "red plain"


def test_joined_notes_give_long_parts_the_room_short_ones_leave() -> None:
    short = "t::a: skipped"
    parts = [short, "t::b: ValueError: b\n" + "b" * 3000, "t::c: KeyError: c\n" + "c" * 3000]
    joined = notes.join(parts, 1000)
    assert 990 <= len(joined) <= 1000
    assert joined.startswith(short + "\n\n")


def test_without_a_crash_line_the_error_is_the_tracebacks_last_line() -> None:
    report = SimpleNamespace(longrepr="Traceback of a plugin\n  at somewhere\nValueError: boom")
    failure = notes.failure("t.py::test_x", report, 8000)
    assert failure.startswith("t.py::test_x: ValueError: boom\n")


def test_a_huge_error_message_keeps_room_for_the_traceback() -> None:
    report = SimpleNamespace(longrepr=_Crash("ValueError: " + "m" * 6000))
    failure = notes.failure("t.py::test_x", report, 8000)
    head, _, traceback = failure.partition("\n")
    assert head.endswith(" [...]")
    assert len(head) <= 4000 + len("t.py::test_x: [...]") + 1
    assert traceback.endswith("mmm")
