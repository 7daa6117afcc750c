"""The library's private cache directory, used at synth: IoT's model cut to the contract's
operations (``api.CONTRACT_OPERATIONS``), and the Lambda asset's folder (``provider.asset_dir``).

Not in the Lambda asset: a function's ``/tmp`` starts empty and its process keeps the model in
memory, so the handler's copy of ``api`` cuts the model from botocore's as it would anyway.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from . import api

# Changes when the file's layout does (a file of another layout is read as damaged, then replaced).
_MODEL_FORMAT = 1


def private_cache_dir() -> Path | None:
    """The library's cache directory in the system's temporary directory, private to the user:
    made with mode 0700, and not used (None) if it is a link, or someone else owns it, or others
    may read or write it (on a shared machine, another user could plant a model or an asset)."""
    getuid = getattr(os, "getuid", None)  # Windows: the temporary directory is the user's own
    name = "cdk-ota-update" if getuid is None else f"cdk-ota-update-{getuid()}"
    directory = Path(tempfile.gettempdir()) / name
    try:
        directory.mkdir(mode=0o700, exist_ok=True)
        info = directory.lstat()
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode):
        return None
    if getuid is not None and (info.st_uid != getuid() or info.st_mode & 0o077):
        return None
    return directory


def contract_model_data() -> dict[str, Any]:
    """IoT's model cut to the contract (``api.contract_model_data``): read from its file in the
    private cache directory, else cut from botocore's whole model and written there for the next
    process (nothing kept while ``AWS_DATA_PATH`` may bring another model)."""
    path = _contract_model_file()
    if path is not None:
        data = _read_contract_model(path)
        if data is not None:
            return data
    data = api.contract_model_data(api._model_data())
    if path is not None:
        with contextlib.suppress(OSError):
            _write_atomically(path, json.dumps(data))
    return data


def _read_contract_model(path: Path) -> dict[str, Any] | None:
    """The contract's model from ``path``, or None if it cannot be read or lacks a shape the
    contract reaches (a cache never fails a validation: the model is read again instead)."""
    try:
        data: dict[str, Any] = json.loads(path.read_text())
        api.contract_model_data(data)  # every operation and shape of the contract is there
    except (OSError, ValueError, LookupError, TypeError, AttributeError):
        return None
    return data


def _contract_model_file() -> Path | None:
    directory = private_cache_dir()
    if directory is None or os.environ.get("AWS_DATA_PATH"):
        return None
    import botocore

    key = json.dumps(
        [_MODEL_FORMAT, botocore.__version__, botocore.__file__, api.CONTRACT_OPERATIONS]
    )
    return directory / f"iot-model-{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"


def _write_atomically(path: Path, text: str) -> None:
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as file:
            file.write(text)
        os.replace(name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
