"""The only module that speaks HTTP to Hawzu.

Every path, field name and enum value of the Hawzu API lives here, so that a
correction to the contract touches this module and nothing else. The client
makes exactly one attempt per call; throttling and retries are the caller's.
"""

from __future__ import annotations

import functools
import ipaddress
import json as jsonlib
import platform
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import pytest

from pytest_hawzu import __version__, notes
from pytest_hawzu.deadline import within
from pytest_hawzu.model import (
    PASSED_PHASES,
    SEVERITY,
    CaseResult,
    Rejection,
    Status,
    Step,
    worst,
)
from pytest_hawzu.text import hide, hiding, map_strings, valid

if TYPE_CHECKING:
    import requests

DEFAULT_URL = "https://api.hawzu.com"
API_PREFIX = "/api/v1"
MAX_BATCH = 100
MAX_TITLE = 255
MAX_DESCRIPTION = 10_000
MAX_NOTES = 65_535
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_ATTACHMENT_NAME = 255  # a file name any server and file system takes
# Hawzu documents no limits for these [assumed]. Ours keep one result, and so
# one batch, a sane size whatever a suite produces: a skip reason of a
# megabyte, ids made from data, a case with hundreds of failing subtests.
MAX_STEPS = 500
MAX_STEP_NAME = 255
MAX_STEP_NOTES = 2_000  # a step's error line; the result's notes have the traceback
MAX_NODEIDS = 65_535
MAX_IDEMPOTENCY_KEY = 255

STATUS_WIRE: dict[Status, str] = {
    Status.PASSED: "PASSED",
    Status.FAILED: "FAILED",
    Status.BLOCKED: "BLOCKED",
    Status.SKIPPED: "SKIPPED",
    Status.NOT_EXECUTED: "NOT_EXECUTED",
}

# Release statuses under which no execution may be created nor result posted.
# Only these are refused before asking: v1 may add statuses, and for one this
# client does not know, Hawzu's own 409 RELEASE_LOCKED decides.
LOCKED_RELEASE_STATUSES = frozenset({"DRAFT", "REJECTED", "PAUSED", "COMPLETED", "ARCHIVED"})

RETRY_AFTER = "Retry-After"
RATE_LIMIT_LIMIT = "X-RateLimit-Limit"
RATE_LIMIT_REMAINING = "X-RateLimit-Remaining"
RATE_LIMIT_RESET = "X-RateLimit-Reset"
IDEMPOTENCY_KEY = "Idempotency-Key"

EXECUTION_COMPLETED = "COMPLETED"

RELEASE_LOCKED = "RELEASE_LOCKED"
PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
EXECUTION_LOCKED = "EXECUTION_LOCKED"

HeaderObserver = Callable[[Mapping[str, str]], None]
# Never a network failure, whatever raises them inside a request.
_BUGS = (TypeError, AttributeError, NameError, LookupError, AssertionError, pytest.exit.Exception)

# Bound once: a user's test that patches json.dumps or json.loads for itself
# must neither see the plugin's calls nor change its requests.
_ENCODE = jsonlib.JSONEncoder(ensure_ascii=False, allow_nan=False).encode
_DECODE = jsonlib.JSONDecoder().decode


class HawzuError(Exception):
    """Anything that went wrong talking to Hawzu. Messages never hold the token."""


class TransportError(HawzuError):
    """No HTTP answer: refused, reset, DNS failure or timeout."""


class SetupError(TransportError):
    """No HTTP answer, for a reason of this machine's making that waiting cannot change:
    a certificate not trusted, a CA bundle that is not there, a proxy that wants a
    password or a SOCKS proxy without PySocks. The message says what to change."""


