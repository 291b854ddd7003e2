"""Attachments: files, bytes and captured output that follow a case's result to Hawzu."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_hawzu.client import MAX_ATTACHMENT_BYTES, MAX_ATTACHMENT_NAME
from tests.conftest import FAST, QUICK, assert_clean, only_execution, unremovable, upload_kept

XDIST = ("--hawzu-release=1.4.0", "--hawzu-rate=1000", "-n", "2", *QUICK)
MODES = [pytest.param(FAST, id="no-xdist"), pytest.param(XDIST, id="n2")]


def attached(sandbox: Any, case_id: str) -> dict[str, bytes]:
    """Attachment name to content, as the sandbox stored them for `case_id`."""
    result = only_execution(sandbox)["results"][case_id]
    return {a["filename"]: sandbox.attachment(a["id"]) for a in result["attachments"]}


def spooled(pytester: pytest.Pytester) -> list[Path]:
    """Attachment files left in the spool directory."""
    spool = pytester.path / ".hawzu" / "attachments"
    return sorted(spool.iterdir()) if spool.exists() else []


def journals(pytester: pytest.Pytester) -> list[Path]:
    spool = pytester.path / ".hawzu"
    return sorted(spool.glob("*.jsonl")) if spool.exists() else []


# -- hawzu_attach -----------------------------------------------------------------------

ATTACH = """
import pytest

@pytest.mark.hawzu("TCM-1", "TCM-2")
def test_receipt(hawzu_attach, tmp_path):
    screenshot = tmp_path / "screen.png"
    screenshot.write_bytes(b"\\x89PNG fake")
    hawzu_attach(screenshot)
    hawzu_attach(str(screenshot), name="again.png")
    hawzu_attach(b'{"total": 12}', name="receipt.json")
    hawzu_attach(b"raw")
    screenshot.unlink()  # gone before the upload: a copy was kept

@pytest.mark.hawzu("TCM-3")
def test_nothing_attached():
    pass

def test_unmarked(hawzu_attach):
    hawzu_attach(b"nowhere to go", name="lost.txt")
"""


@pytest.mark.parametrize("mode", MODES)
def test_files_and_bytes_reach_every_case_of_the_test(pytester, hawzu_env, mode):
    pytester.makepyfile(test_attach=ATTACH)
    result = pytester.runpytest(*mode)
    assert result.ret == pytest.ExitCode.OK
    expected = {
        "screen.png": b"\x89PNG fake",
        "again.png": b"\x89PNG fake",
        "receipt.json": b'{"total": 12}',
        "attachment.bin": b"raw",
    }
    assert attached(hawzu_env, "TCM-1") == expected
    assert attached(hawzu_env, "TCM-2") == expected
    assert attached(hawzu_env, "TCM-3") == {}
    # Sent, so neither the journal nor the copies are kept.
    assert spooled(pytester) == []
    assert journals(pytester) == []


def test_attachments_go_out_after_their_case_s_result(pytester, hawzu_env):
    pytester.makepyfile(test_attach=ATTACH)
    pytester.runpytest(*FAST)
    paths = [r.path for r in hawzu_env.requests() if r.method == "POST"]
    first_attachment = next(i for i, p in enumerate(paths) if p.endswith("/attachments"))
    results = [i for i, p in enumerate(paths) if p.endswith("/results")]
    assert results
    assert results[0] < first_attachment


def test_attaching_does_nothing_when_the_session_does_not_report(pytester, hawzu_env):
    pytester.makepyfile(test_attach=ATTACH)
    result = pytester.runpytest(*QUICK)
    result.assert_outcomes(passed=3)
    assert hawzu_env.executions() == []
    assert not (pytester.path / ".hawzu").exists()


# -- captured output -----------------------------------------------------------------------

OUTPUT = """
import logging
import sys

import pytest

@pytest.fixture
def noisy():
    print("connecting")
    yield
    print("disconnecting")

@pytest.mark.hawzu("TCM-1")
def test_fails(noisy):
    print("total is 13")
    print("retrying", file=sys.stderr)
    logging.getLogger("shop").warning("slow payment")
    assert False

@pytest.mark.hawzu("TCM-2")
def test_passes():
    print("all good")

@pytest.mark.hawzu("TCM-3")
def test_quiet_failure():
    assert False
