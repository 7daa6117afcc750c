"""The IoT operations the emulation adds to moto's ``IoTResponse``: thin, as moto's own are.

Each one parses the request with moto's parser for the operation (so the blob signature arrives
as bytes), checks it with :func:`cdk_ota_update.api.validate` against the operation's input
shape, and hands it to the :class:`~.backend.OtaBackend` of the request's account and region.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.core.common_types import TYPE_RESPONSE
from moto.core.responses import ActionResult, BaseResponse, EmptyResult
from moto.iot.responses import IoTResponse

from cdk_ota_update import api

from . import controls, fleet
from .backend import OtaBackend, ota_backend
from .exceptions import ServiceError, validation_error

# The constraint table's rules are keyed by CreateOTAUpdate's member paths; other operations
# share only its rules on tags (the same Tag shape).
_TAG_RULES = {key: rule for key, rule in api.RULES.items() if key.split("[")[0] == api.TAGS}


def _params(response: IoTResponse) -> dict[str, Any]:
    """The request's members, typed by the operation's model and validated."""
    response.parse_parameters(response.normalized_request)
    params: dict[str, Any] = dict(response.params)
    operation = response._get_action()
    rules = api.RULES if operation == "CreateOTAUpdate" else _TAG_RULES
    violations = api.validate(params, shape=api.operation_input(operation), rules=rules)
    if violations:
        raise validation_error(violations)
    return params


def _backend(response: IoTResponse) -> OtaBackend:
    return ota_backend(response.iot_backend)


def create_ota_update(response: IoTResponse) -> ActionResult:
    return ActionResult(_backend(response).create_ota_update(_params(response)).created())


def get_ota_update(response: IoTResponse) -> ActionResult:
    ota = _backend(response).get_ota_update(_params(response)["otaUpdateId"])
    return ActionResult({"otaUpdateInfo": ota.info()})


def list_ota_updates(response: IoTResponse) -> ActionResult:
    params = _params(response)
    found, token = _backend(response).list_ota_updates(
        ota_update_status=params.get("otaUpdateStatus"),
        max_results=params.get("maxResults"),
        next_token=params.get("nextToken"),
    )
    return ActionResult({"otaUpdates": [ota.summary() for ota in found], "nextToken": token})


def delete_ota_update(response: IoTResponse) -> ActionResult:
    params = _params(response)
    _backend(response).delete_ota_update(
        params["otaUpdateId"],
        delete_stream=params.get("deleteStream", False),
        force_delete_aws_job=params.get("forceDeleteAWSJob", False),
    )
    return EmptyResult()


def create_stream(response: IoTResponse) -> ActionResult:
    params = _params(response)
    stream = _backend(response).create_stream(
        params["streamId"],
        params["files"],
        params.get("roleArn"),
        params.get("description"),
        params.get("tags"),
    )
    return ActionResult(stream.summary())


def describe_stream(response: IoTResponse) -> ActionResult:
    stream = _backend(response).describe_stream(_params(response)["streamId"])
    return ActionResult({"streamInfo": stream.info()})


def update_stream(response: IoTResponse) -> ActionResult:
    params = _params(response)
    stream = _backend(response).update_stream(
        params["streamId"], params.get("files"), params.get("roleArn"), params.get("description")
    )
    return ActionResult(stream.summary())


def delete_stream(response: IoTResponse) -> ActionResult:
    _backend(response).delete_stream(_params(response)["streamId"])
    return EmptyResult()


def list_streams(response: IoTResponse) -> ActionResult:
    params = _params(response)
    found, token = _backend(response).list_streams(
        ascending_order=params.get("ascendingOrder", False),
        max_results=params.get("maxResults"),
        next_token=params.get("nextToken"),
    )
    return ActionResult({"streams": [stream.summary() for stream in found], "nextToken": token})


def list_tags_for_resource(response: IoTResponse) -> ActionResult:
    tags = _backend(response).list_tags_for_resource(_params(response)["resourceArn"])
    return ActionResult({"tags": tags})


def tag_resource(response: IoTResponse) -> ActionResult:
    params = _params(response)
    _backend(response).tag_resource(params["resourceArn"], params["tags"])
    return EmptyResult()


def untag_resource(response: IoTResponse) -> ActionResult:
    params = _params(response)
    _backend(response).untag_resource(params["resourceArn"], params["tagKeys"])
    return EmptyResult()


def call_action(response: IoTResponse) -> TYPE_RESPONSE:
    """Every IoT request: count it, fail it if a fault is queued, else settle (the OTA updates'
    lifecycle, then the simulated fleet's jobs) and answer it."""
    with controls.LOCK:
        code = controls.take_call(response._get_action())
        if code is None:
            _backend(response).settle()
            fleet.settle(response.iot_backend)
            return BaseResponse.call_action(response)
    error = ServiceError(code)
    return error.code, {**response.response_headers, **dict(error.get_headers())}, error.description


RESPONSES: dict[str, Callable[[IoTResponse], Any]] = {
    function.__name__: function
    for function in (
        create_ota_update,
        get_ota_update,
        list_ota_updates,
        delete_ota_update,
        create_stream,
        describe_stream,
        update_stream,
        delete_stream,
        list_streams,
        list_tags_for_resource,
        tag_resource,
        untag_resource,
        call_action,
    )
}
