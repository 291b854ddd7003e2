"""The journal and `hawzu upload`: nothing a run finished is lost to a Hawzu outage.

A run writes every finished test to its journal before the result is queued,
removes the journal once everything arrived, and otherwise keeps it and says
so. `hawzu upload` (run here as the real console script) then puts on the
server exactly what a healthy run would have put there.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_hawzu import journal
from pytest_hawzu.model import Status, TestOutcome
from pytest_hawzu.sandbox import Sandbox
from pytest_hawzu.upload import _results as upload_results
from pytest_hawzu.upload import upload_all as journal_upload_all
from tests.conftest import (
    DEBUG_LOGS,
    FAST,
    HAWZU,
    TOKEN,
    assert_clean,
    assert_no_token,
    only_execution,
    result_posts,
    statuses,
)
from tests.sandbox_helpers import Api

SUITE = """
import pytest

@pytest.fixture
def broken():
    raise RuntimeError("database is down")

@pytest.mark.hawzu("TCM-1")
def test_passes():
    pass

@pytest.mark.hawzu("TCM-2")
def test_fails():
    assert 1 == 2, "totals differ"

@pytest.mark.hawzu("TCM-3")
def test_blocked(broken):
    pass

@pytest.mark.hawzu("TCM-4")
@pytest.mark.skip(reason="not here")
def test_skipped():
    pass

@pytest.mark.hawzu("TCM-5")
@pytest.mark.parametrize("n", range(3))
def test_params(n):
    assert n != 2, "param 2 broke"

@pytest.mark.hawzu("TCM-6")
def test_deselected():
    pass
"""
EXPECTED = {
    "TCM-1": "PASSED",
    "TCM-2": "FAILED",
    "TCM-3": "BLOCKED",
    "TCM-4": "SKIPPED",
    "TCM-5": "FAILED",
}
# What a result says apart from when it ran: the same for the same outcomes.
STABLE_FIELDS = ("status", "notes", "steps", "automation")


def run(pytester: pytest.Pytester, *args: str) -> Any:
    result = pytester.runpytest(*FAST, *DEBUG_LOGS, "-k", "not deselected", *args)
    assert_clean(result)
    assert_no_token(result, pytester.path / ".hawzu")
    return result


def upload(pytester: pytest.Pytester, *args: str) -> Any:
    """`hawzu upload` as a user runs it: a new process, the token in the environment."""
    result = pytester.run(HAWZU, "upload", *args, timeout=120)
    assert_clean(result)
    assert_no_token(result, pytester.path / ".hawzu")
    return result


def journals(pytester: pytest.Pytester) -> list[Path]:
    spool = pytester.path / ".hawzu"
    return sorted(spool.glob("*.jsonl")) if spool.exists() else []


def kept_journal(result: Any, kept: str = "journal kept") -> str:
    """The journal the summary names, checked against the command it suggests."""
    match = re.search(
        rf"^{kept}: (\S+)(?: \(.+\))?; deliver it later with: hawzu upload (\S+)$",
        result.stdout.str(),
        re.M,
    )
    assert match, f"the summary does not name a {kept}"
    assert match.group(1) == match.group(2)
    return match.group(1)


def stable(execution: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {case: {k: r.get(k) for k in STABLE_FIELDS} for case, r in execution["results"].items()}


def outage_run(pytester: pytest.Pytester, sandbox: Sandbox, *args: str) -> Any:
    """A run during which Hawzu answers nothing but 503s; its journal is kept."""
    sandbox.fail_next(503, 10_000, retry_after=60)
    result = run(pytester, "--hawzu-flush-timeout=0.5", *args)
    sandbox.clear_faults()
    return result


# -- the journal during a run ------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_a_process_forked_by_a_test_does_not_hold_the_journal(pytester, hawzu_env):
    # A server a test starts with fork (multiprocessing's default on Linux) and
    # leaves running, or that a kill -9 of pytest orphans, would hold the lock
    # with the session's copy of the file: `hawzu upload` would then take the
    # kept journal for a live session's and refuse it.
    pytester.makepyfile(
        """
        import os, time
        import pytest

        @pytest.mark.hawzu("TCM-1")
        def test_starts_a_server():
            pid = os.fork()
            if pid == 0:
                time.sleep(60)
                os._exit(0)
            with open("server.pid", "w") as f:
                f.write(str(pid))
        """
    )
    result = outage_run(pytester, hawzu_env)
    server = int((pytester.path / "server.pid").read_text())
    try:
        held = journal.hold(pytester.path / kept_journal(result))
        assert held is not None, "the forked process holds the journal's lock"
        held.close()
    finally:
        os.kill(server, signal.SIGKILL)
        os.waitpid(server, 0)


@pytest.mark.skipif(sys.platform == "win32", reason="journal locks are POSIX")
def test_a_journal_is_held_by_one_open_file_at_a_time(tmp_path):
    live = journal.Journal.create(tmp_path, {"url": "http://127.0.0.1:1"})
    assert journal.hold(live.path) is None  # the session that writes it holds it
    live.close(delivered=False)
    held = journal.hold(live.path)
    assert held is not None
    with held:
        assert journal.hold(live.path) is None  # nor may a second upload take it
    second = journal.hold(live.path)
    assert second is not None
    second.close()


def full_disk(fd: int, data: bytes) -> int:
    """The journal's write(2) on a disk that takes no more bytes."""
    raise OSError(28, "No space left on device")


def test_a_journal_whose_first_line_cannot_be_written_is_no_journal(tmp_path, monkeypatch):
    # No upload could read it: the run goes on without one, and says so.
    monkeypatch.setattr(journal, "_WRITE", full_disk)
    with pytest.raises(OSError, match="its first line could not be written: No space left"):
        journal.Journal.create(tmp_path, {"url": "http://127.0.0.1:1"})
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_a_journal_deleted_and_then_unwritable_is_named_where_it_was_written_again(
    tmp_path, monkeypatch
):
    kept = journal.Journal.create(tmp_path, {"url": "http://127.0.0.1:1"})
    kept.path.unlink()  # a clean-up step during the run
    monkeypatch.setattr(journal, "_WRITE", full_disk)
    kept.test(TestOutcome("tests/t.py::test_a", ("TCM-1",), Status.PASSED))
    monkeypatch.undo()
    note = kept.close(delivered=False)
    assert kept.path.name.endswith(journal.PARTIAL)
    assert kept.path.exists()
    assert note == f"the journal was deleted during the run; written again to {kept.path}"


@pytest.mark.skipif(sys.platform == "win32", reason="journal locks are POSIX")
def test_a_new_journal_is_listed_only_once_its_session_holds_it(tmp_path, monkeypatch):
    # An upload listing the directory in between would take the live journal.
    listed_at_lock = []
    original = journal.lock

    def lock(stream: Any) -> bool:
        listed_at_lock.append(journal.find([tmp_path]))
        return original(stream)

    monkeypatch.setattr(journal, "lock", lock)
    live = journal.Journal.create(tmp_path, {"url": "http://127.0.0.1:1"})
    assert listed_at_lock == [[]]
    assert journal.find([tmp_path]) == [live.path]
    assert journal.hold(live.path) is None
    live.close(delivered=True)


def test_each_result_is_in_the_journal_before_it_is_sent(pytester, hawzu_env):
    # A spy on the client checks the journal on disk at the moment each batch goes out.
    pytester.makeconftest(
        """
        import json
        from pathlib import Path
        from pytest_hawzu import client

        original = client.HawzuClient.post_results
        missing = []

        def checking(self, execution_id, results):
            lines = [json.loads(line) for p in Path(".hawzu").glob("*.jsonl")
                     for line in p.read_text().splitlines()]
            journaled = {r["nodeid"] for r in lines if r["type"] == "test"}
            for result in results:
                missing.extend(n for n in result.nodeids if n not in journaled)
            return original(self, execution_id, results)

        def pytest_configure(config):
            client.HawzuClient.post_results = checking

        def pytest_unconfigure(config):
            client.HawzuClient.post_results = original
            Path("missing.json").write_text(json.dumps(missing))
        """
    )
    pytester.makepyfile(SUITE)
    run(pytester, "-o", "hawzu_batch_size=1")
    assert len(result_posts(hawzu_env)) >= len(EXPECTED)
    assert json.loads((pytester.path / "missing.json").read_text()) == []