"""

FAILED_OUTPUT = {
    "test_fails-stdout.txt": b"connecting\ntotal is 13\ndisconnecting\n",
    "test_fails-stderr.txt": b"retrying\n",
}


@pytest.mark.parametrize("mode", MODES)
def test_by_default_failed_tests_attach_their_captured_output(pytester, hawzu_env, mode):
    pytester.makepyfile(test_output=OUTPUT)
    pytester.runpytest(*mode)
    files = attached(hawzu_env, "TCM-1")
    assert {k: v for k, v in files.items() if k in FAILED_OUTPUT} == FAILED_OUTPUT
    assert set(files) == {*FAILED_OUTPUT, "test_fails-log.txt"}
    assert b"slow payment" in files["test_fails-log.txt"]
    assert attached(hawzu_env, "TCM-2") == {}
    assert attached(hawzu_env, "TCM-3") == {}  # nothing captured, nothing attached


def test_attach_all_includes_passing_tests(pytester, hawzu_env):
    pytester.makepyfile(test_output=OUTPUT)
    pytester.runpytest(*FAST, "--hawzu-attach=all")
    assert attached(hawzu_env, "TCM-2") == {"test_passes-stdout.txt": b"all good\n"}
    assert set(attached(hawzu_env, "TCM-1")) == {*FAILED_OUTPUT, "test_fails-log.txt"}


def test_attach_none_attaches_no_output_but_keeps_explicit_attachments(pytester, hawzu_env):
    pytester.makepyfile(test_output=OUTPUT, test_attach=ATTACH)
    pytester.runpytest(*FAST, "--hawzu-attach=none")
    assert attached(hawzu_env, "TCM-1") != {}  # from test_attach.py
    assert not any(name.startswith("test_fails") for name in attached(hawzu_env, "TCM-1"))


def test_an_unknown_attach_setting_is_a_usage_error(pytester, hawzu_env):
    pytester.makepyfile(test_output=OUTPUT)
    result = pytester.runpytest(*FAST, "--hawzu-attach=some")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--hawzu-attach='some': expected one of none, failed, all*"])


# -- too large: a warning, never a failure ---------------------------------------------------


def test_attachments_over_ten_mib_are_left_out_with_a_warning(pytester, hawzu_env):
    pytester.makepyfile(
        test_big=f"""
        import pytest

        @pytest.mark.hawzu("TCM-1")
        def test_big(hawzu_attach, tmp_path):
            video = tmp_path / "video.mp4"
            video.write_bytes(b"v" * {MAX_ATTACHMENT_BYTES + 1})
            hawzu_attach(video)
            hawzu_attach(b"d" * {MAX_ATTACHMENT_BYTES + 1}, name="dump.bin")
            hawzu_attach(b"small", name="small.txt")
        """
    )
    result = pytester.runpytest(*FAST, "-W", "error")
    assert result.ret == pytest.ExitCode.OK
    assert_clean(result)
    result.stdout.fnmatch_lines(
        [
            "Hawzu: attachment video.mp4 (*video.mp4) of test_big.py::test_big is 10.0 MiB,"
            " over Hawzu's 10 MiB limit; skipped",
            "Hawzu: attachment dump.bin of test_big.py::test_big is 10.0 MiB, over *; skipped",
        ]
    )
    assert attached(hawzu_env, "TCM-1") == {"small.txt": b"small"}
    assert only_execution(hawzu_env)["results"]["TCM-1"]["status"] == "PASSED"


# -- not sent: kept with the journal for `hawzu upload` --------------------------------------


def test_unsent_attachments_are_kept_and_delivered_by_hawzu_upload(pytester, hawzu_env):
    hawzu_env.fail_next(500, 1000, path="/attachments")
    pytester.makepyfile(test_attach=ATTACH)
    result = pytester.runpytest(*FAST, "--hawzu-flush-timeout=1")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*attachments not sent, kept with the journal"])
    result.stdout.fnmatch_lines(["journal kept: *"])
    assert attached(hawzu_env, "TCM-1") == {}
    assert only_execution(hawzu_env)["status"] == "IN_PROGRESS"
    assert len(spooled(pytester)) == 4

    hawzu_env.clear_faults()
    ok, said = upload_kept(pytester.path / ".hawzu", hawzu_env)
    assert ok, said
    assert set(attached(hawzu_env, "TCM-1")) == {
        "screen.png",
        "again.png",
        "receipt.json",
        "attachment.bin",
    }
    assert len(attached(hawzu_env, "TCM-2")) == 4
    assert only_execution(hawzu_env)["status"] == "COMPLETED"
    assert spooled(pytester) == []
    assert journals(pytester) == []


def test_an_execution_completed_elsewhere_while_attaching_is_said_so(pytester, hawzu_env):
    hawzu_env.fail_next(409, 1000, path="/attachments", code="EXECUTION_LOCKED")
    pytester.makepyfile(test_attach=ATTACH)
    result = pytester.runpytest(*FAST)
    result.stdout.fnmatch_lines(["execution * (completed elsewhere): *"])


def test_progress_counts_the_attachments_still_to_send(pytester, hawzu_env):
    # Each try waits a second: the flush is still busy with them after two.
    hawzu_env.fail_next(503, 1000, path="/attachments", retry_after=1)
    pytester.makepyfile(test_attach=ATTACH)
    result = pytester.runpytest(*FAST, "--hawzu-flush-timeout=3.5")
    result.stdout.fnmatch_lines(
        ["uploading results to Hawzu... 3 sent, 0 waiting, 8 attachments to send"]
    )


def test_a_moved_spool_directory_still_delivers_its_attachments(pytester, hawzu_env):
    # A CI job keeps .hawzu/ as an artifact; a later job uploads it from
    # another directory, where the recorded absolute paths do not exist.
    hawzu_env.fail_next(500, 1000, path="/attachments")
    pytester.makepyfile(test_attach=ATTACH)
    pytester.runpytest(*FAST, "--hawzu-flush-timeout=1")
    hawzu_env.clear_faults()
    moved = pytester.path / "artifact"
    (pytester.path / ".hawzu").rename(moved)
    ok, said = upload_kept(moved, hawzu_env)
    assert ok, said
    assert len(attached(hawzu_env, "TCM-1")) == 4
    assert not any("gone" in line for line in said), said
    assert list((moved / "attachments").iterdir()) == []


def test_hawzu_upload_does_not_send_an_attachment_twice(pytester, hawzu_env):
    # Only the second case's uploads fail: the first case's went out during the run.
    hawzu_env.fail_next(500, 1000, path="/TCM-2/attachments")
    pytester.makepyfile(test_attach=ATTACH)
    pytester.runpytest(*FAST, "--hawzu-flush-timeout=1")
    assert len(attached(hawzu_env, "TCM-1")) == 4
    assert attached(hawzu_env, "TCM-2") == {}

    hawzu_env.clear_faults()
    ok, said = upload_kept(pytester.path / ".hawzu", hawzu_env)
    assert ok, said
    result = only_execution(hawzu_env)["results"]
    assert len(result["TCM-1"]["attachments"]) == 4
    assert len(result["TCM-2"]["attachments"]) == 4
    assert spooled(pytester) == []


def test_an_attachment_hawzu_refuses_is_reported_and_not_retried(pytester, hawzu_env):
    hawzu_env.fail_next(413, 1, path="/attachments")
    pytester.makepyfile(test_attach=ATTACH)
    result = pytester.runpytest(*FAST)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["Hawzu did not take attachment * of TCM-*: HTTP 413*"])
    uploads = [r for r in hawzu_env.requests() if r.path.endswith("/attachments")]
    assert len(uploads) == 8  # 4 files x 2 cases, the refused one not retried
    assert spooled(pytester) == []
    assert journals(pytester) == []


# -- text that is not valid Unicode ---------------------------------------------------------

# A Latin-1 name read on a UTF-8 system: Python holds its byte as a lone surrogate.
NOT_UTF8_NAME = """
import logging
import os
import pytest

