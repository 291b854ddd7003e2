"""The unauthenticated /_sandbox/ inspection and control endpoints.

They exist for tests and for people poking at a running sandbox over HTTP, so
they are never logged, never faulted and never rate limited: looking at the
sandbox must not change what it does to the client under test.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from werkzeug.wrappers import Request, Response

from pytest_hawzu.sandbox.faults import (
    Fault,
    FaultPlan,
    RateLimiter,
    RetryAfterStyle,
    check_latency,
    check_rate_limit,
)
from pytest_hawzu.sandbox.records import RequestLog
from pytest_hawzu.sandbox.responses import error_response, json_response
from pytest_hawzu.sandbox.rules import ApiFailure, invalid
from pytest_hawzu.sandbox.store import Store

FAULT_KEYS = frozenset({"fail", "drop", "latency", "rate_limit", "clear"})


class Admin:
    def __init__(
        self,
        *,
        store: Store,
        faults: FaultPlan,
        limiter: RateLimiter,
        log: RequestLog,
        reset: Callable[[], None],
    ) -> None:
        self.store = store
        self.faults = faults
        self.limiter = limiter
        self.log = log
        self.reset = reset

    def handle(self, request: Request, raw_path: str) -> Response:
        try:
            return json_response(self._dispatch(request, raw_path.rstrip("/")))
        except ApiFailure as failure:
            return error_response(failure)

    def _dispatch(self, request: Request, path: str) -> dict[str, Any]:
        method = request.method
        if path == "/_sandbox/executions" and method == "GET":
            return {"data": self.store.snapshot()}
        if path == "/_sandbox/requests" and method == "GET":
            return {"data": [r.to_json() for r in self.log.all()]}
        if path == "/_sandbox/faults" and method in ("GET", "POST"):
            if method == "POST":
                self._apply(_json(request))
            return self._fault_state()
        if path == "/_sandbox/reset" and method == "POST":
            self.reset()
            return {"reset": True}
        raise ApiFailure(404, "NOT_FOUND", f"no sandbox endpoint {method} {path}")

    def _fault_state(self) -> dict[str, Any]:
        return {
            "pending": self.faults.pending(),
            "latency": self.faults.latency,
            "rate_limit": {
                "rate": self.limiter.rate,
                "headers": self.limiter.headers,
                "retry_after_style": self.limiter.retry_after_style,
            },
        }

    def _apply(self, body: Any) -> None:
        if not isinstance(body, dict) or not body or set(body) - FAULT_KEYS:
            raise invalid(f"expected an object with some of {sorted(FAULT_KEYS)}")
        # Everything is checked before anything changes: a refused request
        # leaves the faults as they were, not half of it applied.
        try:
            faults = [_fault("fail", spec) for spec in _specs(body.get("fail"))]
            faults += [_fault("drop", spec) for spec in _specs(body.get("drop"))]
            latency = _latency(body["latency"]) if "latency" in body else None
            limit = _rate_limit(body["rate_limit"]) if "rate_limit" in body else None
        except (TypeError, ValueError) as exc:
            raise invalid(str(exc)) from None
        if body.get("clear"):
            self.faults.clear()
        for fault in faults:
            self.faults.add(fault)
        if latency is not None:
            self.faults.latency = latency
        if limit is not None:
            rate, headers, style = limit
            self.limiter.configure(rate, headers=headers, retry_after_style=style)


def _latency(value: Any) -> float:
    seconds = float(value)
    check_latency(seconds)
    return seconds


def _rate_limit(spec: Any) -> tuple[float | None, bool, RetryAfterStyle | None]:
    if not isinstance(spec, dict):
        raise TypeError('rate_limit must be an object like {"rate": 5}')
    rate = None if spec.get("rate") is None else float(spec["rate"])
    style = spec.get("retry_after_style", "seconds")
    check_rate_limit(rate, style)
    return rate, bool(spec.get("headers", True)), style


def _json(request: Request) -> Any:
    try:
        return json.loads(request.get_data() or b"null")
    except ValueError:
        raise ApiFailure(400, "BAD_REQUEST", "the body is not valid JSON") from None


def _specs(value: Any) -> list[dict[str, Any]]:
    """A fault spec may be given as one object or a list of them."""
    if value is None:
        return []
    specs = value if isinstance(value, list) else [value]
    if not all(isinstance(s, dict) for s in specs):
        raise TypeError("a fault must be an object")
    return specs


def _fault(kind: str, spec: dict[str, Any]) -> Fault:
    allowed = {"count", "path"} | ({"status", "retry_after", "code"} if kind == "fail" else set())
    if set(spec) - allowed:
        raise ValueError(f"a {kind} fault takes only {sorted(allowed)}")
    if kind == "fail" and not isinstance(spec.get("status"), int):
        raise TypeError("a fail fault needs an integer status")
    retry_after = spec.get("retry_after")
    return Fault(
        "fail" if kind == "fail" else "drop",
        remaining=int(spec.get("count", 1)),
        path=spec.get("path"),
        status=spec.get("status", 503),
        retry_after=None if retry_after is None else str(retry_after),
        code=spec.get("code"),
    )
