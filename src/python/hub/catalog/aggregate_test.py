"""The catalog aggregation: declared matrix vs artifact JSONs, schemas, atomic concurrent writes."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from pathlib import Path

import pytest
from testkit import synthetic

from hub import cli
from hub.catalog import aggregate
from hub.common.schemas import SchemaError
from hub.common import matrix
from hub.common.errors import HubError
from hub.manifest.load import load_manifest
from hub.common import files
from hub.common import schemas


def _setup(tmp_path: Path, spec: synthetic.Spec):
    path = synthetic.write_manifest(tmp_path / "exporters", spec)
    return load_manifest(path), synthetic.artifact_jsons(spec, tmp_path / "site")


def test_all_built_is_success_in_the_seed_shape(tmp_path: Path) -> None:
    manifest, docs = _setup(tmp_path, synthetic.Spec("node_exporter", port=9100))
    md = aggregate.aggregate_exporter(manifest, docs)
    schemas.validate(md, "metadata")
    assert md["format_version"] == "3.0"
    assert (md["exporter"], md["version"], md["category"]) == ("node_exporter", "1.2.3", "System")
    assert md["artifacts"]["rpm"] == {d: {"amd64": "success", "arm64": "success"} for d in matrix.RPM_DISTS}
    assert md["artifacts"]["deb"] == {d: {"amd64": "success", "arm64": "success"} for d in matrix.DEB_DISTS}
    assert md["artifacts"]["docker"] == "success"
    assert md["status_counts"] == {"success": 15, "stale": 0, "failed": 0, "missing": 0, "total": 15}
    assert md["packages"] == {"rpm": "node_exporter", "deb": "node-exporter"}
    assert (md["port"], md["pinned"], md["license"]) == (9100, True, "Apache-2.0")
    assert md["repository"] == "https://github.com/example/node_exporter"


def test_declared_but_absent_is_missing_never_dropped(tmp_path: Path) -> None:
    spec = synthetic.Spec("redis_exporter", built=["rpm_amd64_el9"])
    manifest, docs = _setup(tmp_path, spec)
    md = aggregate.aggregate_exporter(manifest, docs)
    assert md["artifacts"]["rpm"]["el9"] == {"amd64": "success", "arm64": "missing"}
    assert md["artifacts"]["rpm"]["el8"] == {"amd64": "missing", "arm64": "missing"}
    assert set(md["artifacts"]["deb"]) == set(matrix.DEB_DISTS)
    assert md["artifacts"]["docker"] == "missing"
    assert md["status_counts"]["missing"] == 14 and md["status_counts"]["total"] == 15
    # Nothing at all: still the whole declared matrix, and no date invented.
    empty = aggregate.aggregate_exporter(manifest, {})
    assert empty["status_counts"] == {"success": 0, "stale": 0, "failed": 0, "missing": 15, "total": 15}
    assert empty["last_updated"] is None
    schemas.validate(empty, "metadata")


def test_other_version_is_stale(tmp_path: Path) -> None:
    spec = synthetic.Spec("x_exporter", stale=["deb_arm64_debian-12", "docker"], stale_version="1.2.0")
    manifest, docs = _setup(tmp_path, spec)
    md = aggregate.aggregate_exporter(manifest, docs)
    assert md["artifacts"]["deb"]["debian-12"] == {"amd64": "success", "arm64": "stale"}
    assert md["artifacts"]["docker"] == "stale"
    assert md["status_counts"]["stale"] == 2
    index = aggregate.build_index([md])
    assert index["exporters"][0]["status"] == "stale"


def test_last_updated_is_the_newest_build_date_present(tmp_path: Path) -> None:
    manifest, docs = _setup(tmp_path, synthetic.Spec("a_exporter", built=["rpm_amd64_el8", "docker"]))
    docs["rpm_amd64_el8"] = {**docs["rpm_amd64_el8"], "build_date": "2024-01-02T03:04:05Z"}
    docs["docker"] = {**docs["docker"], "build_date": "2025-11-30T23:59:59Z"}
    md = aggregate.aggregate_exporter(manifest, docs)
    assert md["last_updated"] == "2025-11-30T23:59:59Z"


def test_undeclared_artifacts_and_disabled_families_are_left_out(tmp_path: Path) -> None:
    spec = synthetic.Spec("b_exporter", archs=("amd64",), rpm=("el9",), deb=(), docker=False, port=None)
    manifest, docs = _setup(tmp_path, spec)
    extra = synthetic.artifact_jsons(synthetic.Spec("b_exporter"), tmp_path / "site2")
    md = aggregate.aggregate_exporter(manifest, {**extra, **docs})
    assert md["artifacts"] == {"rpm": {"el9": {"amd64": "success"}}, "deb": {}}
    assert md["packages"] == {"rpm": "b_exporter", "deb": None}
    assert md["port"] is None
    schemas.validate(md, "metadata")


def test_unpinned_upstream_is_reported(tmp_path: Path) -> None:
    manifest, _ = _setup(tmp_path, synthetic.Spec("d_exporter", pinned=False))
    md = aggregate.aggregate_exporter(manifest, {})
    assert md["pinned"] is False
    warnings: list[str] = []
    aggregate.build_catalog([manifest], {}, tmp_path / "catalog", warn=warnings.append)
    assert any("d_exporter" in w and "update-lock" in w for w in warnings)
    with pytest.raises(HubError, match="require_pinned"):
        aggregate.build_catalog([manifest], {}, tmp_path / "catalog2", require_pinned=True)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda m: m.update(surprise=1), "surprise"),
        (lambda m: m["artifacts"]["rpm"]["el9"].update(amd64="ok"), "artifacts.rpm.el9.amd64"),
        (lambda m: m["artifacts"]["rpm"].update(el7={"amd64": "success"}), "el7"),
        (lambda m: m.update(last_updated="yesterday"), "last_updated"),
        (lambda m: m["packages"].update(deb="node_exporter"), "packages.deb"),
        (lambda m: m["status_counts"].pop("missing"), "missing"),
    ],
)
def test_metadata_schema_is_strict(tmp_path: Path, mutate, message: str) -> None:
    manifest, docs = _setup(tmp_path, synthetic.Spec("node_exporter"))
    md = json.loads(json.dumps(aggregate.aggregate_exporter(manifest, docs)))
    mutate(md)
    with pytest.raises(SchemaError, match=message):
        schemas.validate(md, "metadata", what="metadata.json")


# node_exporter's grants, as its manifest declares them (one package spec for both families).
NODE_GRANTS = [
    {"address_family": "AF_NETLINK", "reason": "the netdev collector reads the interfaces' counters over rtnetlink"},
    {"system_call": "adjtimex", "reason": "the timex collector reads the kernel's clock discipline"},
    {"read_path": "/home", "reason": "the filesystem collector reports the space of /home"},
]


def _service(grants: list[dict], **fields) -> dict:
    return {"systemd": {"grants": grants}, **fields}


def test_service_lists_the_grants_with_their_reasons(tmp_path: Path) -> None:
    spec = synthetic.Spec("node_exporter", package_fields=_service(NODE_GRANTS))
    manifest, docs = _setup(tmp_path, spec)
    md = aggregate.aggregate_exporter(manifest, docs)
    schemas.validate(md, "metadata")
    expected = {
        "user": "node_exporter",
        "run_as_root": None,
        "grants": [
            {"kind": "address_family", "value": "AF_NETLINK", "reason": NODE_GRANTS[0]["reason"]},
            {"kind": "system_call", "value": "adjtimex", "reason": NODE_GRANTS[1]["reason"]},
            {"kind": "read_path", "value": "/home", "reason": NODE_GRANTS[2]["reason"]},
        ],
    }
    assert md["service"] == {"rpm": expected, "deb": expected}
    # Without grants: the user and an empty list, never a missing key.
    plain, _ = _setup(tmp_path / "plain", synthetic.Spec("redis_exporter"))
    service = aggregate.aggregate_exporter(plain, {})["service"]
    assert service["rpm"] == service["deb"] == {"user": "redis_exporter", "run_as_root": None, "grants": []}


def test_service_as_root_with_its_reason_and_devices_with_their_access(tmp_path: Path) -> None:
    reason = "it runs ipmitool, which needs /dev/ipmi0 and raw I/O"
    device = {"device": "/dev/ipmi0", "access": "rw", "reason": "the BMC's device node"}
    spec = synthetic.Spec(
        "ipmi_exporter",
        package_fields={"system_user": "root", "systemd": {"run_as_root": reason, "grants": [device]}},
        deb_fields=_service([{"device": "char-ipmi", "reason": "the BMC's device class"}]),
    )
    manifest, docs = _setup(tmp_path, spec)
    md = aggregate.aggregate_exporter(manifest, docs)
    schemas.validate(md, "metadata")
    assert md["service"]["rpm"] == {
        "user": "root",
        "run_as_root": reason,
        "grants": [{"kind": "device", "value": "/dev/ipmi0", "reason": "the BMC's device node", "access": "rw"}],
    }
    assert md["service"]["deb"] == {
        "user": "ipmi_exporter",
        "run_as_root": None,
        "grants": [{"kind": "device", "value": "char-ipmi", "reason": "the BMC's device class", "access": "r"}],
    }


def test_service_is_null_for_a_disabled_family_or_no_unit(tmp_path: Path) -> None:
    spec = synthetic.Spec("c_exporter", deb=(), package_fields={"systemd": {"enabled": False}})
    manifest, docs = _setup(tmp_path, spec)
    md = aggregate.aggregate_exporter(manifest, docs)
    schemas.validate(md, "metadata")
    assert md["service"] == {"rpm": None, "deb": None}
    only_deb, _ = _setup(tmp_path / "deb", synthetic.Spec("f_exporter", rpm=(), package_fields=_service(NODE_GRANTS)))
    service = aggregate.aggregate_exporter(only_deb, {})["service"]
    assert service["rpm"] is None and len(service["deb"]["grants"]) == 3


def test_service_is_optional_but_strict(tmp_path: Path) -> None:
    spec = synthetic.Spec("node_exporter", package_fields=_service(NODE_GRANTS))
    manifest, docs = _setup(tmp_path, spec)
    md = json.loads(json.dumps(aggregate.aggregate_exporter(manifest, docs)))
    # Metadata written before the addition stays valid.
    schemas.validate({k: v for k, v in md.items() if k != "service"}, "metadata")

    def grant(m: dict) -> dict:
        return m["service"]["rpm"]["grants"][0]

    for mutate, message in [
        (lambda m: grant(m).pop("reason"), r"grants\[0\]: 'reason' is a required property"),
        (lambda m: grant(m).update(reason="two\nlines"), r"grants\[0\]\.reason: "),
        (lambda m: grant(m).update(kind="sudo"), r"grants\[0\]\.kind: "),
        (lambda m: grant(m).update(access="rw"), r"grants\[0\]: .* should not be valid"),  # devices only
        (lambda m: grant(m).update(kind="device"), r"grants\[0\]: 'access' is a required property"),
        (lambda m: m["service"]["rpm"].update(run_as_root="because"), r"rpm\.run_as_root: 'because'"),  # not root
        (lambda m: m["service"]["rpm"].update(user="root"), r"rpm\.run_as_root: None"),  # root needs a reason
        (lambda m: m["service"]["rpm"].update(user="Root Name"), r"service\.rpm\.user: "),
        (lambda m: m["service"]["deb"].update(extra=1), r"service\.deb: .*'extra'"),
        (lambda m: m["service"].pop("deb"), r"service: 'deb' is a required property"),
        (lambda m: m["service"].update(rpm=[]), r"service\.rpm: \[\] is not of type"),
    ]:
        bad = json.loads(json.dumps(md))
        mutate(bad)
        with pytest.raises(SchemaError, match=message):
            schemas.validate(bad, "metadata", what="metadata.json")


def test_index_lists_every_exporter_sorted_with_counts(tmp_path: Path) -> None:
    specs = [
        synthetic.Spec("zeta_exporter", category="Web"),
        synthetic.Spec("alpha_exporter", built=[]),
        synthetic.Spec("mid_exporter", category="Web", built=["docker"]),
    ]
    mds = []
    for spec in specs:
        manifest, docs = _setup(tmp_path, spec)
        mds.append(aggregate.aggregate_exporter(manifest, docs))
    index = aggregate.build_index(mds)
    schemas.validate(index, "index")
    assert [e["name"] for e in index["exporters"]] == ["alpha_exporter", "mid_exporter", "zeta_exporter"]
    assert [e["status"] for e in index["exporters"]] == ["missing", "missing", "success"]
    assert index["categories"] == {"System": 1, "Web": 2}
    assert index["totals"] == {"exporters": 3, "success": 16, "stale": 0, "failed": 0, "missing": 29, "total": 45}
    assert index["exporters"][1]["metadata"] == "mid_exporter/metadata.json"
    bad = json.loads(json.dumps(index))
    bad["exporters"][0]["extra"] = True
    with pytest.raises(SchemaError):
        schemas.validate(bad, "index")


def test_read_artifacts_validates_and_ignores_other_files(tmp_path: Path) -> None:
    spec = synthetic.Spec("e_exporter", built=["rpm_amd64_el9", "docker"])
    paths = synthetic.write_exporters(tmp_path, [spec])
    root = Path(paths["artifacts"])
    (root / "e_exporter" / ".rpm_amd64_el8.json.abc.tmp").write_text("{torn")
    (root / "e_exporter" / "metadata.json").write_text("{}")
    (root / "e_exporter" / "oci").mkdir()
    (root / "e_exporter" / "oci" / "index.json").write_text('{"schemaVersion": 2}')
    found = aggregate.read_artifacts([root])
    assert sorted(found["e_exporter"]) == ["docker", "rpm_amd64_el9"]

    # The same artifact twice: identical is fine, different is an error.
    copy = tmp_path / "again" / "rpm_amd64_el9.json"
    copy.parent.mkdir()
    copy.write_text((root / "e_exporter" / "rpm_amd64_el9.json").read_text())
    assert aggregate.read_artifacts([root, copy.parent])["e_exporter"].keys() == found["e_exporter"].keys()
    doc = json.loads(copy.read_text())
    doc["package"]["size_bytes"] += 1
    copy.write_text(json.dumps(doc))
    with pytest.raises(HubError, match="differs"):
        aggregate.read_artifacts([root, copy.parent])

    # Named after another artifact than it describes.
    copy.unlink()
    (copy.parent / "rpm_arm64_el9.json").write_text((root / "e_exporter" / "rpm_amd64_el9.json").read_text())
    with pytest.raises(HubError, match="file name says 'rpm_arm64_el9'"):
        aggregate.read_artifacts([copy.parent])

    # Schema problems name the file and the field.
    (copy.parent / "rpm_arm64_el9.json").unlink()
    doc = json.loads((root / "e_exporter" / "rpm_amd64_el9.json").read_text())
    doc["package"]["sha256"] = "nope"
    (copy.parent / "rpm_amd64_el9.json").write_text(json.dumps(doc))
    with pytest.raises(SchemaError, match=r"rpm_amd64_el9\.json: package\.sha256"):
        aggregate.read_artifacts([copy.parent])
    (copy.parent / "rpm_amd64_el9.json").write_text("{not json")
    with pytest.raises(HubError, match="not a readable JSON"):
        aggregate.read_artifacts([copy.parent])


def test_cli_writes_the_catalog_deterministically_and_in_place(tmp_path: Path, capsys) -> None:
    specs = [
        synthetic.Spec("f_exporter"),
        synthetic.Spec("g_exporter", built=["deb_amd64_debian-12"]),
        synthetic.Spec("h_exporter", pinned=False, built=[]),
    ]
    paths = synthetic.write_exporters(tmp_path, specs)
    out = tmp_path / "site" / "catalog"
    argv = ["catalog", "--manifests", paths["exporters"], "--artifacts", paths["artifacts"], "--out", str(out)]
    assert cli.main(argv) == 0
    assert "3 exporters, 45 artifacts: 16 success, 0 stale, 0 failed, 29 missing" in capsys.readouterr().out
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == sorted(
        [
            "index.json",
            "f_exporter/metadata.json",
            "g_exporter/metadata.json",
            "h_exporter/metadata.json",
            "g_exporter/deb_amd64_debian-12.json",
        ]
        + [
            f"f_exporter/{a.id}.json"
            for a in load_manifest(Path(paths["exporters"]) / "f_exporter" / "manifest.yaml").matrix()
        ]
    )
    for path in out.rglob("metadata.json"):
        schemas.validate(json.loads(path.read_text()), "metadata", what=str(path))
    first = {p: p.read_bytes() for p in out.rglob("*.json")}
    # Again, reading the catalog itself (in place): byte-identical, nothing from the clock.
    time.sleep(1.1)
    assert cli.main(["catalog", "--manifests", paths["exporters"], "--artifacts", str(out), "--out", str(out)]) == 0
    assert {p: p.read_bytes() for p in out.rglob("*.json")} == first
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]
    # require-pinned turns the warning into an error, exit 2 with no traceback.
    assert cli.main(argv + ["--require-pinned"]) == 2
    assert "h_exporter: the upstream is not pinned" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# 100 concurrent writers, one reader
# --------------------------------------------------------------------------------------------

WRITERS = 100
ROUNDS = 4


def _writer(root: str, jobs: list[tuple[str, dict]], barrier, shared: str, shared_docs: list[dict], index: int) -> None:
    barrier.wait()
    for r in range(ROUNDS):
        for rel, doc in jobs:
            doc = json.loads(json.dumps(doc))
            doc["package"]["size_bytes"] += r  # every round writes different bytes
            files.write_json(os.path.join(root, rel), doc)
        # Everyone also races on one shared path: the last rename wins, nothing is torn.
        files.write_json(os.path.join(root, shared), shared_docs[index % len(shared_docs)])


def test_100_concurrent_writers_never_tear_and_all_are_aggregated(tmp_path: Path) -> None:
    specs = [synthetic.Spec(f"w{i}_exporter", docker=False, archs=("amd64", "arm64")) for i in range(8)]
    manifests, jobs = [], []
    for spec in specs:
        manifest, docs = _setup(tmp_path, spec)
        manifests.append(manifest)
        jobs.extend((f"{spec.name}/{aid}.json", doc) for aid, doc in sorted(docs.items()))
    assert len(jobs) >= WRITERS
    jobs = jobs[:WRITERS]  # 100 distinct artifacts, one writer each (8 x 14 = 112 declared)
    shared_rel = "shared/race.json"
    shared_docs = [jobs[0][1], {**jobs[0][1], "build_date": "2030-01-01T00:00:00Z"}]
    root = tmp_path / "catalog"
    root.mkdir()

    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    barrier = ctx.Barrier(WRITERS + 1)
    procs = [
        ctx.Process(target=_writer, args=(str(root), [job], barrier, shared_rel, shared_docs, i))
        for i, job in enumerate(jobs)
    ]
    for p in procs:
        p.start()
    barrier.wait()
    reads = files_read = 0
    seen: set[str] = set()
    while True:
        alive = any(p.is_alive() for p in procs)
        found = aggregate.read_artifacts([root])  # raises on any torn or invalid file
        for name, docs in found.items():
            seen.update(f"{name}/{aid}.json" for aid in docs)
            files_read += len(docs)
        for path in root.rglob("*.json"):  # and every visible file parses, temporary ones included
            if not path.name.startswith("."):
                json.loads(path.read_text())
        reads += 1
        if not alive:
            break
    for p in procs:
        p.join()
        assert p.exitcode == 0
    assert reads >= 2 and files_read > 0
    assert seen == {rel for rel, _ in jobs}

    found = aggregate.read_artifacts([root])
    assert sum(len(d) for d in found.values()) == WRITERS
    index = aggregate.build_catalog(manifests, found, tmp_path / "out", warn=lambda m: None)
    assert index["totals"]["success"] == WRITERS
    assert index["totals"]["missing"] == 8 * 14 - WRITERS
    assert json.loads((root / shared_rel).read_text()) in shared_docs
    assert not [p for p in root.rglob("*") if p.name.endswith(".tmp")]


def test_canonical_artifact_jsons_are_linked_others_rewritten(tmp_path: Path) -> None:
    paths = synthetic.write_exporters(tmp_path, [synthetic.Spec("k_exporter", built=["rpm_amd64_el9", "docker"])])
    src = Path(paths["artifacts"]) / "k_exporter"
    (src / "docker.json").write_text(json.dumps(json.loads((src / "docker.json").read_text())))  # not canonical
    manifest = load_manifest(Path(paths["exporters"]) / "k_exporter" / "manifest.yaml")
    out = tmp_path / "catalog"
    aggregate.build_catalog([manifest], aggregate.read_artifacts([paths["artifacts"]]), out, warn=lambda m: None)
    assert os.path.samefile(src / "rpm_amd64_el9.json", out / "k_exporter" / "rpm_amd64_el9.json")
    assert not os.path.samefile(src / "docker.json", out / "k_exporter" / "docker.json")
    assert (out / "k_exporter" / "docker.json").read_text() == files.dumps_json(
        json.loads((src / "docker.json").read_text())
    )
    # A writer replacing the source (atomically) never changes the published copy.
    before = (out / "k_exporter" / "rpm_amd64_el9.json").read_bytes()
    doc = json.loads(before)
    doc["package"]["size_bytes"] += 1
    files.write_json(src / "rpm_amd64_el9.json", doc)
    assert (out / "k_exporter" / "rpm_amd64_el9.json").read_bytes() == before
