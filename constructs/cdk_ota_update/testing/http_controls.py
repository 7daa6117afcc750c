"""The test controls over HTTP, beside moto's own under ``/moto-api/``: for a server in another
process (``python -m cdk_ota_update.testing``), which the controls' Python functions cannot reach.

``POST /moto-api/cdk-ota-update/<control>`` with a JSON object of the control's keyword arguments
calls that function of :mod:`cdk_ota_update.testing` in the server's process; the answer is
``{"result": ...}`` (200: null, a number, or for ``fleet_time`` an ISO 8601 time), or
``{"error": ...}`` naming the control and what is wrong (400; an IoT error's own status and code
for one the control raises, such as simulate_fleet's ResourceNotFoundException)::

    curl -X POST localhost:5000/moto-api/cdk-ota-update/simulate_fleet \\
        -d '{"outcomes": {"SUCCEEDED": 90, "FAILED": 10}, "seed": 7, "pace": {"start_after": 30}}'
    curl -X POST localhost:5000/moto-api/cdk-ota-update/advance_fleet -d '{"seconds": 600}'

``pace`` is :class:`~cdk_ota_update.testing.Pace`'s members. The routes exist in every moto server
started after :func:`~cdk_ota_update.testing.install` (a ``ThreadedMotoServer`` too).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

from moto.core.exceptions import JsonRESTError
from moto.moto_api._internal import urls as moto_api_urls

from .fleet import Pace

PREFIX = "/moto-api/cdk-ota-update/"
CONTROLS: dict[str, Callable[..., Any]] = {}  # by name: what register() was given
Answer = tuple[int, dict[str, str], str]


def register(controls: Mapping[str, Callable[..., Any]]) -> None:
    """Answer ``controls`` (the test controls, by name) under moto's ``/moto-api/``: routes that
    a moto server reads when it first answers there."""
    CONTROLS.update(controls)
    for name in controls:
        moto_api_urls.url_paths["{0}" + PREFIX + name + "$"] = answer


def answer(request: Any, full_url: str, headers: Any) -> Answer:
    """A control's request: its function called with the body's arguments."""
    del headers
    name = urlparse(full_url).path.removeprefix(PREFIX)
    if request.method != "POST":
        return _error(405, f"{name}: POST a JSON object of its arguments")
    try:
        arguments = _arguments(request)
        if isinstance(arguments.get("pace"), Mapping):
            arguments["pace"] = Pace(**arguments["pace"])
        result = CONTROLS[name](**arguments)
    except JsonRESTError as error:  # the IoT error the control raises, as IoT answers it
        return _error(error.code, f"{name}: {error.message}", error.error_type)
    except (TypeError, ValueError) as error:  # bad JSON or arguments
        return _error(400, f"{name}: {error}")
    if isinstance(result, datetime):
        result = result.isoformat()
    return 200, {"Content-Type": "application/json"}, json.dumps({"result": result})


def _arguments(request: Any) -> dict[str, Any]:
    """The request's JSON object (none: no arguments)."""
    body = request.get_data() if hasattr(request, "get_data") else request.body
    text = body.decode() if isinstance(body, bytes) else body or ""
    arguments = json.loads(text) if text else {}
    if not isinstance(arguments, dict):
        raise ValueError(f"the body is a JSON object of keyword arguments, not {text}")
    return arguments


def _error(status: int, message: str, code: str | None = None) -> Answer:
    body = {"error": message, **({"code": code} if code else {})}
    return status, {"Content-Type": "application/json"}, json.dumps(body)