def disk_full_from(name: str) -> str:
    """A conftest under which, from test `name` on, the journal's file descriptor
    writes to /dev/full: each write fails with ENOSPC, as on a full disk."""
    return f"""
import os

def pytest_runtest_setup(item):
    if item.name != {name!r}:
        return
    full = os.open("/dev/full", os.O_WRONLY)
    for fd in os.listdir("/proc/self/fd"):
        target = os.path.realpath(f"/proc/self/fd/{{fd}}")
        if "/.hawzu/" in target and target.endswith(".jsonl"):
            os.dup2(full, int(fd))
"""


DISK_FULL = disk_full_from("test_fails")
NEEDS_DEV_FULL = pytest.mark.skipif(
    not Path("/dev/full").exists(), reason="needs /dev/full and /proc"
)


@NEEDS_DEV_FULL
def test_a_journal_that_cannot_be_written_does_not_stop_the_run(pytester, hawzu_env):
    pytester.makeconftest(DISK_FULL)
    pytester.makepyfile(SUITE)
    without = pytester.runpytest("-p", "no:hawzu", "-k", "not deselected").ret
    result = run(pytester)
    assert result.ret == without
    # Said once, when it happened; the results still reached Hawzu.
    lines = [line for line in result.outlines if "could not be written" in line]
    assert len(lines) == 2, result.outlines  # when it happened, and in the summary
    assert "No space left on device" in lines[0]
    assert statuses(only_execution(hawzu_env)) == EXPECTED


THREE_PASS = """
import pytest

@pytest.mark.hawzu("TCM-1")
def test_one():
    pass

@pytest.mark.hawzu("TCM-2")
def test_two():
    pass

@pytest.mark.hawzu("TCM-3")
def test_three():
    pass
"""


def partial_journal(result: Any) -> str:
    return kept_journal(result, "partial journal kept")


@NEEDS_DEV_FULL
def test_a_partial_journal_delivers_what_it_holds_and_infers_nothing(pytester, hawzu_env):
    # The disk fills after the first test and Hawzu refuses every result: the
    # journal holds TCM-1 only, and TCM-2 and TCM-3 passed all the same.
    pytester.makeconftest(disk_full_from("test_two"))
    pytester.makepyfile(THREE_PASS)
    hawzu_env.fail_next(503, 10_000, path="/results", retry_after=60)
    result = run(pytester, "--hawzu-flush-timeout=2")
    hawzu_env.clear_faults()
    assert not re.search(r"^journal kept:", result.stdout.str(), re.M)
    path = partial_journal(result)
    assert [p.name for p in journals(pytester)] == [Path(path).name]

    uploaded = upload(pytester, ".hawzu")
    assert uploaded.ret == 1, uploaded.outlines
    uploaded.stdout.fnmatch_lines(
        [
            "*.partial.jsonl: delivered what this partial journal holds, journal removed; "
            "execution exe_1 is left open, as *: check it, and complete it in Hawzu"
        ]
    )
    execution = only_execution(hawzu_env)
    assert statuses(execution) == {"TCM-1": "PASSED"}  # no Not Executed for the others
    assert execution["status"] == "IN_PROGRESS"
    assert journals(pytester) == []  # what it held is in Hawzu


