"""``python -m cdk_ota_update.testing``: moto_server with the emulation installed (``--help``)."""

from __future__ import annotations

import argparse
import os
import textwrap
import threading
import time
from collections.abc import Callable

from moto.server import main as moto_server

from cdk_ota_update.rehearse.fleet import MIX_HELP, FleetError, add_fleet_arguments, fleet_of

from . import CONTROLS, advance_fleet, install
from .controls import on_reset
from .http_controls import PREFIX

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000
TICK_SECONDS = 0.5  # how often, in real time, --fleet-speed moves the fleet's clock on

DESCRIPTION = """\
An HTTP server answering every AWS service moto emulates (moto_server), with what
cdk_ota_update.testing adds to moto's IoT: OTA updates (CreateOTAUpdate, GetOTAUpdate,
ListOTAUpdates, DeleteOTAUpdate), streams (CreateStream, DescribeStream, ListStreams,
UpdateStream, DeleteStream) and their tags (ListTagsForResource, TagResource, UntagResource).
Point any AWS SDK or the AWS CLI at http://HOST:PORT, with any region and credentials.
moto_server's other options (-r, -s, -c, -k) are accepted too."""

EPILOG = textwrap.fill(
    "test controls: the emulation's are Python functions of cdk_ota_update.testing, acting on "
    f"the process that calls them; this server answers them over HTTP: POST {PREFIX}CONTROL with "
    f"a JSON object of its keyword arguments, for the controls {', '.join(CONTROLS)} (pace: an "
    'object of Pace\'s members). The answer is {"result": ...}, or {"error": ...} with '
    "status 400 (or the IoT error's). Example: curl -X POST "
    f"localhost:5000{PREFIX}advance_fleet -d '{{\"seconds\": 600}}'. This server has moto's own "
    "HTTP controls too, under /moto-api/: POST /moto-api/reset wipes moto's state, the "
    "emulation's OTA updates, streams and tags included, and its controls (a --fleet is "
    "simulated again). OTA updates follow the emulation's default lifecycle (CREATE_PENDING, "
    "then the final status at the next call), not moto's state manager "
    "(/moto-api/state-manager/).",
    width=79,
    break_on_hyphens=False,
    break_long_words=False,
)


def parser() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(
        prog="python -m cdk_ota_update.testing",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    options.add_argument(
        "-H", "--host", default=DEFAULT_HOST, help="the address to listen on (default: %(default)s)"
    )
    options.add_argument(
        "-p",
        "--port",
        type=int,
        default=int(os.environ.get("MOTO_PORT", DEFAULT_PORT)),
        help=f"the port to listen on (default: $MOTO_PORT if set, else {DEFAULT_PORT})",
    )
    add_fleet_arguments(
        options,
        "the things of every job (an OTA update's, or moto's CreateJob) are simulated devices, "
        f"{MIX_HELP}, under the job's rollout, abort and timeout configurations; DescribeJob, "
        "ListJobExecutionsForJob and the AWS/IoT job metrics report what they did",
    )
    options.add_argument(
        "--fleet-speed",
        type=float,
        metavar="X",
        help="with --fleet: the simulated seconds the fleet's clock moves on per real second "
        "(default 1; 60: a minute a second; 0: only the advance_fleet control moves it)",
    )
    return options


def fleet_of_options(
    options: argparse.ArgumentParser, args: argparse.Namespace
) -> Callable[[], None] | None:
    """What makes every job's things the devices ``--fleet`` asks for, done once now (None
    without it; an argparse error for a fleet option without ``--fleet``, or a pace or speed that
    is not one)."""
    if args.fleet_speed is not None and not args.fleet_speed >= 0:
        options.error(f"--fleet-speed: {args.fleet_speed:g} is not 0 or more simulated seconds")
    try:
        fleet = fleet_of(args, "fleet_speed")
        if fleet is not None:
            fleet.start()
    except FleetError as error:
        options.error(str(error))
    return None if fleet is None else fleet.start


def follow_real_time(speed: float) -> threading.Thread:
    """A daemon thread moving the fleet's clock on ``speed`` simulated seconds per real second."""

    def run() -> None:
        last = time.monotonic()
        while True:
            time.sleep(TICK_SECONDS)
            now = time.monotonic()
            advance_fleet((now - last) * speed)
            last = now

    thread = threading.Thread(target=run, name="fleet-clock", daemon=True)
    thread.start()
    return thread


def main(argv: list[str] | None = None) -> None:
    options = parser()
    args, moto_options = options.parse_known_args(argv)
    install()
    fleet = fleet_of_options(options, args)
    if fleet is not None:
        on_reset(fleet)  # the server's fleet outlives moto's reset
        speed = 1.0 if args.fleet_speed is None else args.fleet_speed
        if speed:
            follow_real_time(speed)
    moto_server(["--host", args.host, "--port", str(args.port), *moto_options])


if __name__ == "__main__":
    main()
