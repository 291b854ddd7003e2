"""Options: one precedence everywhere, and a one-line usage error for every bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_hawzu.model import Status
from pytest_hawzu.plugin import SETTINGS
from pytest_hawzu.settings import Settings
from pytest_hawzu.status import StatusTable, parse_status_map
from tests.conftest import only_execution


def settings_of(pytester: pytest.Pytester, *args: str) -> Settings:
    config = pytester.parseconfigure(*args)
    return config.stash[SETTINGS]


def test_reporting_is_off_without_a_release(pytester):
    pytester.makeini("[pytest]\nhawzu_url = https://hawzu.example.com\n")
    assert not settings_of(pytester).active


def test_an_ini_file_cannot_turn_reporting_on(pytester):
    pytester.makeini("[pytest]\nhawzu_release = 1.4.0\n")
    assert not settings_of(pytester).active


@pytest.mark.parametrize(
    ("cli", "env", "ini", "expected"),
    [
        (
            "https://cli.example",
            "https://env.example",
            "https://ini.example",
            "https://cli.example",
        ),
        (None, "https://env.example", "https://ini.example", "https://env.example"),
        (None, None, "https://ini.example", "https://ini.example"),
        (None, None, None, "https://api.hawzu.com"),
    ],
)
def test_precedence_is_cli_env_ini_default(pytester, monkeypatch, cli, env, ini, expected):
    if ini:
        pytester.makeini(f"[pytest]\nhawzu_url = {ini}/\nhawzu_rate = 3\n")
    if env:
        monkeypatch.setenv("HAWZU_URL", env)
        monkeypatch.setenv("HAWZU_RATE", "4")
    args = ["--hawzu-release=1.4.0"]
    if cli:
        args += [f"--hawzu-url={cli}", "--hawzu-rate=7"]
    s = settings_of(pytester, *args)
    assert s.url == expected
    assert s.rate == (7 if cli else 4 if env else 3 if ini else 5)


def test_an_ini_key_overridden_on_the_command_line_outranks_the_environment(pytester, monkeypatch):
    # -o/--override-ini is typed on the command line, like the option itself.
    pytester.makeini("[pytest]\nhawzu_url = https://ini.example\nhawzu_rate = 3\n")
    monkeypatch.setenv("HAWZU_URL", "https://env.example")
    monkeypatch.setenv("HAWZU_RATE", "4")
    monkeypatch.setenv("HAWZU_ATTACH", "none")
    s = settings_of(
        pytester,
        "--hawzu-release=1.4.0",
        "-o",
        "hawzu_url=https://o.example",
        "-o",
        "hawzu_rate=6",
        "--override-ini=hawzu_attach=all",
    )
    assert (s.url, s.rate, s.attach) == ("https://o.example", 6, "all")
    # The option itself still comes first.
    s = settings_of(pytester, "--hawzu-release=1.4.0", "-o", "hawzu_rate=6", "--hawzu-rate=7")
    assert s.rate == 7


def test_every_setting_has_its_environment_variable(pytester, monkeypatch):
    env = {
        "HAWZU_RELEASE": "rel_7",
        "HAWZU_PROJECT": "proj_101",
        "HAWZU_TITLE": "nightly {date}",
        "HAWZU_EXECUTION_KEY": "pipeline-42",
        "HAWZU_TIMEOUT": "9",
        "HAWZU_FLUSH_TIMEOUT": "11",
        "HAWZU_SPOOL_DIR": "spool",
        "HAWZU_ATTACH": "all",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    s = settings_of(pytester)
    assert (s.release, s.project, s.title, s.execution_key) == (
        "rel_7",
        "proj_101",
        "nightly {date}",
        "pipeline-42",
    )
    assert (s.timeout, s.flush_timeout, s.spool_dir, s.attach) == (9, 11, Path("spool"), "all")
    assert s.shared
    assert not s.completes


def test_ini_keys(pytester):
    pytester.makeini(
        """
        [pytest]
        hawzu_batch_size = 25
        hawzu_max_retry_after = 60
        hawzu_notes_limit = 1000
        hawzu_strict = true
        hawzu_status_map =
            xfail = FAILED
            skip = not_executed
        """
    )
    s = settings_of(pytester, "--hawzu-release=1.4.0")
    assert (s.batch_size, s.max_retry_after, s.notes_limit, s.strict) == (25, 60, 1000, True)
    assert s.status_map == {"xfail": Status.FAILED, "skip": Status.NOT_EXECUTED}


@pytest.mark.parametrize(
    ("args", "flags", "expected"),
    [
        ([], "", True),
        (["--hawzu-execution-key=k"], "", False),
        (["--hawzu-execution-key=k", "--hawzu-complete"], "", True),
        (["--hawzu-no-complete"], "", False),
    ],
)
def test_who_completes(pytester, args, flags, expected):
    assert settings_of(pytester, "--hawzu-release=1.4.0", *args).completes is expected


@pytest.mark.parametrize(
    ("args", "ini", "message"),
    [
        (["--hawzu-url=ftp://x"], "", "--hawzu-url='ftp://x': expected an http(s) URL*"),
        (["--hawzu-url=https://h.example/#x"], "", "*: give the base URL, without a query*"),
        (["--hawzu-url=https://h.example?a=1"], "", "*: give the base URL, without a query*"),
        (["--hawzu-url=http://hawzu.example"], "", "*plain http is allowed only for loopback*"),
        (["--hawzu-url=http://127.0.0.1:0"], "", "*: the port must be a number from 1 to 65535"),
        (["--hawzu-url=https://h.example:0/"], "", "*: the port must be a number from 1 to 65535"),
        (["--hawzu-rate=fast"], "", "--hawzu-rate='fast': expected a number at least 0.01"),
        (["--hawzu-rate=0"], "", "--hawzu-rate='0': expected a number*"),
        (["--hawzu-rate=inf"], "", "--hawzu-rate='inf': expected a number at least 0.01"),
        (["--hawzu-flush-timeout=nan"], "", "--hawzu-flush-timeout='nan': expected a number*"),
        ([], "hawzu_max_retry_after = 1e309", "hawzu_max_retry_after='1e309': expected*"),
        ([], "hawzu_rate = 1e-3", "hawzu_rate='1e-3': expected a number at least 0.01"),
        (["--hawzu-timeout=-1"], "", "--hawzu-timeout='-1': expected a number*"),
        (["--hawzu-attach=some"], "", "--hawzu-attach='some': expected one of none, failed, all"),
        (
            [],
            "hawzu_batch_size = 101",
            "hawzu_batch_size='101': expected a whole number between 1 and 100",
        ),
        (
            [],
            "hawzu_batch_size = 50.0",
            "hawzu_batch_size='50.0': expected a whole number between 1 and 100",
        ),
        ([], "hawzu_notes_limit = 1e3", "hawzu_notes_limit='1e3': expected a whole number*"),
        (["--hawzu-execution-key=a b"], "", "--hawzu-execution-key='a b': expected 1 to 255*"),
        (["--hawzu-title={nope}"], "", "--hawzu-title: *unknown field*{nope}*"),
        (
            [],
            "hawzu_status_map = xfail = GREEN",
            "hawzu_status_map: 'xfail = GREEN': unknown status*",
        ),
        ([], "hawzu_status_map = boom = FAILED", "hawzu_status_map: 'boom = FAILED': expected*"),
        (
            [],
            "hawzu_status_map =\n    xfail = BLOCKED\n    xfail = PASSED",
            "hawzu_status_map: 'xfail = PASSED': xfail is mapped twice; keep one line*",
        ),
        (
            [],
            "hawzu_token = abc",
            "hawzu_token in an ini file is not supported: set the HAWZU_API_TOKEN*",
        ),
        (["--hawzu-sandbox"], "", "--hawzu-sandbox needs a release*"),
        ([], "hawzu_strict = maybe", "hawzu_strict: invalid truth value 'maybe'*true or false*"),
    ],
)
def test_bad_values_are_one_line_usage_errors(pytester, args, ini, message):
    release = [] if "--hawzu-sandbox" in args else ["--hawzu-release=1.4.0"]
    pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest(*release, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])
    assert "Traceback" not in result.stderr.str() + result.stdout.str()


@pytest.mark.parametrize(
    ("var", "value", "message"),
    [
        ("HAWZU_ATTACH", "bogus", "HAWZU_ATTACH='bogus': expected one of none, failed, all"),
        ("HAWZU_EXECUTION_KEY", "a b", "HAWZU_EXECUTION_KEY='a b': expected 1 to 255*"),
        ("HAWZU_TITLE", "{0}", "HAWZU_TITLE: *positional field*"),
    ],
)
def test_a_bad_value_from_the_environment_names_the_variable(
    pytester, monkeypatch, var, value, message
):
    monkeypatch.setenv(var, value)
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest("--hawzu-release=1.4.0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])


@pytest.mark.parametrize("option", ["release", "project", "execution", "title", "spool-dir"])
def test_a_value_that_is_not_utf8_is_a_usage_error(pytester, option):
    # POSIX hands Python undecodable bytes of argv and the environment as surrogates.
    value = b"r\xe9l".decode("utf-8", "surrogateescape")
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest("--hawzu-release=1.4.0", f"--hawzu-{option}={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: --hawzu-{option}=*: not valid text*"])
    assert "Traceback" not in result.stderr.str() + result.stdout.str()


def test_utf8_values_read_in_a_c_locale_are_taken_as_typed(pytester, hawzu_env):
    # Without Python's UTF-8 mode, LC_ALL=C hands every byte past ASCII of argv
    # and the environment to Python as a lone surrogate, though they are UTF-8.
    title = "r\u00e9cette \u00b7 \u2026".encode().decode("ascii", "surrogateescape")
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.hawzu("TCM-1")
        def test_a():
            pass
        """
    )
    result = pytester.runpytest("--hawzu-release=1.4.0", f"--hawzu-title={title}")
    assert result.ret == pytest.ExitCode.OK, result.stderr.str()
    assert only_execution(hawzu_env)["title"] == "r\u00e9cette \u00b7 \u2026"