@NEEDS_DEV_FULL
@pytest.mark.parametrize("shared", [False, True], ids=["own-execution", "shared-execution"])
def test_a_partial_journal_sends_no_case_it_holds_only_some_tests_of(pytester, hawzu_env, shared):
    # TCM-2's second test failed after the disk filled: its first one alone
    # would make the case PASSED.
    pytester.makeconftest(disk_full_from("test_two[1]"))
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.hawzu("TCM-1")
        def test_one():
            pass

        @pytest.mark.hawzu("TCM-2")
        @pytest.mark.parametrize("n", range(2))
        def test_two(n, hawzu_attach):
            hawzu_attach(b"data", name=f"attempt-{n}.txt")
            assert n == 0
        """
    )
    hawzu_env.fail_next(503, 10_000, path="/results", retry_after=60)
    key = ["--hawzu-execution-key=shard-key"] if shared else []
    result = run(pytester, "--hawzu-flush-timeout=2", *key)
    hawzu_env.clear_faults()
    partial_journal(result)

    uploaded = upload(pytester, ".hawzu")
    assert uploaded.ret == 1, uploaded.outlines
    uploaded.stdout.fnmatch_lines(
        ["  not sent, as the journal holds only some of their tests: TCM-2;*"]
    )
    assert statuses(only_execution(hawzu_env)) == {"TCM-1": "PASSED"}


@NEEDS_DEV_FULL
def test_a_partial_journal_still_sends_the_attachments_of_a_case_it_holds_back(pytester, hawzu_env):
    # The run delivered TCM-2's result but none of the attachments: they go to it.
    pytester.makeconftest(disk_full_from("test_two[1]"))
    pytester.makepyfile(
        """
        import time
        import pytest

        @pytest.mark.hawzu("TCM-1")
        def test_one(request):
            # The execution is in the journal before the disk fills.
            spool = request.config.rootpath / ".hawzu"
            end = time.monotonic() + 30
            while time.monotonic() < end:
                if '"type":"execution"' in "".join(p.read_text() for p in spool.glob("*.jsonl")):
                    return
                time.sleep(0.02)

        @pytest.mark.hawzu("TCM-2")
        @pytest.mark.parametrize("n", range(2))
        def test_two(n, hawzu_attach):
            hawzu_attach(b"two", name=f"two{n}.txt")
        """
    )
    hawzu_env.fail_next(503, 10_000, path="/attachments", retry_after=60)
    result = run(pytester, "--hawzu-flush-timeout=2")
    hawzu_env.clear_faults()
    partial_journal(result)
    upload(pytester, ".hawzu").stdout.fnmatch_lines(["  attachment two0.txt of TCM-2 sent"])
    names = [a["filename"] for a in only_execution(hawzu_env)["results"]["TCM-2"]["attachments"]]
    assert names == ["two0.txt"]


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_upload_to_an_output_that_cannot_show_a_name_delivers_everything(
    pytester, hawzu_env, encoding
):
    # A CI log in ASCII or Latin-1 cannot show every character of a test's
    # names; the lines naming them must not stop the delivery.
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.hawzu("TCM-1")
        def test_caf\u00e9(hawzu_attach):
            hawzu_attach(b"one", name="re\u00e7u \u4e2d\u6587 \U0001f600.txt")

        @pytest.mark.hawzu("TCM-\u00e9")
        def test_unknown_case():
            pass
        """
    )
    outage_run(pytester, hawzu_env)
    env = {**os.environ, "PYTHONIOENCODING": encoding}
    upload = subprocess.run(
        [HAWZU, "upload", ".hawzu"],
        cwd=pytester.path,
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    out = upload.stdout.decode(encoding).splitlines()
    assert upload.stderr == b""
    # Each line as the output can show it: what it cannot, escaped.
    for line in (
        "  attachment re\u00e7u \u4e2d\u6587 \U0001f600.txt of TCM-1 sent",
        "  execution exe_1 completed",
        "  rejected TCM-\u00e9: TEST_CASE_NOT_FOUND no test case 'TCM-\u00e9'",
    ):
        assert line.encode(encoding, "backslashreplace").decode(encoding) in out, out
    assert upload.returncode == 0, out
    assert journals(pytester) == []
    execution = only_execution(hawzu_env)
    assert execution["status"] == "COMPLETED"
    names = [a["filename"] for a in execution["results"]["TCM-1"]["attachments"]]
    assert names == ["re\u00e7u \u4e2d\u6587 \U0001f600.txt"]


@NEEDS_DEV_FULL
def test_attachment_copies_the_failed_journal_does_not_name_are_not_kept(pytester, hawzu_env):
    # Only the first test's copy is named in the journal: nothing could send the others.
    pytester.makeconftest(disk_full_from("test_two"))
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.hawzu("TCM-1")
        def test_one(hawzu_attach):
            hawzu_attach(b"one", name="one.txt")

        @pytest.mark.hawzu("TCM-2")
        def test_two(hawzu_attach):
            hawzu_attach(b"two", name="two.txt")

        @pytest.mark.hawzu("TCM-3")
        def test_three(hawzu_attach):
            hawzu_attach(b"three", name="three.txt")
        """
    )
    hawzu_env.fail_next(503, 10_000, path="/attachments", retry_after=60)
    result = run(pytester, "--hawzu-flush-timeout=2")
    result.stdout.fnmatch_lines(["Hawzu: 3 attachments not sent (1 kept with the journal)"])
    copies = [p.name for p in (pytester.path / ".hawzu" / "attachments").iterdir()]
    assert len(copies) == 1
    assert copies[0].endswith("one.txt")


UNRENAMABLE = """
import pathlib

original = pathlib.Path.rename

def rename(self, target):
    if self.name.endswith(".jsonl"):
        raise PermissionError(13, "Permission denied", str(self))
    return original(self, target)

def pytest_configure(config):
    pathlib.Path.rename = rename

def pytest_unconfigure(config):
    pathlib.Path.rename = original
"""


@NEEDS_DEV_FULL
def test_a_partial_journal_that_cannot_be_renamed_is_not_offered_as_whole(pytester, hawzu_env):
    pytester.makeconftest(disk_full_from("test_two") + UNRENAMABLE)
    pytester.makepyfile(THREE_PASS)
    hawzu_env.fail_next(503, 10_000, path="/results", retry_after=60)
    result = run(pytester, "--hawzu-flush-timeout=1")
    assert "journal kept" not in result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "Hawzu: the journal * is incomplete and could not be renamed (*): rename it to "
            "*.partial.jsonl before hawzu upload, or tests missing from it are recorded "
            "as not executed"
        ]
    )


@NEEDS_DEV_FULL
def test_a_journal_that_failed_after_everything_was_delivered_is_removed(pytester, hawzu_env):
    pytester.makeconftest(disk_full_from("test_two"))
    pytester.makepyfile(THREE_PASS)
    result = run(pytester)
    assert "journal kept" not in result.stdout.str()
    assert journals(pytester) == []
    execution = only_execution(hawzu_env)
    assert set(statuses(execution).values()) == {"PASSED"}
    assert execution["status"] == "COMPLETED"


def test_a_journal_that_cannot_be_opened_is_said_after_pytest_s_header(pytester, hawzu_env):
    pytester.makepyfile(SUITE)
    (pytester.path / "spool").write_text("a file where the spool directory should be")
    result = run(pytester, "--hawzu-spool-dir=spool")
    lines = result.outlines
    said = next(i for i, line in enumerate(lines) if "Hawzu: no journal in" in line)
    header = next(i for i, line in enumerate(lines) if "test session starts" in line)
    assert header < said, lines
    assert statuses(only_execution(hawzu_env)) == EXPECTED


def test_a_delivered_run_removes_its_journal(pytester, hawzu_env):
    pytester.makepyfile(SUITE)
    result = run(pytester)
    assert statuses(only_execution(hawzu_env)) == EXPECTED
    assert journals(pytester) == []
    assert "journal kept" not in result.stdout.str()


def test_the_journal_holds_no_token_and_every_test(pytester, hawzu_env):
    pytester.makepyfile(SUITE)
    outage_run(pytester, hawzu_env)
    [path] = journals(pytester)
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert records[0]["type"] == "session"
    tests = [r["nodeid"].split("::")[-1] for r in records if r["type"] == "test"]
    assert sorted(tests) == sorted(
        ["test_passes", "test_fails", "test_blocked", "test_skipped"]
        + [f"test_params[{n}]" for n in range(3)]
    )
    assert TOKEN not in path.read_text()


# -- hawzu upload ------------------------------------------------------------------------------


def test_upload_after_an_outage_puts_what_a_healthy_run_would_have(pytester, hawzu_env):
    pytester.makepyfile(SUITE)
    run(pytester)
    healthy = only_execution(hawzu_env)
    hawzu_env.reset()

    result = outage_run(pytester, hawzu_env)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    path = kept_journal(result)
    assert (pytester.path / path).exists()
    assert hawzu_env.executions() == []
    header = json.loads((pytester.path / path).read_text().splitlines()[0])

    uploaded = upload(pytester, ".hawzu")
    assert uploaded.ret == 0, uploaded.outlines
    execution = only_execution(hawzu_env)
    assert stable(execution) == stable(healthy)
    assert execution["status"] == "COMPLETED"
    # The execution the run would have made: its title, its idempotency key.
    assert execution["title"] == header["title"]
    assert execution["idempotency_key"] == header["idempotency_key"]
    assert journals(pytester) == []


def test_upload_sends_the_duration_a_healthy_run_would_have(pytester, hawzu_env):
    # 2.5004 ms is 3 ms; rounded to the microsecond first, it was 2.5, and 2.
    pytester.makeconftest(
        """
        import dataclasses
        import pytest

        @pytest.hookimpl(optionalhook=True)
        def pytest_hawzu_result(result, report):
            return dataclasses.replace(result, duration=0.0025004)
        """
    )
    pytester.makepyfile(SUITE)
    run(pytester)
    healthy = only_execution(hawzu_env)
    hawzu_env.reset()

    outage_run(pytester, hawzu_env)
    uploaded = upload(pytester, ".hawzu")
    assert uploaded.ret == 0, uploaded.outlines
    durations = {c: r["duration_ms"] for c, r in only_execution(hawzu_env)["results"].items()}
    assert durations == {c: r["duration_ms"] for c, r in healthy["results"].items()}
    assert durations["TCM-1"] == 3


def test_upload_says_which_test_ran_when_the_run_was_interrupted(pytester, hawzu_env):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.hawzu("TCM-1")
        def test_passes():
            pass

        @pytest.mark.hawzu("TCM-2")
        def test_ctrl_c():
            raise KeyboardInterrupt

        @pytest.mark.hawzu("TCM-3")
        @pytest.mark.parametrize("n", range(2))
        def test_params(n):
            if n == 1:
                raise KeyboardInterrupt
        """
    )
    # Ctrl-C twice: in a case's only test, and in one of a case's tests.
    for interrupted in ("TCM-2", "TCM-3"):
        pytester.path.joinpath("conftest.py").write_text(
            "def pytest_collection_modifyitems(items):\n"
            f"    items[:] = [i for i in items if '{interrupted}' in str(i.own_markers)]\n"
        )
        # A subprocess: in this one, pytester passes the KeyboardInterrupt on.
        pytester.runpytest_subprocess(*FAST, timeout=120)
        healthy = only_execution(hawzu_env)
        assert "interrupted" in healthy["results"][interrupted]["notes"]
        hawzu_env.reset()

        hawzu_env.fail_next(503, 10_000, retry_after=60)
        pytester.runpytest_subprocess(*FAST, "--hawzu-flush-timeout=0.5", timeout=120)
        hawzu_env.clear_faults()
        uploaded = upload(pytester, ".hawzu")
        assert uploaded.ret == 0, uploaded.outlines
        assert stable(only_execution(hawzu_env)) == stable(healthy)
        hawzu_env.reset()


