"""`InChild`: what the plugin's objects do in a process a test forks."""

from __future__ import annotations

import gc
import os
import sys

import pytest

from pytest_hawzu.forks import InChild


class Thing:
    def __init__(self) -> None:
        self.fixed = False


def fix(thing: Thing) -> None:
    thing.fixed = True


def test_each_live_object_is_put_right_and_a_gone_one_is_not_kept() -> None:
    things = InChild(fix)
    kept, gone = Thing(), Thing()
    things.add(kept)
    things.add(gone)
    del gone
    gc.collect()
    things._in_child()  # what the at-fork hook runs in the child
    assert kept.fixed
    assert len(things._objects) == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_a_forked_child_puts_them_right_and_the_parent_not() -> None:
    things = InChild(fix)
    thing = Thing()
    things.add(thing)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's coverage is not collected
        sys.stdout.flush()
        os._exit(0 if thing.fixed else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert not thing.fixed
