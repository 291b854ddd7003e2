"""The Sandbox: a local, in-memory Hawzu on a real HTTP server, and its controls."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

from pytest_hawzu import output
from pytest_hawzu.sandbox.admin import Admin
from pytest_hawzu.sandbox.app import SandboxApp
from pytest_hawzu.sandbox.faults import Fault, FaultPlan, RateLimiter, RetryAfterStyle
from pytest_hawzu.sandbox.httpd import WSGIServer, make_server
from pytest_hawzu.sandbox.records import RequestLog, RequestRecord
from pytest_hawzu.sandbox.store import DEFAULT_PROJECT, Store

DEFAULT_TOKEN = "sandbox-token"
# stop() waits up to one poll for the serving loop to notice; keep it short so
# that a test suite starting many sandboxes does not crawl.
POLL_INTERVAL = 0.05


class Sandbox:
    """A local Hawzu. Use as a context manager, or call start() and stop()."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str = DEFAULT_TOKEN,
        case_count: int = 100,
        rate: float | None = None,
        rate_limit_headers: bool = True,
        retry_after_style: RetryAfterStyle | None = "seconds",
        latency: float = 0.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        access_log: bool = False,
    ) -> None:
        self.host = host
        self.port = port
        self.token = token
        self._config = (rate, rate_limit_headers, retry_after_style, latency)
        self._access_log = access_log
        self._clock = clock
        self._lock = threading.RLock()
        self._store = Store(self._lock, case_count=case_count, clock=clock)
        self._faults = FaultPlan(self._lock, latency=latency)
        self._limiter = RateLimiter(self._lock, clock=clock)
        self._limiter.configure(
            rate, headers=rate_limit_headers, retry_after_style=retry_after_style
        )
        self._log = RequestLog(self._lock)
        admin = Admin(
            store=self._store,
            faults=self._faults,
            limiter=self._limiter,
            log=self._log,
            reset=self.reset,
        )
        self.app = SandboxApp(
            token=token,
            store=self._store,
            faults=self._faults,
            limiter=self._limiter,
            log=self._log,
            admin=admin,
            sleep=sleep,
        )
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()  # the process whose thread serves

    def __repr__(self) -> str:
        where = self.url if self._server is not None else "stopped"
        return f"Sandbox({where})"

    # -- lifecycle -------------------------------------------------------

    def start(self) -> Sandbox:
        if self._server is not None:
            raise RuntimeError("the sandbox is already running")
        server = make_server(
            self.host, self.port, self.app, access_log=self._access_log, clock=self._clock
        )
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": POLL_INTERVAL},
            name=f"hawzu-sandbox-{server.server_port}",
            daemon=True,
        )
        self._thread.start()
        self._pid = os.getpid()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        if os.getpid() != self._pid:
            # A forked copy (a test that forks and carries on): the serving
            # thread is the parent's, and shutdown() would wait for it for ever.
            self._server = self._thread = None
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join()
        self._server = self._thread = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not running; call start() first")
        return f"http://{self.host}:{self._server.server_port}"

    # -- inspection ------------------------------------------------------

    def executions(self) -> list[dict[str, Any]]:
        """Every execution with its results, in creation order; copies, safe to mutate."""
        return self._store.snapshot()

    def execution(self, execution_id: str) -> dict[str, Any]:
        return self._store.snapshot_one(execution_id)

    def attachment(self, attachment_id: str) -> bytes:
        return self._store.attachment_data(attachment_id)

    def requests(self) -> list[RequestRecord]:
        return self._log.all()

    def pending_faults(self) -> list[dict[str, Any]]:
        return self._faults.pending()

    # -- faults and limits -----------------------------------------------

    def fail_next(
        self,
        status: int,
        count: int = 1,
        *,
        path: str | None = None,
        retry_after: str | int | None = None,
        code: str | None = None,
    ) -> None:
        after = None if retry_after is None else str(retry_after)
        self._faults.add(Fault("fail", count, path, status, after, code))

    def drop_next(self, count: int = 1, *, path: str | None = None) -> None:
        self._faults.add(Fault("drop", count, path))

    def clear_faults(self) -> None:
        self._faults.clear()

    def set_latency(self, seconds: float) -> None:
        self._faults.latency = seconds

    def set_rate_limit(
        self,
        rate: float | None,
        *,
        headers: bool = True,
        retry_after_style: RetryAfterStyle | None = "seconds",
    ) -> None:
        self._limiter.configure(rate, headers=headers, retry_after_style=retry_after_style)

    # -- data ------------------------------------------------------------

    def add_project(self, id: str, name: str, code: str, *, role: str = "PROJECT_MEMBER") -> None:
        self._store.add_project(id, name, code, role)

    def add_release(
        self,
        id: str,
        name: str,
        project_id: str = DEFAULT_PROJECT,
        status: str = "IN_PROGRESS",
    ) -> None:
        self._store.add_release(id, name, project_id, status)

    def set_release_status(self, release_id: str, status: str) -> None:
        self._store.set_release_status(release_id, status)

    def add_cases(self, ids: Iterable[str], *, project_id: str = DEFAULT_PROJECT) -> None:
        self._store.add_cases(ids, project_id)

    def reset(self) -> None:
        """Back to the state the constructor made: seed data, no faults, no log."""
        rate, headers, style, latency = self._config
        with self._lock:
            self._store.reset()
            self._faults.clear()
            self._faults.latency = latency
            self._limiter.configure(rate, headers=headers, retry_after_style=style)
            self._log.clear()


def serve(port: int, rate: float | None, token: str = DEFAULT_TOKEN) -> None:
    """Run a sandbox in the foreground until Ctrl-C."""
    sandbox = Sandbox(port=port, rate=rate, token=token, access_log=True)
    sandbox.start()
    try:
        # Nobody may read it (`| true`): the sandbox serves all the same.
        output.say(f"Hawzu sandbox on {sandbox.url} (token: {token}); Ctrl-C to stop", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
