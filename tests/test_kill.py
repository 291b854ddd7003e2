"""`kill -9` in the middle of a run loses nothing that had finished.

pytest runs in its own process; once its journal holds the finished tests it
is killed with SIGKILL (no hook, no atexit, no flush), and `hawzu upload`
delivers every finished result from the journal it left behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_hawzu.stopping import sigterm_interrupts
from tests.conftest import (
    HAWZU,
    QUICK,
    SIGINT_AS_USUAL,
    assert_clean,
    assert_no_token,
    interruptible_pytest,
    only_execution,
    statuses,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")


# Five tests finish; the sixth hangs until the process is killed; the seventh never runs.
SUITE = """
import json, os, time, urllib.request
import pytest

def stored(case_id):
    url = os.environ["HAWZU_URL"] + "/_sandbox/executions"
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            data = json.load(answer)["data"]
    except OSError:
        return False
    return any(case_id in e["results"] for e in data)

@pytest.mark.hawzu("TCM-1")
def test_passes():
    pass

@pytest.mark.hawzu("TCM-2")
def test_fails():
    assert 1 == 2, "totals differ"

@pytest.mark.hawzu("TCM-3")
@pytest.mark.skip(reason="not here")
def test_skipped():
    pass

@pytest.mark.hawzu("TCM-4")
@pytest.mark.parametrize("n", range(2))
def test_params(n):
    if os.environ.get("WAIT_FOR_TCM1"):
        end = time.monotonic() + 30
        while not stored("TCM-1") and time.monotonic() < end:
            time.sleep(0.02)

@pytest.mark.hawzu("TCM-6")
def test_hangs_until_killed():
    time.sleep(120)

@pytest.mark.hawzu("TCM-7")
def test_never_runs():
    pass
"""
FINISHED = 5  # test lines in the journal before the kill
EXPECTED = {
    "TCM-1": "PASSED",
    "TCM-2": "FAILED",
    "TCM-3": "SKIPPED",
    "TCM-4": "PASSED",
    # In the planned scope but never finished: visible, and not passed.
    "TCM-6": "NOT_EXECUTED",
    "TCM-7": "NOT_EXECUTED",
}


def closed_port() -> int:
    """A loopback port nothing listens on: connections are refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def journaled_tests(spool: Path) -> int:
    count = 0
    for path in spool.glob("*.jsonl"):
        for line in path.read_text().splitlines():
            with contextlib.suppress(ValueError):  # a line being written right now
                count += json.loads(line).get("type") == "test"
    return count


