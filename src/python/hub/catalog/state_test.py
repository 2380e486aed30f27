"""hub.catalog.state: each exporter's status against a deployed catalog (a directory or HTTP),
the real 3.0 shape written by the aggregation, bad documents named with their field, the
report and table, and the CLI's exit codes."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any, Iterator

import pytest

from hub import cli
from hub.catalog.state import (
    CatalogReader,
    compare_all,
    format_table,
    report_json,
)
from hub.common.errors import HubError
from hub.manifest.load import load_manifest
from hub.common import files
from hub.common import schemas
from hub.common.serve import serve_directory

# --------------------------------------------------------------------------------------------
# Fixtures: manifests and a deployed catalog in the real 3.0 shape
# --------------------------------------------------------------------------------------------

MATRIX = ["rpm_amd64_el9", "rpm_arm64_el9", "deb_amd64_debian-12", "deb_arm64_debian-12", "docker"]


def write_manifest(root: Path, name: str, version: str, *, archs: str = "[amd64, arm64]") -> Path:
    directory = root / "exporters" / name
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "manifest.yaml"
    path.write_text(
        f"""\
name: {name}
description: The {name}
category: System
version: '{version}'
license: Apache-2.0
upstream:
  repo: acme/{name}
build:
  binary_name: {name}
  archs: {archs}
artifacts:
  rpm:
    targets: [el9]
  deb:
    targets: [debian-12]
  docker:
    port: 9100
"""
    )
    return path


def metadata(name: str, version: str, statuses: dict[str, str]) -> dict[str, Any]:
    """A deployed metadata.json (the seed's shape plus the 3.0 additions)."""
    artifacts: dict[str, Any] = {"rpm": {}, "deb": {}}
    counts = {"success": 0, "stale": 0, "failed": 0, "missing": 0}
    for aid, status in statuses.items():
        counts[status] += 1
        if aid == "docker":
            artifacts["docker"] = status
        else:
            kind, arch, dist = aid.split("_", 2)
            artifacts[kind].setdefault(dist, {})[arch] = status
    return {
        "format_version": "3.0",
        "exporter": name,
        "version": version,
        "category": "System",
        "description": f"The {name}",
        "last_updated": "2025-06-01T12:00:00Z",
        "artifacts": artifacts,
        "upstream_version": "v" + version,
        "license": "Apache-2.0",
        "homepage": None,
        "repository": f"https://github.com/acme/{name}",
        "port": 9100,
        "pinned": True,
        "packages": {"rpm": name, "deb": name.replace("_", "-")},
        "status_counts": {**counts, "total": sum(counts.values())},
    }


def write_catalog(site: Path, deployed: dict[str, tuple[str, dict[str, str] | None]]) -> Path:
    """site/catalog/index.json and <exporter>/metadata.json (None: no metadata.json)."""
    cat = site / "catalog"
    cat.mkdir(parents=True, exist_ok=True)
    entries = []
    for name, (version, statuses) in sorted(deployed.items()):
        meta = metadata(name, version, statuses or {})
        if statuses is not None:
            (cat / name).mkdir(exist_ok=True)
            (cat / name / "metadata.json").write_text(files.dumps_json(meta))
        counts = meta["status_counts"]
        entries.append(
            {
                "name": name,
                "version": version,
                "category": "System",
                "description": f"The {name}",
                "last_updated": "2025-06-01T12:00:00Z",
                "pinned": True,
                "status": next((s for s in ("missing", "failed", "stale", "success") if counts[s]), "missing"),
                "status_counts": counts,
                "metadata": f"{name}/metadata.json",
            }
        )
    index = {
        "format_version": "3.0",
        "exporters": entries,
        "categories": {"System": len(entries)} if entries else {},
        "totals": {"exporters": len(entries), "success": 0, "stale": 0, "failed": 0, "missing": 0, "total": 0},
    }
    (cat / "index.json").write_text(files.dumps_json(index))
    return cat


ALL_OK = {aid: "success" for aid in MATRIX}


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Any]:
    """One exporter per status, plus the deployed site."""
    manifests = {
        "alpha_exporter": write_manifest(tmp_path, "alpha_exporter", "v1.0.0"),  # new
        "bravo_exporter": write_manifest(tmp_path, "bravo_exporter", "v1.10.0"),  # upgrade from 1.9.0
        "charlie_exporter": write_manifest(tmp_path, "charlie_exporter", "v1.2.0"),  # downgrade from 1.10.0
        "delta_exporter": write_manifest(tmp_path, "delta_exporter", "v2.0.0"),  # rebuild: failed + missing
        "echo_exporter": write_manifest(tmp_path, "echo_exporter", "1.4.0"),  # up-to-date
        "foxtrot_exporter": write_manifest(tmp_path, "foxtrot_exporter", "v1.0.0"),  # upgrade from a prerelease
    }
    site = tmp_path / "site"
    delta = dict(ALL_OK)
    delta["rpm_arm64_el9"] = "failed"
    del delta["deb_arm64_debian-12"]  # not listed at all: the deployed site never built it
    delta["docker"] = "stale"
    write_catalog(
        site,
        {
            "bravo_exporter": ("1.9.0", ALL_OK),
            "charlie_exporter": ("1.10.0", ALL_OK),
            "delta_exporter": ("2.0.0", delta),
            "echo_exporter": ("1.4.0+build.2", ALL_OK),
            "foxtrot_exporter": ("1.0.0-rc.1", ALL_OK),
            "retired_exporter": ("0.1.0", ALL_OK),
        },
    )
    return {"manifests": manifests, "site": site, "root": tmp_path}