def test_a_spool_dir_is_kept_as_the_os_gave_it(pytester, hawzu_env):
    # A path names bytes on the disk: read back as UTF-8 it would name another
    # (or none) here; and its paths must travel from xdist workers as text.
    spool = "\u00e9".encode().decode("ascii", "surrogateescape")
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest("--hawzu-release=1.4.0", f"--hawzu-spool-dir={spool}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --hawzu-spool-dir=*: not valid text*"])


def test_a_home_directory_that_does_not_exist_is_a_usage_error(pytester, monkeypatch):
    monkeypatch.setenv("HAWZU_SPOOL_DIR", "~nosuchuser-hawzu/spool")
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest()  # even when not reporting: the value is bad
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: HAWZU_SPOOL_DIR='~nosuchuser-hawzu/spool': *"])
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


@pytest.mark.skipif(pytest.version_tuple < (9,), reason="pytest 9 reads [tool.pytest] natively")
@pytest.mark.parametrize(("value", "strict"), [("true", True), ("false", False)])
def test_hawzu_strict_takes_a_toml_boolean(pytester, monkeypatch, value, strict):
    monkeypatch.delenv("HAWZU_API_TOKEN", raising=False)  # strict refuses to start without it
    pytester.makepyprojecttoml(f"[tool.pytest]\nhawzu_strict = {value}\n")
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest("--hawzu-release=1.4.0")
    if strict:
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines(["ERROR: Hawzu (--hawzu-strict): *HAWZU_API_TOKEN*"])
    else:
        assert result.ret == pytest.ExitCode.OK


