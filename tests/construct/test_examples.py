"""The apps in examples/: each synthesized once (in-process, as ``cdk synth`` would with its
cdk.json), passing cdk-nag's AwsSolutions checks and cfn-lint, and doing what its README line says.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from app_support import cfn_lint_errors
from aws_cdk import cx_api
from cdk_nag import AwsSolutionsChecks
from cdk_support import ROOT

from cdk_ota_update.rehearse.cli import main

EXAMPLES = ROOT / "examples"
NAMES = sorted(p.parent.name for p in EXAMPLES.glob("*/app.py"))

# cfn-lint checks that are wrong about aws-cdk-lib's own output (not about the examples):
# E3703 wants a literal role ARN in CDK Pipelines' CloudFormation deploy actions (an Fn::Join).
CFN_LINT_IGNORED = {"pipeline": ["E3703"]}


@dataclass
class Synthesized:
    name: str
    outdir: Path
    assembly: cx_api.CloudAssembly
    templates: dict[str, dict[str, Any]]  # by the stack's path (Stage/Stack)

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        """Resources of that type in every stack, by "<stack path>/<logical id>"."""
        return {
            f"{stack}/{logical_id}": resource
            for stack, template in self.templates.items()
            for logical_id, resource in template["Resources"].items()
            if resource["Type"] == kind
        }

    def ota_updates(self) -> dict[str, dict[str, Any]]:
        return {k: r["Properties"] for k, r in self.resources("Custom::OtaUpdate").items()}


def load(name: str) -> Any:
    """examples/<name>/app.py as a module (the apps share the module name ``app``)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / name / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def synthesize(name: str, outdir: Path) -> Synthesized:
    """The example as ``cdk synth`` runs it (its cdk.json's context), with cdk-nag on."""
    context = json.loads((EXAMPLES / name / "cdk.json").read_text()).get("context", {})
    app = cdk.App(outdir=str(outdir), context=context)
    load(name).build(app)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    try:
        app.synth()
    except RuntimeError as error:  # cdk-nag's findings: read from the report below
        assert str(error).startswith("ValidationFailed"), error
    assembly = cx_api.CloudAssembly(str(outdir))
    templates = {s.hierarchical_id: s.template for s in assembly.stacks_recursively}
    return Synthesized(name, outdir, assembly, templates)


