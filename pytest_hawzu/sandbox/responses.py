"""JSON answers in the shape the Hawzu API uses, successes and errors alike."""

from __future__ import annotations

import json
from typing import Any

from werkzeug.wrappers import Response

from pytest_hawzu.sandbox.rules import ApiFailure


def json_response(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def error_response(failure: ApiFailure) -> Response:
    return json_response(failure.body(), failure.status)
