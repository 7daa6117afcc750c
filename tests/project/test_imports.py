"""The API contract, the handler and the moto emulation import without the CDK: no aws_cdk, jsii
or constructs (and so no Node.js process) for a plain boto3 test or in the Lambda."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from cdk_support import ROOT

CDK_MODULES = ("aws_cdk", "jsii", "constructs")
PATH = os.pathsep.join(str(ROOT / p) for p in ("constructs", "lambda_handler"))


def _printed(code: str) -> Any:
    """What ``code``, run by a fresh interpreter, printed last (as JSON)."""
    output = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": PATH},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def _loaded_after(statement: str) -> list[str]:
    """The top-level modules a fresh interpreter holds after ``statement``."""
    code = f"{statement}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    return [m for m in _printed(code) if "." not in m]


@pytest.mark.parametrize(
    "statement",
    [
        "import cdk_ota_update",
        "from cdk_ota_update import api",
        "from cdk_ota_update import testing",
        "from cdk_ota_update import testing; testing.install()",
        "import index",
        "from cdk_ota_update.rehearse import cli",
    ],
)
def test_the_contract_handler_and_emulation_import_no_cdk(statement: str) -> None:
    loaded = _loaded_after(statement)
    assert not [m for m in loaded if m in CDK_MODULES]


def test_the_constructs_still_import_from_the_package() -> None:
    loaded = _loaded_after("from cdk_ota_update import OtaUpdate, OtaTarget, testing")
    assert {"aws_cdk", "jsii", "constructs"} <= set(loaded)


# aws-cdk-lib's modules a stack may not use: imported when the provider is built (Lambda, logs,
# and what aws_lambda itself imports: ec2, assets), when an option names them (a KMS key) or
# when a metric or alarm is made (CloudWatch).
ON_USE = (
    "aws_cdk.aws_lambda",
    "aws_cdk.aws_ec2",
    "aws_cdk.aws_logs",
    "aws_cdk.aws_kms",
    "aws_cdk.aws_s3_assets",
    "aws_cdk.aws_cloudwatch",
)


def _all_loaded_after(statement: str) -> list[str]:
    code = f"{statement}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    return list(_printed(code))


def test_importing_the_constructs_loads_no_module_of_aws_cdk_lib_a_stack_may_not_use() -> None:
    loaded = _all_loaded_after(
        "from cdk_ota_update import IOtaUpdate, OtaUpdate, OtaUpdateProvider, OtaUpdateServiceRole"
    )
    assert "aws_cdk.aws_iam" in loaded
    assert [m for m in ON_USE if m in loaded] == []


def test_a_stack_loads_kms_and_cloudwatch_only_when_it_uses_them() -> None:
    stack = (
        "import aws_cdk as cdk, tempfile\n"
        "from cdk_ota_update import FileLocation, OtaTarget, OtaUpdate, OtaUpdateFile\n"
        "stack = cdk.Stack(cdk.App(outdir=tempfile.mkdtemp()), 'Release')\n"
        "ota = OtaUpdate(stack, 'Ota', targets=[OtaTarget.thing_group('fleet')], files=[\n"
        "    OtaUpdateFile(file_location=FileLocation.from_stream('stream-1', 0))])\n"
    )
    synthesized = _all_loaded_after(stack + "stack.node.root.synth()")
    assert "aws_cdk.aws_lambda" in synthesized
    assert [m for m in ("aws_cdk.aws_kms", "aws_cdk.aws_cloudwatch") if m in synthesized] == []
    with_alarm = _all_loaded_after(stack + "ota.alarm_failure_rate(threshold_percent=5)")
    assert "aws_cdk.aws_cloudwatch" in with_alarm


def test_importing_the_package_never_imports_moto() -> None:
    assert "moto" not in _loaded_after("from cdk_ota_update import OtaUpdate")


def test_an_unknown_name_is_an_attribute_error() -> None:
    import cdk_ota_update

    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        cdk_ota_update.Nope  # noqa: B018


def test_importing_the_constructs_loads_no_module_of_aws_cdk_lib_into_node() -> None:
    """Importing the constructs asks jsii for nothing outside aws-cdk-lib's core (the pseudo
    parameters' tokens): the Node.js side loads no module such as aws-lambda until a stack uses
    it, so an app (or a benchmark) pays for those when it builds, not when it imports."""
    code = (
        "import json, aws_cdk\n"
        "from jsii._kernel.providers.process import _NodeProcess\n"
        "sent = []\n"
        "send = _NodeProcess.send\n"
        "def record(self, request, response_type):\n"
        "    sent.append(getattr(request, 'fqn', None) or type(request).__name__)\n"
        "    return send(self, request, response_type)\n"
        "_NodeProcess.send = record\n"
        "from cdk_ota_update import OtaUpdate, OtaUpdateProvider, OtaUpdateServiceRole\n"
        "print(json.dumps(sent))\n"
    )
    sent = _printed(code)
    assert sent, "the probe saw no jsii request at all: it no longer wraps the kernel's send"
    assert [fqn for fqn in sent if fqn != "aws-cdk-lib.Aws"] == []