NAME = b"caf\\xe9".decode("utf-8", "surrogateescape")
"""

NOT_UTF8_ATTACHMENTS = (
    NOT_UTF8_NAME
    + """
@pytest.mark.hawzu("TCM-1")
def test_attaches_files_named_in_latin1(hawzu_attach, tmp_path):
    raw = os.path.join(os.fsencode(tmp_path), b"r\\xe9sum\\xe9.txt")
    with open(raw, "wb") as f:
        f.write(b"report")
    (path,) = tmp_path.iterdir()
    hawzu_attach(path)
    hawzu_attach(b"data", name=NAME + ".bin")

@pytest.mark.hawzu("TCM-2")
def test_after():
    pass
"""
)


@pytest.mark.parametrize("mode", MODES)
def test_attachment_names_that_are_not_utf8_reach_hawzu_readable(pytester, hawzu_env, mode):
    pytester.makepyfile(test_odd=NOT_UTF8_ATTACHMENTS)
    result = pytester.runpytest(*mode)
    assert_clean(result)
    assert result.ret == pytest.ExitCode.OK
    execution = only_execution(hawzu_env)
    assert execution["status"] == "COMPLETED"
    assert {c: r["status"] for c, r in execution["results"].items()} == {
        "TCM-1": "PASSED",
        "TCM-2": "PASSED",
    }
    assert attached(hawzu_env, "TCM-1") == {
        "r\ufffdsum\ufffd.txt": b"report",
        "caf\ufffd.bin": b"data",
    }
    assert journals(pytester) == []


NOT_UTF8_LOG = (
    NOT_UTF8_NAME
    + """