def test_upload_resends_what_the_run_delivered_harmlessly(pytester, hawzu_env):
    # Hawzu goes down after the first result arrived: the journal keeps
    # everything, the execution exists, and the upload sends it all again.
    pytester.makepyfile(
        """
        import json, os, time, urllib.request
        import pytest

        def sandbox(path, body=None):
            data = None if body is None else json.dumps(body).encode()
            request = urllib.request.Request(
                os.environ["HAWZU_URL"] + "/_sandbox/" + path, data=data,
                method="GET" if data is None else "POST",
                headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=10) as answer:
                return json.load(answer)

        @pytest.mark.hawzu("TCM-1")
        def test_first():
            pass

        @pytest.mark.hawzu("TCM-2")
        def test_takes_hawzu_down():
            end = time.monotonic() + 30
            while not any("TCM-1" in e["results"] for e in sandbox("executions")["data"]):
                assert time.monotonic() < end, "TCM-1 never arrived"
                time.sleep(0.02)
            sandbox("faults", {"fail": {"status": 503, "count": 10000, "retry_after": 60}})

        @pytest.mark.hawzu("TCM-3")
        def test_third():
            assert False
        """
    )
    result = run(pytester, "--hawzu-flush-timeout=1")
    kept_journal(result)
    execution = only_execution(hawzu_env)
    assert set(execution["results"]) == {"TCM-1"}
    assert execution["status"] == "IN_PROGRESS"

    hawzu_env.clear_faults()
    assert upload(pytester, ".hawzu").ret == 0
    execution = only_execution(hawzu_env)  # the run's execution, not a second one
    assert statuses(execution) == {"TCM-1": "PASSED", "TCM-2": "PASSED", "TCM-3": "FAILED"}
    assert execution["status"] == "COMPLETED"
    assert journals(pytester) == []


def test_upload_exits_1_and_keeps_the_journal_when_hawzu_refuses(pytester, hawzu_env):
    pytester.makepyfile(SUITE)
    outage_run(pytester, hawzu_env)
    hawzu_env.fail_next(403, 10_000)
    result = upload(pytester, ".hawzu")
    assert result.ret == 1
    # Uploading again cannot help until the refusal is dealt with: say so.
    result.stdout.fnmatch_lines(
        ["*: not delivered: *HTTP 403 *; the journal is kept: once that is fixed, run hawzu *"]
    )
    assert len(journals(pytester)) == 1


def test_upload_of_a_directory_with_nothing_left_to_send_succeeds(pytester, hawzu_env):
    # A CI step that always runs `hawzu upload .hawzu` must not fail a run
    # whose results all arrived: there is nothing undelivered.
    pytester.makepyfile(SUITE)
    run(pytester)
    assert (pytester.path / ".hawzu").is_dir()
    result = upload(pytester, ".hawzu")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*nothing to deliver*"])


# -- bad inputs: one line, never a traceback -------------------------------------------------


def test_upload_without_a_token_is_one_line(pytester, hawzu_env, monkeypatch):
    pytester.makepyfile(SUITE)
    outage_run(pytester, hawzu_env)
    monkeypatch.delenv("HAWZU_API_TOKEN")
    result = upload(pytester, ".hawzu")
    assert result.ret == 2
    assert result.errlines == [
        "hawzu: error: HAWZU_API_TOKEN is not set: export the API token created in Hawzu"
    ]
    assert len(journals(pytester)) == 1


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(None, id="missing"),
        pytest.param(b"hello\n", id="not-a-journal"),
        pytest.param(b"\xff\xfe\x00binary", id="binary"),
        pytest.param(
            b'{"type":"session","url":"URL","version":1}\n{"type":"test"}\n', id="broken-test"
        ),
        pytest.param(
            b'{"type":"session","url":"URL","version":1}\n{"type":"execution"}\n', id="broken-exe"
        ),
        pytest.param(
            b'{"type":"session","url":"URL","version":1}\n{"type":"execution","id":null}\n',
            id="null-exe",
        ),
        pytest.param(
            b'{"type":"session","url":"URL","version":1}\n'
            b'{"type":"execution","id":"exe_1","release_id":7}\n',
            id="exe-release-number",
        ),
        pytest.param(b'{"type":"session","url":"URL","version":99}\n', id="newer-version"),
        pytest.param(
            b'{"type":"session","url":"URL","version":1,"batch_size":-1}\n', id="batch-negative"
        ),
        pytest.param(
            b'{"type":"session","url":"URL","version":1,"batch_size":5000}\n', id="batch-too-big"
        ),
        pytest.param(
            b'{"type":"session","url":"URL","version":1,"batch_size":"abc"}\n', id="batch-text"
        ),
        pytest.param(
            b'{"type":"session","url":"URL","version":1,"notes_limit":"x"}\n', id="notes-limit"
        ),
        pytest.param(
            b'{"type":"session","url":"URL","version":1,"notes_limit":-5}\n', id="notes-limit-low"
        ),
        pytest.param(
            b'{"type":"session","url":"URL","version":1,"release":140}\n', id="release-number"
        ),
        pytest.param(
            b'{"type":"session","url":"URL","version":1,"execution":5}\n', id="execution-number"
        ),
        pytest.param(
            b'{"type":"session","url":"URL","version":1,"complete":"no"}\n', id="complete-text"
        ),
        pytest.param(
            b'{"type":"session","url":"URL","version":1}\n{"type":"scope","cases":[]}\n', id="scope"
        ),
        pytest.param(
            b'{"type":"session","url":"URL","version":1}\n'
            b'{"type":"test","nodeid":"t","case_ids":"TCM-1","status":"PASSED"}\n',
            id="case-ids-text",
        ),
        pytest.param(
            b'{"type":"session","url":"URL","version":1}\n'
            b'{"type":"test","nodeid":"t","case_ids":["T"],"status":"PASSED","duration":"nan"}\n',
            id="duration-nan",
        ),
        pytest.param(
            b'{"type":"session","url":"URL","version":1}\n'
            b'{"type":"test","nodeid":"t","case_ids":["T"],"status":"PASSED",'
            b'"started_at":"yesterday"}\n',
            id="started-text",
        ),
        pytest.param(b'{"type":"session","version":1}\n' + b"[" * 100_000 + b"\n", id="deep"),
        pytest.param(
            b'{"type":"session","url":"URL","version":1}\n[1]\n{"type":"end"}\n',
            id="array-inside",
        ),
    ],
)
def test_a_bad_path_is_one_line(pytester, hawzu_env, content):
    path = pytester.path / "run.jsonl"
    if content is not None:
        # URL: the sandbox, so that nothing but the damage stops the upload.
        path.write_bytes(content.replace(b'"URL"', json.dumps(hawzu_env.url).encode()))
    result = upload(pytester, str(path))
    assert result.ret == 1
    assert len([line for line in result.outlines + result.errlines if line.strip()]) == 1
    assert str(path) in (result.outlines + result.errlines)[0]
    assert hawzu_env.requests() == []


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com",
        "ftp://127.0.0.1",
        "not a url",
        "https://",
        "",
        "http://127.0.0.1:99999",
        "http://127.0.0.1:abc",
        "https://api.hawzu.com/api/v1",
    ],
)
def test_a_bad_url_is_one_line(pytester, hawzu_env, url):
    pytester.makepyfile(SUITE)
    outage_run(pytester, hawzu_env)
    result = upload(pytester, ".hawzu", "--url", url)
    assert result.ret == 2
    assert len(result.errlines) == 1
    assert result.errlines[0].startswith(f"hawzu: error: --url {url!r}: ")
    assert len(journals(pytester)) == 1


