"""The `hawzu` command: a sandbox, uploads of kept journals, and executions for CI pipelines."""

from __future__ import annotations

import argparse
import math
import os
import sys
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import NoReturn

from pytest_hawzu import __version__, output
from pytest_hawzu.client import (
    DEFAULT_URL,
    MAX_IDEMPOTENCY_KEY,
    HawzuClient,
    HawzuError,
    valid_idempotency_key,
)
from pytest_hawzu.failures import why
from pytest_hawzu.retry import Retrier, RetryPolicy, telling_sleep
from pytest_hawzu.settings import (
    DEFAULT_RATE,
    DEFAULT_TIMEOUT,
    MAX_TIMEOUT,
    MIN_RATE,
    MIN_TIMEOUT,
    TITLE_ENV,
    TOKEN_ENV,
    check_url,
    shown_url,
)
from pytest_hawzu.startup import (
    UNUSABLE_TOKEN,
    Plan,
    describe,
    naming,
    open_execution,
    unusable_token,
)
from pytest_hawzu.text import hiding, meant
from pytest_hawzu.throttle import Throttle
from pytest_hawzu.title import DEFAULT_TITLE, TemplateError, validate

USAGE_ERROR = 2
URL_ENV = "HAWZU_URL"


class CliError(Exception):
    """A bad input: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """argparse's usage errors in one line, as every other bad input."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# The plugin's messages name its pytest options; these commands have their own.
EXECUTION_TERMS = {
    "--hawzu-url (HAWZU_URL)": "--url (HAWZU_URL)",
    "--hawzu-release": "--release",
    "--hawzu-project": "--project",
    "--hawzu-execution": "the execution ID",
    "--hawzu-rate": "--rate",
    "--hawzu-timeout": "--timeout",
}
# A journal's release, project and execution are what its run recorded: not
# options of this command, so the advice names them as the journal's.
UPLOAD_TERMS = {
    "--hawzu-url (HAWZU_URL)": "--url (or the URL the journal recorded)",
    "check --hawzu-release and --hawzu-project": "check the release and project the journal "
    "recorded (its first line)",
    # No --release or --project here: what the journal recorded is what to change.
    "pass the release ID to --hawzu-release instead": "put the release ID in the journal's "
    'first line ("release": "<ID>")',
    "set --hawzu-project (HAWZU_PROJECT)": 'add "project": "<ID>" to the journal\'s first line',
    "check --hawzu-execution (HAWZU_EXECUTION) and --hawzu-release (HAWZU_RELEASE)": "the "
    "journal recorded both",
    "check --hawzu-execution (HAWZU_EXECUTION)": "check the execution the journal recorded",
    "leave out --hawzu-release (HAWZU_RELEASE) to report into it as it is": "remove "
    '"release" from the journal\'s first line to deliver into it as it is',
    "--hawzu-rate": "--rate",
    "--hawzu-timeout": "--timeout",
}