def results_by_name(world: dict[str, Any], location: str, **kw: Any) -> dict[str, Any]:
    manifests = [load_manifest(p) for p in world["manifests"].values()]
    return {r.exporter: r for r in compare_all(manifests, CatalogReader(location), **kw)}


def check_world(results: dict[str, Any]) -> None:
    assert {n: r.status for n, r in results.items()} == {
        "alpha_exporter": "new",
        "bravo_exporter": "upgrade",
        "charlie_exporter": "downgrade",
        "delta_exporter": "rebuild",
        "echo_exporter": "up-to-date",
        "foxtrot_exporter": "upgrade",
    }
    assert {n for n, r in results.items() if r.build} == {
        "alpha_exporter",
        "bravo_exporter",
        "delta_exporter",
        "foxtrot_exporter",
    }
    assert results["alpha_exporter"].deployed_version is None
    assert results["bravo_exporter"].deployed_version == "1.9.0"
    assert results["bravo_exporter"].reasons == ["manifest v1.10.0 is newer than deployed 1.9.0"]
    assert results["charlie_exporter"].reasons == [
        "manifest v1.2.0 is older than deployed 1.10.0: refused (pass --allow-downgrade to publish it)"
    ]
    assert results["delta_exporter"].reasons == [
        "rpm_arm64_el9: failed",
        "deb_arm64_debian-12: missing (not in the deployed catalog)",
        "docker: stale",
    ]
    assert results["echo_exporter"].reasons == []


# --------------------------------------------------------------------------------------------
# Every status, from a directory
# --------------------------------------------------------------------------------------------


def test_statuses_from_a_directory(world: dict[str, Any]) -> None:
    check_world(results_by_name(world, str(world["site"])))


def test_the_catalog_directory_itself_is_accepted(world: dict[str, Any]) -> None:
    check_world(results_by_name(world, str(world["site"] / "catalog")))
    check_world(results_by_name(world, (world["site"] / "catalog").as_uri()))


def test_allow_downgrade(world: dict[str, Any]) -> None:
    results = results_by_name(world, str(world["site"]), allow_downgrade=True)
    r = results["charlie_exporter"]
    assert r.status == "downgrade" and r.build
    assert r.reasons == ["manifest v1.2.0 is older than deployed 1.10.0"]


def test_fixture_catalog_has_the_real_shape(world: dict[str, Any]) -> None:
    """The handmade deployed catalog passes the catalog's own schemas."""
    cat = world["site"] / "catalog"
    schemas.validate(json.loads((cat / "index.json").read_text()), "index")
    for path in cat.glob("*/metadata.json"):
        schemas.validate(json.loads(path.read_text()), "metadata", what=str(path))


