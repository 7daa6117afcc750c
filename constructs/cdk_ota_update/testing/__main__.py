"""``python -m cdk_ota_update.testing``: moto_server with the emulation installed (``--help``)."""

from __future__ import annotations

import argparse
import os

from moto.server import main as moto_server

from . import install

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000

DESCRIPTION = """\
An HTTP server answering every AWS service moto emulates (moto_server), with what
cdk_ota_update.testing adds to moto's IoT: OTA updates (CreateOTAUpdate, GetOTAUpdate,
ListOTAUpdates, DeleteOTAUpdate), streams (CreateStream, DescribeStream, ListStreams,
UpdateStream, DeleteStream) and their tags (ListTagsForResource, TagResource, UntagResource).
Point any AWS SDK or the AWS CLI at http://HOST:PORT, with any region and credentials.
moto_server's other options (-r, -s, -c, -k) are accepted too."""

EPILOG = """\
test controls: the emulation's (set_lifecycle_delay, set_manual_lifecycle, advance, throttle,
fail, simulate_fleet, advance_fleet, ... of cdk_ota_update.testing) are Python functions acting
on the process that calls them: they cannot reach this server. For them, run moto in the test's
own process: mock_aws(), or a ThreadedMotoServer started after testing.install(). No simulated
fleet runs here: the jobs' executions stay as they are created. This server has moto's own
HTTP controls, under /moto-api/: POST /moto-api/reset wipes moto's state, the emulation's OTA
updates, streams and tags included. OTA updates follow the emulation's default lifecycle
(CREATE_PENDING, then the final status at the next call), not moto's state manager
(/moto-api/state-manager/)."""


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
    return options


def main(argv: list[str] | None = None) -> None:
    args, moto_options = parser().parse_known_args(argv)
    install()
    moto_server(["--host", args.host, "--port", str(args.port), *moto_options])


if __name__ == "__main__":
    main()