class ApiError(HawzuError):
    """Hawzu answered with an error status."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details: Mapping[str, Any] = details or {}
        self.headers: Mapping[str, str] = headers or {}

    @property
    def retry_after(self) -> str | None:
        return self.headers.get(RETRY_AFTER)


@dataclass(frozen=True)
class Identity:
    token_name: str
    workspace: str
    project_ids: tuple[str, ...]


@dataclass(frozen=True)
class Release:
    id: str
    name: str
    project_id: str
    status: str

    @property
    def accepts_executions(self) -> bool:
        return self.status not in LOCKED_RELEASE_STATUSES


@dataclass(frozen=True)
class Execution:
    id: str
    release_id: str
    title: str
    status: str
    web_url: str
    summary: Mapping[str, int]
    created: bool  # False when an Idempotency-Key replay returned an existing one

    @property
    def completed(self) -> bool:
        return self.status == EXECUTION_COMPLETED

    def summary_by_status(self) -> dict[Status, int]:
        wire = {v: k for k, v in STATUS_WIRE.items()}
        return {wire[k]: int(n) for k, n in self.summary.items() if k in wire}


@dataclass(frozen=True)
class BatchOutcome:
    accepted: int
    rejected: tuple[Rejection, ...]


def in_parts(
    post: Callable[[Sequence[CaseResult]], BatchOutcome],
    batch: Sequence[CaseResult],
    sent: list[tuple[Sequence[CaseResult], BatchOutcome]],
) -> None:
    """`post(batch)`, in halves as long as the answer is 413.

    Hawzu answers 413 only above 100 results, but a proxy or gateway in front
    of it may limit bodies to 1 MiB, which 100 failures with long notes pass.
    Each part that got an answer goes in `sent`, in order, before a later part
    can fail: what was delivered then is still known.
    """
    try:
        sent.append((batch, post(batch)))
        return
    except ApiError as exc:
        if exc.status != 413:
            raise
        if len(batch) == 1:  # final, as a rejected item is: resending cannot help
            (result,) = batch
            sent.append((batch, BatchOutcome(0, (_too_large(result, exc),))))
            return
    half = len(batch) // 2
    in_parts(post, batch[:half], sent)
    in_parts(post, batch[half:], sent)


def _too_large(result: CaseResult, exc: ApiError) -> Rejection:
    return Rejection(
        case_id=result.case_id,
        code=PAYLOAD_TOO_LARGE,
        message=f"this result alone is over the body limit of Hawzu or of a proxy in front "
        f"of it (HTTP {exc.status}): lower hawzu_notes_limit or raise the proxy's limit",
        nodeids=result.nodeids,
    )


def user_agent() -> str:
    return (
        f"pytest-hawzu/{__version__} Python/{platform.python_version()} pytest/{pytest.__version__}"
    )


def iso(ts: float | None) -> str | None:
    """UTC with milliseconds, as in 2026-12-04T19:31:02.120Z; runs twice per result."""
    if ts is None:
        return None
    millis = round(ts * 1000)
    seconds, ms = divmod(millis, 1000)
    return f"{_utc_second(seconds)}.{ms:03d}Z"


@functools.lru_cache(maxsize=64)
def _utc_second(seconds: int) -> str:
    """Formatted once per second: a batch's results start and end within a few."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def result_to_wire(result: CaseResult, conceal: Callable[[str], str] = str) -> dict[str, Any]:
    """The API's form of a result; `conceal` hides the token before anything is cut."""
    body: dict[str, Any] = {
        "test_case_id": result.case_id,
        "status": STATUS_WIRE[result.status],
        "duration_ms": result.duration_ms,
    }
    if result.notes:
        body["notes"] = conceal(result.notes)[:MAX_NOTES]
    if result.started_at is not None:
        body["started_at"] = iso(result.started_at)
    if result.finished_at is not None:
        body["finished_at"] = iso(result.finished_at)
    if result.steps:
        body["steps"] = (
            _PASSED_PHASES_WIRE
            if result.steps is PASSED_PHASES
            else _steps_to_wire(result.steps, conceal)
        )
    automation: dict[str, str] = {}
    if result.nodeids:
        automation["nodeid"] = notes.trim_end(conceal("\n".join(result.nodeids)), MAX_NODEIDS)
    if result.worker:
        automation["worker"] = result.worker
    if automation:
        body["automation"] = automation
    return body


def _steps_to_wire(steps: Sequence[Step], conceal: Callable[[str], str]) -> list[dict[str, str]]:
    """Each step within its limits; past MAX_STEPS, one step stands for the rest.

    Those kept are the ones that say what went wrong first, in their order.
    """
    kept, rest = list(steps), []
    if len(steps) > MAX_STEPS:
        worst_first = sorted(range(len(steps)), key=lambda i: _telling(steps[i].status))
        kept = [steps[i] for i in sorted(worst_first[: MAX_STEPS - 1])]
        rest = [steps[i] for i in worst_first[MAX_STEPS - 1 :]]
    wire = [
        _step_to_wire(
            notes.middle_cut(conceal(s.name), MAX_STEP_NAME),
            s.status,
            notes.keep_head(conceal(s.notes), MAX_STEP_NOTES),
        )
        for s in kept
    ]
    if rest:
        status = functools.reduce(worst, (s.status for s in rest))
        counts = Counter(STATUS_WIRE[s.status] for s in rest)
        told = ", ".join(f"{n} {wired}" for wired, n in sorted(counts.items()))
        wire.append(_step_to_wire(f"{len(rest)} more steps", status, told))
    return wire


