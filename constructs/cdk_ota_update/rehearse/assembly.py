"""Reading a cloud assembly (``cdk.out``): its stacks in dependency order, templates and assets.

A stack is an artifact of type ``aws:cloudformation:stack`` of ``manifest.json`` (nested
assemblies of CDK stages included); its file assets are those of the asset manifests it depends
on (``cdk:asset-manifest``). Stacks are selected as ``cdk deploy`` selects them: by their
hierarchical id (``Pipeline/Eu/Release`` for a stack in a Stage, what ``cdk ls`` prints), their
stack name (``Eu-Release``) or artifact id, or by a glob of any of these (``*`` and ``?`` within a
``/``-separated part, ``**`` across parts).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STACK = "aws:cloudformation:stack"
ASSET_MANIFEST = "cdk:asset-manifest"
NESTED_ASSEMBLY = "cdk:cloud-assembly"
UNKNOWN = ("unknown-account", "unknown-region")


class RehearsalError(Exception):
    """The rehearsal itself cannot run (exit status 2): a bad assembly, option or environment."""


@dataclass(frozen=True)
class FileAsset:
    """A file asset and where ``cdk deploy`` publishes it (placeholders still in)."""

    source: Path
    packaging: str  # "file" or "zip" (a folder, zipped when published)
    destinations: tuple[tuple[str, str], ...]  # (bucketName, objectKey)


@dataclass(frozen=True)
class Stack:
    artifact_id: str
    name: str
    hierarchical_id: str  # the path `cdk ls` and `cdk deploy` know it by (artifact id at top level)
    template: Mapping[str, Any]
    dependencies: tuple[str, ...]  # artifact ids of the stacks it depends on
    assets: tuple[FileAsset, ...]
    account: str | None  # the stack's own environment, when it names one
    region: str | None

    @property
    def listed(self) -> str:
        """The stack as ``cdk ls`` lists it: ``Pipeline/Eu/Release (Eu-Release)``."""
        if self.hierarchical_id == self.name:
            return self.name
        return f"{self.hierarchical_id} ({self.name})"

    def matches(self, pattern: str) -> bool:
        """Whether ``pattern`` (a name or glob) selects this stack."""
        glob = _glob(pattern)
        names = (self.hierarchical_id, self.name, self.artifact_id, self.listed)
        return any(glob.fullmatch(name) for name in names)

    def resources(self, resource_type: str | None = None) -> dict[str, Mapping[str, Any]]:
        resources: Mapping[str, Mapping[str, Any]] = self.template.get("Resources") or {}
        return {
            k: v
            for k, v in resources.items()
            if resource_type is None or v.get("Type") == resource_type
        }

    def asset_source(self, key: str) -> FileAsset | None:
        """The asset published as ``key`` (placeholders as in the manifest)."""
        for asset in self.assets:
            if any(k == key for _, k in asset.destinations):
                return asset
        return None


@dataclass(frozen=True)
class Assembly:
    directory: Path
    stacks: tuple[Stack, ...]  # in dependency order

    def unmatched(self, patterns: Sequence[str]) -> list[str]:
        """The patterns that select none of the stacks."""
        return [p for p in patterns if not any(s.matches(p) for s in self.stacks)]

    def listing(self) -> str:
        return ", ".join(s.listed for s in self.stacks) or "none"

    def select(self, patterns: Sequence[str]) -> Assembly:
        """The stacks the patterns select (see the module) and those they depend on."""
        by_id = {s.artifact_id: s for s in self.stacks}
        wanted: set[str] = set()
        pending = [s.artifact_id for s in self.stacks if any(s.matches(p) for p in patterns)]
        while pending:
            artifact_id = pending.pop()
            if artifact_id in by_id and artifact_id not in wanted:
                wanted.add(artifact_id)
                pending.extend(by_id[artifact_id].dependencies)
        return Assembly(self.directory, tuple(s for s in self.stacks if s.artifact_id in wanted))


def _glob(pattern: str) -> re.Pattern[str]:
    """A stack pattern as ``cdk deploy`` reads it: ``*`` and ``?`` within a part, ``**`` across."""
    wildcards = {"**": ".*", "*": "[^/]*", "?": "[^/]"}
    parts = re.split(r"(\*\*|\*|\?)", pattern)
    return re.compile("".join(wildcards.get(part) or re.escape(part) for part in parts))


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise RehearsalError(f"{path} is missing: is this a cloud assembly (cdk.out)?") from None
    except json.JSONDecodeError as error:
        raise RehearsalError(f"{path} is not valid JSON: {error}") from None


def _environment(artifact: Mapping[str, Any]) -> tuple[str | None, str | None]:
    parts = str(artifact.get("environment", "")).removeprefix("aws://").split("/")
    account, region = [*parts, "", ""][:2]
    return (
        account if account and account not in UNKNOWN else None,
        region if region and region not in UNKNOWN else None,
    )


def _assets(directory: Path, manifest_file: str) -> list[FileAsset]:
    manifest = _json(directory / manifest_file)
    found = []
    for asset in (manifest.get("files") or {}).values():
        source = asset["source"]
        if "path" not in source:  # an executable's output: not on disk
            continue
        destinations = tuple(
            (d["bucketName"], d["objectKey"]) for d in asset["destinations"].values()
        )
        found.append(
            FileAsset(directory / source["path"], source.get("packaging", "file"), destinations)
        )
    return found


def _read(directory: Path) -> list[Stack]:
    manifest = _json(directory / "manifest.json")
    artifacts: Mapping[str, Mapping[str, Any]] = manifest.get("artifacts") or {}
    stacks: list[Stack] = []
    for artifact_id, artifact in artifacts.items():
        properties = artifact.get("properties") or {}
        if artifact.get("type") == NESTED_ASSEMBLY:
            stacks.extend(_read(directory / properties["directoryName"]))
            continue
        if artifact.get("type") != STACK:
            continue
        dependencies = artifact.get("dependencies") or []
        assets = [
            a
            for d in dependencies
            if (artifacts.get(d) or {}).get("type") == ASSET_MANIFEST
            for a in _assets(directory, artifacts[d]["properties"]["file"])
        ]
        account, region = _environment(artifact)
        stacks.append(
            Stack(
                artifact_id=artifact_id,
                name=properties.get("stackName", artifact_id),
                hierarchical_id=artifact.get("displayName", artifact_id),
                template=_json(directory / properties["templateFile"]),
                dependencies=tuple(
                    d for d in dependencies if (artifacts.get(d) or {}).get("type") == STACK
                ),
                assets=tuple(assets),
                account=account,
                region=region,
            )
        )
    return stacks


def read_assembly(directory: Path) -> Assembly:
    """The stacks of the cloud assembly in ``directory``, each after those it depends on."""
    if not directory.is_dir():
        raise RehearsalError(f"{directory} is not a directory: run `cdk synth` first")
    stacks = {s.artifact_id: s for s in _read(directory)}
    ordered: list[Stack] = []
    visiting: set[str] = set()

    def visit(stack: Stack) -> None:
        if stack in ordered:
            return
        if stack.artifact_id in visiting:
            raise RehearsalError(f"the stacks depend on each other in a cycle at {stack.name}")
        visiting.add(stack.artifact_id)
        for dependency in stack.dependencies:
            if dependency in stacks:
                visit(stacks[dependency])
        ordered.append(stack)

    for stack in stacks.values():
        visit(stack)
    return Assembly(directory, tuple(ordered))
