"""Every setting: its help, its option, ini key and environment variable, and precedence.

Precedence is the same everywhere and decided in `resolve`: command line, then
environment, then ini file, then default. The token is the exception: it comes
from `HAWZU_API_TOKEN` only, so it never sits in a file or a process listing.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

import pytest

from pytest_hawzu import status, title
from pytest_hawzu.client import (
    API_PREFIX,
    DEFAULT_URL,
    MAX_BATCH,
    MAX_IDEMPOTENCY_KEY,
    MAX_NOTES,
    is_loopback,
    valid_idempotency_key,
)
from pytest_hawzu.model import Status
from pytest_hawzu.text import hiding, meant, valid

TOKEN_ENV = "HAWZU_API_TOKEN"
TITLE_ENV = "HAWZU_TITLE"  # also read by `hawzu execution create`
# Set by a reporting session for every process it starts. A pytest that one of
# its tests runs (pytester, a subprocess) inherits HAWZU_RELEASE too, and must
# not open an execution of its own on its strength.
PARENT_ENV = "PYTEST_HAWZU_PARENT"
# The controller's spool directory, handed to xdist workers in their workerinput.
SPOOL_DIR_KEY = "hawzu_spool_dir"
ATTACH_CHOICES = ("none", "failed", "all")
DEFAULT_RATE = 5.0
DEFAULT_TIMEOUT = 30.0
MIN_RATE = 0.01  # one request every 100 s
MIN_TIMEOUT = 0.1
MAX_TIMEOUT = 3600.0  # longer waits are not a timeout, and overflow a socket's
DEFAULT_FLUSH_TIMEOUT = 120.0
DEFAULT_MAX_RETRY_AFTER = 300.0
DEFAULT_NOTES_LIMIT = 8_000
DEFAULT_SPOOL_DIR = ".hawzu"

T = TypeVar("T")


@dataclass(frozen=True)
class Setting:
    """One setting. `option` is the long flag without dashes' prefix handling."""

    dest: str
    help: str
    option: str | None = None
    env: str | None = None
    ini: str | None = None
    default: str | None = None
    metavar: str | None = None
    numeric: bool = False  # in native TOML configuration, a number may be written as one


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "release",
        "Report this run to Hawzu as one execution in this release (ID or name)",
        option="--hawzu-release",
        metavar="ID_OR_NAME",
        env="HAWZU_RELEASE",
    ),
    Setting(
        "url",
        f"Hawzu API base URL (default {DEFAULT_URL})",
        option="--hawzu-url",
        metavar="URL",
        env="HAWZU_URL",
        ini="hawzu_url",
        default=DEFAULT_URL,
    ),
    Setting(
        "project",
        "Hawzu project ID, needed to find a release by name when the token sees several projects",
        option="--hawzu-project",
        metavar="ID",
        env="HAWZU_PROJECT",
        ini="hawzu_project",
    ),
    Setting(
        "title",
        "Execution title template; fields such as {date}, {time}, {branch}, {commit}, {build}",
        option="--hawzu-title",
        metavar="TEMPLATE",
        env=TITLE_ENV,
        ini="hawzu_title",
    ),
    Setting(
        "execution",
        "Report into this existing execution instead of creating one (CI shards)",
        option="--hawzu-execution",
        metavar="ID",
        env="HAWZU_EXECUTION",
    ),
    Setting(
        "execution_key",
        "Create the execution with this idempotency key, so shards with one key share it",
        option="--hawzu-execution-key",
        metavar="KEY",
        env="HAWZU_EXECUTION_KEY",
    ),
    Setting(
        "rate",
        f"Most requests per second to Hawzu (default {DEFAULT_RATE:g})",
        option="--hawzu-rate",
        metavar="PER_SECOND",
        env="HAWZU_RATE",
        ini="hawzu_rate",
        default=str(DEFAULT_RATE),
        numeric=True,
    ),
    Setting(
        "timeout",
        f"Seconds to wait for one Hawzu response (default {DEFAULT_TIMEOUT:g})",
        option="--hawzu-timeout",
        metavar="SECONDS",
        env="HAWZU_TIMEOUT",
        ini="hawzu_timeout",
        default=str(DEFAULT_TIMEOUT),
        numeric=True,
    ),
    Setting(
        "flush_timeout",
        f"Seconds the end of the session may wait for uploads (default {DEFAULT_FLUSH_TIMEOUT:g})",
        option="--hawzu-flush-timeout",
        metavar="SECONDS",
        env="HAWZU_FLUSH_TIMEOUT",
        ini="hawzu_flush_timeout",
        default=str(DEFAULT_FLUSH_TIMEOUT),
        numeric=True,
    ),
    Setting(
        "spool_dir",
        f"Directory for the local journal of results (default {DEFAULT_SPOOL_DIR}/)",
        option="--hawzu-spool-dir",
        metavar="DIR",
        env="HAWZU_SPOOL_DIR",
        ini="hawzu_spool_dir",
        default=DEFAULT_SPOOL_DIR,
    ),
    Setting(
        "attach",
        "Attach captured output: none, failed or all (default failed)",
        option="--hawzu-attach",
        metavar="WHICH",
        env="HAWZU_ATTACH",
        ini="hawzu_attach",
        default="failed",
    ),
    Setting(
        "batch_size",
        f"Results per request (default and maximum {MAX_BATCH})",
        ini="hawzu_batch_size",
        default=str(MAX_BATCH),
        numeric=True,
    ),
    Setting(
        "max_retry_after",
        f"Longest Retry-After to honour, in seconds (default {DEFAULT_MAX_RETRY_AFTER:g})",
        ini="hawzu_max_retry_after",
        default=str(DEFAULT_MAX_RETRY_AFTER),
        numeric=True,
    ),
    Setting(
        "notes_limit",
        f"Most characters of notes per result (default {DEFAULT_NOTES_LIMIT})",
        ini="hawzu_notes_limit",
        default=str(DEFAULT_NOTES_LIMIT),
        numeric=True,
    ),
)