def test_a_url_with_a_password_is_refused_without_showing_it(pytester, hawzu_env):
    # requests would send the user and password as Basic auth instead of the
    # token; and a password has no business in an error line.
    pytester.makepyfile(SUITE)
    outage_run(pytester, hawzu_env)
    url = hawzu_env.url.replace("http://", "http://ci:hunter2@")
    result = upload(pytester, ".hawzu", "--url", url)
    assert result.ret == 2
    result.stderr.fnmatch_lines(
        ["hawzu: error: --url 'http://***@127.0.0.1:*': *user or password*"]
    )
    assert "hunter2" not in result.stdout.str() + result.stderr.str()
    assert len(journals(pytester)) == 1


def test_a_journal_naming_plain_http_to_a_remote_host_is_refused(pytester, hawzu_env):
    # Journals are plain files that travel between machines; one must not be
    # able to send the token in clear text to a host the plugin would refuse.
    pytester.makepyfile(SUITE)
    outage_run(pytester, hawzu_env)
    [path] = journals(pytester)
    lines = path.read_text().splitlines()
    header = json.loads(lines[0])
    header["url"] = "http://hawzu.example.com"
    path.write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    result = upload(pytester, str(path))
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*plain http is allowed only for loopback hosts*"])


@pytest.mark.parametrize(
    "option",
    [
        ["--rate", "0"],
        ["--rate", "-1"],
        ["--timeout", "0"],
        ["--rate", "nan"],
        ["--rate", "1e-12"],  # one request every 30,000 years
        ["--timeout", "1e10"],  # beyond what a socket accepts
    ],
)
def test_bad_transport_options_are_one_line(pytester, hawzu_env, option):
    pytester.makepyfile(SUITE)
    outage_run(pytester, hawzu_env)
    result = upload(pytester, ".hawzu", *option)
    assert result.ret == 2
    assert result.errlines[-1].startswith("hawzu upload: error:")
    assert len(journals(pytester)) == 1


def test_upload_counts_a_case_whose_tests_only_partly_finished_as_not_executed(tmp_path):
    # The journal of a killed run: TCM-1's second test never finished.
    contents = journal.Contents(
        path=tmp_path / "run.jsonl",
        header={"type": "session"},
        outcomes=[
            TestOutcome("t.py::test_a", ("TCM-1",), Status.PASSED),
            TestOutcome("t.py::test_c", ("TCM-2",), Status.FAILED, notes="boom"),
        ],
        scope={"TCM-1": ["t.py::test_a", "t.py::test_b"], "TCM-2": ["t.py::test_c"]},
    )
    results = {r.case_id: r for r in upload_results(contents)}
    assert {case: r.status for case, r in results.items()} == {
        "TCM-1": Status.NOT_EXECUTED,
        "TCM-2": Status.FAILED,
    }
    assert "t.py::test_b: not executed" in results["TCM-1"].notes


PASSES_THEN_FAILS = """
import pytest

@pytest.mark.hawzu("TCM-1")
def test_passes():
    pass

@pytest.mark.hawzu("TCM-2")
def test_fails():
    assert False
"""


def test_upload_counts_a_copy_of_a_test_that_never_ran_as_not_executed(pytester, hawzu_env):
    # A file given twice with --keep-duplicates: its tests are collected twice
    # under the same node IDs, and -x stops the run before test_passes' second copy.
    pytester.makepyfile(test_twice=PASSES_THEN_FAILS)
    outage_run(pytester, hawzu_env, "--keep-duplicates", "-x", "test_twice.py", "test_twice.py")
    assert upload(pytester, ".hawzu").ret == 0
    results = only_execution(hawzu_env)["results"]
    assert statuses({"results": results}) == {"TCM-1": "NOT_EXECUTED", "TCM-2": "FAILED"}
    assert "test_twice.py::test_passes: not executed" in results["TCM-1"]["notes"]


def test_one_damaged_journal_does_not_stop_the_others(pytester, hawzu_env):
    pytester.makepyfile(SUITE)
    outage_run(pytester, hawzu_env)
    [good] = journals(pytester)
    (good.parent / "a-damaged.jsonl").write_text('{"type":"session","version":1,"batch_size":-1}\n')
    result = upload(pytester, ".hawzu")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        ["*a-damaged.jsonl: a damaged session line (batch_size = -1)", "*: delivered*"]
    )
    assert statuses(only_execution(hawzu_env)) == EXPECTED


def test_upload_deletes_no_file_outside_the_spool_directory(pytester, hawzu_env):
    # A journal is a plain file: one that names somebody's file as an
    # attachment must not make hawzu upload delete it.
    pytester.makepyfile(SUITE)
    outage_run(pytester, hawzu_env)
    [kept] = journals(pytester)
    precious = pytester.path / "precious.txt"
    precious.write_text("keep me")
    record = {
        "type": "attachment",
        "path": str(precious),
        "name": "x.txt",
        "size": 7,
        "cases": ["TCM-1"],
        "nodeid": "t",
    }
    with kept.open("a") as stream:
        stream.write(json.dumps(record) + "\n")
    result = upload(pytester, ".hawzu")
    assert result.ret == 0, result.outlines
    assert precious.read_text() == "keep me"


def test_a_journal_named_twice_is_delivered_once(pytester, hawzu_env):
    pytester.makepyfile(SUITE)
    outage_run(pytester, hawzu_env)
    [kept] = journals(pytester)
    result = upload(pytester, ".hawzu", str(kept), ".hawzu/")
    assert result.ret == 0, result.outlines
    assert len([line for line in result.outlines if "delivered, journal removed" in line]) == 1
    assert statuses(only_execution(hawzu_env)) == EXPECTED


def test_upload_says_so_when_it_waits_for_hawzu(pytester, hawzu_env):
    # A Retry-After of minutes would otherwise look like a hang.
    pytester.makepyfile(SUITE)
    outage_run(pytester, hawzu_env)
    hawzu_env.fail_next(503, 1, path="/results", retry_after=2)
    result = upload(pytester, ".hawzu")
    assert result.ret == 0, result.outlines
    result.stdout.fnmatch_lines(
        ["  waiting 2 s before the next request to Hawzu*", "*delivered, journal removed"]
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_a_pipe_named_like_a_journal_is_one_line_not_a_hang(pytester, hawzu_env):
    spool = pytester.path / ".hawzu"
    spool.mkdir()
    os.mkfifo(spool / "run-x.jsonl")
    result = upload(pytester, ".hawzu")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        ["*run-x.jsonl: not a journal file (a pipe, a device or a directory)"]
    )


def test_a_directory_that_cannot_be_listed_is_not_taken_for_an_empty_one(tmp_path, monkeypatch):
    # As root (CI) a chmod cannot make a directory unreadable; the listing
    # itself is made to fail the way it does for another user.
    spool = tmp_path / ".hawzu"
    spool.mkdir()
    refuse_listing(monkeypatch, spool)
    said: list[str] = []
    ok = journal_upload_all([spool], url=None, token="t", rate=5, timeout=5, say=said.append)
    assert ok is False
    assert said == [f"{spool}: cannot read: [Errno 13] Permission denied: '{spool}'"]


def one_result_journal(spool: Path, url: str, release: str) -> journal.Journal:
    """A kept journal of one passed test, as a run that could not deliver leaves it."""
    made = journal.Journal.create(spool, {"url": url, "release": release})
    made.test(TestOutcome("t.py::a", ("TCM-1",), Status.PASSED))
    made.close(delivered=False)
    return made


def refuse_listing(monkeypatch: pytest.MonkeyPatch, directory: Path) -> None:
    """`directory` cannot be listed, as for another user without read permission
    (r): as root (CI) a chmod cannot do it."""
    listing = os.scandir

    def refuse(path: Any = ".") -> Any:
        if Path(path) == directory:
            raise PermissionError(13, "Permission denied", str(path))
        return listing(path)

    monkeypatch.setattr(os, "scandir", refuse)