def _telling(status: Status) -> tuple[bool, int]:
    """Sort key: steps that did not pass first, the worst of them first."""
    return status is Status.PASSED, -SEVERITY[status]


def _step_to_wire(name: str, status: Status, text: str) -> dict[str, str]:
    step = {"name": name, "status": STATUS_WIRE[status]}
    if text:
        step["notes"] = text
    return step


# Most results carry these steps; encode them once.
_PASSED_PHASES_WIRE = [_step_to_wire(s.name, s.status, s.notes) for s in PASSED_PHASES]


class HawzuClient:
    """One `requests.Session` per client; one attempt per call."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float = 30.0,
        observer: HeaderObserver | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.observer = observer
        # Imported here: a pytest run that does not report never pays for requests.
        # And not later, at the first request: `transport` binds the requests and
        # urllib3 methods that HTTP fakes patch, and must do so before any test
        # module, which may patch them as it is imported, is collected.
        import requests

        from pytest_hawzu import transport

        self._request_error = requests.RequestException
        self._session = transport.session()
        self._quiet = transport.quieter()
        self._session.headers["User-Agent"] = user_agent()
        self._session.headers["Accept"] = "application/json"
        # requests reads the proxy and CA bundle variables on every request, and
        # lets a ~/.netrc entry replace the bearer token. Read them once, here,
        # for the one host we talk to, and ignore .netrc.
        found = self._session.merge_environment_settings(self.url, {}, None, None, None)
        # Plain HTTP is allowed for loopback only: through a proxy the token
        # would cross the network in clear (and the sandbox be out of reach).
        loopback = is_loopback(urlsplit(self.url).hostname or "")
        self._session.proxies = {} if loopback else found["proxies"]
        self._session.verify = found["verify"]
        self._session.cert = found["cert"]
        self._session.trust_env = False
        self._token = token
        self._secret = hiding(token)
        # The token as it reads inside a JSON string.
        self._secret_json = _to_json(self._secret)[1:-1] if self._secret else ""

    def __repr__(self) -> str:
        return f"HawzuClient(url={self.url!r})"

    def close(self) -> None:
        self._session.close()

    # -- endpoints -------------------------------------------------------

    def me(self) -> Identity:
        body = self._call("GET", "/me")
        if not body:  # every field is optional, but an answer without any is not Hawzu's
            raise _not_the_api(200, "GET", "/me", "an empty body")
        projects = body.get("projects")
        projects = projects if isinstance(projects, list) else []
        workspace = body.get("workspace")
        return Identity(
            token_name=str(body.get("name", "")),
            workspace=str(workspace.get("name", "") if isinstance(workspace, dict) else ""),
            project_ids=tuple(str(p["id"]) for p in projects if isinstance(p, dict) and "id" in p),
        )

    def get_release(self, release_id: str) -> Release:
        path = f"/releases/{_quote(release_id)}"
        return _release(_needs(self._call("GET", path), "id", "GET", path))

    def find_releases(self, project_id: str, name: str) -> list[Release]:
        params = {"project_id": valid(project_id), "name": valid(name)}
        body = self._call("GET", "/releases", params=params)
        found = [_release(r) for r in body.get("data") or [] if isinstance(r, dict)]
        # The filter is not published: a server that ignored it would offer the
        # project's only release for any name, a mistyped one too. One that
        # matches ignoring case, as a server's filter may, is next best.
        found = [r for r in found if r.project_id in ("", project_id)]
        exact = [r for r in found if r.name == name]
        return exact or [r for r in found if _loosely(r.name) == _loosely(name)]

    def create_execution(
        self,
        release_id: str,
        title: str,
        *,
        description: str = "",
        test_case_ids: Sequence[str] = (),
        idempotency_key: str | None = None,
    ) -> Execution:
        payload: dict[str, Any] = {"release_id": release_id, "title": title[:MAX_TITLE]}
        if description:
            payload["description"] = description[:MAX_DESCRIPTION]
        if test_case_ids:
            payload["test_case_ids"] = list(test_case_ids)
        headers = {IDEMPOTENCY_KEY: idempotency_key} if idempotency_key else None
        status, body = self._exchange("POST", "/executions", json=payload, headers=headers)
        return _execution(_needs(body, "id", "POST", "/executions", status), created=status == 201)

    def unknown_case_ids(self, error: ApiError) -> list[str]:
        """The case IDs a 422 on execution creation named as unknown."""
        ids = error.details.get("unknown_test_case_ids") or []
        return [str(i) for i in ids] if isinstance(ids, list) else []

    def get_execution(self, execution_id: str) -> Execution:
        path = f"/executions/{_quote(execution_id)}"
        return _execution(_needs(self._call("GET", path), "id", "GET", path))

    def complete_execution(self, execution_id: str, *, timeout: float | None = None) -> Execution:
        """`timeout` shortens this one call (a session's flush ending sooner)."""
        path = f"/executions/{_quote(execution_id)}"
        status, body = self._exchange(
            "PATCH", path, json={"status": EXECUTION_COMPLETED}, timeout=timeout
        )
        if status == 204:  # success without a body, which Hawzu's rules allow
            return _execution({"id": execution_id, "status": EXECUTION_COMPLETED})
        return _execution(_needs(body, "id", "PATCH", path, status))

    def post_results(self, execution_id: str, results: Sequence[CaseResult]) -> BatchOutcome:
        payload = {"results": [result_to_wire(r, self._redact) for r in results]}
        path = f"/executions/{_quote(execution_id)}/results"
        body = self._call("POST", path, json=payload)
        # Taking an answer without either for "all accepted" would lose results
        # behind anything that says 200: a proxy, a sign-in page, a wrong URL.
        if "accepted" not in body and "rejected" not in body:
            raise _not_the_api(200, "POST", path, f"JSON without 'accepted': {_short(body)}")
        items = body.get("rejected", [])
        if not isinstance(items, list):
            raise _not_the_api(200, "POST", path, f"JSON of another shape: {_short(body)}")
        accepted = body.get("accepted", len(results) - len(items))
        # Every result is accepted or rejected: counts that say otherwise do not
        # say that anything was kept.
        if type(accepted) is not int or accepted + len(items) != len(results):
            raise _not_the_api(
                200, "POST", path, f"counts that do not add up to {len(results)}: {_short(body)}"
            )
        rejected = tuple(_rejection(item, results) for item in items)
        return BatchOutcome(accepted=accepted, rejected=rejected)

    def upload_attachment(self, execution_id: str, case_id: str, filename: str, data: bytes) -> str:
        path = f"/executions/{_quote(execution_id)}/results/{_quote(case_id)}/attachments"
        name = notes.middle_cut(self._redact(valid(filename)), MAX_ATTACHMENT_NAME)
        body = self._call("POST", path, files={"file": (name, data)})
        return str(body.get("id", ""))

    def get_test_case(self, case_id: str) -> dict[str, Any]:
        return self._call("GET", f"/testcases/{_quote(case_id)}")

    # -- transport -------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return self._exchange(method, path, **kwargs)[1]

    def _exchange(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        files: Any = None,
        timeout: float | None = None,
    ) -> tuple[int, dict[str, Any]]:
        all_headers = {"Authorization": f"Bearer {self._token}", **(headers or {})}
        if json is not None:
            all_headers["Content-Type"] = "application/json"
        limit = self.timeout if timeout is None else min(timeout, self.timeout)

        data = None if json is None else self._body(json)

        def send() -> requests.Response:
            with self._quiet():  # in the thread that makes the request
                return self._session.request(
                    method,
                    self.url + API_PREFIX + path,
                    data=data,
                    params=params,
                    headers=all_headers,
                    files=files,
                    timeout=limit,  # each read's, and the connection's
                    # Results go where the user said or nowhere: a moved API or a
                    # captive portal is reported, not followed.
                    allow_redirects=False,
                )

        try:
            response = within(send, limit, name="hawzu-request")
        except self._request_error as exc:
            # requests' messages carry the URL but never our headers; stay safe anyway.
            raise self._no_answer(method, path, exc) from None
        except TimeoutError:
            # Bytes kept coming, so no read timed out: the answer as a whole did.
            raise TransportError(
                f"{method} {path}: no complete answer within {limit:g} s"
            ) from None
        except _BUGS:
            raise  # ours, to be reported as such, not tried again as the network
        except Exception as exc:
            # A test's socket guard (pytest-socket, httpretty) raises an exception
            # of its own, not an OSError: no answer all the same, to try again.
            # requests raises a plain OSError for a CA bundle that is not there.
            raise self._no_answer(method, path, exc) from None
        response_headers = response.headers  # case-insensitive, as HTTP headers are
        if self.observer is not None:
            self.observer(response_headers)
        # Everything said about an answer comes from here: an echoed token goes now.
        body = _json_object(response)
        if body and self._secret:
            body = map_strings(body, self._redact)
        if response.is_redirect:
            where = self._redact(response_headers.get("Location", "nowhere"))
            raise _not_the_api(response.status_code, method, path, f"a redirect to {where}")
        if response.status_code >= 400:
            if body is None:  # a gateway's page: what it says is still the best clue
                body = {"message": _gist(self._redact(_text(response)))}
            raise _api_error(response.status_code, body, response_headers, self._redact)
        if response.content and body is None:
            kind = response_headers.get("Content-Type", "no Content-Type")
            excerpt = self._redact(_text(response))[:80]
            raise _not_the_api(response.status_code, method, path, f"{kind}: {excerpt!r}")
        return response.status_code, body or {}

    def _no_answer(self, method: str, path: str, exc: Exception) -> TransportError:
        setup = _setup_problem(exc, self._session.verify)
        if setup is not None:
            return SetupError(self._redact(f"{method} {path}: {setup}"))
        return TransportError(self._redact(f"{method} {path}: {type(exc).__name__}: {exc}"))

    def _body(self, payload: Any) -> bytes:
        """`payload` as JSON, each string valid and without the token.

        Encoded first and checked whole: a batch holds thousands of strings,
        and changing them one by one cost more than the rest of the request.
        Nearly every batch needs no change at all.
        """
        text = _to_json(payload)
        # NUL is escaped in JSON; a lone surrogate is not, and fails to encode.
        if "\\u0000" not in text and not (self._secret_json and self._secret_json in text):
            try:
                return text.encode("utf-8")
            except UnicodeEncodeError:
                pass
        return _to_json(map_strings(payload, self._sendable)).encode("utf-8")

    def _redact(self, text: str) -> str:
        return hide(text, self._secret)

    def _sendable(self, text: str) -> str:
        return hide(valid(text), self._secret)


def _to_json(value: Any) -> str:
    return _ENCODE(value)


def _setup_problem(exc: BaseException, verify: Any) -> str | None:
    """What to change when `exc` comes from this machine's TLS or proxy settings, or None.

    Never quotes a proxy URL, which may hold a password.
    """
    import ssl  # here: xdist workers and runs that do not report never need it

    found = list(_causes(exc))
    bundle = verify if isinstance(verify, str) else None
    if any(isinstance(e, ssl.SSLCertVerificationError) for e in found):
        why = next(e for e in found if isinstance(e, ssl.SSLCertVerificationError))
        trusted = (
            f"the CA bundle {bundle} (REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE)"
            if bundle
            else "the CA bundle of certifi (REQUESTS_CA_BUNDLE is not set)"
        )
        return (
            f"the server's TLS certificate failed verification ({why.verify_message or why}) "
            f"against {trusted}: if your own CA signed it, set REQUESTS_CA_BUNDLE to a PEM "
            "file that holds that CA"
        )
    if bundle and any(isinstance(e, ssl.SSLError) and e.library in ("X509", "PEM") for e in found):
        return (
            f"the CA bundle {bundle} (REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE) holds no usable "
            "certificate: point REQUESTS_CA_BUNDLE at a PEM file of CA certificates"
        )
    text = " ".join(str(e) for e in found)
    return next(
        (advice.format(bundle=bundle) for needle, advice in _SETUP_ADVICE if needle in text),
        None,
    )


# What requests and urllib3 say, in an exception or one it wraps, and what to change.
_SETUP_ADVICE = (
    (
        "Could not find a suitable TLS CA certificate bundle",
        "the CA bundle {bundle} (REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE) does not exist: "
        "point REQUESTS_CA_BUNDLE at a PEM file of CA certificates, or unset it",
    ),
    (
        "Tunnel connection failed: 407",
        "the proxy answered 407 Proxy Authentication Required: give its user and "
        "password in HTTPS_PROXY (http://user:password@host:port)",
    ),
    (
        "Missing dependencies for SOCKS support",
        "the proxy in HTTPS_PROXY or ALL_PROXY is a SOCKS proxy, which needs PySocks: "
        "pip install 'requests[socks]'",
    ),
    (
        "Please check proxy URL",
        "the proxy URL in HTTPS_PROXY or ALL_PROXY is malformed: give it as http://host:port",
    ),
)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and what it wraps: causes, contexts, urllib3's reasons and arguments."""
    seen: set[int] = set()
    todo: list[Any] = [exc]
    while todo and len(seen) < 50:
        e = todo.pop()
        if not isinstance(e, BaseException) or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo.extend([e.__cause__, e.__context__, getattr(e, "reason", None), *e.args])


def valid_idempotency_key(key: str) -> bool:
    """1 to 255 printable ASCII characters, no spaces."""
    return 0 < len(key) <= MAX_IDEMPOTENCY_KEY and all(33 <= ord(c) <= 126 for c in key)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _quote(segment: str) -> str:
    return quote(valid(segment), safe="")


def _text(response: requests.Response) -> str:
    """The body as text: in the charset it names, else UTF-8 as JSON must be.

    Not `response.text`, which guesses a missing charset with
    charset_normalizer, and that logs (see transport.quiet).
    """
    encoding = response.encoding or "utf-8"
    try:
        return response.content.decode(encoding, errors="replace")
    except LookupError:  # a charset nobody knows
        return response.content.decode("utf-8", errors="replace")


def _json_object(response: requests.Response) -> dict[str, Any] | None:
    """The body as a JSON object; None when it is something else (HTML, a list)."""
    if not response.content:
        return {}
    try:
        # A byte order mark, which RFC 8259 lets parsers ignore, is read past.
        body = _DECODE(_text(response).removeprefix("\ufeff"))
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


NOT_THE_API = "NOT_THE_API"


def _not_the_api(status: int, method: str, path: str, what: str) -> ApiError:
    """A success status with a body the API never sends: not Hawzu answering."""
    return ApiError(
        status,
        NOT_THE_API,
        f"{method} {path} was answered with {what}; check the URL and any proxy or "
        "sign-in page in between",
    )


def _needs(
    body: dict[str, Any], key: str, method: str, path: str, status: int = 200
) -> dict[str, Any]:
    if not body.get(key):
        raise _not_the_api(status, method, path, f"JSON without {key!r}: {_short(body)}")
    return body


def _loosely(name: str) -> str:
    return unicodedata.normalize("NFC", name).strip().casefold()


def _short(body: Mapping[str, Any]) -> str:
    text = repr(dict(body))
    return text if len(text) <= 80 else text[:77] + "..."


def _api_error(
    status: int,
    body: Mapping[str, Any],
    headers: Mapping[str, str],
    redact: Callable[[str], str],
) -> ApiError:
    error = _error_of(body)
    details = error.get("details")
    return ApiError(
        status,
        str(error.get("code") or f"HTTP_{status}"),
        redact(str(error.get("message") or "no error message in the response")),
        details if isinstance(details, dict) else {},
        headers,
    )


def _error_of(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """The error object, read as far as it goes when it is not in Hawzu's shape:
    `{"error": "text"}`, or a `code` and `message` at the top."""
    error = body.get("error")
    if isinstance(error, dict):
        return error
    if error:
        return {"message": error, "code": body.get("code")}
    return body


def _gist(text: str) -> str:
    """One line of at most 80 characters, without markup, from any answer's text."""
    line = " ".join(re.sub(r"<[^>]*>", " ", text).split())
    return line if len(line) <= 80 else line[:77] + "..."


def _rejection(item: Any, results: Sequence[CaseResult]) -> Rejection:
    """One rejected item, as far as it can be read: a string is taken for the message."""
    if not isinstance(item, dict):
        raise _not_the_api(200, "POST", "/results", f"a rejected item {item!r}")
    index = item.get("index")
    error = _error_of(item)
    case_id = str(item.get("test_case_id") or "")
    nodeids: tuple[str, ...] = ()
    if isinstance(index, int) and 0 <= index < len(results):
        case_id = case_id or results[index].case_id
        nodeids = results[index].nodeids
    return Rejection(
        case_id=case_id,
        code=str(error.get("code") or "REJECTED"),
        message=str(error.get("message") or ""),
        nodeids=nodeids,
    )


def _release(body: Mapping[str, Any]) -> Release:
    return Release(
        id=str(body.get("id", "")),
        name=str(body.get("name", "")),
        project_id=str(body.get("project_id", "")),
        status=str(body.get("status", "")),
    )


def _execution(body: Mapping[str, Any], *, created: bool = False) -> Execution:
    summary = body.get("summary")
    return Execution(
        id=str(body.get("id", "")),
        release_id=str(body.get("release_id", "")),
        title=str(body.get("title", "")),
        status=str(body.get("status", "")),
        web_url=str(body.get("web_url", "")),
        summary=summary if isinstance(summary, dict) else {},
        created=created,
    )