def test_catalog_written_by_the_aggregation(tmp_path: Path) -> None:
    """The contract with hub.catalog.aggregate: its metadata.json and index.json are what state reads."""
    from hub.catalog import aggregate

    site = tmp_path / "site" / "catalog"
    site.mkdir(parents=True)
    ok = load_manifest(write_manifest(tmp_path, "ok_exporter", "v1.0.0"))
    half = load_manifest(write_manifest(tmp_path, "half_exporter", "v1.0.0"))
    doc = {"version": "1.0.0", "status": "success", "build_date": "2025-06-01T12:00:00Z"}
    metas = [
        aggregate.aggregate_exporter(ok, {aid: doc for aid in MATRIX}, pinned=True),
        aggregate.aggregate_exporter(half, {"rpm_amd64_el9": doc, "docker": {**doc, "status": "failed"}}, pinned=True),
    ]
    for m in metas:
        (site / m["exporter"]).mkdir()
        (site / m["exporter"] / "metadata.json").write_text(files.dumps_json(m))
    (site / "index.json").write_text(files.dumps_json(aggregate.build_index(metas)))
    results = {r.exporter: r for r in compare_all([ok, half], CatalogReader(str(tmp_path / "site")))}
    assert results["ok_exporter"].status == "up-to-date"
    assert results["half_exporter"].status == "rebuild"
    assert "docker: failed" in results["half_exporter"].reasons
    assert "rpm_arm64_el9: missing" in results["half_exporter"].reasons


def test_without_metadata_json_the_artifact_jsons_are_read(tmp_path: Path) -> None:
    manifest = load_manifest(write_manifest(tmp_path, "solo_exporter", "v3.0.0"))
    cat = write_catalog(tmp_path / "site", {"solo_exporter": ("3.0.0", None)})
    (cat / "solo_exporter").mkdir()
    for aid in MATRIX:
        (cat / "solo_exporter" / f"{aid}.json").write_text(json.dumps({"version": "3.0.0", "status": "success"}))
    [r] = compare_all([manifest], CatalogReader(str(tmp_path / "site")))
    assert r.status == "up-to-date"
    assert r.reasons == ["no metadata.json deployed: read the artifact JSONs"]

    (cat / "solo_exporter" / "docker.json").write_text(json.dumps({"version": "3.0.0", "status": "failed"}))
    (cat / "solo_exporter" / "rpm_amd64_el9.json").write_text(json.dumps({"version": "2.9.0", "status": "success"}))
    (cat / "solo_exporter" / "deb_arm64_debian-12.json").unlink()
    [r] = compare_all([manifest], CatalogReader(str(tmp_path / "site")))
    assert r.status == "rebuild"
    assert r.reasons == [
        "rpm_amd64_el9: stale",
        "deb_arm64_debian-12: missing (not in the deployed catalog)",
        "docker: failed",
    ]


def test_metadata_newer_than_the_index_wins(tmp_path: Path) -> None:
    manifest = load_manifest(write_manifest(tmp_path, "lag_exporter", "v1.0.0"))
    cat = write_catalog(tmp_path / "site", {"lag_exporter": ("1.0.0", ALL_OK)})
    (cat / "lag_exporter" / "metadata.json").write_text(files.dumps_json(metadata("lag_exporter", "1.1.0", ALL_OK)))
    [r] = compare_all([manifest], CatalogReader(str(tmp_path / "site")))
    assert r.status == "downgrade" and not r.build
    assert "index.json lists 1.0.0, metadata.json says 1.1.0" in r.reasons


def test_a_single_arch_exporter_is_not_asked_for_arm64(tmp_path: Path) -> None:
    manifest = load_manifest(write_manifest(tmp_path, "amd_exporter", "v1.0.0", archs="[amd64]"))
    statuses = {aid: "success" for aid in MATRIX if "arm64" not in aid}
    write_catalog(tmp_path / "site", {"amd_exporter": ("1.0.0", statuses)})
    [r] = compare_all([manifest], CatalogReader(str(tmp_path / "site")))
    assert r.status == "up-to-date"


def test_duplicate_manifests_are_refused(tmp_path: Path) -> None:
    path = write_manifest(tmp_path, "dup_exporter", "v1.0.0")
    write_catalog(tmp_path / "site", {})
    with pytest.raises(HubError, match="more than one manifest for: dup_exporter"):
        compare_all([load_manifest(path), load_manifest(path)], CatalogReader(str(tmp_path / "site")))


# --------------------------------------------------------------------------------------------
# Over HTTP
# --------------------------------------------------------------------------------------------


