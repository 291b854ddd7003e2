"""The sandbox's WSGI application: what happens to one request, in order.

An API request is delayed by the configured latency, then may be taken by an
injected fault (an error answer, or a connection closed without one), then is
authenticated, rate limited per token, and finally answered by the API. Every
API request is logged, dropped ones included. Faults come before
authentication because they stand for trouble in front of the service (a
proxy, the network), which never looks at tokens.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import socket
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from werkzeug.wrappers import Request, Response

from pytest_hawzu.sandbox import page
from pytest_hawzu.sandbox.admin import Admin
from pytest_hawzu.sandbox.api import Api, batch_size
from pytest_hawzu.sandbox.faults import Fault, FaultPlan, RateLimiter, default_code
from pytest_hawzu.sandbox.records import RequestLog, RequestRecord, safe_headers
from pytest_hawzu.sandbox.responses import error_response, json_response
from pytest_hawzu.sandbox.rules import ApiFailure
from pytest_hawzu.sandbox.store import Store

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

logger = logging.getLogger(__name__)


class DroppedConnection(ConnectionAbortedError):
    """Raised out of the WSGI app: werkzeug then writes no answer at all."""


class SandboxApp:
    def __init__(
        self,
        *,
        token: str,
        store: Store,
        faults: FaultPlan,
        limiter: RateLimiter,
        log: RequestLog,
        admin: Admin,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.token = token
        self.store = store
        self.faults = faults
        self.limiter = limiter
        self.log = log
        self.admin = admin
        self.api = Api(store)
        self.sleep = sleep

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self._route(request, environ)
        finally:
            # Uploads are spooled to temporary files; close them now, not at
            # garbage collection.
            request.close()
        return response(environ, start_response)

    def _route(self, request: Request, environ: WSGIEnvironment) -> Response:
        path = raw_path(environ)
        if path.startswith("/api/"):
            return self._api_request(request, path, environ)
        if path.startswith("/_sandbox/"):
            return self.admin.handle(request, path)
        if path == "/" and request.method in ("GET", "HEAD"):
            html = page.render(self.store.snapshot(), self.store.release_names())
            return Response(html, mimetype="text/html")
        return error_response(ApiFailure(404, "NOT_FOUND", f"nothing at {path}"))

    def _api_request(self, request: Request, path: str, environ: WSGIEnvironment) -> Response:
        arrived = (time.monotonic(), time.time())
        latency = self.faults.latency
        if latency > 0:
            self.sleep(latency)
        fault = self.faults.take(path)
        if fault is not None and fault.kind == "drop":
            self.log.append(_record(request, path, arrived, fault, None))
            drop(request, environ)
        response = injected(fault) if fault is not None else self._serve(request, path)
        self.log.append(_record(request, path, arrived, fault, response.status_code))
        return response

    def _serve(self, request: Request, path: str) -> Response:
        if not self._authorized(request):
            return error_response(
                ApiFailure(401, "UNAUTHORIZED", "missing or invalid bearer token")
            )
        verdict = self.limiter.check(self.token)
        if verdict.allowed:
            response = self._answer(request, path)
        else:
            response = error_response(ApiFailure(429, "RATE_LIMITED", "rate limit exceeded"))
        response.headers.update(verdict.headers)
        return response

    def _answer(self, request: Request, path: str) -> Response:
        try:
            status, body = self.api.dispatch(request, path, request.host_url.rstrip("/"))
        except ApiFailure as failure:
            response = error_response(failure)
            if failure.status == 405:  # which methods would do: RFC 9110 requires it
                response.headers["Allow"] = ", ".join(failure.details["allow"])
            return response
        except Exception as exc:
            # A sandbox bug must still answer in the API's error shape, or the
            # client under test would be blamed for mishandling HTML.
            logger.exception("sandbox failed on %s %s", request.method, path)
            bug = ApiFailure(500, "INTERNAL_ERROR", f"sandbox error: {type(exc).__name__}")
            return error_response(bug)
        return json_response(body, status)

    def _authorized(self, request: Request) -> bool:
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            credentials.strip().encode(), self.token.encode()
        )


def _record(
    request: Request,
    path: str,
    arrived: tuple[float, float],
    fault: Fault | None,
    status: int | None,
) -> RequestRecord:
    return RequestRecord(
        method=request.method,
        path=path,
        status=status,
        batch_size=batch_size(request, path),
        time=arrived[0],
        wall_time=arrived[1],
        idempotency_key=request.headers.get("Idempotency-Key"),
        headers=safe_headers(request.headers.items()),
        client=f"{request.remote_addr}:{request.environ.get('REMOTE_PORT', '')}",
        query=request.query_string.decode("latin-1"),
        fault=fault.kind if fault else None,
    )


def raw_path(environ: WSGIEnvironment) -> str:
    """The path as the client sent it, still percent-encoded."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return urlsplit(raw).path or "/"
    return quote(environ.get("PATH_INFO", "/").encode("latin-1"), safe="/")


def injected(fault: Fault) -> Response:
    code = fault.code or default_code(fault.status)
    response = error_response(ApiFailure(fault.status, code, "fault injected by the sandbox"))
    if fault.retry_after is not None:
        response.headers["Retry-After"] = fault.retry_after
    return response


def drop(request: Request, environ: WSGIEnvironment) -> None:
    # Read the body first so the client is done sending and sees a clean
    # "closed without an answer" rather than a broken pipe.
    request.get_data()
    conn = environ.get("werkzeug.socket")
    if conn is not None:
        with contextlib.suppress(OSError):
            conn.shutdown(socket.SHUT_RDWR)
    raise DroppedConnection("connection dropped by an injected fault")