FLAGS: tuple[Setting, ...] = (
    Setting(
        "sandbox",
        "Report to a local in-memory Hawzu sandbox instead of --hawzu-url (no token needed)",
        option="--hawzu-sandbox",
    ),
    Setting(
        "strict",
        "Fail the run when Hawzu cannot be reached at start, or a result is not delivered "
        "or is rejected",
        option="--hawzu-strict",
        ini="hawzu_strict",
    ),
)


@dataclass(frozen=True)
class Settings:
    """The resolved configuration of one session. Never holds the token."""

    release: str | None
    url: str = DEFAULT_URL
    project: str | None = None
    title: str | None = None
    execution: str | None = None
    execution_key: str | None = None
    complete: bool | None = None
    rate: float = DEFAULT_RATE
    timeout: float = DEFAULT_TIMEOUT
    flush_timeout: float = DEFAULT_FLUSH_TIMEOUT
    spool_dir: Path = Path(DEFAULT_SPOOL_DIR)
    attach: str = "failed"
    batch_size: int = MAX_BATCH
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER
    notes_limit: int = DEFAULT_NOTES_LIMIT
    sandbox: bool = False
    strict: bool = False
    status_map: Mapping[str, Status] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return bool(self.release) or bool(self.execution)

    @property
    def shared(self) -> bool:
        """Whether other sessions may report into the same execution."""
        return bool(self.execution or self.execution_key)

    @property
    def completes(self) -> bool:
        """Whether this session completes the execution at its end."""
        if self.complete is not None:
            return self.complete
        return not self.shared


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("hawzu", "reporting to Hawzu")
    for s in SETTINGS:
        if s.option:
            group.addoption(
                s.option, dest=f"hawzu_{s.dest}", default=None, metavar=s.metavar, help=s.help
            )
        if s.ini:
            parser.addini(s.ini, help=s.help, default=s.default, **_ini_type(s))
    for s in FLAGS:
        group.addoption(s.option or "", dest=f"hawzu_{s.dest}", action="store_true", help=s.help)
        if s.ini:
            parser.addini(s.ini, help=s.help, type="bool", default=False)
    group.addoption(
        "--hawzu-complete",
        dest="hawzu_complete",
        action="store_true",
        default=None,
        help="Complete the execution at the end even when it is shared",
    )
    group.addoption(
        "--hawzu-no-complete",
        dest="hawzu_complete",
        action="store_false",
        help="Leave the execution open at the end, for a later step to complete",
    )
    parser.addini(
        "hawzu_status_map",
        help="Lines of 'outcome = STATUS' overriding the default status table",
        type="linelist",
        default=[],
    )
    parser.addini(
        "hawzu_token",
        help=f"Not supported: the token is read from {TOKEN_ENV} only",
        default=None,
    )


def _ini_type(s: Setting) -> dict[str, Any]:
    """A numeric setting takes a TOML number as well as a string (pytest 9.2 and later:
    earlier, pytest's native TOML table accepts only the string). An ini file's text
    stays text, and is checked with the option's and the variable's."""
    if s.numeric and pytest.version_tuple >= (9, 2):
        return {"type": str | int | float}
    return {}