@pytest.fixture
def http_site(world: dict[str, Any]) -> Iterator[str]:
    with serve_directory(world["site"]) as url:
        yield url.rstrip("/")


def test_statuses_over_http(world: dict[str, Any], http_site: str) -> None:
    check_world(results_by_name(world, http_site))
    check_world(results_by_name(world, http_site + "/"))
    check_world(results_by_name(world, http_site + "/catalog"))


def test_malformed_json_over_http_names_the_url(world: dict[str, Any], http_site: str) -> None:
    (world["site"] / "catalog" / "delta_exporter" / "metadata.json").write_text('{"version": "2.0.0",,}')
    with pytest.raises(HubError) as e:
        results_by_name(world, http_site)
    assert str(e.value) == (
        f"{http_site}/catalog/delta_exporter/metadata.json: invalid JSON at line 1 column 21: "
        "Expecting property name enclosed in double quotes"
    )


def test_missing_index_over_http(world: dict[str, Any], http_site: str) -> None:
    (world["site"] / "catalog" / "index.json").unlink()
    with pytest.raises(HubError) as e:
        results_by_name(world, http_site)
    assert str(e.value) == (
        f"cannot fetch {http_site}/catalog/index.json: HTTP 404 File not found (is the catalog location right?)"
    )
    results = results_by_name(world, http_site, empty_ok=True)
    assert {r.status for r in results.values()} == {"new"}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_catalog(world: dict[str, Any]) -> None:
    url = f"http://127.0.0.1:{closed_port()}/"
    with pytest.raises(HubError) as e:
        results_by_name(world, url)
    assert str(e.value).startswith(f"cannot reach the catalog at {url}catalog/index.json: ")
    assert "refused" in str(e.value).lower()


def test_a_silent_server_times_out(world: dict[str, Any]) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)  # accepts connections (backlog) but never answers
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        manifests = [load_manifest(p) for p in world["manifests"].values()]
        with pytest.raises(HubError) as e:
            compare_all(manifests, CatalogReader(url, timeout=0.3))
    assert str(e.value).startswith("cannot ")
    assert f"{url}/catalog/index.json" in str(e.value) and "timed out" in str(e.value)


# --------------------------------------------------------------------------------------------
# Bad deployed documents
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,message",
    [
        ("{", "index.json: invalid JSON at line 1 column 2: Expecting property name enclosed in double quotes"),
        ("[]", "index.json: expected a JSON object with an 'exporters' list"),
        ('{"exporters": {}}', "index.json: exporters: expected a list of {name, version} objects"),
        (
            '{"format_version": "2.0", "exporters": []}',
            "index.json: format_version: unsupported catalog format '2.0' (this hub reads 3.x)",
        ),
        ('{"exporters": [{"name": "x"}]}', "index.json: exporters[0].version: expected a version string"),
        (
            '{"exporters": [{"name": "bravo_exporter", "version": "latest"}]}',
            "index.json: exporters[0].version: 'latest' is not a semantic version",
        ),
        (
            '{"exporters": [{"name": "a", "version": "1.0.0"}, {"name": "a", "version": "1.0.0"}]}',
            "index.json: exporters[1].name: 'a' is listed twice",
        ),
        (b"\xff\xfe", "index.json: not UTF-8 text (byte 0)"),
    ],
)
def test_bad_index(world: dict[str, Any], text: str | bytes, message: str) -> None:
    index = world["site"] / "catalog" / "index.json"
    index.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(HubError) as e:
        results_by_name(world, str(world["site"]))
    assert str(e.value).startswith(f"{index}: {message.removeprefix('index.json: ')}")


@pytest.mark.parametrize(
    "change,message",
    [
        ({"artifacts": None}, "artifacts: expected an object"),
        ({"artifacts": {"rpm": {"el9": "success"}}}, "artifacts.rpm.el9: expected an object of arch -> status"),
        (
            {"artifacts": {"rpm": {}, "deb": {}, "docker": {"status": "success"}}},
            "artifacts.docker: expected a status string",
        ),
        ({"exporter": "other"}, "exporter: expected 'delta_exporter', got 'other'"),
        ({"version": "2.0"}, "version: '2.0' is not a semantic version"),
    ],
)
def test_bad_metadata(world: dict[str, Any], change: dict[str, Any], message: str) -> None:
    path = world["site"] / "catalog" / "delta_exporter" / "metadata.json"
    doc = json.loads(path.read_text())
    doc.update(change)
    path.write_text(json.dumps(doc))
    with pytest.raises(HubError) as e:
        results_by_name(world, str(world["site"]))
    assert str(e.value).startswith(f"{path}: {message}")


