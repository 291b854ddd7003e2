"""The pytest entry point (``-p no:hawzu`` disables it): options, marker and wiring."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_hawzu import cases, settings, steps, tagger
from pytest_hawzu.attachments import ATTACHER, Attacher, Source
from pytest_hawzu.settings import SPOOL_DIR_KEY
from pytest_hawzu.tagger import Tagger

if TYPE_CHECKING:
    from pytest_hawzu.sandbox import Sandbox

SETTINGS = pytest.StashKey[settings.Settings]()
SANDBOX = pytest.StashKey["Sandbox"]()
PARENT = pytest.StashKey[str | None]()  # what PARENT_ENV was before this session set it
# The test of an outer session that started this one, if any (see tagger.forget_current).
OUTER_TEST = pytest.StashKey[tagger.Outer]()


def pytest_addoption(parser: pytest.Parser) -> None:
    settings.add_options(parser)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from pytest_hawzu import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", cases.MARKER_HELP)
    s = config.stash[SETTINGS] = settings.resolve(config, os.environ)
    if _controller_not_reporting(config):
        return
    if not s.active:
        if s.sandbox:
            raise pytest.UsageError(
                "--hawzu-sandbox needs a release to report into: add --hawzu-release=1.4.0"
            )
        return
    if _runs_no_tests(config):
        return
    if _distributes_each(config):
        _refuse_dist_each(config, s)
        return
    spool_dir = _spool_dir(config, s)
    secret = os.environ.get(settings.TOKEN_ENV, "").strip()
    config.stash[ATTACHER] = Attacher(spool_dir, s.attach, secret=secret)
    if hasattr(config, "workerinput"):
        config.pluginmanager.register(Tagger(config), "hawzu-tagger")
        return
    # Only the reporting process loads the reporter (and through it, HTTP).
    from pytest_hawzu.reporter import Reporter

    url, token = _target(config, s)
    reporter = Reporter(
        config, s, url, token, spool_dir=spool_dir, sandbox=config.stash.get(SANDBOX, None)
    )
    config.pluginmanager.register(reporter, "hawzu-reporter")
    config.stash[PARENT] = os.environ.get(settings.PARENT_ENV)
    os.environ[settings.PARENT_ENV] = str(os.getpid())
    config.pluginmanager.register(Tagger(config, reporter.items_planned), "hawzu-tagger")
    if config.pluginmanager.hasplugin("xdist"):
        from pytest_hawzu.xdist_support import XdistHooks

        config.pluginmanager.register(XdistHooks(reporter), "hawzu-xdist")


def _controller_not_reporting(config: pytest.Config) -> bool:
    """An xdist worker whose controller does not report: it has nothing to tag for.

    Its environment may still say otherwise (HAWZU_RELEASE inherited by a
    nested `pytest -n 2`); the controller's own decision is what counts, and
    a reporting controller always gives its workers the spool directory.
    """
    workerinput = getattr(config, "workerinput", None)
    return workerinput is not None and SPOOL_DIR_KEY not in workerinput


# --collect-only, --setup-only, --setup-plan, --fixtures, --fixtures-per-test
# and --cache-show: sessions in which no test runs.
_NO_TESTS = (
    "collectonly",
    "setuponly",
    "setupplan",
    "showfixtures",
    "show_fixtures_per_test",
    "cacheshow",
)


def _runs_no_tests(config: pytest.Config) -> bool:
    """A session that runs no test reports nothing.

    Listing tests or fixtures where HAWZU_RELEASE is set must not leave an
    execution behind, full of cases "not executed", and a test whose fixtures
    were only set up has not passed.
    """
    return any(getattr(config.option, name, False) for name in _NO_TESTS)


DIST_EACH = (
    "--dist each runs every test on every worker, and an execution holds one result per "
    "case: use another --dist mode, or one session per environment"
)


def _distributes_each(config: pytest.Config) -> bool:
    # As xdist decides: a --dist mode and workers to start (-n N is --tx popen N times).
    option = config.option
    return getattr(option, "dist", None) == "each" and bool(getattr(option, "tx", None))


def _refuse_dist_each(config: pytest.Config, s: settings.Settings) -> None:
    """Each worker's run of a test would replace the others' in one case: report nothing."""
    if hasattr(config, "workerinput"):
        return
    if s.strict:
        raise pytest.UsageError(f"Hawzu (--hawzu-strict): {DIST_EACH}")
    config.pluginmanager.register(NotReporting(f"Hawzu: not reporting: {DIST_EACH}"))


class NotReporting:
    """Reporting was asked for and cannot be done: says so at the start and in the summary."""

    def __init__(self, line: str) -> None:
        self.line = line

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection(self, session: pytest.Session) -> None:
        # Not at session start: the terminal's own header would come after it.
        terminal = session.config.pluginmanager.get_plugin("terminalreporter")
        if terminal is not None:
            terminal.write_line(self.line)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        terminalreporter.write_sep("-", "Hawzu")
        terminalreporter.write_line(self.line)


def _spool_dir(config: pytest.Config, s: settings.Settings) -> Path:
    """One place for the journal and every attachment, fixed before any conftest or
    test changes the working directory: a relative one is the invocation directory's,
    and an xdist worker (which may run elsewhere) takes the controller's."""
    given = getattr(config, "workerinput", {}).get(SPOOL_DIR_KEY)
    return Path(given) if given else config.invocation_params.dir / s.spool_dir