def refuse_stat_under(monkeypatch: pytest.MonkeyPatch, directory: Path) -> None:
    """Files in `directory` cannot be looked at, as for another user in a directory
    without search permission (x): as root (CI) a chmod cannot do it."""
    stat = os.stat
    path_stat = Path.stat

    def refused(path: Any) -> bool:
        return isinstance(path, (str, os.PathLike)) and Path(path).parent == directory

    def refuse(path: Any, *args: Any, **kwargs: Any) -> Any:
        if refused(path):
            raise PermissionError(13, "Permission denied", str(path))
        return stat(path, *args, **kwargs)

    def refuse_path(self: Path, *args: Any, **kwargs: Any) -> Any:
        if refused(self):
            raise PermissionError(13, "Permission denied", str(self))
        return path_stat(self, *args, **kwargs)

    monkeypatch.setattr(os, "stat", refuse)
    # Python 3.10's pathlib holds os.stat from before the patch.
    monkeypatch.setattr(Path, "stat", refuse_path)


def test_a_directory_that_cannot_be_listed_does_not_keep_the_others_from_hawzu(
    tmp_path, hawzu_env, monkeypatch
):
    good = tmp_path / "good"
    made = one_result_journal(good, hawzu_env.url, "1.4.0")
    locked = tmp_path / "locked"
    locked.mkdir()
    refuse_listing(monkeypatch, locked)
    said: list[str] = []
    ok = journal_upload_all(
        [locked, good], url=None, token=TOKEN, rate=1000, timeout=10, say=said.append
    )
    assert ok is False
    assert said[0] == f"{locked}: cannot read: [Errno 13] Permission denied: '{locked}'"
    assert f"{made.path}: delivered, journal removed" in said
    assert statuses(only_execution(hawzu_env)) == {"TCM-1": "PASSED"}


@pytest.mark.parametrize("named", [False, True], ids=["listed", "named"])
def test_a_journal_in_a_directory_that_cannot_be_searched_is_one_line(
    tmp_path, hawzu_env, monkeypatch, named
):
    # Listed (r) but not searchable (x): its names are there, the files are not.
    good = tmp_path / "good"
    made = one_result_journal(good, hawzu_env.url, "1.4.0")
    blind = tmp_path / "blind"
    hidden = one_result_journal(blind, hawzu_env.url, "1.4.0").path
    refuse_stat_under(monkeypatch, blind)
    said: list[str] = []
    ok = journal_upload_all(
        [hidden if named else blind, good],
        url=None,
        token=TOKEN,
        rate=1000,
        timeout=10,
        say=said.append,
    )
    assert ok is False
    assert said[0] == f"{hidden}: cannot read: [Errno 13] Permission denied: '{hidden}'"
    assert f"{made.path}: delivered, journal removed" in said
    assert statuses(only_execution(hawzu_env)) == {"TCM-1": "PASSED"}
    monkeypatch.undo()
    assert hidden.exists()  # kept: nothing was read from it


def test_a_listed_journal_gone_before_its_turn_was_delivered_by_someone_else(tmp_path, monkeypatch):
    # Its run, or another upload, delivered and removed it meanwhile.
    gone = tmp_path / "run-gone.jsonl"
    monkeypatch.setattr(journal, "find", lambda paths, unreadable: [gone])
    said: list[str] = []
    ok = journal_upload_all([tmp_path], url=None, token="t", rate=5, timeout=5, say=said.append)
    assert ok is True
    assert said == [f"{gone}: gone before its turn (delivered by its run or another upload)"]


def test_upload_advice_names_what_the_journal_recorded_not_pytest_options(pytester, hawzu_env):
    spool = pytester.mkdir(".hawzu")
    one_result_journal(spool, hawzu_env.url, "9.9")
    result = upload_anyway(pytester, str(spool))
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*release '9.9' not found*the journal recorded*"])
    assert "--hawzu-" not in result.stdout.str()


def test_a_journal_with_nothing_to_report_opens_no_execution(pytester, hawzu_env):
    # A run killed before its first test finished and before start-up did.
    spool = pytester.path / ".hawzu"
    made = journal.Journal.create(spool, {"url": hawzu_env.url, "release": "1.4.0"})
    made.close(delivered=False)
    result = upload(pytester, str(spool))
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*: no result to report, journal removed"])
    assert hawzu_env.executions() == []
    assert journals(pytester) == []


# -- journals left in odd states ----------------------------------------------------------


def test_a_journal_kept_only_because_the_run_died_after_completing_is_finished(pytester, hawzu_env):
    # Killed right after the completion went through: every result is in a
    # completed execution, and the journal is still there.
    pytester.makeconftest(
        """
        import os, signal
        from pytest_hawzu import client

        original = client.HawzuClient.complete_execution

        def complete_and_die(self, execution_id, **kwargs):
            done = original(self, execution_id, **kwargs)
            os.kill(os.getpid(), signal.SIGKILL)
            return done

        client.HawzuClient.complete_execution = complete_and_die
        """
    )
    pytester.makepyfile(SUITE)
    pytester.runpytest_subprocess(*FAST, "-k", "not deselected")
    assert only_execution(hawzu_env)["status"] == "COMPLETED"
    assert len(journals(pytester)) == 1
    posts = len([r for r in hawzu_env.requests() if r.method == "POST"])
    result = upload(pytester, ".hawzu")
    assert result.ret == 0, result.outlines
    assert journals(pytester) == []
    # Nothing was sent again into the completed execution.
    assert len([r for r in hawzu_env.requests() if r.method == "POST"]) == posts


def test_a_completed_execution_gets_advice_that_can_help(pytester, hawzu_env):
    pytester.makepyfile(SUITE)
    result = outage_run(pytester, hawzu_env)
    path = kept_journal(result)
    hawzu_env.clear_faults()
    api = Api(hawzu_env)
    execution = api.new_execution()
    api.patch(f"/executions/{execution['id']}", json={"status": "COMPLETED"})
    api.close()
    journal.append(pytester.path / path, {"type": "execution", "id": execution["id"]})
    result = upload_anyway(pytester, path)
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [f"*execution {execution['id']} is COMPLETED*: if its results are already there, delete*"]
    )