def test_no_such_directory(tmp_path: Path) -> None:
    with pytest.raises(HubError, match=r"catalog .*nowhere: no such directory"):
        CatalogReader(str(tmp_path / "nowhere"))


def test_missing_index_in_a_directory(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    reader = CatalogReader(str(tmp_path / "site"))
    with pytest.raises(
        HubError, match=r"catalog/index.json: not found \(is .* a deployed site or its catalog directory\?\)"
    ):
        reader.read_json("index.json")


def test_unsupported_scheme() -> None:
    with pytest.raises(HubError, match="unsupported URL scheme 'ftp'"):
        CatalogReader("ftp://example.invalid/site")


# --------------------------------------------------------------------------------------------
# Output and the CLI
# --------------------------------------------------------------------------------------------


def test_json_report_shape(world: dict[str, Any]) -> None:
    results = list(results_by_name(world, str(world["site"])).values())
    report = report_json(results, "https://hub.example.org/")
    assert list(report) == ["catalog", "build", "refused", "counts", "results"]
    assert report["catalog"] == "https://hub.example.org/"
    assert report["build"] == ["alpha_exporter", "bravo_exporter", "delta_exporter", "foxtrot_exporter"]
    assert report["refused"] == ["charlie_exporter"]
    assert report["counts"] == {"new": 1, "upgrade": 2, "downgrade": 1, "rebuild": 1, "up-to-date": 1}
    first = report["results"][0]
    assert first == {
        "exporter": "alpha_exporter",
        "manifest": str(world["manifests"]["alpha_exporter"]),
        "manifest_version": "v1.0.0",
        "deployed_version": None,
        "status": "new",
        "build": True,
        "reasons": ["not in the deployed catalog"],
    }
    json.dumps(report)  # serializable


def test_table(world: dict[str, Any]) -> None:
    table = format_table(list(results_by_name(world, str(world["site"])).values())).splitlines()
    assert table[0].split() == ["EXPORTER", "MANIFEST", "DEPLOYED", "STATUS", "REASONS"]
    assert table[1].split()[:4] == ["alpha_exporter", "v1.0.0", "-", "new"]
    assert table[3].split()[:5] == ["charlie_exporter", "v1.2.0", "1.10.0", "downgrade", "(refused)"]


def test_cli_json_and_exit_codes(world: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    manifests = [str(p) for p in world["manifests"].values()]
    site = str(world["site"])
    out_file = world["root"] / "state.json"
    assert cli.main(["state", "--catalog", site, "--json", "--output", str(out_file), *manifests]) == 1
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["build"] == ["alpha_exporter", "bravo_exporter", "delta_exporter", "foxtrot_exporter"]
    assert json.loads(out_file.read_text()) == report
    assert "charlie_exporter/manifest.yaml: manifest v1.2.0 is older than deployed 1.10.0: refused" in captured.err

    assert cli.main(["state", "--catalog", site, "--allow-downgrade", *manifests]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == (
        "to build: alpha_exporter, bravo_exporter, charlie_exporter, delta_exporter, foxtrot_exporter"
    )

    # A directory of exporters works too; without the downgrade the exit code is 0.
    world["manifests"]["charlie_exporter"].unlink()
    assert cli.main(["state", "--catalog", site, "--json", str(world["root"] / "exporters" / "bravo_exporter")]) == 0
    assert json.loads(capsys.readouterr().out)["build"] == ["bravo_exporter"]


def test_cli_bad_input_exits_2_without_traceback(world: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    manifests = [str(p) for p in world["manifests"].values()]
    url = f"http://127.0.0.1:{closed_port()}"
    assert cli.main(["state", "--catalog", url, *manifests]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot reach the catalog at {url}/catalog/index.json: ")
    assert "Traceback" not in err

    bad = world["root"] / "exporters" / "bad" / "manifest.yaml"
    bad.parent.mkdir()
    bad.write_text("name: bad\nversion: 1.2\n")
    assert cli.main(["state", "--catalog", str(world["site"]), str(bad)]) == 2
    assert "Traceback" not in capsys.readouterr().err
