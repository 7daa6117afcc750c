"""``python -m cdk_ota_update.testing [moto_server options]``: moto_server with the emulation."""

from moto.server import main

from . import install

install()
main()