@contextlib.contextmanager
def running(pytester: pytest.Pytester, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """Start pytest and yield it once FINISHED tests are journaled; kill it on the way out."""
    pytester.makepyfile(SUITE)
    spool = pytester.path / ".hawzu"
    args = ["--hawzu-release=1.4.0", "--hawzu-rate=1000", "-p", "no:xdist", *QUICK]

    def ready() -> bool:
        return journaled_tests(spool) >= FINISHED

    with started(pytester, env, args, ready, "the journal never held the finished tests") as proc:
        yield proc


@contextlib.contextmanager
def started(
    pytester: pytest.Pytester,
    env: dict[str, str],
    args: list[str],
    ready: Callable[[], bool],
    never: str,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start pytest and yield it once `ready()`; kill it on the way out."""
    log = (pytester.path / "pytest.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=pytester.path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        end = time.monotonic() + 60
        while not ready():
            assert proc.poll() is None, (pytester.path / "pytest.log").read_text()
            assert time.monotonic() < end, never
            time.sleep(0.02)
        yield proc
    finally:
        proc.kill()  # a no-op after SIGKILL; stops it if an assertion failed
        proc.wait(timeout=30)
        log.close()


def run_and_kill(pytester: pytest.Pytester, env: dict[str, str]) -> None:
    """Start pytest, wait until FINISHED tests are journaled, then SIGKILL it."""
    with running(pytester, env) as proc:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def upload(pytester: pytest.Pytester, *args: str) -> Any:
    result = pytester.run(HAWZU, "upload", ".hawzu", *args, timeout=120)
    assert_clean(result)
    assert_no_token(result, pytester.path / ".hawzu")
    return result


def test_killed_while_hawzu_is_unreachable_then_uploaded(pytester, hawzu_env):
    env = {**os.environ, "HAWZU_URL": f"http://127.0.0.1:{closed_port()}"}
    run_and_kill(pytester, env)
    assert hawzu_env.requests() == []
    [journal] = (pytester.path / ".hawzu").glob("*.jsonl")
    assert hawzu_env.token not in journal.read_text()
    # A write torn by the kill must not stop the rest from being delivered.
    with journal.open("a") as stream:
        stream.write('{"type":"test","nodeid":"test_x.py::test_tor')

    result = upload(pytester, "--url", hawzu_env.url)
    assert result.ret == 0, result.outlines
    execution = only_execution(hawzu_env)
    assert statuses(execution) == EXPECTED
    assert "totals differ" in execution["results"]["TCM-2"]["notes"]
    assert execution["status"] == "COMPLETED"
    assert list((pytester.path / ".hawzu").glob("*.jsonl")) == []


def test_killed_after_part_was_delivered_then_uploaded_into_the_same_execution(pytester, hawzu_env):
    # Hawzu is reachable: the execution exists and TCM-1 arrived before the kill.
    env = {**os.environ, "WAIT_FOR_TCM1": "1"}
    run_and_kill(pytester, env)
    execution = only_execution(hawzu_env)
    assert "TCM-1" in execution["results"]
    assert execution["status"] == "IN_PROGRESS"

    result = upload(pytester)  # the URL the journal recorded
    assert result.ret == 0, result.outlines
    execution = only_execution(hawzu_env)
    assert statuses(execution) == EXPECTED
    assert execution["status"] == "COMPLETED"


def test_upload_leaves_the_journal_of_a_running_session_alone(pytester, hawzu_env):
    # Uploading a live run's journal would complete its execution under it and
    # delete the file it is still writing to.
    env = {**os.environ, "HAWZU_URL": f"http://127.0.0.1:{closed_port()}"}
    with running(pytester, env):
        [journal] = (pytester.path / ".hawzu").glob("*.jsonl")
        before = journal.read_bytes()
        result = upload(pytester, "--url", hawzu_env.url)
        assert result.ret == 1, result.outlines
        assert result.outlines == [
            f"{journal.relative_to(pytester.path)}: in use by a running pytest session, "
            "which delivers it itself, or by another hawzu upload; if that is stuck, stop it "
            "and upload again"
        ]
        assert hawzu_env.requests() == []
        assert journal.read_bytes() == before

    # Killed, the session holds nothing any more: the journal is delivered.
    result = upload(pytester, "--url", hawzu_env.url)
    assert result.ret == 0, result.outlines
    assert statuses(only_execution(hawzu_env)) == EXPECTED


CRASH_THEN_KILL = """
import os, time
import pytest

@pytest.mark.hawzu("TCM-1")
def test_crashes_its_worker():
    os._exit(1)

@pytest.mark.hawzu("TCM-2")
def test_passes():
    pass

@pytest.mark.hawzu("TCM-3")
def test_hangs_until_killed():
    time.sleep(120)
"""


def journaled_nodeids(spool: Path) -> set[str]:
    nodeids = set()
    for path in spool.glob("*.jsonl"):
        for line in path.read_text().splitlines():
            with contextlib.suppress(ValueError):  # a line being written right now
                entry = json.loads(line)
                if entry.get("type") == "test":
                    nodeids.add(entry["nodeid"])
    return nodeids


def test_the_test_of_a_crashed_worker_survives_a_kill(pytester, hawzu_env):
    """pytest shows the test of a crashed worker as failed when the worker dies: the
    journal holds it from then on, not from the end of a session that may never come."""
    pytester.makepyfile(test_crash=CRASH_THEN_KILL)
    spool = pytester.path / ".hawzu"
    log_path = pytester.path / "pytest.log"
    args = ["--hawzu-release=1.4.0", "--hawzu-rate=1000", "-n", "2", "-v", *QUICK]
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
            cwd=pytester.path,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its workers go down with it
        )
        try:
            end = time.monotonic() + 60
            while not (
                "FAILED test_crash.py::test_crashes_its_worker" in log_path.read_text()
                and "test_crash.py::test_passes" in journaled_nodeids(spool)
            ):
                assert proc.poll() is None, log_path.read_text()
                assert time.monotonic() < end, log_path.read_text()
                time.sleep(0.02)
            # The crash is on the screen; give its journal line a moment.
            end = time.monotonic() + 5
            while "test_crash.py::test_crashes_its_worker" not in journaled_nodeids(spool):
                if time.monotonic() > end:
                    break
                time.sleep(0.02)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)

    result = upload(pytester)
    assert result.ret == 0, result.outlines
    execution = only_execution(hawzu_env)
    assert statuses(execution) == {"TCM-1": "FAILED", "TCM-2": "PASSED", "TCM-3": "NOT_EXECUTED"}
    assert "crashed" in execution["results"]["TCM-1"]["notes"]


FAILS_THEN_HANGS = """
import pathlib, time
import pytest

@pytest.fixture
def hangs_in_teardown():
    yield
    pathlib.Path("in_teardown").touch()
    time.sleep(120)

@pytest.mark.hawzu("TCM-1")
def test_passes():
    pass

@pytest.mark.hawzu("TCM-2")
def test_fails(hangs_in_teardown):
    assert False, "totals differ"
"""


def test_a_failure_killed_before_its_teardown_is_not_executed_after_upload(pytester, hawzu_env):
    """Only a session that ends keeps a running test's failure (README, Not executed):
    the journal of a killed one holds finished tests alone."""
    pytester.makepyfile(test_x=FAILS_THEN_HANGS)
    env = {**os.environ, "HAWZU_URL": f"http://127.0.0.1:{closed_port()}"}
    args = ["--hawzu-release=1.4.0", "-p", "no:xdist", *QUICK]
    in_teardown = (pytester.path / "in_teardown").exists
    with started(pytester, env, args, in_teardown, "the failed test never reached its teardown"):
        pass  # killed on the way out

    result = upload(pytester, "--url", hawzu_env.url)
    assert result.ret == 0, result.outlines
    assert statuses(only_execution(hawzu_env)) == {"TCM-1": "PASSED", "TCM-2": "NOT_EXECUTED"}


def interrupt_when(
    pytester: pytest.Pytester,
    ready: Callable[[], bool],
    signum: int = signal.SIGINT,
    stdin: bytes | None = None,
) -> tuple[int, str]:
    """Run pytest, given `stdin` if any, and send `signum` (Ctrl-C's SIGINT, or the
    SIGTERM with which CI stops a job) once `ready()` holds; its exit code and a
    clean output."""
    log_path = pytester.path / "pytest.log"
    args = ["--hawzu-release=1.4.0", "--hawzu-flush-timeout=120", "-p", "no:xdist", *QUICK]
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            interruptible_pytest("-p", "no:cacheprovider", *args),
            cwd=pytester.path,
            stdin=None if stdin is None else subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            if proc.stdin is not None:
                proc.stdin.write(stdin or b"")
                proc.stdin.close()
            end = time.monotonic() + 60
            while not ready():
                assert proc.poll() is None, log_path.read_text()
                assert time.monotonic() < end, "pytest never got where Ctrl-C was due"
                time.sleep(0.02)
            os.kill(proc.pid, signum)
            proc.wait(timeout=30)
        finally:
            proc.kill()
            proc.wait(timeout=30)
    output = log_path.read_text()
    assert "Traceback" not in output, output
    assert "KeyboardInterrupt" not in output, output
    return proc.returncode, output


# CI stops a job with SIGTERM (GitLab, Jenkins, a timeout), or with SIGINT and then
# SIGTERM a few seconds later (GitHub Actions): a flush still waiting on Hawzu then
# must end as Ctrl-C ends it, before the SIGKILL that follows, with the summary.
STOPS = pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["int", "term"])


@STOPS
def test_ctrl_c_during_the_flush_keeps_the_journal_and_the_exit_code(pytester, hawzu_env, signum):
    # Hawzu says "come back in a minute"; the user, or CI, stops waiting.
    hawzu_env.fail_next(503, 1000, retry_after=60)
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.hawzu("TCM-1")
        def test_passes():
            pass
        """
    )
    log_path = pytester.path / "pytest.log"
    returncode, output = interrupt_when(
        pytester, lambda: "uploading results to Hawzu" in log_path.read_text(), signum
    )
    assert returncode == pytest.ExitCode.OK, output  # the tests passed
    lines = output.splitlines()
    assert "not delivered: 1 result (the end-of-session flush was interrupted)" in lines
    [journal] = (pytester.path / ".hawzu").glob("*.jsonl")
    assert f"journal kept: .hawzu/{journal.name}; deliver it later with: " in output
    assert_no_token(types.SimpleNamespace(outlines=lines), pytester.path / ".hawzu")


def test_ctrl_c_during_the_flush_after_a_breakpoint_still_stops_only_the_waiting(
    pytester, hawzu_env
):
    """pdb's `continue` leaves its own SIGINT handler in place for the rest of the
    run: Ctrl-C during the flush must stop the waiting, not open the debugger in
    the plugin's wait, where quitting it loses the summary and the journal's name."""
    hawzu_env.fail_next(503, 1000, retry_after=60)
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.hawzu("TCM-1")
        def test_debugged():
            breakpoint()
        """
    )
    log_path = pytester.path / "pytest.log"
    returncode, output = interrupt_when(
        pytester,
        lambda: "uploading results to Hawzu" in log_path.read_text(),
        stdin=b"continue\n",  # the debugger's only command; then end of input
    )
    assert returncode == pytest.ExitCode.OK, output
    assert "Program interrupted" not in output, output
    assert "Quitting debugger" not in output, output
    assert "not delivered: 1 result (the end-of-session flush was interrupted)" in output
    [journal] = (pytester.path / ".hawzu").glob("*.jsonl")
    assert f"journal kept: .hawzu/{journal.name}; deliver it later with: " in output


SLOW_COMPLETION = """
import json, os, time, urllib.request
import pytest

def sandbox(path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        os.environ["HAWZU_URL"] + "/_sandbox/" + path, data=data,
        method="GET" if data is None else "POST", headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)["data"] if data is None else None

@pytest.mark.hawzu("TCM-1")
def test_one():
    pass

@pytest.mark.hawzu("TCM-2")
def test_two():
    pass

def test_slows_the_completion_down():
    end = time.monotonic() + 30
    while time.monotonic() < end:
        executions = sandbox("executions")  # none yet while the session starts up
        if executions and {"TCM-1", "TCM-2"} <= set(executions[0]["results"]):
            break
        time.sleep(0.02)
    [execution] = executions
    # Every result is in: only the completion is left to meet this.
    sandbox("faults", {"fail": {"status": 503, "retry_after": 60,
                                "path": "/executions/" + execution["id"]}})
"""


@STOPS
def test_ctrl_c_while_completing_keeps_the_journal_and_the_exit_code(pytester, hawzu_env, signum):
    pytester.makepyfile(SLOW_COMPLETION)
    returncode, output = interrupt_when(
        pytester,
        lambda: any((r.method, r.status) == ("PATCH", 503) for r in hawzu_env.requests()),
        signum,
    )
    assert returncode == pytest.ExitCode.OK, output
    assert "Hawzu: completing execution exe_1 was interrupted" in output
    assert "journal kept: " in output
    assert only_execution(hawzu_env)["status"] == "IN_PROGRESS"

    hawzu_env.clear_faults()
    result = upload(pytester)
    assert result.ret == 0, result.outlines
    assert only_execution(hawzu_env)["status"] == "COMPLETED"


HANGS = """
import pathlib, time
import pytest

@pytest.mark.hawzu("TCM-1")
def test_passes():
    pass

@pytest.mark.hawzu("TCM-2")
def test_fails():
    assert 1 == 2, "totals differ"

@pytest.mark.hawzu("TCM-3")
def test_hangs_until_cancelled():
    pathlib.Path("hanging").touch()
    time.sleep(120)
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["no-xdist", "xdist"])
def test_a_cancelled_github_job_keeps_pytests_output_and_the_journal(pytester, hawzu_env, workers):
    """GitHub Actions cancels a step with SIGINT, then SIGTERM 7.5 s later, then
    SIGKILL: a flush still waiting on Hawzu at the SIGTERM ends as Ctrl-C ends it."""
    hawzu_env.fail_next(503, 1000, retry_after=60)  # Hawzu is down for the whole run
    pytester.makepyfile(test_x=HANGS)
    log_path = pytester.path / "pytest.log"
    hanging, spool = pytester.path / "hanging", pytester.path / ".hawzu"
    args = [
        "--hawzu-release=1.4.0",
        "-p",
        "no:cacheprovider",
        *QUICK,
        *(workers or ["-p", "no:xdist"]),
    ]
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            interruptible_pytest(*args),
            cwd=pytester.path,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its workers go down with it
        )
        try:
            end = time.monotonic() + 60
            for ready, then in [
                # With xdist the hang may start first: the other two must be in.
                (lambda: hanging.exists() and journaled_tests(spool) == 2, signal.SIGINT),
                (lambda: "uploading results to Hawzu" in log_path.read_text(), signal.SIGTERM),
            ]:
                while not ready():
                    assert proc.poll() is None, log_path.read_text()
                    assert time.monotonic() < end, log_path.read_text()
                    time.sleep(0.02)
                os.kill(proc.pid, then)
            proc.wait(timeout=30)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    output = log_path.read_text()
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, output  # pytest's own
    assert "Traceback" not in output, output
    assert "totals differ" in output  # pytest's report of the failure is all there
    lines = output.splitlines()
    assert "not delivered: 3 results (the end-of-session flush was interrupted)" in lines
    [journal] = spool.glob("*.jsonl")
    assert f"journal kept: .hawzu/{journal.name}; deliver it later with: " in output

    hawzu_env.clear_faults()
    result = upload(pytester)
    assert result.ret == 0, result.outlines
    execution = only_execution(hawzu_env)
    assert statuses(execution) == {"TCM-1": "PASSED", "TCM-2": "FAILED", "TCM-3": "NOT_EXECUTED"}
    assert execution["status"] == "COMPLETED"


