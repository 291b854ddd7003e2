"""Shared fixtures: a sandbox Hawzu on loopback, and pytester sessions that report to it."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_hawzu.sandbox import Sandbox
from tests.sandbox_helpers import Api

TOKEN = "s3cr3t-token-for-tests-only"
# The `hawzu` command of the Python running the tests, run as users run it.
HAWZU = str(Path(sys.executable).with_name("hawzu"))

# Environment that would change what a session reports: cleared for every test.
HAWZU_VARS = [v for v in os.environ if v.startswith("HAWZU_")]
CI_VARS = ["GITHUB_ACTIONS", "GITLAB_CI", "JENKINS_URL", "CIRCLECI", "TF_BUILD", "BUILDKITE"]


@pytest.fixture(scope="module")
def server() -> Iterator[Sandbox]:
    """One sandbox per module for the sandbox's own tests; `sb` resets it per test."""
    with Sandbox() as sandbox:
        yield sandbox


@pytest.fixture
def sb(server: Sandbox) -> Sandbox:
    server.reset()
    return server


@pytest.fixture
def api(sb: Sandbox) -> Iterator[Api]:
    client = Api(sb)
    yield client
    client.close()


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(token=TOKEN) as sb:
        yield sb


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in [*HAWZU_VARS, *CI_VARS, "PYTEST_XDIST_AUTO_NUM_WORKERS"]:
        monkeypatch.delenv(var, raising=False)
    # pytester restores sys.modules after each in-process run, so hypothesis's
    # plugin would be imported afresh every time: over a second per session.
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:hypothesispytest")


@pytest.fixture
def hawzu_env(monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox) -> Sandbox:
    """Point pytester sessions at the sandbox, with its token in the environment."""
    monkeypatch.setenv("HAWZU_API_TOKEN", sandbox.token)
    monkeypatch.setenv("HAWZU_URL", sandbox.url)
    return sandbox


def only_execution(sandbox: Sandbox) -> dict[str, Any]:
    executions = sandbox.executions()
    assert len(executions) == 1, [e["id"] for e in executions]
    return executions[0]


def upload_kept(path: Path, sandbox: Sandbox) -> tuple[bool, list[str]]:
    """`hawzu upload PATH` to the sandbox, in this process: whether everything
    was delivered, and the lines it said."""
    from pytest_hawzu import upload

    said: list[str] = []
    ok = upload.upload_all(
        [path], url=sandbox.url, token=sandbox.token, rate=1000, timeout=10, say=said.append
    )
    return ok, said


def statuses(execution: dict[str, Any]) -> dict[str, str]:
    return {case: r["status"] for case, r in execution["results"].items()}


def result_posts(sandbox: Sandbox) -> list[Any]:
    return [r for r in sandbox.requests() if r.method == "POST" and r.path.endswith("/results")]


# -- delivery tests: fast sessions, and no trace of the token anywhere ------------------

# In-process sessions re-import hypothesis for its terminal summary, seconds each time.
QUICK = ("-p", "no:hypothesispytest")
# pytest 9 reports subtests (its `subtests` fixture, unittest's subTest) itself;
# pytest 8 has no such fixture and passes a failed subTest over.
NEEDS_PYTEST_SUBTESTS = pytest.mark.skipif(
    pytest.version_tuple < (9,), reason="subtests are reported by pytest 9 and later"
)
# A rate high enough that the throttle never shapes a test that is not about it.
FAST = ("--hawzu-release=1.4.0", "--hawzu-rate=1000", "-p", "no:xdist", *QUICK)
# requests and urllib3 log at DEBUG; showing every record live proves none holds the token.
DEBUG_LOGS = ("--log-level=DEBUG", "-o", "log_cli=true", "-o", "log_cli_level=DEBUG")


def spool_files(spool_dir: Any) -> list[Any]:
    """Every file under `spool_dir` (a pathlib.Path), journals and anything else."""
    return sorted(p for p in spool_dir.rglob("*") if p.is_file()) if spool_dir.exists() else []


def assert_no_token(result: Any, spool_dir: Any = None, token: str = TOKEN) -> None:
    """The token is in no output line, no log record shown, no journal or spool file."""
    for name in ("outlines", "errlines"):
        text = "\n".join(getattr(result, name, []) or [])
        assert token not in text, f"token leaked into {name}"
    if spool_dir is not None:
        for path in spool_files(spool_dir):
            assert token.encode() not in path.read_bytes(), f"token leaked into {path}"


def assert_clean(result: Any) -> None:
    """Hawzu trouble never shows up as pytest's or Python's crash output."""
    text = "\n".join([*result.outlines, *result.errlines])
    assert "INTERNALERROR" not in text
    assert "Traceback" not in text
    assert "Exception in thread" not in text


# Run as the first statement of a Python child that a test stops with SIGINT.
# A shell starts background jobs with SIGINT ignored, children inherit that,
# and Python then never raises KeyboardInterrupt: a test run started in the
# background would wait for an interrupt that cannot arrive.
SIGINT_AS_USUAL = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler)"


def interruptible_pytest(*args: str) -> list[str]:
    """`python -m pytest ARGS` that SIGINT interrupts, as it does a pytest in a terminal."""
    code = (
        f"{SIGINT_AS_USUAL}; import runpy, sys; sys.argv[0] = 'pytest'; "
        "runpy.run_module('pytest', run_name='__main__', alter_sys=True)"
    )
    return [sys.executable, "-c", code, *args]


def unremovable(condition: str) -> str:
    """A conftest under which removing a path for which `condition` (an expression
    of `self`, a pathlib.Path) holds fails as in a read-only spool directory."""
    return f"""
import pathlib

original = pathlib.Path.unlink

def unlink(self, missing_ok=False):
    if {condition}:
        raise PermissionError(13, "Permission denied", str(self))
    return original(self, missing_ok=missing_ok)

def pytest_configure(config):
    pathlib.Path.unlink = unlink

def pytest_unconfigure(config):
    pathlib.Path.unlink = original
"""