def test_a_journal_that_cannot_be_removed_is_not_said_to_be(pytester, hawzu_env, monkeypatch):
    pytester.makepyfile(SUITE)
    outage_run(pytester, hawzu_env)
    (kept,) = journals(pytester)
    original = Path.unlink

    def refuse(self, missing_ok=False):
        if self.suffix == ".jsonl":
            raise PermissionError(1, "Operation not permitted")
        return original(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", refuse)
    said: list[str] = []
    assert journal_upload_all([kept], url=None, token=TOKEN, rate=1000, timeout=10, say=said.append)
    assert (
        f"{kept}: delivered; the journal could not be removed (Operation not permitted): delete it"
        in said
    )
    assert not any("journal removed" in line for line in said)


def test_a_journal_named_through_a_link_is_removed_itself(pytester, hawzu_env):
    pytester.makepyfile(SUITE)
    outage_run(pytester, hawzu_env)
    (kept,) = journals(pytester)
    links = pytester.mkdir("links")
    (links / kept.name).symlink_to(kept)
    assert upload(pytester, str(links)).ret == 0
    assert journals(pytester) == []


@pytest.mark.parametrize(
    "record",
    [
        '"started_at":"yesterday"',
        '"started_at":NaN',
        '"duration":Infinity',
        '"duration":"1.5"',
        '"case_ids":"TCM-1"',
    ],
)
def test_a_damaged_test_record_stops_only_its_journal(pytester, hawzu_env, record):
    spool = pytester.mkdir(".hawzu")
    header = json.dumps({"type": "session", "version": 1, "url": hawzu_env.url, "release": "1.4.0"})
    good = '{"type":"test","nodeid":"t.py::b","case_ids":["TCM-1"],"status":"passed"}'
    cases = "" if record.startswith('"case_ids"') else '"case_ids":["TCM-2"],'
    bad = '{"type":"test","nodeid":"t.py::a",' + cases + '"status":"passed",' + record + "}"
    (spool / "run-a.jsonl").write_text(f"{header}\n{bad}\n")
    (spool / "run-b.jsonl").write_text(f"{header}\n{good}\n")
    result = upload_anyway(pytester, str(spool))
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*run-a.jsonl: a damaged 'test' record (*"])
    assert [p.name for p in journals(pytester)] == ["run-a.jsonl"]  # b was delivered
    assert statuses(only_execution(hawzu_env)) == {"TCM-1": "PASSED"}


def upload_anyway(pytester: pytest.Pytester, *args: str) -> Any:
    """`hawzu upload` expected to fail: still no traceback, still no token."""
    result = pytester.run(HAWZU, "upload", *args, timeout=120)
    assert_clean(result)
    return result


def execution_of(path: Path) -> str:
    records = [json.loads(line) for line in path.read_text().splitlines()]
    return next(r["id"] for r in records if r["type"] == "execution")


@pytest.mark.parametrize("kind", ["test", "scope", "execution"])
def test_an_unreadable_line_inside_a_journal_stops_only_its_journal(pytester, hawzu_env, kind):
    # A kill -9 tears only the last line: one cut short with lines after it is
    # damage, and skipping it would report its case as not executed, or not at all.
    pytester.makepyfile(SUITE)
    for _ in range(2):
        hawzu_env.fail_next(503, 10_000, path="/results", retry_after=60)
        run(pytester, "--hawzu-flush-timeout=0.5")
        hawzu_env.clear_faults()
    damaged, good = journals(pytester)
    damaged_id, good_id = execution_of(damaged), execution_of(good)
    lines = damaged.read_text().splitlines(keepends=True)
    number = next(i for i, line in enumerate(lines, 1) if json.loads(line)["type"] == kind)
    assert number < len(lines)
    lines[number - 1] = lines[number - 1][:30] + "\n"
    damaged.write_text("".join(lines))

    result = upload_anyway(pytester, ".hawzu")
    assert result.ret == 1
    shown = damaged.relative_to(pytester.path)
    said = [line for line in result.outlines if line.startswith(f"{shown}:")]
    assert len(said) == 1, result.outlines
    assert fnmatch.fnmatch(
        said[0],
        f"{shown}: line {number} is damaged*the journal is kept: repair line {number}*"
        "run hawzu upload again",
    ), said
    assert journals(pytester) == [damaged]
    assert damaged.read_text() == "".join(lines)  # nothing noted in it either
    executions = {e["id"]: e for e in hawzu_env.executions()}
    assert executions[damaged_id]["results"] == {}
    assert statuses(executions[good_id]) == EXPECTED


def test_a_torn_last_line_stays_torn_under_what_an_upload_noted_after_it(pytester, hawzu_env):
    # A killed run tore its last line; an upload that failed later noted after
    # it an attachment it had sent. The torn line is still the run's end.
    spool = pytester.mkdir(".hawzu")
    header = json.dumps({"type": "session", "version": 1, "url": hawzu_env.url, "release": "1.4.0"})
    good = '{"type":"test","nodeid":"t.py::a","case_ids":["TCM-1"],"status":"passed"}'
    path = spool / "run-a.jsonl"
    path.write_text(f'{header}\n{good}\n{{"type":"test","nodeid":"t.py::b","case')
    journal.append(path, {"type": "attachment_done", "path": "/gone/x.txt", "case": "TCM-1"})
    result = upload(pytester, str(spool))
    assert result.ret == 0, result.outlines
    assert statuses(only_execution(hawzu_env)) == {"TCM-1": "PASSED"}


@pytest.mark.parametrize(
    ("release", "advice", "fix"),
    [
        pytest.param(
            ("rel_20", "proj_202"),
            '*needs a project: add "project": "<ID>" to the journal\'s first line; the token '
            "sees projects: proj_101, proj_202; the journal is kept: once that is fixed, *",
            {"project": "proj_101"},
            id="no-project",
        ),
        pytest.param(
            ("rel_21", "proj_101"),
            "*2 releases are named '1.4.0' in project proj_101 (rel_7, rel_21): put the "
            'release ID in the journal\'s first line ("release": "<ID>"); the journal is kept: *',
            {"release": "rel_7"},
            id="name-shared",
        ),
    ],
)
def test_a_release_the_journal_names_ambiguously_gets_advice_that_works(
    pytester, hawzu_env, release, advice, fix
):
    # hawzu upload has no --release or --project: what to change is the journal.
    release_id, project = release
    if project != "proj_101":
        hawzu_env.add_project(project, "Billing", "BIL")
    hawzu_env.add_release(release_id, "1.4.0", project, "IN_PROGRESS")
    spool = pytester.mkdir(".hawzu")
    made = one_result_journal(spool, hawzu_env.url, "1.4.0")
    result = upload_anyway(pytester, str(spool))
    assert result.ret == 1
    result.stdout.fnmatch_lines([f"{made.path}: not delivered: {advice}"])
    assert hawzu_env.executions() == []
    first, *rest = made.path.read_text().splitlines(keepends=True)
    made.path.write_text("".join([json.dumps({**json.loads(first), **fix}) + "\n", *rest]))
    assert upload(pytester, str(spool)).ret == 0
    execution = only_execution(hawzu_env)
    assert execution["release_id"] == "rel_7"
    assert statuses(execution) == {"TCM-1": "PASSED"}


def test_a_journal_saved_with_a_byte_order_mark_is_read(pytester, hawzu_env):
    pytester.makepyfile(SUITE)
    outage_run(pytester, hawzu_env)
    (kept,) = journals(pytester)
    kept.write_bytes(b"\xef\xbb\xbf" + kept.read_bytes())
    assert upload(pytester, ".hawzu").ret == 0
    assert set(statuses(only_execution(hawzu_env))) == set(EXPECTED)


def test_a_link_loop_is_one_line_and_the_other_journals_go(pytester, hawzu_env):
    pytester.makepyfile(SUITE)
    outage_run(pytester, hawzu_env)
    spool = pytester.path / ".hawzu"
    (spool / "run-loop-a.jsonl").symlink_to(spool / "run-loop-b.jsonl")
    (spool / "run-loop-b.jsonl").symlink_to(spool / "run-loop-a.jsonl")
    result = upload_anyway(pytester, str(spool))
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*run-loop-a.jsonl: cannot read: *"])
    assert set(statuses(only_execution(hawzu_env))) == set(EXPECTED)


@pytest.mark.parametrize("delivered", [False, True], ids=["kept", "delivered"])
def test_an_upload_sent_elsewhere_does_not_post_into_a_stranger_execution(
    pytester, hawzu_env, delivered
):
    # The journal's execution ID means something else on the server --url
    # names: there it belongs to another release, and must not be touched.
    other = Sandbox(token=hawzu_env.token).start()
    try:
        other.add_release("rel_9", "2.0.0")
        api = Api(other)
        stranger = api.new_execution(release_id="rel_9", title="someone else's nightly")
        api.close()
        spool = pytester.mkdir(".hawzu")
        made = journal.Journal.create(spool, {"url": hawzu_env.url, "release": "1.4.0"})
        made.execution(stranger["id"], "")
        made.test(TestOutcome("t.py::a", ("TCM-1",), Status.PASSED))
        if delivered:  # the run died while completing it
            made.delivered()
        made.close(delivered=False)
        result = upload_anyway(pytester, str(spool), "--url", other.url)
        assert result.ret == 1
        result.stdout.fnmatch_lines([f"*execution {stranger['id']} belongs to release rel_9*"])
        assert other.executions()[0]["results"] == {}
        assert other.executions()[0]["status"] == "IN_PROGRESS"
    finally:
        other.stop()


def execution_only_run(pytester: pytest.Pytester, sandbox: Sandbox, *, opened: bool) -> str:
    """A shard that joins `hawzu execution create`'s execution, no release given,
    and keeps its journal: only its results fail (`opened`), or Hawzu was down."""
    made = pytester.run(HAWZU, "execution", "create", "--release", "1.4.0", timeout=60)
    assert made.ret == 0, made.errlines
    execution_id: str = made.outlines[-1]
    pytester.makepyfile(SUITE)
    sandbox.fail_next(503, 10_000, path="/results" if opened else None, retry_after=60)
    assert FAST[0].startswith("--hawzu-release=")
    result = pytester.runpytest(
        *FAST[1:],  # no release: the execution alone
        "-k",
        "not deselected",
        f"--hawzu-execution={execution_id}",
        "--hawzu-flush-timeout=0.5",
    )
    sandbox.clear_faults()
    header = json.loads((pytester.path / kept_journal(result)).read_text().splitlines()[0])
    assert (header["release"], header["execution"]) == (None, execution_id)
    return execution_id


def forget_release_ids(path: Path) -> None:
    """As a journal written before the execution's release was recorded."""
    records = [json.loads(line) for line in path.read_text().splitlines()]
    for record in records:
        record.pop("release_id", None)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


@pytest.mark.parametrize("journal_of", ["opened", "old-journal", "never-opened"])
def test_a_moved_upload_of_a_run_given_only_an_execution_is_never_posted_to_a_stranger(
    pytester, hawzu_env, journal_of
):
    execution_id = execution_only_run(pytester, hawzu_env, opened=journal_of != "never-opened")
    if journal_of == "old-journal":
        forget_release_ids(journals(pytester)[0])
    other = Sandbox(token=hawzu_env.token).start()
    try:
        other.add_release("rel_9", "2.0.0")
        api = Api(other)
        stranger = api.new_execution(release_id="rel_9", title="someone else's nightly")
        api.close()
        assert stranger["id"] == execution_id  # IDs mean something else on each server
        asked = len(other.requests())
        result = upload_anyway(pytester, ".hawzu", "--url", other.url)
        assert result.ret == 1
        if journal_of == "opened":
            why = f"*execution {execution_id} belongs to release rel_9, not to the run's (rel_7)*"
        else:
            why = (
                f"*.jsonl: not sent to {other.url}: the journal recorded execution "
                f"{execution_id} but not its release, *; the journal is kept: upload it "
                f"without --url, to {hawzu_env.url}"
            )
            assert len(other.requests()) == asked  # nothing asked, the token not sent
        result.stdout.fnmatch_lines([why])
        assert other.executions()[0]["results"] == {}
        assert len(journals(pytester)) == 1
    finally:
        other.stop()


def test_a_moved_upload_to_an_execution_of_no_named_release_is_refused(
    pytester, hawzu_env, httpserver
):
    execution_id = execution_only_run(pytester, hawzu_env, opened=True)
    httpserver.expect_request("/api/v1/me").respond_with_json({"projects": [{"id": "p"}]})
    httpserver.expect_request(f"/api/v1/executions/{execution_id}").respond_with_json(
        {"id": execution_id, "status": "IN_PROGRESS"}
    )
    result = upload_anyway(pytester, ".hawzu", "--url", httpserver.url_for("/").rstrip("/"))
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            f"*Hawzu does not say which release execution {execution_id} belongs to, so it "
            "cannot be checked against the run's (rel_7): upload without --url*"
        ]
    )
    assert all(request.method == "GET" for request, _ in httpserver.log)
    assert len(journals(pytester)) == 1


