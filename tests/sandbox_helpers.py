"""Shared helpers for the sandbox tests: an HTTP session bound to one sandbox, a fake clock."""

from __future__ import annotations

from typing import Any

import requests

from pytest_hawzu.sandbox import Sandbox


class Api:
    """A requests session that talks to a sandbox's /api/v1 with a bearer token."""

    def __init__(self, sandbox: Sandbox, token: str | None = None) -> None:
        self.base = sandbox.url + "/api/v1"
        self.session = requests.Session()
        if token != "":
            self.session.headers["Authorization"] = f"Bearer {token or sandbox.token}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return self.session.request(method, self.base + path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def new_execution(self, **fields: Any) -> dict[str, Any]:
        body = {"release_id": "rel_7", "title": "pytest run", **fields}
        response = self.post("/executions", json=body)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    def post_results(self, execution_id: str, *items: dict[str, Any]) -> requests.Response:
        return self.post(f"/executions/{execution_id}/results", json={"results": list(items)})

    def close(self) -> None:
        self.session.close()


def error_of(response: requests.Response) -> dict[str, Any]:
    """The error object of an error answer, after checking its shape."""
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert set(error) == {"code", "message", "details"}
    assert isinstance(error["message"], str)
    assert error["message"]
    assert isinstance(error["details"], dict)
    return error


class FakeClock:
    """Unix time that moves only when a test says so."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
