"""The contract's part of IoT's model, kept in the user's private cache directory: the same
shapes as botocore's whole model, read from the file by the next process, never from a directory
someone else could write to."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.model import ListShape, MapShape, ServiceModel, Shape, StructureShape

from cdk_ota_update import _disk_cache, api, provider
from cdk_ota_update.provider import CONTRACT_FILES, asset_dir


@pytest.fixture
def temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The system's temporary directory is ``tmp_path``; the model is read afresh."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.delenv("AWS_DATA_PATH", raising=False)
    api._contract_model.cache_clear()
    yield tmp_path
    api._contract_model.cache_clear()


def _cached_files(root: Path) -> list[Path]:
    return sorted(root.glob("cdk-ota-update*/iot-model-*.json"))


def _described(shape: Shape, seen: set[str] | None = None) -> list[Any]:
    """Everything validation reads of ``shape`` and the shapes below it, in order."""
    seen = set() if seen is None else seen
    if shape.name in seen:
        return [shape.name]
    seen.add(shape.name)
    found: list[Any] = [shape.name, shape.type_name, shape.metadata]
    if isinstance(shape, StructureShape):
        found.append(shape.required_members)
        for name, member in shape.members.items():
            found += [name, *_described(member, seen)]
    elif isinstance(shape, ListShape):
        found += _described(shape.member, seen)
    elif isinstance(shape, MapShape):
        found += _described(shape.key, seen) + _described(shape.value, seen)
    return found


@pytest.mark.parametrize("operation", api.CONTRACT_OPERATIONS)
def test_the_contract_part_has_the_whole_models_shapes(operation: str) -> None:
    whole = ServiceModel(api._model_data(), service_name="iot")
    part = ServiceModel(api.contract_model_data(api._model_data()), service_name="iot")
    for which in ("input_shape", "output_shape"):
        expected = getattr(whole.operation_model(operation), which)
        assert _described(getattr(part.operation_model(operation), which)) == _described(expected)
    assert len(part.shape_names) < len(whole.shape_names) / 10


def test_the_next_process_reads_the_cached_part_instead_of_the_model(
    temp_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = api.create_request_shape()
    (cached,) = _cached_files(temp_dir)
    api._contract_model.cache_clear()

    def no_model() -> dict[str, Any]:
        raise AssertionError("the whole model was read")

    monkeypatch.setattr(api, "_model_data", no_model)
    assert _described(api.create_request_shape()) == _described(first)
    assert json.loads(cached.read_text())["operations"].keys() == set(api.CONTRACT_OPERATIONS)


def test_a_damaged_cache_file_is_read_from_the_model_again_and_rewritten(temp_dir: Path) -> None:
    api.create_request_shape()
    (cached,) = _cached_files(temp_dir)
    cached.write_text('{"operations": ')
    api._contract_model.cache_clear()
    assert "otaUpdateId" in api.create_request_shape().members
    assert json.loads(cached.read_text())["operations"].keys() == set(api.CONTRACT_OPERATIONS)


def test_no_cache_while_aws_data_path_may_bring_another_model(
    temp_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DATA_PATH", str(temp_dir / "models"))
    assert "otaUpdateId" in api.create_request_shape().members
    assert _cached_files(temp_dir) == []


def test_a_model_in_aws_data_path_is_the_one_read(
    temp_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """botocore's search path, AWS_DATA_PATH first: an IoT model there (a newer one, say) is the
    contract's and every other operation's."""
    data = json.loads(json.dumps(api._model_data()))
    data["shapes"]["OTAUpdateId"]["max"] = 32
    data["shapes"]["StreamId"]["max"] = 16
    version = temp_dir / "models" / "iot" / data["metadata"]["apiVersion"]
    version.mkdir(parents=True)
    (version / "service-2.json").write_text(json.dumps(data))
    monkeypatch.setenv("AWS_DATA_PATH", str(temp_dir / "models"))
    api._model_data.cache_clear()
    api._service_model.cache_clear()

    try:
        members = api.create_request_shape().members
        assert members["otaUpdateId"].metadata["max"] == 32
        assert api.operation_input("CreateStream").members["streamId"].metadata["max"] == 16
    finally:
        api._model_data.cache_clear()
        api._service_model.cache_clear()


def test_the_contract_part_keeps_its_operations_errors() -> None:
    part = api.contract_model_data(api._model_data())
    errors = {
        ref["shape"]
        for operation in part["operations"].values()
        for ref in operation.get("errors", ())
    }

    assert {"InvalidRequestException", "ThrottlingException"} <= errors <= part["shapes"].keys()


def test_the_contract_part_of_a_model_with_shapes_that_refer_to_themselves_ends() -> None:
    looped = {
        "type": "structure",
        "members": {"next": {"shape": "Node"}, "all": {"shape": "Nodes"}},
    }
    nodes = {"type": "list", "member": {"shape": "Node"}}
    data: dict[str, Any] = {
        "operations": {name: {"input": {"shape": "Node"}} for name in api.CONTRACT_OPERATIONS},
        "shapes": {
            "Node": looped,
            "Nodes": nodes,
            "Unused": {"type": "string"},
        },
    }

    assert api.contract_model_data(data)["shapes"] == {
        "Node": looped,
        "Nodes": nodes,
    }


def test_other_operations_come_from_the_whole_model(temp_dir: Path) -> None:
    assert "streamId" in api.operation_input("CreateStream").members


@pytest.mark.parametrize("mode", [0o755, 0o770, 0o707])
def test_a_cache_directory_others_may_read_or_write_is_not_used(temp_dir: Path, mode: int) -> None:
    directory = _disk_cache.private_cache_dir()
    assert directory is not None
    assert directory.stat().st_mode & 0o777 == 0o700
    directory.chmod(mode)
    assert _disk_cache.private_cache_dir() is None
    assert "otaUpdateId" in api.create_request_shape().members
    assert _cached_files(temp_dir) == []


def test_a_link_in_place_of_the_cache_directory_is_not_used(temp_dir: Path) -> None:
    elsewhere = temp_dir / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    name = f"cdk-ota-update-{os.getuid()}" if hasattr(os, "getuid") else "cdk-ota-update"
    (temp_dir / name).symlink_to(elsewhere)
    assert _disk_cache.private_cache_dir() is None


def test_the_asset_is_a_private_copy_of_its_own_without_the_cache_directory(
    temp_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_disk_cache, "private_cache_dir", lambda: None)
    own = asset_dir.__wrapped__()
    assert (own / "index.py").is_file()
    assert (own / "cdk_ota_update" / "api.py").is_file()
    assert own.parent == temp_dir
    assert own.stat().st_mode & 0o077 == 0


def test_the_asset_is_shared_from_the_private_cache_directory(temp_dir: Path) -> None:
    first, again = asset_dir.__wrapped__(), asset_dir.__wrapped__()
    assert first == again
    assert first.parent == _disk_cache.private_cache_dir()
    assert sorted(p.name for p in temp_dir.iterdir()) == [first.parent.name]


def test_a_process_that_finds_the_asset_in_the_cache_copies_nothing(
    temp_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = asset_dir.__wrapped__()
    monkeypatch.setattr(provider, "bundle", _no_copy)
    assert asset_dir.__wrapped__() == first
    assert sorted(p.name for p in first.parent.iterdir() if p.name.startswith("asset-")) == [
        first.name
    ]


def test_the_asset_in_the_cache_follows_its_sources(
    temp_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = asset_dir.__wrapped__()
    handler = temp_dir / "handler"
    handler.mkdir()
    for path in provider.handler_dir().glob("*.py"):
        (handler / path.name).write_bytes(path.read_bytes())
    (handler / "index.py").write_text((handler / "index.py").read_text() + "\n# changed\n")
    monkeypatch.setattr(provider, "handler_dir", lambda: handler)
    changed = asset_dir.__wrapped__()
    assert changed != first
    assert (changed / "index.py").read_text().endswith("# changed\n")
    assert not (first / "index.py").read_text().endswith("# changed\n")


def _no_copy(output_dir: Path, *_: object) -> None:
    raise AssertionError(f"the asset was laid out again in {output_dir}")


@pytest.mark.parametrize(
    "damage",
    [
        "{}",
        '{"metadata": {}, "operations": {}, "shapes": {}}',
        "[]",
        "",
    ],
)
def test_a_cache_file_that_parses_but_lacks_the_contract_is_replaced(
    temp_dir: Path, damage: str
) -> None:
    api.create_request_shape()
    (cached,) = _cached_files(temp_dir)
    cached.write_text(damage)
    api._contract_model.cache_clear()
    assert "otaUpdateId" in api.create_request_shape().members
    assert api.validate({"otaUpdateId": "x"}, shape=api.operation_input("DeleteOTAUpdate")) == []
    assert json.loads(cached.read_text())["operations"].keys() == set(api.CONTRACT_OPERATIONS)


def test_a_cache_file_missing_one_nested_shape_is_replaced(temp_dir: Path) -> None:
    api.create_request_shape()
    (cached,) = _cached_files(temp_dir)
    data = json.loads(cached.read_text())
    del data["shapes"]["S3Location"]  # files[].fileLocation.s3Location
    cached.write_text(json.dumps(data))
    api._contract_model.cache_clear()
    location = api.create_request_shape().members["files"].member.members["fileLocation"]
    assert "bucket" in location.members["s3Location"].members
    assert "S3Location" in json.loads(cached.read_text())["shapes"]


def test_the_lambdas_copy_of_the_contract_reads_botocores_model_and_keeps_nothing(
    tmp_path: Path,
) -> None:
    """The asset leaves the disk cache out: a function's ``/tmp`` starts empty, and its process
    keeps the model in memory."""
    asset = asset_dir()
    assert sorted(p.name for p in (asset / "cdk_ota_update").iterdir()) == sorted(CONTRACT_FILES)
    script = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from cdk_ota_update import api\n"
        "assert api.__file__.startswith(sys.argv[1]), api.__file__\n"
        "print(sorted(api.create_request_shape().members)[0])\n"
    )
    environment = {**os.environ, "TMPDIR": str(tmp_path)}
    environment.pop("AWS_DATA_PATH", None)
    done = subprocess.run(
        [sys.executable, "-c", script, str(asset)],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )

    assert done.stdout == "additionalParameters\n"
    assert list(tmp_path.iterdir()) == []