def interrupted_upload(pytester: pytest.Pytester, hawzu: Any, stdout: Any) -> tuple[int, str]:
    """Run `hawzu upload .hawzu`, Ctrl-C it while it waits on Hawzu; its exit code
    and what it wrote to stderr (with stdout too, when `stdout` is a pipe)."""
    hawzu.fail_next(503, 1000, retry_after=60)  # the upload waits on Hawzu
    code = f"{SIGINT_AS_USUAL}; from pytest_hawzu.cli import main; raise SystemExit(main())"
    together = stdout is subprocess.PIPE
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "upload", ".hawzu", "--url", hawzu.url],
        cwd=pytester.path,
        stdout=stdout,
        stderr=subprocess.STDOUT if together else subprocess.PIPE,
        text=True,
    )
    try:
        end = time.monotonic() + 60
        while not hawzu.requests():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < end, "hawzu upload never called Hawzu"
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        out, errors = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    return proc.returncode, out if together else errors


def test_ctrl_c_during_hawzu_upload_says_the_journal_is_kept(pytester, hawzu_env):
    """A CI step that runs `hawzu upload` can be stopped too: the user must learn
    that the journal is still there, and running the command again delivers it."""
    env = {**os.environ, "HAWZU_URL": f"http://127.0.0.1:{closed_port()}"}
    run_and_kill(pytester, env)
    returncode, output = interrupted_upload(pytester, hawzu_env, subprocess.PIPE)
    assert returncode == 130, output
    assert "Traceback" not in output, output
    assert output.splitlines()[-1] == (
        "hawzu: interrupted; a journal not delivered yet is kept: run the same hawzu upload "
        "again to deliver it"
    )
    assert len(list((pytester.path / ".hawzu").glob("*.jsonl"))) == 1

    hawzu_env.clear_faults()
    result = upload(pytester, "--url", hawzu_env.url)
    assert result.ret == 0, result.outlines
    assert statuses(only_execution(hawzu_env)) == EXPECTED


