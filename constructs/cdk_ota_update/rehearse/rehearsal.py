"""The rehearsal: a cloud assembly's OTA updates deployed by their bundled handler, in moto."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cdk_ota_update import api

from .assembly import Assembly, RehearsalError, read_assembly
from .bringup import Deployment, Made, parse_exists
from .cleanup import clean_up
from .driver import Driver, OtaResource, Progress, dependencies, run_graph
from .emulation import Emulation, things_targeted
from .fleet import Fleet, FleetClock, gate_passed, rollout_of
from .host import CertificateAuthority, ResponseServer, StackService
from .intrinsics import Scope, Unresolved, resolve
from .report import NOT_REHEARSED, NotUploaded, Outcome, Report

DEFAULT_ACCOUNT = "123456789012"  # moto's default account
DEFAULT_REGION = "us-east-1"
DEFAULT_CONCURRENCY = 4
Reference = tuple[str, str, str]  # account, Region, and what: "thinggroup/x", "s3://b/k", ...


@dataclass
class _Phase:
    """One assembly brought up and driven."""

    deployment: Deployment
    resources: dict[str, OtaResource] = field(default_factory=dict)
    needs: dict[str, set[str]] = field(default_factory=dict)


@dataclass
class _Run:
    """What the phases of a rehearsal leave for its report."""

    first: _Phase
    final: _Phase
    removed: list[Outcome] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


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
    fleet: Fleet | None = None,
) -> Report:
    """Rehearse the deployment of the cloud assembly ``cdk_out`` (see the package's description).

    ``stacks``: the stacks to rehearse (with those they depend on), all when empty: hierarchical
    ids (``Pipeline/Eu/Release``, as ``cdk ls`` prints them), stack names or globs of either, as
    ``cdk deploy`` takes them; ``account``, ``region``: where stacks without an environment of
    their own deploy; ``exists``: what exists already (``thinggroup/NAME[=N]``, with N devices,
    ``thing/NAME``, ``signing-profile/NAME[=PLATFORM]``, ``s3://BUCKET[/KEY]``, in every account
    and Region the stacks deploy to; or an ARN, in its own); ``previous``: the assembly deployed
    before (it is deployed first, then updated to ``cdk_out`` as CloudFormation would: what is
    unchanged is kept, the OTA updates that changed get their Update, then the cleanup deletes the
    replaced and removed ones);
    ``teardown``: Delete every OTA update at the end; ``concurrency``: invocations at once per
    Lambda function; ``workdir``: where the handler's logs go (a temporary folder by default);
    ``fleet``: the targets of the OTA updates created are simulated devices that do what it says
    (:mod:`.fleet`), their rollout reported (``Outcome.rollout``). Raises
    :class:`RehearsalError` when the rehearsal cannot run.
    """
    started = time.monotonic()
    given = list(exists)
    for name in given:
        parse_exists(name)  # a bad one stops the rehearsal before anything starts
    new, old = _assemblies(Path(cdk_out), Path(previous) if previous else None, stacks)
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
            clock = fleet.simulate() if fleet else None
            driver.clock = clock.sleep if clock else None
            run = _run(driver, new, old, given, teardown, clock)
        finally:
            driver.close()
            responses.close()
            stack_service.close()
            emulation.stop()
    final = run.final
    missing, not_uploaded = _missing(final)
    return Report(
        [o.outcome for o in final.resources.values()] + run.removed,
        missing,
        dict(final.deployment.skipped),
        time.monotonic() - started,
        not_uploaded,
        _unused(given, (run.first, final)) + run.warnings,
        str(fleet) if fleet else None,
    )


def _assemblies(
    cdk_out: Path, previous: Path | None, patterns: Sequence[str]
) -> tuple[Assembly, Assembly | None]:
    """The assembly to rehearse and the previous one, with the stacks ``patterns`` select (a
    pattern must select a stack of either)."""
    new = read_assembly(cdk_out)
    old = read_assembly(previous) if previous is not None else None
    if not patterns:
        return new, old
    unmatched = set(new.unmatched(patterns)) & set(old.unmatched(patterns) if old else patterns)
    if unmatched:
        raise RehearsalError(
            f"no stack {' or '.join(map(repr, sorted(unmatched)))} in {cdk_out}: it has "
            f"{new.listing()}"
        )
    return new.select(patterns), old.select(patterns) if old else None


def _run(
    driver: Driver,
    new: Assembly,
    old: Assembly | None,
    given: Sequence[str],
    teardown: bool,
    clock: FleetClock | None,
) -> _Run:
    """Give what exists, deploy ``old`` (or ``new``), update it to ``new``, let the fleet (if
    any) finish, tear down."""
    deployment = driver.deployment
    places = [(deployment.account, deployment.region)] + [
        (stack.account or deployment.account, stack.region or deployment.region)
        for assembly in (new, old)
        if assembly is not None
        for stack in assembly.stacks
    ]
    for name in given:
        deployment.give(name, places)
    first = _bring_up(deployment, old or new, None)
    run_graph(first.resources, first.needs, driver.create, driver.concurrency, driver.progress)
    run = _Run(first, first) if old is None else _updated(driver, first, new)
    if clock is not None:
        _run_out(driver, run.final, clock)
        run.warnings += _deviceless({**run.first.resources, **run.final.resources}.values())
    if teardown:
        _teardown(driver, run.final)
    return run


def _updated(driver: Driver, first: _Phase, new: Assembly) -> _Run:
    """CloudFormation's update of what ``first`` deployed to ``new``: the new assembly brought
    up over the old, its OTA updates updated, then the cleanup."""
    before = first.deployment
    final = _bring_up(
        Deployment(before.emulation, before.account, before.region, given=set(before.given)),
        new,
        first,
    )
    driver.deployment = final.deployment
    removed = _update(driver, first, final)
    return _Run(first, final, removed, clean_up(before, final.deployment))


def _bring_up(deployment: Deployment, assembly: Assembly, before: _Phase | None) -> _Phase:
    phase = _Phase(deployment)
    for stack in assembly.stacks:
        deployment.bring_up(stack)
        environment = deployment.environment(stack)
        for logical_id, resource in stack.resources(api.RESOURCE_TYPE).items():
            if not environment.scope.included(resource):
                continue
            outcome = Outcome(
                stack.name, logical_id, account=environment.account, region=environment.region
            )
            ota = OtaResource(environment, logical_id, resource, outcome)
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


def _update(driver: Driver, first: _Phase, final: _Phase) -> list[Outcome]:
    """CloudFormation's update from ``first`` to ``final``: Create or Update each OTA update,
    then (cleanup) Delete the replaced and the removed ones. The removed ones' outcomes."""
    workers, progress = driver.concurrency, driver.progress

    def change(ota: OtaResource) -> bool:
        earlier = first.resources.get(ota.key)
        if earlier is None or earlier.physical_id is None:
            return driver.create(ota)
        return driver.update(ota, earlier)

    run_graph(final.resources, final.needs, change, workers, progress)
    replaced = {k: o for k, o in final.resources.items() if o.outcome.replaced}
    removed = {
        k: o for k, o in first.resources.items() if k not in final.resources and o.physical_id
    }

    def clean(ota: OtaResource) -> bool:
        if removed.get(ota.key) is ota:
            return driver.delete(ota, "removed")
        earlier = first.resources[ota.key]
        return driver.delete(ota, "replaced", earlier.physical_id, earlier.properties)

    run_graph({**replaced, **removed}, {}, clean, workers, progress)
    return [o.outcome for o in removed.values()]


def _run_out(driver: Driver, final: _Phase, clock: FleetClock) -> None:
    """Let the fleet finish the jobs of the OTA updates deployed; each one's rollout."""
    deployed = {
        k: o for k, o in final.resources.items() if o.outcome.job_id and not o.outcome.failed
    }
    jobs = clock.run_out(
        {
            key: (driver.deployment.client("iot", ota.environment), ota.outcome.job_id)
            for key, ota in deployed.items()
        }
    )
    for key, ota in deployed.items():
        ota.outcome.rollout = rollout_of(jobs[key], gate_passed(ota.outcome, ota.properties))


def _deviceless(otas: Iterable[OtaResource]) -> list[str]:
    """Under ``--fleet``, a warning for each thing group an OTA update created targets that has
    no thing, nor its child groups: its job has no executions there, and a gate on it fails."""
    targeted: dict[tuple[str, str, str], set[str]] = {}
    for ota in otas:
        e = ota.environment
        for target in (ota.properties or {}).get("targets") or []:  # sent: a Create or Update
            if ":thinggroup/" in str(target):
                targeted.setdefault((e.account, e.region, str(target)), set()).add(ota.outcome.path)
    return [
        f"--fleet: thing group {arn.rsplit('/', 1)[-1]} ({account}/{region}) has no devices, "
        f"so a job has no executions there (targeted by {', '.join(sorted(paths))}); --exists "
        f"thinggroup/{arn.rsplit('/', 1)[-1]}=N gives it N simulated devices"
        for (account, region, arn), paths in sorted(targeted.items())
        if not things_targeted(account, region, arn)
    ]


def _teardown(driver: Driver, final: _Phase) -> None:
    """``cdk destroy``: Delete every OTA update that exists, each after those that need it."""
    dependents = {k: {d for d, n in final.needs.items() if k in n} for k in final.resources}
    live = {
        k: o
        for k, o in final.resources.items()  # rolled back: nothing left
        if o.physical_id and o.outcome.status not in ("CREATE_FAILED", NOT_REHEARSED)
    }
    run_graph(
        live,
        dependents,
        lambda o: driver.delete(o, "teardown"),
        driver.concurrency,
        driver.progress,
        skip_reason="kept: {} could not be deleted first",
    )


def _missing(phase: _Phase) -> tuple[dict[str, list[str]], list[NotUploaded]]:
    """What the OTA updates refer to that the stacks do not declare and no --exists gave: what
    must exist at deploy, and the objects read from a bucket a stack creates (empty at deploy)."""
    deployment = phase.deployment
    known = deployment.declared | deployment.given
    must_exist: dict[str, list[str]] = {}
    not_uploaded: dict[str, NotUploaded] = {}
    for account, _, name, ota in _references(phase):
        if name in known:
            continue
        bucket = _bucket_of(deployment, account, name)
        if bucket is None:
            must_exist.setdefault(name, []).append(ota.outcome.path)
            continue
        construct_path = bucket.resource.get("Metadata", {}).get("aws:cdk:path", bucket.path)
        not_uploaded.setdefault(
            name, NotUploaded(name, bucket.path, construct_path, [])
        ).referred_to_by.append(ota.outcome.path)
    return must_exist, list(not_uploaded.values())


def _bucket_of(deployment: Deployment, account: str, name: str) -> Made | None:
    """The bucket a stack creates that ``name`` (``s3://BUCKET/KEY``) is in, if any."""
    if not name.startswith("s3://"):
        return None
    return deployment.buckets.get((account, name.removeprefix("s3://").split("/")[0]))


def _references(phase: _Phase) -> Iterable[tuple[str, str, str, OtaResource]]:
    """What each OTA update refers to, where: (account, Region, name, the OTA update)."""
    for ota in phase.resources.values():
        for name in sorted(set(_referred(_referable(ota)))):
            yield ota.environment.account, ota.environment.region, name, ota


def _referable(ota: OtaResource) -> dict[str, Any]:
    """Its properties as last sent; for one never sent (NOT_REHEARSED: it depends on one that
    failed, or refers to what is not there), what of its template's properties resolves, each
    property (and each item of a list) on its own."""
    if ota.properties is not None:
        return ota.properties
    scope, found = ota.environment.scope, {}
    for key, value in (ota.resource.get("Properties") or {}).items():
        if isinstance(value, list):
            found[key] = [r for r in (_resolved(item, scope) for item in value) if r is not None]
        else:
            found[key] = _resolved(value, scope)
    return found


def _resolved(value: Any, scope: Scope) -> Any:
    """``value`` resolved in ``scope``, or None where it cannot be."""
    try:
        return resolve(value, scope)
    except Unresolved:
        return None


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
        destination = (start.get("destination") or {}).get("s3Destination") or {}
        if destination.get("bucket"):
            yield f"s3://{destination['bucket']}"


def _unused(given: Sequence[str], phases: Iterable[_Phase]) -> list[str]:
    """A warning for each ``--exists`` that no OTA update refers to (a typo, or a stale option)."""
    referred = {(a, r, name) for phase in phases for a, r, name, _ in _references(phase)}
    return [
        f"--exists {name}: no OTA update of the stacks rehearsed refers to it"
        for name in given
        if not any(_gives(*parse_exists(name), reference) for reference in referred)
    ]


def _gives(resource: str, where: tuple[str, str] | None, reference: Reference) -> bool:
    """Whether ``--exists`` of ``resource`` (in ``where``, or everywhere) is what ``reference``
    names: the same name, or its bucket."""
    account, region, name = reference
    return where in (None, (account, region)) and (
        name == resource or name.startswith(resource.rstrip("/") + "/")
    )
