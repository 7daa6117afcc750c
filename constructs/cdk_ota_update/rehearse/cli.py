"""``cdk-ota-update rehearse CDK_OUT``: the rehearsal as a console script (which also has
``cdk-ota-update status``: :mod:`cdk_ota_update.status`).

Exit status: 0 every OTA update deployed (and updated, deleted) as asked; 1 an OTA update
failed; 2 the rehearsal itself could not run (a bad assembly or option, a reference it cannot
resolve, moto missing).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from cdk_ota_update.status import cli as status_cli

from .assembly import RehearsalError
from .fleet import MIX_HELP, RUN_OUT_SECONDS, add_fleet_arguments, fleet_of
from .rehearsal import DEFAULT_ACCOUNT, DEFAULT_CONCURRENCY, DEFAULT_REGION, rehearse
from .report import CANNOT_RUN, Outcome


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="cdk-ota-update", description=__doc__.split("\n")[0])
    commands = top.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "rehearse",
        help="deploy a cloud assembly's OTA updates in the moto emulation, with strict IAM",
        description="Rehearse the deployment of a cloud assembly's Custom::OtaUpdate resources "
        "by their bundled handler against the moto emulation, IAM judged as the service does. "
        "Exit status: 0 all good, 1 an OTA update failed, 2 the rehearsal could not run.",
    )
    run.add_argument("cdk_out", help="the cloud assembly (the output folder of `cdk synth`)")
    run.add_argument(
        "--stack",
        action="append",
        default=[],
        metavar="NAME",
        help="rehearse this stack (and those it depends on): its id as `cdk ls` prints it "
        "(Pipeline/Eu/Release), its stack name (Eu-Release), or a glob of either ('*/Eu/*', "
        "'Eu-*'), as `cdk deploy` takes them; repeatable; all by default",
    )
    run.add_argument(
        "--account",
        default=DEFAULT_ACCOUNT,
        help=f"account of stacks without their own (default {DEFAULT_ACCOUNT})",
    )
    run.add_argument(
        "--region",
        default=DEFAULT_REGION,
        help=f"Region of stacks without their own (default {DEFAULT_REGION})",
    )
    run.add_argument(
        "--exists",
        action="append",
        default=[],
        metavar="RESOURCE",
        help="something the stacks refer to but do not declare, that exists at "
        "deploy: thinggroup/NAME[=N] (N things in it, the devices --fleet simulates), "
        "thing/NAME, signing-profile/NAME[=PLATFORM], s3://BUCKET or s3://BUCKET/KEY (in every "
        "account and Region the stacks deploy to), or the ARN of a thing group (=N too), thing or "
        "signing profile (in its own); repeatable; one that no OTA update refers to is warned "
        "about",
    )
    run.add_argument(
        "--from",
        dest="previous",
        metavar="OLD_CDK_OUT",
        help="the assembly deployed before: deploy it first, then update it to CDK_OUT as "
        "CloudFormation would (unchanged resources kept, changed OTA updates updated or "
        "replaced, replaced and removed resources deleted)",
    )
    run.add_argument(
        "--teardown",
        action="store_true",
        help="delete every OTA update at the end (as `cdk destroy`)",
    )
    run.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        help=f"handler invocations at once per Lambda function (default {DEFAULT_CONCURRENCY})",
    )
    add_fleet_arguments(
        run,
        f"the targets of each OTA update created are simulated devices, {MIX_HELP}. A rollout "
        "gate then passes or fails, and an abort configuration "
        "cancels the job, as on such a fleet (simulated time: seconds, not minutes); the devices "
        "finish their jobs after the deploy (at most a simulated "
        f"{RUN_OUT_SECONDS / 3600:g} hours) and the report shows each job's status and figures",
    )
    run.add_argument("--json", action="store_true", help="print the report as JSON")
    status_cli.add_arguments(
        commands.add_parser(
            "status", help="the rollout of deployed OTA updates, once or until a threshold"
        )
    )
    return top


class ProgressLine:
    """One line on stderr, rewritten as OTA updates finish (a line each when not a terminal)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.count = 0
        self.failed = 0

    def __call__(self, outcome: Outcome) -> None:
        self.count += 1
        self.failed += outcome.failed
        text = (
            f"rehearse: {self.count} step(s) done, {self.failed} failed; last "
            f"{outcome.path} {outcome.status}"
        )
        if self.stream.isatty():
            self.stream.write("\r\033[K" + text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def end(self) -> None:
        if self.count and self.stream.isatty():
            self.stream.write("\n")


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parser().parse_args(argv)
    if arguments.command == "status":
        return status_cli.run(arguments, status_cli.Environment())
    progress = ProgressLine(sys.stderr)
    try:
        fleet = fleet_of(arguments)
        report = rehearse(
            arguments.cdk_out,
            stacks=arguments.stack,
            account=arguments.account,
            region=arguments.region,
            exists=arguments.exists,
            previous=arguments.previous,
            teardown=arguments.teardown,
            concurrency=arguments.concurrency,
            progress=progress,
            fleet=fleet,
        )
    except RehearsalError as error:
        progress.end()
        print(f"cdk-ota-update rehearse: {error}", file=sys.stderr)
        return CANNOT_RUN
    progress.end()
    print(report.dumps() if arguments.json else report.table())
    return report.exit_status


if __name__ == "__main__":
    sys.exit(main())