def test_sigterm_interrupts_the_wait_only_where_it_would_kill():
    def theirs(signum: int, frame: object) -> None:
        raise AssertionError("not expected")

    previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)  # as in a plain pytest
    try:
        with pytest.raises(KeyboardInterrupt), sigterm_interrupts():
            signal.raise_signal(signal.SIGTERM)
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # put back

        signal.signal(signal.SIGTERM, theirs)
        with sigterm_interrupts():
            assert signal.getsignal(signal.SIGTERM) is theirs  # someone else's stays
        assert signal.getsignal(signal.SIGTERM) is theirs
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.mark.parametrize("installed", ["default", "theirs"])
def test_an_error_in_the_wait_passes_through_as_it_is(installed: str) -> None:
    """The completion's deadline is a TimeoutError, an OSError: it must reach the
    code that reports it, whoever handles SIGTERM."""

    def theirs(signum: int, frame: object) -> None:
        raise AssertionError("not expected")

    handler = signal.SIG_DFL if installed == "default" else theirs
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        for error in (TimeoutError, ValueError):
            with pytest.raises(error), sigterm_interrupts():
                raise error
            assert signal.getsignal(signal.SIGTERM) is handler
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_sigint_left_to_a_debugger_interrupts_the_wait_and_is_put_back() -> None:
    import pdb

    debugger = pdb.Pdb()
    previous = signal.signal(signal.SIGINT, debugger.sigint_handler)  # as `continue` leaves it
    try:
        with sigterm_interrupts():
            assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        with pytest.raises(KeyboardInterrupt), sigterm_interrupts():
            signal.raise_signal(signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) == debugger.sigint_handler

        def theirs(signum: int, frame: object) -> None:
            raise AssertionError("not expected")

        signal.signal(signal.SIGINT, theirs)
        with sigterm_interrupts():
            assert signal.getsignal(signal.SIGINT) is theirs  # not a debugger's: theirs
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_second_sigterm_ends_the_process_as_before() -> None:
    """The first SIGTERM stops the waiting; from then on SIGTERM does what it
    always did, even if it lands before the wait has put the default back."""
    previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        with sigterm_interrupts():
            handler = signal.getsignal(signal.SIGTERM)
            assert callable(handler)
            with pytest.raises(KeyboardInterrupt):
                handler(signal.SIGTERM, None)
            assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_ctrl_c_during_hawzu_upload_whose_output_nobody_reads(pytester, hawzu_env):
    """`hawzu upload .hawzu | tee log`, stopped with Ctrl-C: the terminal sends
    SIGINT to both, tee is gone first, and the line for the user still comes."""
    env = {**os.environ, "HAWZU_URL": f"http://127.0.0.1:{closed_port()}"}
    run_and_kill(pytester, env)
    read, write = os.pipe()
    os.close(read)
    try:
        returncode, errors = interrupted_upload(pytester, hawzu_env, write)
    finally:
        os.close(write)
    assert returncode == 130, errors
    assert "Error" not in errors, errors
    assert errors.splitlines()[-1].startswith("hawzu: interrupted; a journal not delivered")