def test_a_moved_upload_into_the_runs_own_execution_goes_through(pytester, hawzu_env):
    # The same Hawzu under another name: the recorded release proves the
    # execution is the run's own.
    execution_id = execution_only_run(pytester, hawzu_env, opened=True)
    elsewhere = hawzu_env.url.replace("127.0.0.1", "localhost")
    result = upload(pytester, ".hawzu", "--url", elsewhere)
    assert result.ret == 0, result.outlines
    execution = only_execution(hawzu_env)
    assert execution["id"] == execution_id
    assert statuses(execution) == EXPECTED
    assert execution["status"] == "IN_PROGRESS"  # a shard leaves it open
    assert journals(pytester) == []


CHDIR_AT_IMPORT = """
import os

# A conftest that moves to its data before the session starts.
os.makedirs("data", exist_ok=True)
os.chdir("data")
"""

ATTACHING_FAILURE = """
import pytest

@pytest.mark.hawzu("TCM-1")
def test_attaches(hawzu_attach):
    hawzu_attach(b"x", name="x.txt")
    assert 0
"""


@pytest.mark.parametrize("outage", [False, True], ids=["delivered", "kept"])
def test_a_relative_spool_directory_is_the_invocation_directorys_whatever_the_cwd(
    pytester, hawzu_env, monkeypatch, outage
):
    if outage:
        hawzu_env.fail_next(503, 10_000, path="/results", retry_after=60)
    pytester.makeconftest(CHDIR_AT_IMPORT)
    pytester.makepyfile(ATTACHING_FAILURE)
    result = pytester.runpytest_subprocess(*FAST, "--hawzu-flush-timeout=1", timeout=120)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert not (pytester.path / "data" / ".hawzu").exists()
    spool = pytester.path / ".hawzu"
    if not outage:
        assert list(spool.glob("*.jsonl")) == []
        assert list((spool / "attachments").glob("*")) == []
        return
    (journal,) = spool.glob("*.jsonl")
    result.stdout.fnmatch_lines([f"journal kept: .hawzu/{journal.name}; *"])
    assert len(list((spool / "attachments").glob("*-x.txt"))) == 1  # beside it


DELETES_THE_SPOOL = """
import shutil
import pytest

@pytest.mark.hawzu("TCM-1")
def test_one():
    pass

@pytest.mark.hawzu("TCM-2")
def test_cleans_up():
    shutil.rmtree(".hawzu")  # a clean-up step, or a spool inside --basetemp

@pytest.mark.hawzu("TCM-3")
def test_three():
    pass
"""


def test_a_journal_deleted_during_the_run_is_written_again_when_it_must_be_kept(
    pytester, hawzu_env
):
    hawzu_env.fail_next(503, 10_000, path="/results", retry_after=60)
    pytester.makepyfile(DELETES_THE_SPOOL)
    result = pytester.runpytest(*FAST, "--hawzu-flush-timeout=1")
    result.stdout.fnmatch_lines(["Hawzu: the journal was deleted during the run; written again*"])
    (journal,) = (pytester.path / ".hawzu").glob("*.jsonl")
    hawzu_env.clear_faults()
    upload = pytester.run(HAWZU, "upload", str(journal), timeout=120)
    assert upload.ret == 0, upload.stdout.str()
    execution = only_execution(hawzu_env)
    assert statuses(execution) == {"TCM-1": "PASSED", "TCM-2": "PASSED", "TCM-3": "PASSED"}


def test_one_upload_keeps_one_request_budget_across_its_journals(pytester, hawzu_env):
    """What the server's headers said about the budget still holds for the next journal."""
    pytester.makepyfile(SUITE)
    outage_run(pytester, hawzu_env)
    outage_run(pytester, hawzu_env)
    kept = journals(pytester)
    assert len(kept) == 2
    hawzu_env.reset()
    hawzu_env.set_rate_limit(3)  # a burst of 3, then 3 a second; headers on every answer
    said: list[str] = []
    assert journal_upload_all(kept, url=None, token=TOKEN, rate=1000, timeout=10, say=said.append)
    refused = [(r.method, r.path) for r in hawzu_env.requests() if r.status == 429]
    assert refused == [], said
    assert len(hawzu_env.executions()) == 2