@pytest.mark.hawzu("TCM-1")
def test_logs_a_latin1_name():
    logging.getLogger("app").warning("opening %s", NAME)
    assert False

@pytest.mark.hawzu("TCM-2")
def test_after():
    pass
"""
)


def test_captured_logs_that_are_not_utf8_are_attached_as_they_were(pytester, hawzu_env):
    # Not under xdist: execnet itself cannot carry such a report to the controller.
    # In a process of its own: in this one the record would reach this test's own log.
    pytester.makepyfile(test_odd=NOT_UTF8_LOG)
    result = pytester.runpytest_subprocess(*FAST, "--show-capture=no", timeout=120)
    assert_clean(result)
    result.assert_outcomes(failed=1, passed=1)
    execution = only_execution(hawzu_env)
    assert {c: r["status"] for c, r in execution["results"].items()} == {
        "TCM-1": "FAILED",
        "TCM-2": "PASSED",
    }
    (log,) = [v for k, v in attached(hawzu_env, "TCM-1").items() if k.endswith("-log.txt")]
    assert b"opening caf\xe9" in log


# -- the file system says no ------------------------------------------------------------------


LATER_RESULTS = """
import pytest

@pytest.mark.hawzu("TCM-1")
def test_attaches(hawzu_attach):
    hawzu_attach(b"a", name="a.bin")

@pytest.mark.hawzu("TCM-2")
@pytest.mark.parametrize("i", range(3))
def test_later(i):
    assert i != 1

@pytest.mark.hawzu("TCM-3")
def test_last():
    pass
"""


def test_a_sent_copy_that_cannot_be_removed_stops_nothing(pytester, hawzu_env):
    pytester.makeconftest(unremovable('self.parent.name == "attachments"'))
    pytester.makepyfile(LATER_RESULTS)
    # One result a batch: the later ones go out after the attachment.
    result = pytester.runpytest(*FAST, "-o", "hawzu_batch_size=1")
    assert_clean(result)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["Hawzu: could not remove the sent copy *a.bin* (*denied*): delete it"]
    )
    execution = only_execution(hawzu_env)
    assert execution["status"] == "COMPLETED"
    assert {c: r["status"] for c, r in execution["results"].items()} == {
        "TCM-1": "PASSED",
        "TCM-2": "FAILED",
        "TCM-3": "PASSED",
    }
    assert len(execution["results"]["TCM-1"]["attachments"]) == 1
    assert journals(pytester) == []


SAME_NAMES = """
import pytest

@pytest.mark.hawzu("TCM-1")
@pytest.mark.parametrize("i", range(3))
def test_shot(i, hawzu_attach):
    hawzu_attach(b"png%d" % i, name="screenshot.png")
"""


def test_attachments_not_sent_are_counted_each_even_with_one_name(pytester, hawzu_env):
    hawzu_env.fail_next(503, 10_000, path="/attachments", retry_after=60)
    pytester.makepyfile(SAME_NAMES)
    result = pytester.runpytest(*FAST, "--hawzu-flush-timeout=1")
    result.stdout.fnmatch_lines(["Hawzu: 3 attachments not sent, kept with the journal"])


# Reading a copy fails as it does once a test has left the process out of file
# descriptors: the copy is there, and a later `hawzu upload` can read it.
UNREADABLE_COPIES = """
import errno, os, pathlib

original = pathlib.Path.read_bytes

def read_bytes(self):
    if self.parent.name == "attachments":
        raise OSError(errno.EMFILE, os.strerror(errno.EMFILE), str(self))
    return original(self)

def pytest_configure(config):
    pathlib.Path.read_bytes = read_bytes

