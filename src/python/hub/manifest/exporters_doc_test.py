from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from hub.cli import main
from hub.common.errors import HubError, ManifestError
from hub.manifest.exporters_doc import load_exporters, render

REPO_ROOT = Path(__file__).resolve().parents[4]


def write_exporter(root: Path, name: str, **fields: Any) -> Path:
    data: dict[str, Any] = {
        "name": name,
        "description": f"{name} exporter",
        "category": "System",
        "version": "v1.2.3",
        "upstream": {"repo": f"acme/{name}"},
        "build": {"binary_name": name},
    }
    data.update(fields)
    directory = root / name
    directory.mkdir(parents=True)
    (directory / "manifest.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return directory


@pytest.fixture
def cli() -> Callable[[list[str]], int]:
    return main


def table_rows(text: str) -> list[list[str]]:
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    return [[c.strip() for c in line.strip("|").split(" | ")] for line in rows[1:]]  # no header


def test_rows_sorted_with_defaults_and_matrix_counts(tmp_path: Path) -> None:
    write_exporter(
        tmp_path,
        "zeta_exporter",
        build={"binary_name": "zeta", "extra_binaries": ["zetatool"]},
        artifacts={"docker": {"port": 9999}},
    )
    write_exporter(
        tmp_path,
        "alpha_exporter",
        version="1.0.0",
        category="Storage",
        build={"binary_name": "alpha-exporter", "archs": ["amd64"]},
        artifacts={
            "rpm": {"system_user": "prometheus", "targets": ["el9"]},
            "deb": {"enabled": False},
            "docker": {"enabled": False},
        },
    )
    (tmp_path / "not_an_exporter").mkdir()  # no manifest: ignored
    text = render(load_exporters(str(tmp_path)))
    assert table_rows(text) == [
        [
            "[alpha_exporter](../exporters/alpha_exporter/README.md)",
            "`1.0.0`",
            "Storage",
            "—",
            "`prometheus`",
            "`alpha-exporter`",
            "amd64",
            "1 RPM",
        ],
        [
            "[zeta_exporter](../exporters/zeta_exporter/README.md)",
            "`v1.2.3`",
            "System",
            "9999",
            "`zeta_exporter`",
            "`zeta`, `zetatool`",
            "amd64, arm64",
            "6 RPM, 8 DEB, image",
        ],
    ]
    assert "2 exporters, 15 packages and 1 image." in text
    assert "Built for amd64 only: alpha_exporter." in text
    assert str(tmp_path) not in text  # nothing of this machine in the page


def test_pipes_are_escaped_in_cells(tmp_path: Path) -> None:
    write_exporter(
        tmp_path,
        "foo",
        artifacts={
            "rpm": {"system_user": "root", "systemd": {"run_as_root": "reads devices only root may open"}},
            "deb": {"system_user": "root", "systemd": {"run_as_root": "reads devices only root may open"}},
        },
    )
    (row,) = table_rows(render(load_exporters(str(tmp_path))))
    assert row[4] == "`root`"
    from hub.manifest.exporters_doc import _cell

    assert _cell("a|b") == "a\\|b"


def test_bad_manifest_or_empty_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(HubError, match="no <name>/manifest.yaml found"):
        load_exporters(str(tmp_path))
    with pytest.raises(HubError, match="cannot list"):
        load_exporters(str(tmp_path / "missing"))
    write_exporter(tmp_path, "foo", category="Nope")
    with pytest.raises(ManifestError, match="category"):
        load_exporters(str(tmp_path))


def test_cli_prints_and_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cli: Callable[[list[str]], int]
) -> None:
    exporters = tmp_path / "exporters"
    write_exporter(exporters, "foo", artifacts={"docker": {"port": 9100}})
    assert cli(["exporters-doc", str(exporters)]) == 0
    page = capsys.readouterr().out
    assert page == render(load_exporters(str(exporters)))

    doc = tmp_path / "exporters.md"
    assert cli(["exporters-doc", "--check", str(doc), str(exporters)]) == 1  # missing
    assert "generate it with" in capsys.readouterr().err
    doc.write_text(page)
    assert cli(["exporters-doc", "--check", str(doc), str(exporters)]) == 0
    assert capsys.readouterr().out == f"{doc} is up to date\n"
    write_exporter(exporters, "bar")
    assert cli(["exporters-doc", "--check", str(doc), str(exporters)]) == 1
    assert capsys.readouterr().err == (
        f"{doc} is stale: regenerate it with `hub exporters-doc exporters > docs/exporters.md`\n"
    )


def test_cli_bad_manifest_exits_2_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cli: Callable[[list[str]], int]
) -> None:
    write_exporter(tmp_path, "foo", version="one")
    assert cli(["exporters-doc", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "version" in err and "Traceback" not in err


# --------------------------------------------------------------------------------------------
# The repository
# --------------------------------------------------------------------------------------------


def test_docs_exporters_md_is_up_to_date() -> None:
    doc = REPO_ROOT / "docs" / "exporters.md"
    assert doc.is_file(), "the tests depend on //docs:exporters"
    expected = render(load_exporters(str(REPO_ROOT / "exporters")))
    assert (
        doc.read_text(encoding="utf-8") == expected
    ), "docs/exporters.md is stale: regenerate it with `hub exporters-doc exporters > docs/exporters.md`"


def test_repository_matrix_is_the_specified_one() -> None:
    """SPEC: 31 exporters on amd64 + arm64 and 3 amd64-only give 455 packages and 34 images."""
    manifests = load_exporters(str(REPO_ROOT / "exporters"))
    artifacts = [a for m in manifests for a in m.matrix()]
    assert len(manifests) == 34
    assert sorted(m.name for m in manifests if m.build.archs == ("amd64",)) == [
        "artifactory_exporter",
        "dellhw_exporter",
        "gpfs_exporter",
    ]
    assert sum(a.kind != "docker" for a in artifacts) == 455
    assert sum(a.kind == "docker" for a in artifacts) == 34
