"""The user's tests patch the world (sockets, clocks, threads, json, os) while
the sender thread sends: what they patch must neither see nor break the plugin."""

from __future__ import annotations

import datetime
import json
import socket
import threading
import time
import warnings
from pathlib import Path
from unittest import mock

import pytest

from pytest_hawzu import journal
from pytest_hawzu.client import HawzuClient, TransportError
from pytest_hawzu.deadline import within
from pytest_hawzu.model import CaseResult, Status
from pytest_hawzu.sandbox import Sandbox
from tests.conftest import FAST, only_execution, statuses


def test_a_socket_guard_raising_its_own_exception_is_a_transport_error(sb: Sandbox) -> None:
    # pytest-socket and httpretty raise exceptions of their own, not OSError:
    # one of them must be retried like any network failure, not stop the session.
    blocked = RuntimeError("A test tried to use socket.getaddrinfo.")
    client = HawzuClient(sb.url, sb.token)
    with (
        mock.patch("socket.getaddrinfo", side_effect=blocked),
        pytest.raises(TransportError, match="RuntimeError: A test tried to use socket"),
    ):
        client.me()
    client.close()


def test_a_frozen_or_far_future_clock_does_not_break_the_wait(monkeypatch) -> None:
    # freezegun moves time.monotonic to the year 9999, or back, between reads.
    never = threading.Event()

    def answer_in_a_moment() -> int:
        never.wait(0.2)  # still running when the wait begins
        return 42

    monkeypatch.setattr(time, "monotonic", lambda: -2.5e11)
    assert within(answer_in_a_moment, 1.0) == 42
    monkeypatch.undo()
    assert within(answer_in_a_moment, 1e12) == 42  # beyond what a wait may be given


def test_a_patched_thread_class_sees_no_call_of_ours() -> None:
    with mock.patch("threading.Thread") as fake:
        assert within(lambda: 7, 5.0) == 7
    fake.assert_not_called()


def test_a_patched_json_module_sees_no_call_of_ours(sb: Sandbox, monkeypatch) -> None:
    # The sandbox shares this process and its json module: spy, do not break.
    callers: list[str] = []

    def spy(real):
        def call(*args, **kwargs):
            callers.append(threading.current_thread().name)
            return real(*args, **kwargs)

        return call

    client = HawzuClient(sb.url, sb.token)
    execution = client.create_execution("rel_7", "t")
    monkeypatch.setattr(json, "dumps", spy(json.dumps))
    monkeypatch.setattr(json, "loads", spy(json.loads))
    outcome = client.post_results(execution.id, [CaseResult("TCM-1", Status.PASSED)])
    monkeypatch.undo()
    client.close()
    assert outcome.accepted == 1
    ours = {threading.current_thread().name, "hawzu-request"}
    assert not ours & set(callers), callers


def test_a_patched_os_write_sees_no_journal_write(tmp_path: Path) -> None:
    live = journal.Journal.create(tmp_path, {"url": "http://127.0.0.1:1"})
    with mock.patch("os.write", return_value=1) as write:
        assert live.write({"type": "note", "text": "kept whole"})
    write.assert_not_called()
    live.close(delivered=False)
    records = [json.loads(line) for line in live.path.read_text().splitlines()]
    assert {"type": "note", "text": "kept whole"} in records


FORKS = """
import multiprocessing
import os

import pytest


def child(queue):
    queue.put(os.getpid())


@pytest.mark.hawzu("TCM-1")
def test_forks_with_multiprocessing():
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    process = context.Process(target=child, args=(queue,))
    process.start()
    process.join()
    assert process.exitcode == 0 and queue.get(timeout=10) == process.pid


@pytest.mark.hawzu("TCM-2")
def test_forks_itself():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    assert os.waitpid(pid, 0)[1] == 0
"""


def test_a_test_that_forks_while_the_sender_runs_passes_under_w_error(pytester, hawzu_env):
    # Python 3.12+ warns about forking a process with threads (the sender is
    # one) and does not raise even where warnings are errors: nothing fails.
    pytester.makepyfile(test_forks=FORKS)
    result = pytester.runpytest(*FAST, "-W", "error::DeprecationWarning")
    result.assert_outcomes(passed=2)
    assert statuses(only_execution(hawzu_env)) == {"TCM-1": "PASSED", "TCM-2": "PASSED"}


class _Before2025(datetime.date):
    """What freezegun puts in place of datetime.date during `freeze_time("2020-01-01")`."""

    @classmethod
    def today(cls) -> _Before2025:
        return cls(2020, 1, 1)


@pytest.mark.xfail(
    strict=True,
    reason="urllib3 warns (SystemTimeWarning) on the sender thread; pytest pins it on the test",
)
def test_a_frozen_date_gets_no_warning_from_a_new_tls_connection() -> None:
    # freezegun and time-machine move datetime.date.today() for every thread.
    # A new HTTPS connection of the sender's while a test runs frozen before
    # 2025 makes urllib3 warn that the system time is off: pytest counts it
    # among that test's warnings, and under -W error it fails the request.
    with socket.create_server(("127.0.0.1", 0)) as listener:  # connects, never answers
        port = listener.getsockname()[1]
        client = HawzuClient(f"https://127.0.0.1:{port}", "token-of-the-test", timeout=0.5)
        with warnings.catch_warnings(record=True) as seen, mock.patch("datetime.date", _Before2025):
            warnings.simplefilter("always")
            with pytest.raises(TransportError):
                client.me()
        client.close()
    assert [str(w.message) for w in seen] == []
