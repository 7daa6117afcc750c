"""The moto releases the emulation works with, checked before moto is imported.

The ``[testing]`` extra of pyproject.toml states :data:`MOTO_REQUIREMENT` too (a test checks that
they agree). 5.2.4 is the first release whose ``BaseResponse`` has the ``normalized_request`` the
emulation parses requests from: with 5.2.0 to 5.2.3 every CreateOTAUpdate failed with HTTP 500.
"""

from __future__ import annotations

import re
from importlib import metadata

MOTO_FLOOR = "5.2.4"
MOTO_CAP = "5.3"
MOTO_REQUIREMENT = f"moto[server]>={MOTO_FLOOR},<{MOTO_CAP}"


def require_moto() -> None:
    """ImportError naming the installed moto, the one needed and how to install it, unless the
    installed moto is :data:`MOTO_FLOOR` or newer."""
    try:
        installed: str | None = metadata.version("moto")
    except metadata.PackageNotFoundError:
        installed = None
    if installed is None or _release(installed) < _release(MOTO_FLOOR):
        found = f"moto {installed} is installed" if installed else "moto is not installed"
        raise ImportError(
            f"cdk_ota_update.testing needs moto {MOTO_FLOOR} or newer (below {MOTO_CAP}), but "
            f'{found}: pip install "{MOTO_REQUIREMENT}"',
            name="moto",
        )


def _release(version: str) -> tuple[int, ...]:
    """The release numbers a version starts with (``5.2.4.dev1`` -> ``(5, 2, 4)``)."""
    numbers = re.match(r"\d+(?:\.\d+)*", version)
    return tuple(int(n) for n in numbers.group().split(".")) if numbers else ()