@pytest.fixture(scope="module", params=NAMES)
def example(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Synthesized:
    name: str = request.param
    return synthesize(name, tmp_path_factory.mktemp(name) / "cdk.out")


def test_every_example_is_a_cdk_app_linked_from_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    assert NAMES == [
        "canary_gate",
        "custom_signing",
        "multi_stack",
        "own_role",
        "pipeline",
        "stream_delivery",
    ]
    for name in NAMES:
        assert json.loads((EXAMPLES / name / "cdk.json").read_text())["app"] == "python3 app.py"
        assert f"(examples/{name}/app.py)" in readme, name


def test_cdk_nag_aws_solutions_finds_nothing(
    example: Synthesized,
) -> None:
    report_file = example.outdir / "validation-report.json"
    report = json.loads(report_file.read_text()) if report_file.exists() else {}
    # cdk-nag leaves acknowledged findings out itself: no report at all when nothing is left.
    findings = {
        (v["ruleName"], c["constructPath"])
        for nag in report.get("pluginReports", [])
        if nag["pluginName"] == "AwsSolutions"
        for v in nag["violations"]
        for c in v["violatingConstructs"]
    }
    assert findings == set()


def test_cfn_lint_reports_no_errors(example: Synthesized) -> None:
    templates = [Path(s.template_full_path) for s in example.assembly.stacks_recursively]
    assert templates
    assert cfn_lint_errors(templates, ignore=CFN_LINT_IGNORED.get(example.name, [])) == []


# ---------------------------------------------------------------------------------------------
# What each example shows
# ---------------------------------------------------------------------------------------------
def _stream_delivery(example: Synthesized) -> None:
    (ota,) = example.ota_updates().values()
    (group,) = example.resources("AWS::IoT::ThingGroup")
    assert ota["targets"] == [{"Fn::GetAtt": [group.split("/")[-1], "Arn"]}]
    assert ota["files"][0]["fileLocation"] == {"stream": {"streamId": "lamp-fw-3-1-0", "fileId": 0}}
    policies = json.dumps(example.resources("AWS::IAM::Policy"))
    assert ":stream/lamp-fw-3-1-0" in policies  # the role may describe exactly that stream


def _custom_signing(example: Synthesized) -> None:
    (ota,) = example.ota_updates().values()
    firmware = EXAMPLES / "custom_signing" / "firmware"
    custom = ota["files"][0]["codeSigning"]["customCodeSigning"]
    signature = base64.b64decode(custom["signature"]["inlineDocument"])
    assert signature == (firmware / "doorlock-fw.bin.sig").read_bytes()
    assert (
        custom["certificateChain"]["inlineDocument"] == (firmware / "signer-cert.pem").read_text()
    )
    assert ota["otaUpdateId"].startswith("DoorLockFirmware-")  # derived


def _own_role(example: Synthesized) -> None:
    otas = example.ota_updates()
    (role,) = [k for k in example.resources("AWS::IAM::Role") if "OtaUpdateProvider" not in k]
    role_id = role.split("/")[-1]
    assert role_id.startswith("OtaServiceRole")
    assert len(otas) == 2
    assert all(p["roleArn"] == {"Fn::GetAtt": [role_id, "Arn"]} for p in otas.values())
    trust = example.resources("AWS::IAM::Role")[role]["Properties"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "iot.amazonaws.com"}


def _multi_stack(example: Synthesized) -> None:
    assert set(example.templates) == {"Production/Fleet", "Production/Release"}
    otas = example.ota_updates()
    assert len(otas) == 2
    assert {k.split("/")[1] for k in otas} == {"Release"}  # none in the Fleet stack
    for ota in otas.values():
        (target,) = ota["targets"]
        assert "Fn::ImportValue" in target  # the Fleet stack's thing group
        location = ota["files"][0]["fileLocation"]["s3Location"]
        assert "Fn::ImportValue" in location["bucket"]
        assert location["version"] == "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"
    buckets = example.templates["Production/Fleet"]["Resources"]
    versioned = [
        r
        for r in buckets.values()
        if r["Type"] == "AWS::S3::Bucket"
        and r["Properties"].get("VersioningConfiguration") == {"Status": "Enabled"}
    ]
    assert len(versioned) == 2


def _canary_gate(example: Synthesized) -> None:
    resources = example.templates["ThermostatRelease"]["Resources"]
    (canary_id,) = [k for k in resources if k.startswith("ThermostatCanary")]
    (fleet_id,) = [k for k in resources if k.startswith("ThermostatFleet")]
    canary, fleet = (resources[k]["Properties"] for k in (canary_id, fleet_id))
    assert canary["rolloutGate"] == {
        "minSucceededPercentage": 90,
        "maxFailedPercentage": 5,
        "minExecutions": 10,
        "timeoutSeconds": 1800,
    }
    assert "rolloutGate" not in fleet
    assert int(canary["ServiceTimeout"]) == int(fleet["ServiceTimeout"]) + 1800 <= 3600
    assert canary_id in resources[fleet_id]["DependsOn"]  # the fleet after the canary's gate


def _pipeline(example: Synthesized) -> None:
    pipeline = example.templates["DoorLockPipeline"]["Resources"]
    (codepipeline,) = [r for r in pipeline.values() if r["Type"] == "AWS::CodePipeline::Pipeline"]
    stages = [s["Name"] for s in codepipeline["Properties"]["Stages"]]
    assert stages[0] == "Source" and stages[-1] == "Production"
    source = codepipeline["Properties"]["Stages"][0]["Actions"][0]
    assert source["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    release = example.templates["DoorLockPipeline/Production/DoorLockRelease"]
    (ota,) = [r for r in release["Resources"].values() if r["Type"] == "Custom::OtaUpdate"]
    assert ota["Properties"]["targetSelection"] == "CONTINUOUS"
    (synth,) = [
        r["Properties"]["Source"]["BuildSpec"]
        for r in pipeline.values()
        if r["Type"] == "AWS::CodeBuild::Project" and "cdk synth" in str(r["Properties"])
    ]
    commands = json.loads(synth)["phases"]["build"]["commands"]
    assert commands[-2:] == ["npx cdk synth", load("pipeline").REHEARSE]  # the gate, after synth


CHECKS: dict[str, Callable[[Synthesized], None]] = {
    "canary_gate": _canary_gate,
    "custom_signing": _custom_signing,
    "multi_stack": _multi_stack,
    "own_role": _own_role,
    "pipeline": _pipeline,
    "stream_delivery": _stream_delivery,
}


def test_the_example_declares_what_it_shows(example: Synthesized) -> None:
    CHECKS[example.name](example)


@pytest.mark.parametrize("example", ["pipeline"], indirect=True)
def test_the_pipelines_rehearsal_gate_passes_on_its_release(
    example: Synthesized, capsys: pytest.CaptureFixture[str]
) -> None:
    """The synth step's rehearsal command, run on the example's cloud assembly, passes."""
    program, command, cdk_out, *options = shlex.split(load("pipeline").REHEARSE)
    assert (program, command, cdk_out) == ("cdk-ota-update", "rehearse", "cdk.out")

    status = main([command, str(example.outdir), *options, "--json"])

    report = json.loads(capsys.readouterr().out)
    assert status == 0, report
    (release,) = report["otaUpdates"]
    assert release["status"] == "DELETE_COMPLETE"  # created, then torn down (--teardown)
    assert [(s["request"], s["status"]) for s in release["steps"]][:1] == [("Create", "SUCCESS")]


def _rehearse_canary(
    example: Synthesized, fleet: str, capsys: pytest.CaptureFixture[str]
) -> tuple[int, dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The example's rehearsal command with that ``--fleet``: exit status, report, the canary's
    and the fleet's OTA updates in it."""
    program, command, cdk_out, *options = shlex.split(load("canary_gate").REHEARSE)
    assert (program, command, cdk_out) == ("cdk-ota-update", "rehearse", "cdk.out")
    options[options.index("--fleet") + 1] = fleet
    status = main([command, str(example.outdir), *options, "--json"])
    report = json.loads(capsys.readouterr().out)
    canary, fleet_ota = (
        next(o for o in report["otaUpdates"] if o["logicalId"].startswith(name))
        for name in ("ThermostatCanary", "ThermostatFleet")
    )
    assert report["warnings"] == []
    return status, report, canary, fleet_ota


@pytest.mark.parametrize("example", ["canary_gate"], indirect=True)
def test_the_canarys_gate_passes_on_healthy_devices_then_the_fleet_is_created(
    example: Synthesized, capsys: pytest.CaptureFixture[str]
) -> None:
    status, report, canary, fleet = _rehearse_canary(example, "succeeded=100%", capsys)

    assert status == 0, report
    assert canary["rollout"] == "gate passed; job COMPLETED: succeeded 20 of 20 executions (100.0%)"
    assert fleet["rollout"] == "job IN_PROGRESS: succeeded 50 of 50 executions (100.0%)"
    assert [(s["request"], s["status"], s["purpose"]) for s in canary["steps"]] == [
        ("Create", "SUCCESS", ""),
        ("Delete", "SUCCESS", "teardown"),
    ]


@pytest.mark.parametrize("example", ["canary_gate"], indirect=True)
def test_the_canarys_gate_fails_on_failing_devices_and_the_fleet_is_never_created(
    example: Synthesized, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, canary, fleet = _rehearse_canary(example, "succeeded=70%,failed=30%", capsys)

    assert status == 1
    assert canary["reason"].startswith("failed>5% holds: ")
    assert [(s["request"], s["status"], s["purpose"]) for s in canary["steps"]] == [
        ("Create", "FAILED", ""),
        ("Delete", "SUCCESS", "rollback"),
    ]
    assert (fleet["status"], fleet["steps"]) == ("NOT_REHEARSED", [])