def resolve(config: pytest.Config, env: Mapping[str, str]) -> Settings:
    """Turn options, environment and ini values into `Settings`, or raise UsageError."""
    try:
        token_in_file = bool(config.getini("hawzu_token"))
    except pytest.UsageError:
        # Native TOML, a value that is not a string (`hawzu_token = 1234`): pytest's
        # own message about its type would show it, and it is still a token.
        token_in_file = True
    if token_in_file and _overridden(config, "hawzu_token"):
        raise pytest.UsageError(
            f"hawzu_token given with -o is not supported: set the {TOKEN_ENV} environment "
            "variable instead"
        )
    if token_in_file:
        raise pytest.UsageError(
            f"hawzu_token in an ini file is not supported: set the {TOKEN_ENV} environment "
            "variable instead, and remove the token from the file"
        )
    found = {s.dest: _raw(config, env, s) for s in SETTINGS}
    raw = {dest: value for dest, (value, _) in found.items()}
    # Where each value came from, for an error about it: the option, the
    # environment variable or the ini key the user wrote it in.
    name = {dest: source for dest, (_, source) in found.items()}
    if env.get(PARENT_ENV) and not hasattr(config, "workerinput"):
        # Started by a reporting session's test: only its own command line
        # counts, not the environment or the addopts of the ini it shares.
        raw["release"] = _typed(config, "release")
        raw["execution"] = _typed(config, "execution")
        # The outer run's CI key would join (and overwrite) its execution.
        raw["execution_key"] = _typed(config, "execution_key")

    def number(dest: str, kind: Callable[[str], T], low: float, high: float = math.inf) -> T:
        return _number(name[dest], raw[dest], kind, low=low, high=high)

    for dest in ("release", "project", "execution", "title"):
        raw[dest] = _text(name[dest], raw[dest])
    # Kept as the OS gave it, since it names a directory; and strictly text, since
    # its paths travel from xdist workers in reports.
    if raw["spool_dir"] and valid(raw["spool_dir"]) != raw["spool_dir"]:
        raise _not_text(name["spool_dir"], raw["spool_dir"])
    return Settings(
        release=raw["release"] or None,
        url=_url(raw["url"] or DEFAULT_URL, name["url"]),
        project=raw["project"] or None,
        title=_title(name["title"], raw["title"], bool(raw["release"] or raw["execution"])),
        execution=raw["execution"] or None,
        execution_key=_key(name["execution_key"], raw["execution_key"]),
        complete=config.getoption("hawzu_complete"),
        rate=number("rate", float, MIN_RATE),
        timeout=number("timeout", float, MIN_TIMEOUT, MAX_TIMEOUT),
        flush_timeout=number("flush_timeout", float, 0),
        spool_dir=_spool_dir(name["spool_dir"], raw["spool_dir"]),
        attach=_choice(name["attach"], raw["attach"], ATTACH_CHOICES),
        batch_size=number("batch_size", int, 1, MAX_BATCH),
        max_retry_after=number("max_retry_after", float, 0),
        notes_limit=number("notes_limit", int, 200, MAX_NOTES),
        sandbox=bool(config.getoption("hawzu_sandbox")),
        strict=bool(config.getoption("hawzu_strict")) or _flag(config, "hawzu_strict"),
        status_map=_status_map(config.getini("hawzu_status_map")),
    )


def _setting(dest: str) -> Setting:
    return next(s for s in SETTINGS if s.dest == dest)


def _raw(config: pytest.Config, env: Mapping[str, str], s: Setting) -> tuple[str | None, str]:
    """The setting's value, and the name of the place it came from."""
    if s.option:
        value = config.getoption(f"hawzu_{s.dest}")
        if value is not None:
            return str(value), s.option
    # `-o KEY=VALUE` is given on the command line: it outranks the environment.
    if s.ini and _overridden(config, s.ini) and (ini := _ini(config, s.ini)) is not None:
        return ini, s.ini
    if s.env and env.get(s.env):
        return env[s.env], s.env
    if s.ini and (ini := _ini(config, s.ini)) is not None:
        return ini, s.ini
    return s.default, s.option or s.ini or s.dest


def _ini(config: pytest.Config, key: str) -> str | None:
    """The ini value as text (a TOML number too), or None if empty or not given."""
    value: Any = config.getini(key)
    return None if value in (None, "") else str(value)


def _overridden(config: pytest.Config, key: str) -> bool:
    """Whether `-o`/`--override-ini` gave the key (as pytest reads it: up to the first '=')."""
    overrides = config.getoption("override_ini", None) or []
    return any(o.split("=", 1)[0] == key for o in overrides)


def _typed(config: pytest.Config, dest: str) -> str | None:
    """The option's value if it was typed on this pytest's own command line, not in addopts."""
    option = _setting(dest).option or ""
    # pytest.main() takes paths as objects too.
    args = [str(a) for a in config.invocation_params.args]
    if any(a == option or a.startswith(f"{option}=") for a in args):
        return cast("str | None", config.getoption(f"hawzu_{dest}"))
    return None