def _target(config: pytest.Config, s: settings.Settings) -> tuple[str, str | None]:
    """The URL and token to report to: the sandbox's, or the configured ones."""
    if not s.sandbox:
        return s.url, os.environ.get(settings.TOKEN_ENV) or None
    sandbox = _start_sandbox()
    config.stash[SANDBOX] = sandbox
    return sandbox.url, sandbox.token


def _start_sandbox() -> Sandbox:
    try:
        from pytest_hawzu.sandbox import Sandbox
    except ImportError:
        raise pytest.UsageError(
            "--hawzu-sandbox needs werkzeug: pip install 'pytest-hawzu[sandbox]'"
        ) from None
    sandbox = Sandbox()
    sandbox.start()
    return sandbox


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    # At the session, not at configure: pytester's getitem() configures a second
    # config inside a test and runs no session, and that test is still current.
    session.config.stash[OUTER_TEST] = tagger.forget_current()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    _restore_outer(session.config)


def _restore_outer(config: pytest.Config) -> None:
    if OUTER_TEST in config.stash:
        tagger.restore_current(config.stash[OUTER_TEST])
        del config.stash[OUTER_TEST]


def pytest_unconfigure(config: pytest.Config) -> None:
    _restore_outer(config)  # a session that never finished
    if PARENT in config.stash:
        _restore_env(settings.PARENT_ENV, config.stash[PARENT])
    sandbox = config.stash.get(SANDBOX, None)
    if sandbox is not None:
        sandbox.stop()
        del config.stash[SANDBOX]


def _restore_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


@pytest.fixture(name="hawzu_step")
def hawzu_step_fixture(
    request: pytest.FixtureRequest,
) -> Callable[[str], AbstractContextManager[None]]:
    """``with hawzu_step("pay with saved card"):`` records a step of this test's Hawzu result.

    The step is FAILED if its block raised (the exception is re-raised), else
    PASSED. Also importable: ``from pytest_hawzu import hawzu_step``.
    """
    return functools.partial(steps.step_of, request.node)


@pytest.fixture(name="hawzu_attach")
def hawzu_attach_fixture(request: pytest.FixtureRequest) -> Callable[..., None]:
    """``hawzu_attach(path_or_bytes, name=None)`` attaches a file or bytes to this test's cases.

    Sent after the case's result; over 10 MiB it is left out with a warning.
    Does nothing when the session does not report to Hawzu.
    """
    attacher = request.config.stash.get(ATTACHER, None)
    item = request.node

    def attach(source: Source, name: str | None = None) -> None:
        if attacher is None:
            return
        if not tagger.is_running(item):
            # Its reports are made: nothing would carry the file to Hawzu. For
            # a test without cases attaching did nothing anyway.
            if cases.case_ids(item):
                attacher.warn_ended(item, source, name)
            return
        attacher.attach(item, source, name)

    return attach


@pytest.fixture
def hawzu_sandbox() -> Iterator[Any]:
    """A fresh in-memory Hawzu on a loopback port, for testing your own CI wiring."""
    from pytest_hawzu.sandbox import Sandbox

    with Sandbox() as sandbox:
        yield sandbox