def pytest_unconfigure(config):
    pathlib.Path.read_bytes = original
"""


def test_a_copy_that_cannot_be_read_for_now_is_kept_for_hawzu_upload(pytester, hawzu_env):
    pytester.makeconftest(UNREADABLE_COPIES)
    pytester.makepyfile(test_attach=ATTACH)
    result = pytester.runpytest(*FAST)
    assert_clean(result)
    assert result.ret == pytest.ExitCode.OK
    # Said once, not once per attachment, and not taken for a file that is gone.
    result.stdout.fnmatch_lines(
        ["Hawzu: attachment * not sent: its copy could not be read (Too many open files)"]
    )
    assert "its file is gone" not in result.stdout.str()
    result.stdout.fnmatch_lines(["Hawzu: 8 attachments not sent, kept with the journal"])
    result.stdout.fnmatch_lines(["journal kept: *"])
    assert only_execution(hawzu_env)["status"] == "IN_PROGRESS"
    assert len(spooled(pytester)) == 4

    ok, said = upload_kept(pytester.path / ".hawzu", hawzu_env)
    assert ok, said
    assert len(attached(hawzu_env, "TCM-1")) == 4
    assert len(attached(hawzu_env, "TCM-2")) == 4
    assert only_execution(hawzu_env)["status"] == "COMPLETED"
    assert spooled(pytester) == []


def test_a_copy_the_spool_cannot_take_is_not_blamed_on_the_users_file(pytester, hawzu_env):
    (pytester.path / "spool").write_text("a file where the spool directory should be")
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.hawzu("TCM-1")
        def test_attaches(hawzu_attach, tmp_path):
            report = tmp_path / "report.txt"
            report.write_text("fine")
            hawzu_attach(report)
        """
    )
    result = pytester.runpytest(*FAST, "--hawzu-spool-dir=spool")
    result.stdout.fnmatch_lines(["Hawzu: attachment report.txt of * could not be kept in *"])
    assert "could not be read" not in result.stdout.str()


def test_a_spool_that_takes_no_copy_is_said_once_with_a_count(pytester, hawzu_env):
    (pytester.path / "spool").write_text("a file where the spool directory should be")
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.hawzu("TCM-1")
        @pytest.mark.parametrize("i", range(5))
        def test_prints_and_fails(i):
            print("output", i)
            assert 0
        """
    )
    result = pytester.runpytest(*FAST, "--hawzu-spool-dir=spool")
    said = [line for line in result.outlines if "could not be kept in" in line]
    assert len(said) == 2, said  # live, and again in the summary
    result.stdout.fnmatch_lines(
        ["Hawzu: 4 more attachments could not be kept for the same reason; skipped"]
    )


def test_a_test_the_result_hook_empties_leaves_no_copy_behind(pytester, hawzu_env):
    pytester.makeconftest(
        """
import dataclasses

def pytest_hawzu_result(result, report):
    if result.nodeid.endswith("test_a"):
        return dataclasses.replace(result, case_ids=())
"""
    )
    pytester.makepyfile(
        """
import pytest

@pytest.mark.hawzu("TCM-1")
def test_a(hawzu_attach):
    hawzu_attach(b"xx", name="b.json")

@pytest.mark.hawzu("TCM-2")
def test_b(hawzu_attach):
    hawzu_attach(b"yy", name="c.bin")
"""
    )
    pytester.runpytest(*FAST)
    assert attached(hawzu_env, "TCM-2") == {"c.bin": b"yy"}
    assert spooled(pytester) == []


NEVER_FINISHES = """
import pytest

@pytest.fixture
def shot(hawzu_attach):
    hawzu_attach(b"screenshot", name="shot.png")
    yield

@pytest.mark.hawzu("TCM-1")
def test_stops(shot):
    pytest.exit("stop")
"""


@pytest.mark.parametrize("removable", [True, False], ids=["spool", "read-only-spool"])
def test_attachments_of_a_test_that_never_finished_leave_no_copy(pytester, hawzu_env, removable):
    # Nothing will send them; one the spool does not let go of only takes room.
    if not removable:
        pytester.makeconftest(unremovable('self.parent.name == "attachments"'))
    pytester.makepyfile(NEVER_FINISHES)
    result = pytester.runpytest(*FAST)
    assert "internal error" not in result.stdout.str()
    execution = only_execution(hawzu_env)
    assert execution["status"] == "COMPLETED"
    assert execution["results"]["TCM-1"]["status"] == "NOT_EXECUTED"
    if removable:
        assert spooled(pytester) == []


# Fails on its first attempt and passes on the next, attaching a file in each.
FLAKY = """
import pytest