def in_terms(text: str, terms: Mapping[str, str]) -> str:
    for plugin, own in terms.items():
        text = text.replace(plugin, own)
    return text


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 0
    try:
        return int(args.run(args))
    except CliError as exc:
        print(f"hawzu: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        # Stopped by hand or by CI: say what is left, after what was said before it.
        output.flush()
        print(f"hawzu: interrupted{getattr(args, 'interrupted', '')}", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="hawzu", description="Companion command of the pytest-hawzu plugin.")
    parser.add_argument("--version", action="version", version=f"pytest-hawzu {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    _sandbox_parser(commands)
    _upload_parser(commands)
    _execution_parser(commands)
    return parser


def _sandbox_parser(commands: argparse._SubParsersAction[_Parser]) -> None:
    p = commands.add_parser("sandbox", help="Run a local in-memory Hawzu until interrupted")
    p.add_argument("--port", type=_port, default=0, help="Port on 127.0.0.1 (default: a free one)")
    p.add_argument("--rate", type=RATE, default=None, help="Requests per second per token")
    p.add_argument(
        "--token", type=_token_text, default="sandbox-token", help="The token the sandbox accepts"
    )
    p.set_defaults(run=_run_sandbox)


def _upload_parser(commands: argparse._SubParsersAction[_Parser]) -> None:
    p = commands.add_parser("upload", help="Deliver kept journals (files or directories)")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    p.add_argument("--url", help="Hawzu API URL (default: the one the journal recorded)")
    _transport_options(p)
    p.set_defaults(
        run=_run_upload,
        # Said when Ctrl-C stops it. A journal is removed only once delivered,
        # and its lock goes with the process.
        interrupted="; a journal not delivered yet is kept: run the same hawzu upload again "
        "to deliver it",
    )


def _execution_parser(commands: argparse._SubParsersAction[_Parser]) -> None:
    p = commands.add_parser("execution", help="Create or complete an execution (CI pipelines)")
    actions = p.add_subparsers(title="actions", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="Create an execution and print its ID")
    create.add_argument("--release", required=True, help="Release ID or name")
    create.add_argument("--project", default=os.environ.get("HAWZU_PROJECT"))
    create.add_argument(
        "--title",
        metavar="TEMPLATE",
        help=f"Execution title, a template as --hawzu-title takes (default: {TITLE_ENV}, "
        "else the plugin's)",
    )
    create.add_argument("--key", help="Idempotency key: the same key gives the same execution")
    create.add_argument("--url", default=None)
    _transport_options(create)
    create.set_defaults(run=_run_create)
    complete = actions.add_parser("complete", help="Complete an execution")
    complete.add_argument("execution_id", metavar="ID")
    complete.add_argument("--url", default=None)
    _transport_options(complete)
    complete.set_defaults(run=_run_complete)


def _transport_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rate", type=RATE, default=DEFAULT_RATE, help="Most requests per second")
    p.add_argument("--timeout", type=TIMEOUT, default=DEFAULT_TIMEOUT, help="Seconds per request")


def _between(low: float, high: float = math.inf) -> Callable[[str], float]:
    """An argparse type: a number in [low, high]; anything else is a usage error, not a
    traceback later (a rate of 1e-12 overflows a wait, a timeout of 1e10 a socket)."""
    wanted = f"a number from {low:g} to {high:g}" if high < math.inf else f"a number >= {low:g}"

    def number(value: str) -> float:
        try:
            found = float(value)
        except ValueError:
            found = math.nan
        if not (math.isfinite(found) and low <= found <= high):
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {value!r}")
        return found

    return number


RATE = _between(MIN_RATE)
TIMEOUT = _between(MIN_TIMEOUT, MAX_TIMEOUT)


def _port(value: str) -> int:
    # isdigit() alone lets through what int() refuses ("²", thousands of
    # digits), and argparse would then name this function instead of the rule.
    digits = value.lstrip("0") or "0"
    if not (value.isascii() and value.isdigit() and len(digits) <= 5 and int(digits) <= 65535):
        raise argparse.ArgumentTypeError(f"expected a port from 0 to 65535, got {value!r}")
    return int(digits)


def _token_text(value: str) -> str:
    if unusable_token(value) or not value:
        raise argparse.ArgumentTypeError(f"expected printable ASCII without spaces, got {value!r}")
    return value


def _run_sandbox(args: argparse.Namespace) -> int:
    try:
        from pytest_hawzu.sandbox import serve
    except ImportError:
        raise CliError("the sandbox needs werkzeug: pip install 'pytest-hawzu[sandbox]'") from None
    try:
        serve(args.port, args.rate, args.token)
    except OSError as exc:
        raise CliError(
            f"cannot listen on 127.0.0.1:{args.port} ({why(exc)}): pick another "
            "--port, or 0 for a free one"
        ) from None
    return 0


def _run_upload(args: argparse.Namespace) -> int:
    from pytest_hawzu.upload import upload_all

    token = _token()
    url = _url(args.url) if args.url is not None else None
    ok = upload_all(
        args.paths,
        url=url,
        token=token,
        rate=args.rate,
        timeout=args.timeout,
        say=lambda line: output.say(in_terms(line, UPLOAD_TERMS)),
    )
    return 0 if ok else 1


def _run_create(args: argparse.Namespace) -> int:
    # Without --key a fresh key still goes out, so a retried POST never makes two.
    key = _key(args.key) or f"hawzu-cli-{uuid.uuid4()}"
    release = _text(args.release, "--release")
    if not release.strip():
        raise CliError("--release must not be empty")
    project = None if args.project is None else _text(args.project, "--project")
    template = _title_template(args.title)
    client, retrier = _connect(args)
    name, description = naming(template, release, hiding(_token()))
    plan = Plan(
        release=release,
        project=project,
        title=name,
        description=description,
        idempotency_key=key,
    )
    try:
        execution = open_execution(client, retrier.call, plan, to_report=False)
    except HawzuError as exc:
        print(f"hawzu: {in_terms(str(exc), EXECUTION_TERMS)}", file=sys.stderr)
        return 1
    try:
        output.say(execution.id, vital=True)
    except OSError as exc:
        print(
            f"hawzu: could not write the new execution's ID to standard output "
            f"({exc.strerror or exc}); the execution is {execution.id}",
            file=sys.stderr,
        )
        return 1
    return 0


def _title_template(given: str | None) -> str:
    """The title template, checked: --title, else HAWZU_TITLE (as a session
    reads it), else the plugin's default."""
    if given is not None:
        template, name = _text(given, "--title"), "--title"
        if not template.strip():
            raise CliError("--title must not be empty")
    else:
        name = TITLE_ENV
        template = _text(os.environ.get(TITLE_ENV) or DEFAULT_TITLE, TITLE_ENV)
    try:
        validate(template)
    except TemplateError as exc:
        raise CliError(f"{name}: {exc}") from None
    return template


def _run_complete(args: argparse.Namespace) -> int:
    execution_id = _text(args.execution_id, "the execution ID")
    if not execution_id.strip():
        raise CliError("the execution ID must not be empty")
    client, retrier = _connect(args)
    try:
        retrier.call(lambda: client.complete_execution(execution_id))
    except HawzuError as exc:
        why = in_terms(describe(exc), EXECUTION_TERMS)
        print(f"hawzu: completing {execution_id} failed: {why}", file=sys.stderr)
        return 1
    output.say(f"execution {execution_id} completed")
    return 0


def _connect(args: argparse.Namespace) -> tuple[HawzuClient, Retrier]:
    url = _url(args.url) if args.url is not None else _env_url()
    throttle = Throttle(args.rate)
    client = HawzuClient(url, _token(), timeout=args.timeout, observer=throttle.observe)
    return client, Retrier(throttle, RetryPolicy(), sleep=telling_sleep(_say_on_stderr))


def _say_on_stderr(line: str) -> None:
    # stdout carries only the result (an execution ID), for scripts to read.
    print(in_terms(line, EXECUTION_TERMS), file=sys.stderr)


def _key(value: str | None) -> str | None:
    # The rule of --hawzu-execution-key, so a key that works here works for the shards too.
    if value is not None and not valid_idempotency_key(value):
        raise CliError(
            f"--key {value!r}: expected 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters "
            "without spaces "
            "(a CI pipeline ID works well)"
        )
    return value


def _token() -> str:
    token = (os.environ.get(TOKEN_ENV) or "").strip()
    if not token:
        raise CliError(f"{TOKEN_ENV} is not set: export the API token created in Hawzu")
    if unusable_token(token):
        raise CliError(UNUSABLE_TOKEN)
    return token


def _text(value: str, name: str) -> str:
    """`value` as meant, if it is text: bytes that are not UTF-8 arrive as lone surrogates."""
    found = meant(value)
    if found is None:
        raise CliError(f"{name} is not valid UTF-8 text")
    return found


def _env_url() -> str:
    value = os.environ.get(URL_ENV) or DEFAULT_URL
    try:
        return check_url(value)
    except ValueError as exc:
        raise CliError(f"{URL_ENV} {shown_url(value)!r}: {exc}") from None


def _url(value: str) -> str:
    try:
        return check_url(value)
    except ValueError as exc:
        raise CliError(f"--url {shown_url(value)!r}: {exc}") from None


if __name__ == "__main__":
    sys.exit(main())
