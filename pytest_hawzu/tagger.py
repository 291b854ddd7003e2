"""Runs where tests run (an xdist worker, or the only process): tags reports with case IDs.

The tags are plain JSON-safe attributes on the report, which xdist already
serialises to the controller; nothing here touches the network, and only
attachments (see `attachments.py`) touch the disk.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Generator, Mapping, Sequence
from contextvars import ContextVar, Token
from typing import Any

import pytest

from pytest_hawzu import cases
from pytest_hawzu.attachments import ATTACHER, remove_files
from pytest_hawzu.failures import internal_error
from pytest_hawzu.text import valid

SCOPE_KEY = "hawzu_scope"
# On the reports of a test's attempt after its first within one run of its
# protocol (flaky runs the protocol again in the same call): how many attempts
# ended before it. Absent on a first attempt, that is on nearly every report.
ATTEMPT_KEY = "hawzu_attempt"
TAG = "hawzu"  # the report attribute; JSON-safe, so xdist carries it as it is
_NO_EXTRAS: dict[str, Any] = {}
PLUGIN_NAME = "hawzu-tagger"
_STEPS = pytest.StashKey[list[dict[str, Any]]]()
# The item whose protocol is running, so that the module-level `hawzu_step` needs
# no fixture. A ContextVar rather than a global: plugins that run tests in other
# contexts (async runners) see their own value.
_CURRENT: ContextVar[pytest.Item | None] = ContextVar("hawzu_current_item", default=None)
# Every test whose protocol is running in this process, outermost first (a
# session nested in a test runs its own): a thread a test starts does not
# inherit its context, and tells its own test from a later one by this.
_running: list[pytest.Item] = []
# What a nested session saves of the current test, to put back at its end.
Outer = Token[pytest.Item | None]


class Tagger:
    """Registered in every process when reporting is on."""

    def __init__(
        self,
        config: pytest.Config,
        on_items: Callable[[Sequence[pytest.Item]], None] | None = None,
    ) -> None:
        self.config = config
        self.on_items = on_items
        self._unsent_scope: str | None = None
        self._collected = False
        self._planned = False
        # Teardown reports made in the running test's protocol: each ends an attempt.
        self._attempts = 0
        # Attachment files on the running test's reports, by attempt: flaky never
        # logs a hidden attempt's setup or call report, so nothing else would
        # send or remove their files. Only the final attempt's are sent.
        self._files: list[tuple[int, list[dict[str, Any]]]] = []

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        cases.warn_if_bad(item)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> Generator[None, object, object]:
        token = _CURRENT.set(item)
        _running.append(item)
        self._attempts = 0
        try:
            return (yield)
        finally:
            _CURRENT.reset(token)
            _running.remove(item)
            self._forget_earlier_attempts()

    def _forget_earlier_attempts(self) -> None:
        final = self._attempts - 1  # each attempt ended with a teardown report
        for attempt, files in self._files:
            if attempt < final:
                remove_files(files)
        self._files.clear()
        self._attempts = 0

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        attempt = self._attempts
        if attempt:
            setattr(report, ATTEMPT_KEY, attempt)
        if report.when == "teardown":
            self._attempts += 1
        ids = cases.case_ids(item)
        if ids:
            setattr(report, TAG, self._tag(item, ids, report, attempt))
        elif _STEPS in item.stash:
            del item.stash[_STEPS]
        if self._unsent_scope is not None:
            # A worker's output arrives only when it shuts down cleanly; a worker
            # that crashes or is torn down by Ctrl-C never sends it. Its first
            # report carries the scope too, so the controller knows it early.
            setattr(report, SCOPE_KEY, self._unsent_scope)
            self._unsent_scope = None
        return report

    def _tag(self, item: pytest.Item, ids: tuple[str, ...], report: Any, attempt: int) -> Any:
        """What the controller needs from this report (see `read_tag`)."""
        extra: dict[str, Any] = {}
        if _STEPS in item.stash:
            extra["steps"] = item.stash[_STEPS]
            del item.stash[_STEPS]
        files = self._attachments(item, report)
        if files:
            extra["attachments"] = files
            self._files.append((attempt, files))
        if not extra:
            # The common case: the item's own tuple of case IDs, shared by all of
            # its reports, which pytest's terminal reporter keeps to the end.
            return ids
        return {"cases": list(ids), **extra}

    def _attachments(self, item: pytest.Item, report: Any) -> list[dict[str, Any]]:
        attacher = self.attacher
        if attacher is None:
            return []
        try:
            files: list[dict[str, Any]] = attacher.collect(item, report)
        except Exception as exc:  # a bug here must not stop the user's tests
            # Said by the controller, as attachments that could not be kept are.
            # Valid text: a bug's message may quote a name execnet cannot carry.
            error = valid(f"were not kept: {internal_error(exc)}")
            return [{"phase": report.when, "error": error}]
        return files

    @property
    def attacher(self) -> Any:
        return self.config.stash.get(ATTACHER, None)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self) -> None:
        self._collected = True

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        # pytest calls this even when collection raised (Ctrl-C during an
        # import): the items are then those found so far, never deselected
        # by -k or -m, and not the session's plan.
        if not self._collected:
            return
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is not None:
            # Reaches the controller when this worker shuts down.
            scope = pack_scope(plan_scope(session.items))
            workeroutput[SCOPE_KEY] = scope
            self._unsent_scope = scope
        else:
            self._planned = True

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_collection(self, session: pytest.Session) -> Generator[None, object, object]:
        result = yield
        # Not at collection_finish: pytest checks the ini file (--strict-config)
        # after it, and an unknown key stops the run with a usage error before
        # any test, as a mistyped path does. A plan made before that would open
        # an execution of cases "not executed" for a run that never started.
        if self._planned and self.on_items is not None:
            # The reporter is in this process: it reads the items themselves
            # when it needs them, rather than holding a copy for the whole run.
            self.on_items(session.items)
        return result


def plan_scope(items: Sequence[pytest.Item]) -> dict[str, list[str]]:
    """Case ID to node IDs for every selected test: what the execution should cover."""
    scope: dict[str, list[str]] = {}
    for item in items:
        for case_id in cases.case_ids(item):
            scope.setdefault(case_id, []).append(item.nodeid)
    return scope


def pack_scope(scope: Mapping[str, list[str]]) -> str:
    """The scope as one JSON string for xdist to carry.

    execnet serialises in pure Python, object by object: a suite's scope as a
    dict costs a worker and the controller milliseconds per thousand tests,
    twice per worker; one string costs next to nothing.
    """
    return json.dumps(scope, separators=(",", ":"))


def unpack_scope(packed: object) -> dict[str, list[str]] | None:
    """The scope `pack_scope` made; None for anything else."""
    if not isinstance(packed, str):
        return None
    try:
        scope = json.loads(packed)
    except ValueError:
        return None
    return scope if isinstance(scope, dict) else None


def shared_cases(items: Sequence[pytest.Item]) -> set[str]:
    """The case IDs that more than one of these tests reports to."""
    seen: set[str] = set()
    shared: set[str] = set()
    for item in items:
        for case_id in cases.case_ids(item):
            (shared if case_id in seen else seen).add(case_id)
    return shared


def read_tag(report: Any) -> tuple[tuple[str, ...], dict[str, Any]] | None:
    """Case IDs and extras from a report's tag; None for a test without cases.

    A tag is the case IDs alone (a tuple, or a list once xdist has carried it),
    or a dict with them under "cases" and the phase's steps and attachments.
    """
    tag = getattr(report, TAG, None)
    if tag is None:
        return None
    if isinstance(tag, dict):
        return tuple(tag["cases"]), tag
    return (tag if isinstance(tag, tuple) else tuple(tag)), _NO_EXTRAS


def record_step(item: pytest.Item, step: dict[str, Any]) -> None:
    """Keep a user step (from `hawzu_step`) for the report of the current phase."""
    item.stash.setdefault(_STEPS, []).append(step)


def current_item() -> pytest.Item | None:
    """The test whose protocol is running in this context, if any."""
    return _CURRENT.get()


def is_running(item: pytest.Item) -> bool:
    """The item's protocol is running here (in this context, or in the process
    for a thread it started): its reports are still to be made."""
    return _CURRENT.get() is item or item in _running


def forget_current() -> Outer:
    """A session starts: the test that started it (pytester, pytest.main) is not one of its own."""
    return _CURRENT.set(None)


def restore_current(token: Outer) -> None:
    """The session ends: the test that started it is current again."""
    with contextlib.suppress(ValueError):  # ended in another context than it started in
        _CURRENT.reset(token)
