"""The /api/v1 endpoints: routing on raw path segments and one handler per endpoint.

Routing works on the raw request path, split on "/" before percent-decoding,
because test case IDs are opaque and may contain a slash (sent as %2F);
decoding first, as WSGI's PATH_INFO does, would split such an ID in two.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request

from pytest_hawzu.sandbox.rules import (
    MAX_ATTACHMENT_BYTES,
    ApiFailure,
    check_idempotency_key,
    invalid,
    parse_completion,
    parse_new_execution,
    parse_results_batch,
)
from pytest_hawzu.sandbox.store import Store

PREFIX = ("api", "v1")
ANY = "*"
# Room for the multipart framing around a file of the maximum size.
MULTIPART_SLACK = 64 * 1024

# Where `_parsed` keeps a request's body, and what it keeps for one that is not JSON.
_PARSED = "pytest_hawzu.sandbox.json_body"
_NOT_JSON = object()

Answer = tuple[int, dict[str, Any]]
Handler = Callable[[Request, list[str], str], Answer]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: tuple[str, ...]
    handler: Handler

    def match(self, segments: list[str]) -> list[str] | None:
        if len(segments) != len(self.pattern):
            return None
        args = []
        for want, got in zip(self.pattern, segments, strict=True):
            if want == ANY:
                if not got:
                    return None
                args.append(got)
            elif want != got:
                return None
        return args


def split_path(raw_path: str) -> list[str]:
    return [unquote(s) for s in raw_path.strip("/").split("/")]


def batch_size(request: Request, raw_path: str) -> int | None:
    """How many result items a results post carried, for the request log."""
    if request.method != "POST" or not raw_path.rstrip("/").endswith("/results"):
        return None
    body = _parsed(request)
    results = body.get("results") if isinstance(body, dict) else None
    return len(results) if isinstance(results, list) else None


def _json_body(request: Request) -> Any:
    if request.mimetype != "application/json":
        raise ApiFailure(400, "BAD_REQUEST", "Content-Type must be application/json")
    body = _parsed(request)
    if body is _NOT_JSON:
        raise ApiFailure(400, "BAD_REQUEST", "the body is not valid JSON")
    return body


def _parsed(request: Request) -> Any:
    """The body as JSON, or `_NOT_JSON`; parsed once per request.

    A results post is read by its handler and again for the request log:
    parsing a batch of results twice doubled the sandbox's work per batch.
    """
    environ = request.environ
    if _PARSED not in environ:
        try:
            environ[_PARSED] = json.loads(request.get_data())
        except ValueError:
            environ[_PARSED] = _NOT_JSON
    return environ[_PARSED]


class Api:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.routes = [
            Route("GET", ("me",), self.me),
            Route("GET", ("releases",), self.find_releases),
            Route("GET", ("releases", ANY), self.get_release),
            Route("POST", ("executions",), self.create_execution),
            Route("GET", ("executions", ANY), self.get_execution),
            Route("PATCH", ("executions", ANY), self.complete_execution),
            Route("POST", ("executions", ANY, "results"), self.post_results),
            Route("POST", ("executions", ANY, "results", ANY, "attachments"), self.attach),
            Route("GET", ("testcases", ANY), self.get_test_case),
        ]

    def dispatch(self, request: Request, raw_path: str, base_url: str) -> Answer:
        segments = split_path(raw_path)
        if tuple(segments[:2]) != PREFIX:
            raise ApiFailure(404, "NOT_FOUND", f"no endpoint {raw_path}")
        allowed = []
        for route in self.routes:
            args = route.match(segments[2:])
            if args is None:
                continue
            if route.method == request.method:
                return route.handler(request, args, base_url)
            allowed.append(route.method)
        if allowed:
            raise ApiFailure(
                405,
                "METHOD_NOT_ALLOWED",
                f"{request.method} is not allowed here",
                {"allow": allowed},
            )
        raise ApiFailure(404, "NOT_FOUND", f"no endpoint {raw_path}")

    # -- handlers --------------------------------------------------------

    def me(self, request: Request, args: list[str], base: str) -> Answer:
        return 200, self.store.identity()

    def find_releases(self, request: Request, args: list[str], base: str) -> Answer:
        found = self.store.find_releases(request.args.get("project_id"), request.args.get("name"))
        return 200, {"data": found}

    def get_release(self, request: Request, args: list[str], base: str) -> Answer:
        return 200, self.store.release(args[0])

    def create_execution(self, request: Request, args: list[str], base: str) -> Answer:
        key = request.headers.get("Idempotency-Key")
        if key is not None:
            check_idempotency_key(key)
        new = parse_new_execution(_json_body(request))
        created, execution = self.store.create_execution(new, key, base)
        return (201 if created else 200), execution

    def get_execution(self, request: Request, args: list[str], base: str) -> Answer:
        return 200, self.store.execution(args[0], base)

    def complete_execution(self, request: Request, args: list[str], base: str) -> Answer:
        self.store.execution(args[0], base)
        parse_completion(_json_body(request))
        return 200, self.store.complete(args[0], base)

    def post_results(self, request: Request, args: list[str], base: str) -> Answer:
        self.store.check_exists(args[0])  # 404 before a bad body's 400, as before
        items = parse_results_batch(_json_body(request))
        return 200, self.store.post_results(args[0], items)

    def attach(self, request: Request, args: list[str], base: str) -> Answer:
        execution_id, case_id = args
        self.store.check_writable(execution_id)
        request.max_content_length = MAX_ATTACHMENT_BYTES + MULTIPART_SLACK
        try:
            upload = request.files.get("file")
        except RequestEntityTooLarge:
            raise _too_large() from None
        if upload is None:
            raise invalid("the multipart field 'file' is required", field="file")
        data = upload.read()
        if len(data) > MAX_ATTACHMENT_BYTES:
            raise _too_large()
        filename = upload.filename or "attachment"
        content_type = upload.mimetype or "application/octet-stream"
        return 201, self.store.add_attachment(execution_id, case_id, filename, content_type, data)

    def get_test_case(self, request: Request, args: list[str], base: str) -> Answer:
        return 200, self.store.case(args[0])


def _too_large() -> ApiFailure:
    return ApiFailure(
        413,
        "PAYLOAD_TOO_LARGE",
        f"attachments are limited to {MAX_ATTACHMENT_BYTES} bytes",
        {"max_bytes": MAX_ATTACHMENT_BYTES},
    )
