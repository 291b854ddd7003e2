"""The HTTP client's transport: connections, proxies and the environment, over real HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_delivery import cases_suite, run

from pytest_hawzu.client import HawzuClient, TransportError
from pytest_hawzu.sandbox import Sandbox

# Never resolvable (RFC 6761): only a proxy can reach it.
UNREACHABLE = "http://hawzu.invalid"


def test_a_session_reuses_one_connection(pytester, hawzu_env):
    pytester.makepyfile(cases_suite(250))
    run(pytester, "-o", "hawzu_batch_size=10")
    records = hawzu_env.requests()
    assert len(records) > 25
    assert len({r.client for r in records}) == 1


def test_proxy_variables_are_honoured(sb: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", sb.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = HawzuClient(UNREACHABLE, sb.token)
    assert client.me().project_ids
    assert client.me().project_ids  # and again, on the resolved settings
    client.close()
    assert [r.path for r in sb.requests()] == ["/api/v1/me", "/api/v1/me"]


def test_no_proxy_is_honoured(sb: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", sb.url)
    monkeypatch.setenv("NO_PROXY", "hawzu.invalid")
    client = HawzuClient(UNREACHABLE, sb.token, timeout=5)
    with pytest.raises(TransportError):
        client.me()
    client.close()
    assert sb.requests() == []


def test_netrc_never_replaces_the_token(
    sb: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login someone password other\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    client = HawzuClient(sb.url, sb.token)
    assert client.me().project_ids  # a Basic header from .netrc would be a 401
    client.close()