def test_hawzu_upload_whose_output_nobody_reads_delivers_all_the_same(pytester, hawzu_env):
    """`hawzu upload .hawzu | head -1`: the reader goes, the delivery does not."""
    env = {**os.environ, "HAWZU_URL": f"http://127.0.0.1:{closed_port()}"}
    run_and_kill(pytester, env)
    read, write = os.pipe()
    os.close(read)
    with subprocess.Popen(
        [HAWZU, "upload", ".hawzu", "--url", hawzu_env.url],
        cwd=pytester.path,
        stdout=write,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        os.close(write)
        _, errors = proc.communicate(timeout=60)
    assert proc.returncode == 0, errors
    assert "Error" not in errors, errors
    assert statuses(only_execution(hawzu_env)) == EXPECTED


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_hawzu_upload_whose_output_cannot_be_written_delivers_all_the_same(pytester, hawzu_env):
    """`hawzu upload .hawzu > log` on a full disk: the lines go nowhere, the results do."""
    env = {**os.environ, "HAWZU_URL": f"http://127.0.0.1:{closed_port()}"}
    run_and_kill(pytester, env)
    with (
        open("/dev/full", "w") as full,
        subprocess.Popen(
            [HAWZU, "upload", ".hawzu", "--url", hawzu_env.url],
            cwd=pytester.path,
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
        ) as proc,
    ):
        _, errors = proc.communicate(timeout=60)
    assert proc.returncode == 0, errors
    assert "Error" not in errors, errors
    assert statuses(only_execution(hawzu_env)) == EXPECTED
    assert list((pytester.path / ".hawzu").glob("*.jsonl")) == []


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_execution_create_whose_id_cannot_be_written_says_it_on_one_line(hawzu_env):
    """The ID is what `hawzu execution create` is for: an output that takes nothing
    fails the command, in one line that still gives the ID."""
    env = {**os.environ, "HAWZU_URL": hawzu_env.url}
    with (
        open("/dev/full", "w") as full,
        subprocess.Popen(
            [HAWZU, "execution", "create", "--release", "1.4.0"],
            env=env,
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
        ) as proc,
    ):
        _, errors = proc.communicate(timeout=60)
    execution = only_execution(hawzu_env)
    assert proc.returncode == 1, errors
    assert errors.count("\n") == 1, errors
    assert errors.startswith("hawzu: could not write the new execution's ID"), errors
    assert errors.rstrip().endswith(execution["id"]), errors


def test_a_reader_gone_during_the_flush_stops_neither_the_delivery_nor_the_completion(
    pytester, hawzu_env
):
    """`pytest | head`, its reader gone while the flush shows progress: pytest's own
    output fails from then on, but what Hawzu is about to take is delivered."""
    # Hawzu says "come back in 5 s" to the first results: the flush shows progress
    # after 2 s, and would show it again after 4 s, with nobody reading.
    hawzu_env.fail_next(503, path="/results", retry_after=5)
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.hawzu("TCM-1")
        def test_passes():
            pass

        @pytest.mark.hawzu("TCM-2")
        def test_fails():
            assert 1 == 2
        """
    )
    args = ["--hawzu-release=1.4.0", "-p", "no:xdist", "-p", "no:cacheprovider", *QUICK]
    with subprocess.Popen(
        [sys.executable, "-m", "pytest", *args],
        cwd=pytester.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        assert proc.stderr is not None
        for line in proc.stdout:
            if line.startswith("uploading results to Hawzu"):
                break
        else:
            raise AssertionError("the flush showed no progress")
        proc.stdout.close()  # the reader goes
        errors = proc.stderr.read()
        proc.wait(timeout=60)
    assert "INTERNALERROR" not in errors, errors
    execution = only_execution(hawzu_env)
    assert statuses(execution) == {"TCM-1": "PASSED", "TCM-2": "FAILED"}
    assert execution["status"] == "COMPLETED"
    assert list((pytester.path / ".hawzu").glob("*.jsonl")) == []