@pytest.mark.skipif(pytest.version_tuple < (9,), reason="pytest 9 reads pytest.toml natively")
@pytest.mark.parametrize("value", ["1234567890", '["s3cr3t-in-a-list"]', "true"])
def test_a_token_in_native_toml_is_refused_whatever_its_type(pytester, value):
    # pytest's own complaint about the type would print the value, the token, in full.
    pytester.makefile(".toml", pytest=f"[pytest]\nhawzu_token = {value}\n")
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: hawzu_token in an ini file is not supported: *"])
    output = result.stderr.str() + result.stdout.str()
    assert "1234567890" not in output
    assert "s3cr3t-in-a-list" not in output


def test_a_token_given_with_override_ini_is_refused_as_such(pytester):
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest("-o", "hawzu_token=s3cr3t-on-the-command-line")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: hawzu_token given with -o is not supported: set the HAWZU_API_TOKEN *"]
    )
    assert "s3cr3t-on-the-command-line" not in result.stderr.str() + result.stdout.str()


def test_a_bad_title_from_the_ini_file_names_the_key(pytester):
    pytester.makeini("[pytest]\nhawzu_title = {nope}\n")
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest("--hawzu-release=1.4.0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: hawzu_title: *unknown field*{nope}*"])


def test_status_map_overrides_defaults():
    table = StatusTable(parse_status_map(["setup_error = FAILED", "", "# comment", "xpass=failed"]))
    assert table["setup_error"] is Status.FAILED
    assert table["xpass"] is Status.FAILED
    assert table["teardown_error"] is Status.FAILED
    assert table["skip"] is Status.SKIPPED
    assert table["passed"] is Status.PASSED
