"""The rehearsal: a cloud assembly's OTA updates deployed by their bundled handler, in moto."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cdk_ota_update import api

from .assembly import Assembly, read_assembly
from .bringup import Deployment
from .driver import Driver, OtaResource, Progress, dependencies, run_graph
from .emulation import Emulation
from .host import CertificateAuthority, ResponseServer, StackService
from .report import NOT_REHEARSED, Outcome, Report

DEFAULT_ACCOUNT = "123456789012"  # moto's default account
DEFAULT_REGION = "us-east-1"
DEFAULT_CONCURRENCY = 4


@dataclass
class _Phase:
    """One assembly brought up and driven."""

    deployment: Deployment
    resources: dict[str, OtaResource] = field(default_factory=dict)
    needs: dict[str, set[str]] = field(default_factory=dict)


def rehearse(
    cdk_out: str | Path,
    *,
    stacks: Sequence[str] = (),
    account: str = DEFAULT_ACCOUNT,
    region: str = DEFAULT_REGION,
    exists: Iterable[str] = (),
    previous: str | Path | None = None,
    teardown: bool = False,
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: Progress | None = None,
    workdir: str | Path | None = None,
) -> Report:
    """Rehearse the deployment of the cloud assembly ``cdk_out`` (see the package's description).

    ``stacks``: the stacks to rehearse (with those they depend on), all when empty; ``account``,
    ``region``: where stacks without an environment of their own deploy; ``exists``: what exists
    already (``thinggroup/NAME``, ``thing/NAME``, ``signing-profile/NAME``, ``s3://BUCKET[/KEY]``,
    in every account and Region the stacks deploy to; or an ARN, in its own);
    ``previous``: the assembly deployed before (its OTA updates are created first, then the
    Updates and Deletes CloudFormation would send to reach ``cdk_out``); ``teardown``: Delete
    everything at the end; ``concurrency``: invocations at once per Lambda function;
    ``workdir``: where the handler's logs go (a temporary folder by default).
    Raises :class:`RehearsalError` when the rehearsal cannot run.
    """
    started = time.monotonic()
    new = _read(cdk_out, stacks)
    old = _read(previous, stacks) if previous is not None else None
    with tempfile.TemporaryDirectory(prefix="cdk-ota-rehearsal-") as temporary:
        work = Path(workdir) if workdir is not None else Path(temporary)
        emulation = Emulation()
        ca = CertificateAuthority(work / "ca")
        responses = ResponseServer(ca.ca)
        stack_service = StackService()
        driver = Driver(
            Deployment(emulation, account, region),
            responses,
            ca.cert_file,
            work,
            concurrency,
            stack_service,
            progress,
        )
        try:
            places = [(account, region)] + [
                (stack.account or account, stack.region or region)
                for assembly in (new, old)
                if assembly is not None
                for stack in assembly.stacks
            ]
            for name in exists:
                driver.deployment.give(name, places)
            first = _bring_up(driver.deployment, old or new, None)
            run_graph(first.resources, first.needs, driver.create, concurrency, progress)
            final = first
            removed: list[Outcome] = []
            if old is not None:
                final = _bring_up(
                    Deployment(emulation, account, region, given=set(first.deployment.given)),
                    new,
                    first,
                )
                driver.deployment = final.deployment
                removed = _update(driver, first, final, concurrency, progress)
            if teardown:
                dependents = {
                    k: {d for d, n in final.needs.items() if k in n} for k in final.resources
                }
                live = {
                    k: o
                    for k, o in final.resources.items()  # rolled back: nothing left
                    if o.physical_id and o.outcome.status not in ("CREATE_FAILED", NOT_REHEARSED)
                }
                run_graph(
                    live,
                    dependents,
                    lambda o: driver.delete(o, "teardown"),
                    concurrency,
                    progress,
                    skip_reason="kept: {} could not be deleted first",
                )
        finally:
            driver.close()
            responses.close()
            stack_service.close()
            emulation.stop()
    outcomes = [o.outcome for o in final.resources.values()] + removed
    return Report(
        outcomes, _must_exist(final), dict(final.deployment.skipped), time.monotonic() - started
    )


def _read(directory: str | Path, stacks: Sequence[str]) -> Assembly:
    assembly = read_assembly(Path(directory))
    return assembly.select(stacks) if stacks else assembly


def _bring_up(deployment: Deployment, assembly: Assembly, before: _Phase | None) -> _Phase:
    phase = _Phase(deployment)
    for stack in assembly.stacks:
        deployment.bring_up(stack)
        environment = deployment.environment(stack)
        for logical_id, resource in stack.resources(api.RESOURCE_TYPE).items():
            if not environment.scope.included(resource):
                continue
            ota = OtaResource(environment, logical_id, resource, Outcome(stack.name, logical_id))
            phase.resources[ota.key] = ota
            earlier = before.resources.get(ota.key) if before else None
            if earlier is not None:  # unchanged references keep what the last deploy gave
                ota.outcome.steps = list(earlier.outcome.steps)
                scope, last = environment.scope, earlier.environment.scope
                scope.refs[logical_id] = last.refs.get(logical_id)
                scope.attributes.update(
                    {k: v for k, v in last.attributes.items() if k[0] == logical_id}
                )
    stack_needs = {s.artifact_id: _upstream(assembly, s.artifact_id) for s in assembly.stacks}
    phase.needs = dependencies(phase.resources.values(), stack_needs)
    return phase


def _upstream(assembly: Assembly, artifact_id: str) -> set[str]:
    by_id = {s.artifact_id: s for s in assembly.stacks}
    found: set[str] = set()
    pending = list(by_id[artifact_id].dependencies)
    while pending:
        current = pending.pop()
        if current in by_id and current not in found:
            found.add(current)
            pending.extend(by_id[current].dependencies)
    return found


def _update(
    driver: Driver, first: _Phase, final: _Phase, workers: int, progress: Progress | None
) -> list[Outcome]:
    """CloudFormation's update from ``first`` to ``final``: Create or Update each OTA update,
    then (cleanup) Delete the replaced and the removed ones. The removed ones' outcomes."""

    def change(ota: OtaResource) -> bool:
        earlier = first.resources.get(ota.key)
        if earlier is None or earlier.physical_id is None:
            return driver.create(ota)
        return driver.update(ota, earlier)

    run_graph(final.resources, final.needs, change, workers, progress)
    cleanup: dict[str, OtaResource] = {}
    for key, ota in final.resources.items():
        earlier = first.resources.get(key)
        if ota.outcome.replaced and earlier is not None:
            cleanup[key] = ota
    removed = {
        k: o for k, o in first.resources.items() if k not in final.resources and o.physical_id
    }

    def clean(ota: OtaResource) -> bool:
        if removed.get(ota.key) is ota:
            return driver.delete(ota, "removed")
        earlier = first.resources[ota.key]
        return driver.delete(ota, "replaced", earlier.physical_id, earlier.properties)

    run_graph({**cleanup, **removed}, {}, clean, workers, progress)
    for ota in removed.values():
        ota.outcome.reason = "removed from the assembly: deleted"
    return [o.outcome for o in removed.values()]


def _must_exist(phase: _Phase) -> dict[str, list[str]]:
    """What the OTA updates refer to that the stacks do not declare and no --exists gave."""
    known = phase.deployment.declared | phase.deployment.given
    found: dict[str, list[str]] = {}
    for ota in phase.resources.values():
        for name in sorted(set(_referred(ota.properties or {}))):
            if name not in known:
                found.setdefault(name, []).append(ota.key)
    return found


def _referred(properties: dict[str, Any]) -> Iterable[str]:
    for target in properties.get("targets") or []:
        yield str(target).split(":", 5)[-1]
    role = properties.get(api.ROLE_ARN)
    if role:
        yield f"role/{str(role).rsplit('/', 1)[-1]}"
    for file in properties.get("files") or []:
        location = (file.get("fileLocation") or {}).get("s3Location")
        if location:
            yield f"s3://{location.get('bucket')}/{location.get('key')}"
        start = (file.get("codeSigning") or {}).get("startSigningJobParameter") or {}
        if start.get("signingProfileName") and not start.get("signingProfileParameter"):
            yield f"signing-profile/{start['signingProfileName']}"
