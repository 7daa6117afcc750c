"""The parts of crhelper that are private to it and that the handler's adapter relies on
(``lambda_handler/index.py``, :class:`OtaUpdateResource`): one test each, run against the
crhelper the handler vendors (``lambda_handler/crhelper``). A crhelper release vendored instead
that changes one of them fails here; adapt the handler before vendoring that release."""

from __future__ import annotations

import inspect
import re
import sys
from collections.abc import Callable
from typing import Any

import pytest
from crhelper import CfnResource, resource_helper
from harness import CloudFormation

from cdk_ota_update.rehearse.lambda_runtime import LambdaContext

pytestmark = pytest.mark.fast  # the loop on every change (CONTRIBUTING.md)

URL = "https://127.0.0.1/answer?X-Amz-Signature=0"


def changed(what: str) -> str:
    return (
        f"the vendored crhelper (lambda_handler/crhelper) changed {what}, which "
        "lambda_handler/index.py (OtaUpdateResource) relies on: adapt it before vendoring it"
    )


def event(**extra: Any) -> dict[str, Any]:
    return {
        "RequestType": "Create",
        "ResponseURL": URL,
        "StackId": "arn:x:stack/S/1",
        "RequestId": "r-1",
        "LogicalResourceId": "Ota",
        "ResourceProperties": {},
        **extra,
    }


class Probe(CfnResource):  # type: ignore[misc]
    """A CfnResource that records what crhelper asks of the privates the adapter overrides."""

    def __init__(self, poll: bool, function: Callable[..., Any] | None = None) -> None:
        super().__init__(json_logging=False, log_level="INFO", sleep_on_delete=0)
        self.poll = poll
        self.steps: list[Any] = []
        self.answers: list[tuple[str, dict[str, Any], Any]] = []
        self.create(function or self._returns_id)

    def _returns_id(self, _event: Any, _context: Any) -> str:
        self.steps.append("function")
        return "fw-1"

    def _poll_enabled(self) -> bool:  # asked once or more (the adapter's answer never changes)
        if self.steps[-1:] != ["poll_enabled"]:
            self.steps.append("poll_enabled")
        return self.poll

    def _polling_init(self, polled: Any) -> None:
        self.steps.append(("polling_init", polled is self._event, self._context))

    def _send(self, status: Any = None, reason: str = "", send_response: Any = None) -> None:
        super()._send(status, reason, send_response=lambda *a: self.answers.append(a))


@pytest.fixture
def no_clients(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The boto3 clients crhelper builds (none, unless told it is not a SAM local invocation)."""
    built: list[str] = []
    monkeypatch.setattr(resource_helper.boto3, "client", lambda name, **_: built.append(name))
    monkeypatch.setenv("AWS_SAM_LOCAL", "true")
    return built


def test_init_builds_no_client_for_a_sam_local_invocation(no_clients: list[str]) -> None:
    resource = CfnResource(json_logging=False, log_level="INFO")

    assert (no_clients, resource._sam_local, resource._init_failed) == ([], "true", None), changed(
        "CfnResource.__init__ (AWS_SAM_LOCAL: no lambda, events and logs clients, _sam_local)"
    )


def test_poll_enabled_is_asked_once_the_function_returned(no_clients: list[str]) -> None:
    probe = Probe(poll=False)
    probe._sam_local = None

    probe(event(), LambdaContext(30))

    assert probe.steps == ["function", "poll_enabled"], changed("when _poll_enabled() is asked")
    assert [(body["Status"], body["PhysicalResourceId"]) for _, body, _ in probe.answers] == [
        ("SUCCESS", "fw-1")
    ], changed("the answer of __call__ when _poll_enabled() is False")


def test_polling_init_replaces_the_answer(no_clients: list[str]) -> None:
    probe = Probe(poll=True)
    probe._sam_local = None
    context = LambdaContext(30)

    probe(event(), context)

    assert probe.steps == ["function", "poll_enabled", ("polling_init", True, context)], changed(
        "_polling_init(event), called by __call__ when _poll_enabled() (with _context set)"
    )
    assert (probe.answers, probe.PhysicalResourceId) == ([], "fw-1"), changed(
        "__call__ after _polling_init (it must not answer; the function's id kept)"
    )


def test_send_passes_the_answer_and_a_256_character_reason_to_send_response(
    no_clients: list[str],
) -> None:
    parameters = list(inspect.signature(CfnResource._send).parameters)
    resource = CfnResource(json_logging=False, log_level="INFO")
    resource._response_url, resource.PhysicalResourceId = URL, "fw-1"
    sent: list[tuple[Any, ...]] = []

    for reason in ("r" * 256, "r" * 257):
        resource._send("FAILED", reason, send_response=lambda *a: sent.append(a))

    assert parameters == ["self", "status", "reason", "send_response"], changed("_send's signature")
    assert [(url, body["Status"], body["PhysicalResourceId"]) for url, body, _ in sent] == [
        (URL, "FAILED", "fw-1"),
        (URL, "FAILED", "fw-1"),
    ], changed("_send(status, reason, send_response): send_response(url, body, ssl_verify)")
    assert [len(body["Reason"]) for _, body, _ in sent] == [256, 259], changed(
        "the Reasons _send cuts (longer than 256 characters, keeping the end)"
    )


def test_physical_id_set_before_a_raise_is_in_the_failed_and_the_timeout_answers(
    no_clients: list[str],
) -> None:
    def fails(_event: Any, _context: Any) -> str:
        probe.PhysicalResourceId = "fw-1"
        raise RuntimeError("the Reason")

    probe = Probe(poll=False, function=fails)
    probe._sam_local = None

    probe(event(), LambdaContext(30))
    probe._timeout()  # what crhelper's timer sends 0.5 s before the invocation times out

    assert [(b["Status"], b["PhysicalResourceId"], b["Reason"]) for _, b, _ in probe.answers] == [
        ("FAILED", "fw-1", "the Reason"),
        ("FAILED", "fw-1", "Execution timed out"),
    ], changed("the physical id of a FAILED answer, or of its timeout answer (_timeout)")


def test_crhelpers_event_keys_are_the_ones_the_handler_refuses(
    cloudformation: CloudFormation,
) -> None:
    index = sys.modules["index"]
    source = inspect.getsource(resource_helper)

    read = set(re.findall(r"""["'](CrHelper\w+)["']""", source))

    assert read == set(index.CRHELPER_EVENT_KEYS), changed("the event keys of its poller")
    assert index.CRHELPER_POLL in read


def test_the_adapter_overrides_only_the_pinned_privates(cloudformation: CloudFormation) -> None:
    """Every private of crhelper the adapter overrides has its pin above, same signature."""
    adapter = sys.modules["index"].OtaUpdateResource
    overridden = sorted(
        name for name in vars(adapter) if name.startswith("_") and not name.startswith("__")
    )

    assert overridden == ["_poll_enabled", "_polling_init", "_send"]
    for name in overridden:
        assert name in vars(CfnResource), changed(f"CfnResource.{name} (gone)")
        theirs = list(inspect.signature(getattr(CfnResource, name)).parameters)
        assert list(inspect.signature(getattr(adapter, name)).parameters) == theirs, changed(
            f"the signature of CfnResource.{name}"
        )
