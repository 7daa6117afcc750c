"""What a rehearsal found: each OTA update's outcome, a table for people, JSON for machines."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

# Exit statuses a pipeline gates on.
OK, FAILED, CANNOT_RUN = 0, 1, 2
# Statuses beside CloudFormation's own (CREATE_COMPLETE, UPDATE_FAILED, ...).
UNCHANGED = "UNCHANGED"  # --from: the same properties, so CloudFormation sends nothing
NOT_REHEARSED = "NOT_REHEARSED"  # a reference the rehearsal cannot resolve, or a failed dependency
SUCCESSFUL = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "DELETE_COMPLETE", UNCHANGED)
# What the deployment did to an OTA update (Outcome.change), once it succeeded.
CREATED, UPDATED, REPLACED, DELETED, KEPT = "created", "updated", "replaced", "deleted", "unchanged"
TABLE_REASON = 240  # the table's reasons are cut beyond this many characters
CUT_NOTE = "… (cut; --json has it whole)"


@dataclass
class Step:
    """One event sent to the handler and its answer."""

    request: str  # Create, Update, Delete
    status: str  # SUCCESS, FAILED, or NO_ANSWER
    physical_id: str | None
    seconds: float
    reason: str = ""  # whole, as the handler logged it (CloudFormation shows 256 characters)
    purpose: str = ""  # "rollback", "replaced", "removed", "teardown" or "" (the change itself)
    handovers: int = 0  # how many times the wait was handed over to a next invocation


@dataclass
class Outcome:
    """An OTA update (a ``Custom::OtaUpdate`` of the last assembly rehearsed)."""

    stack: str
    logical_id: str
    account: str = ""  # the environment its stack deploys to
    region: str = ""
    ota_update_id: str | None = None
    status: str = NOT_REHEARSED
    change: str | None = None  # CREATED, UPDATED (in place), REPLACED, DELETED or KEPT
    job_id: str | None = None
    stream: str | None = None
    seconds: float = 0.0
    reason: str = ""
    replaced: str | None = None  # the otaUpdateId an Update replaced (deleted afterwards)
    steps: list[Step] = field(default_factory=list)
    # With a simulated fleet (rehearse --fleet): its gate, its job's status and figures at the end.
    rollout: str | None = None

    @property
    def path(self) -> str:
        return f"{self.stack}/{self.logical_id}"

    @property
    def environment(self) -> str:
        return f"{self.account}/{self.region}"

    @property
    def failed(self) -> bool:
        """Whether the handler failed a step (a rollback's or a cleanup's failure counts)."""
        if self.status == NOT_REHEARSED:
            return False
        return self.status not in SUCCESSFUL or any(s.status != "SUCCESS" for s in self.steps)


@dataclass
class NotUploaded:
    """A firmware object the OTA updates read from a bucket a stack of the assembly creates: the
    bucket is new and empty at deploy, so the object is there only if the deployment uploads it."""

    object: str  # s3://BUCKET/KEY, with the bucket's name in the rehearsal
    bucket: str  # Stack/LogicalId of the bucket
    construct_path: str  # the bucket's construct path (aws:cdk:path), or its logical id
    referred_to_by: list[str]  # Stack/LogicalId of the OTA updates

    def sentence(self) -> str:
        key = self.object.split("/", 3)[-1]
        return (
            f"{self.bucket} ({self.construct_path}) is created by the deployment, empty: {key} is "
            "in it at deploy only if the deployment uploads it (an s3_deployment.BucketDeployment "
            "the OtaUpdate depends on), or use FileLocation.from_asset (referred to by "
            f"{', '.join(self.referred_to_by)})"
        )


@dataclass
class Report:
    outcomes: list[Outcome]
    must_exist: dict[str, list[str]]  # "thinggroup/x" -> the OTA updates referring to it
    not_brought_up: dict[str, str]  # "Stack/Logical" -> why
    seconds: float
    not_uploaded: list[NotUploaded] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # nothing fails, but something is amiss
    fleet: str | None = None  # the simulated fleet (rehearse --fleet), None without one

    @property
    def exit_status(self) -> int:
        if any(o.failed for o in self.outcomes):
            return FAILED
        if any(o.status == NOT_REHEARSED for o in self.outcomes):
            return CANNOT_RUN
        return OK

    def to_json(self) -> dict[str, Any]:
        """The report for machines; ``fleet`` and each OTA update's ``rollout`` with a fleet, a
        step's ``handovers`` when it handed over."""
        left_out = ("steps",) if self.fleet else ("steps", "rollout")
        return {
            "exitStatus": self.exit_status,
            "seconds": round(self.seconds, 3),
            **({"fleet": self.fleet} if self.fleet else {}),
            "otaUpdates": [
                {
                    **_camel({k: v for k, v in asdict(o).items() if k not in left_out}),
                    "seconds": round(o.seconds, 3),
                    "steps": [
                        {**_camel(_step(s)), "seconds": round(s.seconds, 3)} for s in o.steps
                    ],
                }
                for o in self.outcomes
            ],
            "mustExistAtDeploy": self.must_exist,
            "notUploaded": [_camel(asdict(n)) for n in self.not_uploaded],
            "notBroughtUp": self.not_brought_up,
            "warnings": self.warnings,
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2)

    def table(self) -> str:
        headers = (
            "OTA update",
            "environment",
            "change",
            "otaUpdateId",
            "status",
            "job",
            "stream",
            "seconds",
            *(("rollout",) if self.fleet else ()),
            "reason",
        )
        rows = [
            (
                o.path,
                o.environment,
                _change(o),
                o.ota_update_id or "-",
                o.status,
                o.job_id or "-",
                o.stream or "-",
                f"{o.seconds:.2f}",
                *((o.rollout or "-",) if self.fleet else ()),
                _shortened(_reason(o)),
            )
            for o in self.outcomes
        ]
        widths = [max(len(str(r[i])) for r in (headers, *rows)) for i in range(len(headers) - 1)]
        lines = [
            "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1]
            for r in (headers, *rows)
        ]
        lines = [line.rstrip() for line in lines]
        for name, users in self.must_exist.items():
            lines.append(f"must exist at deploy: {name} (referred to by {', '.join(users)})")
        lines += [f"not uploaded: {missing.sentence()}" for missing in self.not_uploaded]
        for path, why in self.not_brought_up.items():
            lines.append(f"not brought up: {path}: {why}")
        lines += [f"warning: {warning}" for warning in self.warnings]
        if self.fleet:
            lines.append(f"fleet: {self.fleet}")
        failed = sum(o.failed for o in self.outcomes)
        lines.append(
            f"{len(self.outcomes)} OTA update(s) rehearsed in {self.seconds:.1f} s: "
            f"{failed} failed, exit status {self.exit_status}"
        )
        return "\n".join(lines)


def _step(step: Step) -> dict[str, Any]:
    """A step's fields; ``handovers`` only when its wait was handed over (a step without
    hand-overs is written as before they were counted)."""
    return {k: v for k, v in asdict(step).items() if k != "handovers" or v}


def _camel(fields: dict[str, Any]) -> dict[str, Any]:
    """JSON's names for the fields: ``ota_update_id`` is ``otaUpdateId``."""

    def name(field: str) -> str:
        first, *rest = field.split("_")
        return first + "".join(part.title() for part in rest)

    return {name(k): v for k, v in fields.items()}


def _change(outcome: Outcome) -> str:
    if outcome.change == REPLACED:
        return f"{REPLACED} {outcome.replaced} -> {outcome.ota_update_id}"
    return outcome.change or "-"


def _shortened(reason: str) -> str:
    return reason if len(reason) <= TABLE_REASON else reason[:TABLE_REASON] + CUT_NOTE


def _reason(outcome: Outcome) -> str:
    notes = [outcome.reason] if outcome.reason else []
    notes += [
        f"{s.purpose} {s.request} {s.status}: {s.reason}".rstrip(": ")
        for s in outcome.steps
        if s.purpose and s.status != "SUCCESS"
    ]
    return "; ".join(notes)
