"""The readers of tests/e2e/hosts.py that site_test.py's verdicts rest on: metric families and
sample values of the Prometheus text format, capability masks of /proc/<pid>/status, the
exposure table of docs/unit-exposure.md, EnvironmentFile lines, and the part of a published
APT repository copied into a host. Pure functions over small texts and files: no host runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from e2e.hosts import (
    apt_tree,
    capability_mask,
    capability_names,
    documented_exposure,
    environment_text,
    metric_families,
    sample_value,
)

SCRAPE = """\
# HELP go_gc_duration_seconds A summary of the pause duration.
# TYPE go_gc_duration_seconds summary
go_gc_duration_seconds{quantile="0"} 1e-05
go_gc_duration_seconds_sum 0.001
go_gc_duration_seconds_count 7
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.1"} 3
http_request_duration_seconds_bucket{le="+Inf"} 4
http_request_duration_seconds_sum 0.2
http_request_duration_seconds_count 4
# TYPE node_filesystem_avail_bytes gauge
node_filesystem_avail_bytes{device="/dev/x",mountpoint="/srv/{odd} \\"dir\\""} 1024
# TYPE empty_family counter
untyped_thing 3
untyped_thing_count 2
probe_success 1
"""


def test_metric_families_fold_histograms_and_summaries_and_keep_untyped_samples() -> None:
    assert metric_families(SCRAPE) == {
        "go_gc_duration_seconds",
        "http_request_duration_seconds",
        "node_filesystem_avail_bytes",
        "empty_family",  # declared without samples: still a family the exporter serves
        "untyped_thing",
        "untyped_thing_count",  # no TYPE says it belongs to untyped_thing
        "probe_success",
    }


def test_sample_value_matches_labels_even_with_braces_and_quotes_in_values() -> None:
    assert sample_value(SCRAPE, "probe_success") == 1
    assert sample_value(SCRAPE, "go_gc_duration_seconds_count") == 7
    assert sample_value(SCRAPE, "http_request_duration_seconds_bucket", {"le": "+Inf"}) == 4
    assert sample_value(SCRAPE, "node_filesystem_avail_bytes", {"device": "/dev/x"}) == 1024
    assert sample_value(SCRAPE, "node_filesystem_avail_bytes", {"device": "/dev/y"}) is None
    assert sample_value(SCRAPE, "missing") is None


def test_capability_masks_follow_the_kernel_numbering() -> None:
    # Bits as /proc/<pid>/status shows them: CAP_NET_RAW is 13, CAP_SYS_ADMIN 21, CAP_BPF 39.
    assert capability_mask(["CAP_NET_RAW"]) == 0x2000
    assert capability_mask(["CAP_SYS_ADMIN", "CAP_BPF", "CAP_BPF"]) == (1 << 21) | (1 << 39)
    assert capability_mask([]) == 0
    assert capability_names(0x2000 | 1 << 40 | 1 << 45) == ["CAP_NET_RAW", "CAP_CHECKPOINT_RESTORE", "bit 45"]
    with pytest.raises(ValueError):
        capability_mask(["CAP_NOT_A_CAPABILITY"])


def test_documented_exposure_reads_the_table_of_the_page(tmp_path: Path) -> None:
    page = tmp_path / "unit-exposure.md"
    page.write_text(
        "# Exposure\n\n| exporter | runs as | exposure | grants |\n|---|---|---|---|\n"
        "| alertmanager | `alertmanager` | 1.4 OK | none |\n"
        "| blackbox_exporter | `blackbox_exporter` | 1.6 OK | capability CAP_NET_RAW: raw socket |\n"
        "| smartctl_exporter | `root` | 5.2 EXPOSED | device block-sd: disks |\n"
    )
    assert documented_exposure(page) == {"alertmanager": 1.4, "blackbox_exporter": 1.6, "smartctl_exporter": 5.2}


def test_environment_text_reads_the_quoting_our_packages_use() -> None:
    text = '# comment\n; other comment\n\nARGS=""\nA=\'x y\'\n B = "z" \nC=plain\n'
    assert environment_text(text) == {"ARGS": "", "A": "x y", "B": "z", "C": "plain"}
    with pytest.raises(AssertionError):
        environment_text("not an assignment\n")


def test_apt_tree_copies_dists_whole_and_only_the_wanted_pool_files(tmp_path: Path) -> None:
    published = tmp_path / "published"
    binary = published / "dists" / "bookworm" / "main" / "binary-amd64"
    binary.mkdir(parents=True)
    (published / "dists" / "bookworm" / "InRelease").write_text("signed\n")
    (binary / "Packages").write_text(
        "Package: prometheus-node-exporter\nVersion: 1\nFilename: pool/main/p/node.deb\n\n"
        "Package: other\nVersion: 1\nFilename: pool/main/o/other.deb\n"
    )
    for name in ("p/node.deb", "o/other.deb"):
        (published / "pool" / "main" / name).parent.mkdir(parents=True)
        (published / "pool" / "main" / name).write_bytes(name.encode())
    tree = apt_tree(published, "bookworm", ["prometheus-node-exporter"], tmp_path / "tree")
    files = sorted(str(p.relative_to(tree)) for p in tree.rglob("*") if p.is_file())
    assert files == [
        "dists/bookworm/InRelease",
        "dists/bookworm/main/binary-amd64/Packages",
        "pool/main/p/node.deb",
    ]
    with pytest.raises(AssertionError, match="lists no"):
        apt_tree(published, "bookworm", ["missing"], tmp_path / "other")
