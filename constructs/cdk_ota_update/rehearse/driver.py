"""Sending CloudFormation's custom resource events to the bundled handler, as a deployment would.

Each Lambda function serving ``Custom::OtaUpdate`` runs from its asset folder in warm Lambda-like
processes (up to ``concurrency`` of them at once); its environment is the one the template
declares, resolved, plus what Lambda sets. Independent OTA updates are created in parallel (an
OTA update waits for those it refers to, and for those of the stacks its stack depends on); a
FAILED answer is followed by CloudFormation's rollback (Delete of a failed Create, the Update back
of a failed Update) with the physical id the handler gave. A Reason the handler had to cut (to
the 256 characters CloudFormation carries, ``…`` at the end) is reported whole, as the invocation
logged it. CloudFormation's record of each
resource's status (``CREATE_IN_PROGRESS`` before the Create, ``CREATE_COMPLETE`` once answered, ...)
is kept in a :class:`~.host.StackService`, which the handler reaches through
``AWS_ENDPOINT_URL_CLOUDFORMATION`` to ask whether CloudFormation still waits for an answer.
A wait longer than one invocation is handed over as in Lambda: the handler's asynchronous Invoke
of itself reaches a :class:`~.host.LambdaService` (``AWS_ENDPOINT_URL_LAMBDA``), and the driver
runs each hand-over of a request in the function's processes once the invocation returned, until
one answers or none is handed over; a step counts its hand-overs (:attr:`~.report.Step.handovers`).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from cdk_ota_update import api

from .bringup import Deployment, Environment, Function
from .host import (
    Event,
    LambdaProcess,
    LambdaService,
    ResponseServer,
    StackService,
    StatusRecorder,
    boto3_runtime,
    stringify,
)
from .intrinsics import Unresolved, references, resolve
from .lambda_runtime import ACCOUNT_VARIABLE, FLEET_CLOCK_VARIABLE
from .report import CREATED, DELETED, KEPT, NOT_REHEARSED, REPLACED, UPDATED, Outcome, Step

ANSWER_GRACE_SECONDS = 5.0  # how long an answer may trail the invocation's return
CUT = "…"  # how the handler ends a Reason it cut to fit
Progress = Callable[[Outcome], None]
Clock = Callable[[float, float], float]  # the simulated fleet's, as LambdaProcess takes it


@dataclass
class OtaResource:
    """A ``Custom::OtaUpdate`` of a stack, and what it became."""

    environment: Environment
    logical_id: str
    resource: Mapping[str, Any]
    outcome: Outcome
    physical_id: str | None = None
    properties: dict[str, Any] | None = None  # as last sent (resolved, before stringifying)

    @property
    def key(self) -> str:
        """Where CloudFormation knows it: account, Region, stack name and logical id."""
        return f"{self.outcome.environment}/{self.outcome.path}"


class LambdaPool:
    """Warm processes of one function; at most ``size`` invocations at once."""

    def __init__(
        self,
        function: Function,
        env: Mapping[str, str],
        runtime: Path,
        logs: Path,
        size: int,
        clock: Clock | None = None,
    ) -> None:
        asset = function.asset()
        if asset is None or not asset.source.is_dir():
            raise Unresolved(
                f"the code of the Lambda function {function.stack.name}/"
                f"{function.logical_id} (not an asset folder of the assembly)"
            )
        self._asset, self._runtime, self._env = asset.source, runtime, env
        self._clock = clock
        self._idle: list[LambdaProcess] = []
        self._all: list[LambdaProcess] = []
        self._slots = threading.Semaphore(size)
        self._lock = threading.Lock()
        self._logs = logs
        self._files: list[IO[str]] = []
        self._numbers = itertools.count()
        self.name = function.name

    def _log(self) -> IO[str]:
        self._logs.mkdir(parents=True, exist_ok=True)
        log = (self._logs / f"{self.name}-{next(self._numbers)}.log").open("w")
        self._files.append(log)
        return log

    def invoke(self, event: Event, timeout: float) -> list[str]:
        """Run ``event`` in an idle process; the messages the handler logged meanwhile."""
        with self._slots:
            with self._lock:
                process = self._idle.pop() if self._idle else None
            if process is None:
                process = LambdaProcess(
                    self._asset, self._runtime, self._env, self._log(), self._clock
                )
                with self._lock:
                    self._all.append(process)
            try:
                return process.invoke(event, timeout)
            finally:
                with self._lock:
                    self._idle.append(process)

    def close(self) -> None:
        for process in self._all:
            process.close()
        for log in self._files:
            log.close()


@dataclass
class Driver:
    deployment: Deployment
    responses: ResponseServer
    ca_file: Path
    workdir: Path
    concurrency: int
    stack_service: StackService  # where the resource statuses are recorded
    progress: Progress | None = None
    clock: Clock | None = None  # with --fleet: the handler sleeps on the fleet's clock
    _pools: dict[str, LambdaPool] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _statuses: StatusRecorder = field(init=False)
    _lambda: LambdaService = field(init=False)  # where the handler's hand-overs arrive

    def __post_init__(self) -> None:
        self._statuses = StatusRecorder(self.stack_service)
        self._lambda = LambdaService()

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._lambda.close()

    # -- running events -------------------------------------------------------------------------
    def _pool(self, ota: OtaResource, token: str) -> tuple[LambdaPool, Function]:
        function = self.deployment.functions.get(token)
        if function is None:
            raise Unresolved(f"the ServiceToken {token} (not a Lambda function of the assembly)")
        with self._lock:
            if token not in self._pools:
                environment = self.deployment.environments[function.stack.artifact_id]
                declared = (
                    resolve(function.properties.get("Environment") or {}, environment.scope).get(
                        "Variables"
                    )
                    or {}
                )
                self._pools[token] = LambdaPool(
                    function,
                    self._env(environment, function, declared),
                    boto3_runtime(self.workdir / "runtime"),
                    self.workdir / "logs",
                    self.concurrency,
                    self.clock,
                )
        return self._pools[token], function

    def _env(
        self, environment: Environment, function: Function, declared: Mapping[str, Any]
    ) -> dict[str, str]:
        key, secret = self.deployment.emulation.credentials(environment.account)
        return {
            **{k: str(v) for k, v in declared.items()},
            "AWS_REGION": environment.region,
            "AWS_DEFAULT_REGION": environment.region,
            "AWS_ACCESS_KEY_ID": key,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_ENDPOINT_URL": self.deployment.emulation.endpoint,
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            ACCOUNT_VARIABLE: environment.account,
            "SSL_CERT_FILE": str(self.ca_file),
            "AWS_ENDPOINT_URL_CLOUDFORMATION": self.stack_service.url,
            "AWS_ENDPOINT_URL_LAMBDA": self._lambda.url,
            **({FLEET_CLOCK_VARIABLE: "1"} if self.clock else {}),
        }

    def send(
        self,
        ota: OtaResource,
        request: str,
        properties: dict[str, Any],
        *,
        old: dict[str, Any] | None = None,
        physical_id: str | None = None,
        purpose: str = "",
    ) -> Step:
        """Send one event for ``ota`` and wait for its answer; the step, also recorded."""
        environment = ota.environment
        token = str(properties.get(api.SERVICE_TOKEN))
        pool, function = self._pool(ota, token)
        request_id = str(uuid.uuid4())
        stack_id = environment.scope.pseudo["AWS::StackId"]
        event: Event = {
            "RequestType": request,
            "ServiceToken": token,
            "ResponseURL": self.responses.url(stack_id, ota.logical_id, request_id),
            "StackId": stack_id,
            "RequestId": request_id,
            "LogicalResourceId": ota.logical_id,
            "ResourceType": ota.resource["Type"],
            "ResourceProperties": stringify(properties),
        }
        if physical_id is not None:
            event["PhysicalResourceId"] = physical_id
        if old is not None:
            event["OldResourceProperties"] = stringify(old)
        self._statuses.sent(event)
        started = time.monotonic()
        logged: list[str] = []
        handovers = 0
        try:
            logged = pool.invoke(json.loads(json.dumps(event)), function.timeout)
            # Lambda runs each hand-over the invocation queued (it queues them before returning).
            while handed_over := self._lambda.take(request_id):
                for name, next_event in handed_over:
                    if name != function.name:  # the handler invokes only itself
                        raise Unresolved(f"the Lambda function {name} (invoked by the handler)")
                    handovers += 1
                    logged += pool.invoke(next_event, function.timeout)
            arrival = self.responses.wait(event["ResponseURL"], ANSWER_GRACE_SECONDS)
            silence = "the handler returned without answering CloudFormation"
        except RuntimeError as ended:
            arrival, silence = None, f"{ended}: see {self.workdir / 'logs'}"
        if arrival is None:
            self._statuses.abandoned(event, physical_id)  # CloudFormation's ServiceTimeout
            step = Step(
                request,
                "NO_ANSWER",
                physical_id,
                time.monotonic() - started,
                silence,
                purpose,
                handovers,
            )
        else:
            arrived, body = arrival
            self._statuses.answered(event, body["Status"], body.get("PhysicalResourceId"))
            answered_id = body.get("PhysicalResourceId") or physical_id
            # A Delete's answer names what it deleted (in the cleanup after a replacement, the
            # old resource): the resource's live physical id stays the one it had.
            if request != "Delete":
                ota.physical_id = answered_id
                data = body.get("Data") or {}
                scope = environment.scope
                scope.refs[ota.logical_id] = ota.physical_id
                for name, value in data.items():
                    scope.attributes[(ota.logical_id, name)] = value
            step = Step(
                request,
                body["Status"],
                answered_id,
                arrived - started,
                whole(body.get("Reason", ""), logged),
                purpose,
                handovers,
            )
        ota.outcome.steps.append(step)
        return step

    # -- the lifecycle ------------------------------------------------------------------------
    def resolved(self, ota: OtaResource) -> dict[str, Any] | None:
        """The properties CloudFormation would send, or None (NOT_REHEARSED, with the reason)."""
        try:
            properties: dict[str, Any] = resolve(
                ota.resource.get("Properties") or {}, ota.environment.scope
            )
        except Unresolved as unresolved:
            ota.outcome.reason = f"cannot resolve {unresolved.what}"
            return None
        return properties

    def create(self, ota: OtaResource) -> bool:
        properties = self.resolved(ota)
        if properties is None:
            return False
        return self._change(ota, "Create", properties, None)

    def update(self, ota: OtaResource, old: OtaResource) -> bool:
        """The Update CloudFormation sends for changed properties (nothing when unchanged)."""
        properties = self.resolved(ota)
        if properties is None:
            return False
        if properties == old.properties:
            ota.outcome.status, ota.outcome.change = "UNCHANGED", KEPT
            ota.physical_id, ota.properties = old.physical_id, old.properties
            self._describe(ota)
            return True
        return self._change(ota, "Update", properties, old)

    def _change(
        self, ota: OtaResource, request: str, properties: dict[str, Any], old: OtaResource | None
    ) -> bool:
        try:
            step = self.send(
                ota,
                request,
                properties,
                old=old.properties if old else None,
                physical_id=old.physical_id if old else None,
            )
        except Unresolved as unresolved:
            ota.outcome.reason = f"cannot run the handler: {unresolved.what}"
            return False
        ota.outcome.seconds = step.seconds
        ok = step.status == "SUCCESS"
        ota.outcome.status = f"{request.upper()}_{'COMPLETE' if ok else 'FAILED'}"
        ota.properties = properties if ok else (old.properties if old else properties)
        if ok:
            ota.outcome.change = _change(old, ota.physical_id)
            if old is not None and ota.outcome.change == REPLACED:
                ota.outcome.replaced = old.physical_id
            self._describe(ota)
            return True
        ota.outcome.reason = step.reason
        ota.outcome.ota_update_id = properties.get(api.OTA_UPDATE_ID)
        # CloudFormation's rollback, with the physical id the handler gave.
        if old is None:
            self.send(ota, "Delete", properties, physical_id=ota.physical_id, purpose="rollback")
        else:
            assert old.properties is not None
            self.send(
                ota,
                "Update",
                old.properties,
                old=properties,
                physical_id=ota.physical_id,
                purpose="rollback",
            )
        return False

    def delete(
        self,
        ota: OtaResource,
        purpose: str,
        physical_id: str | None = None,
        properties: dict[str, Any] | None = None,
    ) -> bool:
        props = properties or ota.properties
        if props is None:
            return True
        step = self.send(
            ota, "Delete", props, physical_id=physical_id or ota.physical_id, purpose=purpose
        )
        ok = step.status == "SUCCESS"
        if purpose in ("teardown", "removed"):
            ota.outcome.status = "DELETE_COMPLETE" if ok else "DELETE_FAILED"
        if purpose == "removed" and ok:
            ota.outcome.change = DELETED
        return ok

    def _describe(self, ota: OtaResource) -> None:
        """Read the OTA update, its job and stream back from the emulation."""
        outcome = ota.outcome
        outcome.ota_update_id = ota.physical_id
        iot = self.deployment.client("iot", ota.environment)
        try:
            info = iot.get_ota_update(otaUpdateId=ota.physical_id)["otaUpdateInfo"]
            outcome.job_id = info.get("awsIotJobId")
            if outcome.job_id:
                document = json.loads(iot.get_job_document(jobId=outcome.job_id)["document"])
                outcome.stream = document.get("afr_ota", {}).get("streamname")
        except iot.exceptions.ResourceNotFoundException:
            outcome.reason = f"OTA update {ota.physical_id} is not in the emulation"


def _change(old: OtaResource | None, physical_id: str | None) -> str:
    """What a successful Create or Update did: a new physical id is a replacement."""
    if old is None:
        return CREATED
    return UPDATED if old.physical_id == physical_id else REPLACED


def whole(reason: str, logged: Iterable[str]) -> str:
    """``reason`` whole: when the handler cut it to fit, the longest message it logged that starts
    with what it kept (crhelper logs the failure it answers)."""
    if not reason.endswith(CUT):
        return reason
    kept = reason.removesuffix(CUT)
    found = [m for m in logged if m.startswith(kept) and len(m) > len(kept)]
    return max(found, key=len, default=reason)


def dependencies(
    resources: Iterable[OtaResource], stack_dependencies: Mapping[str, set[str]]
) -> dict[str, set[str]]:
    """Each OTA update's prerequisites: those it refers to or depends on in its stack, and every
    OTA update of the stacks its stack depends on."""
    by_stack: dict[str, list[OtaResource]] = {}
    for ota in resources:
        by_stack.setdefault(ota.environment.stack.artifact_id, []).append(ota)
    needs: dict[str, set[str]] = {}
    for artifact_id, members in by_stack.items():
        local = {o.logical_id: o.key for o in members}
        earlier = {
            o.key for a in stack_dependencies.get(artifact_id, set()) for o in by_stack.get(a, [])
        }
        for ota in members:
            depends_on = ota.resource.get("DependsOn") or []
            named = references(ota.resource.get("Properties") or {}) | set(
                [depends_on] if isinstance(depends_on, str) else depends_on
            )
            needs[ota.key] = earlier | {local[n] for n in named if n in local}
    return needs


def run_graph(
    items: Mapping[str, OtaResource],
    needs: Mapping[str, set[str]],
    work: Callable[[OtaResource], bool],
    workers: int,
    progress: Progress | None = None,
    skip_reason: str = "depends on {}",
) -> None:
    """Run ``work`` on every item once its prerequisites succeeded, ``workers`` at a time; the
    items whose prerequisite failed are NOT_REHEARSED."""
    done: set[str] = set()
    failed: set[str] = set()
    running: dict[Future[bool], str] = {}
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        while len(done) + len(failed) < len(items):
            settled = len(failed)
            for key, ota in items.items():
                if key in done or key in failed or key in running.values():
                    continue
                blocking = needs.get(key, set()) & set(items)
                broken = blocking & failed
                if broken:
                    ota.outcome.status = NOT_REHEARSED
                    ota.outcome.reason = skip_reason.format(", ".join(sorted(broken)))
                    failed.add(key)
                    if progress:
                        progress(ota.outcome)
                elif blocking <= done:
                    running[pool.submit(work, ota)] = key
            if not running and settled == len(failed):  # nothing can start: a cycle
                for key in set(items) - done - failed:
                    items[key].outcome.reason = "its dependencies form a cycle"
                    failed.add(key)
            if not running:
                continue
            finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in finished:
                key = running.pop(future)
                (done if future.result() else failed).add(key)
                if progress:
                    progress(items[key].outcome)