@pytest.mark.hawzu("TCM-1")
def test_flaky(hawzu_attach, tmp_path_factory):
    marker = tmp_path_factory.getbasetemp() / "tried"
    first = not marker.exists()
    marker.touch()
    hawzu_attach(b"x", name="first.txt" if first else "second.txt")
    print("attempt", "first" if first else "second")  # a failure's output is kept
    assert not first
"""


def test_only_the_final_attempt_of_a_rerun_attaches(pytester, hawzu_env):
    pytester.makepyfile(FLAKY)
    result = pytester.runpytest(*FAST, "--reruns", "1")
    result.stdout.fnmatch_lines(["*1 passed, 1 rerun*"])
    assert attached(hawzu_env, "TCM-1") == {"second.txt": b"x"}
    assert spooled(pytester) == []


def test_a_void_attempt_without_a_teardown_report_attaches_nothing(pytester, hawzu_env):
    # pytest-rerunfailures 14 logs a void attempt's reports up to the one it
    # reruns for and no teardown report: the conftest does as it does.
    pytester.makeconftest(
        """
import pytest
from _pytest.runner import runtestprotocol

@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    for last in (False, True):
        item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        for report in runtestprotocol(item, nextitem=nextitem, log=False):
            if report.failed and not last:
                report.outcome = "rerun"
            item.ihook.pytest_runtest_logreport(report=report)
            if report.outcome == "rerun":
                break
        item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        if report.outcome != "rerun":
            return True
    return True
"""
    )
    pytester.makepyfile(FLAKY)
    result = pytester.runpytest(*FAST)
    result.stdout.fnmatch_lines(["*1 passed*"])
    assert attached(hawzu_env, "TCM-1") == {"second.txt": b"x"}
    assert spooled(pytester) == []


LATE = """
import pytest

kept = []

@pytest.mark.hawzu("TCM-1")
def test_keeps_the_fixture(hawzu_attach):
    kept.append(hawzu_attach)

@pytest.mark.hawzu("TCM-2")
def test_attaches_to_the_ended_test():
    kept[0](b"too late", name="late.txt")

def test_without_a_case_keeps_the_fixture(hawzu_attach):
    kept.append(hawzu_attach)

def test_attaches_to_it_after_it_ended():
    kept[1](b"did nothing anyway", name="quiet.txt")
"""


@pytest.mark.parametrize(
    "mode",
    # loadfile: both tests in one worker, where the first kept its fixture.
    [pytest.param(FAST, id="no-xdist"), pytest.param((*XDIST, "--dist=loadfile"), id="n2")],
)
def test_attaching_to_a_test_that_ended_is_a_warning_and_leaves_no_copy(pytester, hawzu_env, mode):
    pytester.makepyfile(LATE)
    # -W default: this suite runs with warnings as errors, the inner session must not.
    result = pytester.runpytest(*mode, "-W", "default")
    result.assert_outcomes(passed=4, warnings=1)
    result.stdout.fnmatch_lines(
        ["*hawzu_attach of *::test_keeps_the_fixture after that test ended: late.txt not sent*"]
    )
    results = only_execution(hawzu_env)["results"]
    assert results["TCM-1"]["attachments"] == results["TCM-2"]["attachments"] == []
    assert spooled(pytester) == []


LONG_NAME = """
import pytest

@pytest.mark.hawzu("TCM-1")
@pytest.mark.parametrize("payload", ["x" * 400])
def test_long(payload, hawzu_attach):
    hawzu_attach(b"body", name=payload + ".json")
    print("some output")
    assert 0
"""


def test_attachment_names_are_cut_to_a_sane_length_keeping_their_ends(pytester, hawzu_env):
    pytester.makepyfile(LONG_NAME)
    pytester.runpytest(*FAST)
    names = list(attached(hawzu_env, "TCM-1"))
    assert len(names) == 2, names
    assert all(len(name) <= MAX_ATTACHMENT_NAME for name in names), [len(n) for n in names]
    assert any(name.endswith("-stdout.txt") and name.startswith("test_long[") for name in names)
    assert any(name.endswith("xxx.json") for name in names)