def token_secret() -> str:
    """The token from the environment, as text to hide wherever the plugin
    words what a user's code or hook produced (see `text.hide`)."""
    return hiding(os.environ.get(TOKEN_ENV, "").strip())


def _flag(config: pytest.Config, key: str) -> bool:
    """An ini flag (a TOML boolean too), with a bad value's error naming the key."""
    try:
        return bool(config.getini(key))
    except (ValueError, pytest.UsageError) as exc:  # pytest's: "invalid truth value 'maybe'"
        if key in str(exc):  # pytest 9 names the key and the file itself
            raise
        raise pytest.UsageError(f"{key}: {exc}; expected true or false") from None


def _number(
    name: str,
    value: str | None,
    kind: Callable[[str], T],
    *,
    low: float,
    high: float = math.inf,
) -> T:
    try:
        number = kind(value or "")
        as_float = float(number)  # type: ignore[arg-type]
        # inf passes "at least", and nan every comparison's negation: neither is a number here.
        ok = math.isfinite(as_float) and low <= as_float <= high
    except ValueError:
        ok = False
    if not ok:
        bound = f"between {low:g} and {high:g}" if high != math.inf else f"at least {low:g}"
        # int("50.0") fails: "a number between 1 and 100" would not say what is wrong.
        what = "a whole number" if kind is int else "a number"
        raise pytest.UsageError(f"{name}={value!r}: expected {what} {bound}")
    return number


def _choice(name: str, value: str | None, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise pytest.UsageError(f"{name}={value!r}: expected one of {', '.join(choices)}")
    return value


def _text(name: str, value: str | None) -> str | None:
    """The value as meant. One POSIX gave with bytes that are not UTF-8 (as lone
    surrogates) cannot be sent: Hawzu would be asked for something else."""
    if not value:
        return value
    found = meant(value)
    if found is None:
        raise _not_text(name, value)
    return found


def _not_text(name: str, value: str) -> pytest.UsageError:
    return pytest.UsageError(
        f"{name}={value!r}: not valid text (a byte that is not UTF-8, or NUL); "
        "give the value in UTF-8"
    )


def _spool_dir(name: str, value: str | None) -> Path:
    try:
        return Path(value or DEFAULT_SPOOL_DIR).expanduser()
    except RuntimeError:  # "~someone" who does not exist here
        raise pytest.UsageError(
            f"{name}={value!r}: no such user here to expand '~' for; give the full path"
        ) from None


def _key(name: str, value: str | None) -> str | None:
    if not value:
        return None
    if not valid_idempotency_key(value):
        raise pytest.UsageError(
            f"{name}={value!r}: expected 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters "
            "without spaces (a CI pipeline ID works well)"
        )
    return value


def _title(name: str, template: str | None, reporting: bool) -> str | None:
    """The title template, checked when a session will use it."""
    if template and reporting:
        try:
            title.validate(template)
        except title.TemplateError as exc:
            raise pytest.UsageError(f"{name}: {exc}") from None
    return template or None


def _url(value: str, name: str) -> str:
    try:
        return check_url(value)
    except ValueError as exc:
        raise pytest.UsageError(f"{name}={shown_url(value)!r}: {exc}") from None


def check_url(value: str) -> str:
    """The URL without a trailing slash, or ValueError saying what is wrong with it."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http(s) URL such as {DEFAULT_URL}")
    if "@" in parts.netloc:
        # requests would send them as Basic auth in place of the token.
        raise ValueError(
            f"a user or password in the URL would replace the API token; give the URL "
            f"without them (the token comes from {TOKEN_ENV})"
        )
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:  # urllib3 would take port 0 for the scheme's default
        raise ValueError("the port must be a number from 1 to 65535")
    if parts.path.rstrip("/").endswith(API_PREFIX):
        raise ValueError(f"give the base URL, without {API_PREFIX}: the plugin adds it")
    if parts.query or parts.fragment or value.rstrip("/").endswith(("?", "#")):
        # The plugin appends paths: everything would go to the URL's own path.
        raise ValueError("give the base URL, without a query (?...) or fragment (#...)")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError("plain http is allowed only for loopback hosts; use https")
    return value.rstrip("/")


def shown_url(value: str) -> str:
    """The URL as an error line may show it: any user and password hidden.

    By plain string work, up to the last "@": it runs while a URL that Python
    cannot split is being reported, and a password may hold "/" or "#".
    """
    scheme, sep, rest = value.partition("://")
    if not sep:  # "user:pass@host": no scheme to keep
        scheme, rest = "", value
    if "@" not in rest:
        return value
    return f"{scheme}{sep}***@{rest.rsplit('@', 1)[1]}"


def _status_map(lines: list[str]) -> dict[str, Status]:
    try:
        return status.parse_status_map(lines)
    except ValueError as exc:
        raise pytest.UsageError(f"hawzu_status_map: {exc}") from None
