from __future__ import annotations

import json
import os

import pytest

from hub_plugin import matrix
from hub_plugin.matrix import MatrixFileError, load_matrix, parse_matrix
from hub_plugin.target_types import ArchField, DistField, ImageArchesField, PackageFormatField


def test_the_plugin_reads_the_engine_matrix_file() -> None:
    path = os.path.join(matrix.BUILD_ROOT, matrix.MATRIX_FILE)
    with open(path) as f:
        data = json.load(f)
    assert matrix.ARCHES == tuple(data["arches"])
    assert matrix.DISTS == tuple(data["dists"])
    assert dict(matrix.DIST_FORMAT) == {name: d["family"] for name, d in data["dists"].items()}
    for fmt in ("rpm", "deb"):
        assert matrix.FORMAT_DISTS[fmt] == tuple(n for n, d in data["dists"].items() if d["family"] == fmt)


def test_target_fields_accept_exactly_the_matrix() -> None:
    assert ArchField.valid_choices == ImageArchesField.valid_choices == matrix.ARCHES
    assert DistField.valid_choices == matrix.DISTS
    assert PackageFormatField.valid_choices == ("rpm", "deb")
    for dist in matrix.DISTS:
        assert dist in str(DistField.help)


@pytest.mark.parametrize(
    "data, message",
    [
        ([], "expected `arches` and `dists` mappings"),
        ({"arches": {"amd64": {}}}, "expected `arches` and `dists` mappings"),
        ({"arches": {"amd64": {}}, "dists": {"el9": {}}}, "each dist with a `family`"),
        ({"arches": {}, "dists": {"el9": {"family": "rpm"}}}, "must not be empty"),
        ({"arches": {"amd64": {}}, "dists": {"alpine": {"family": "apk"}}}, "unknown family 'apk'"),
    ],
)
def test_a_malformed_matrix_says_what_is_wrong(data: object, message: str) -> None:
    with pytest.raises(MatrixFileError, match=None) as e:
        parse_matrix(data, "src/python/hub/matrix.json")
    assert str(e.value).startswith("src/python/hub/matrix.json: ")
    assert message in str(e.value)


def test_a_missing_or_invalid_file_names_itself(tmp_path) -> None:
    with pytest.raises(MatrixFileError, match="missing.json: cannot read the build matrix"):
        load_matrix(str(tmp_path / "missing.json"))
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(MatrixFileError, match="bad.json: cannot read the build matrix"):
        load_matrix(str(tmp_path / "bad.json"))
