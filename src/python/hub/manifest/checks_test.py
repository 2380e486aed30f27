"""Semantic checks (hub.manifest.checks): what the schema lets through and a manifest must not say."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import pytest
from testkit.manifests import edit, expected, refusals, rendered, write_manifest

from hub.manifest.load import validate_manifest_data

PLACEHOLDERS = "{name}, {version}, {clean_version}, {arch}, {rpm_arch}, {upstream_linux_arch}"
EXTRA = {"source": "assets/foo.yml", "dest": "/etc/foo/foo.yml"}

SEMANTIC_PROBLEMS = [
    # files on disk
    pytest.param(
        edit(artifacts={"rpm": {"extra_files": [{"source": "assets/missing.yml", "dest": "/etc/foo/foo.yml"}]}}),
        expected(
            "artifacts.rpm.extra_files[0].source: file not found: 'assets/missing.yml' "
            "(paths are relative to the exporter directory)"
        ),
        id="source-missing",
    ),
    # upstream: placeholders, repo xor local, one file per arch
    pytest.param(
        edit(upstream={"repo": "acme/foo", "archive_name": "{name}-{foo}-{arch}.tar.gz"}),
        expected(f"upstream.archive_name: unknown placeholder '{{foo}}' (expected one of: {PLACEHOLDERS})"),
        id="archive-name-unknown-placeholder",
    ),
    pytest.param(
        edit(upstream={"repo": "acme/foo", "archive_name": "{name}-{arch.tar.gz"}),
        expected("upstream.archive_name: unmatched '{' or '}' (placeholders look like {version})"),
        id="archive-name-unbalanced",
    ),
    pytest.param(
        edit(upstream={"repo": "acme/foo", "archive_name": "{name}-{clean_version}.tar.gz"}),
        expected(
            "upstream.archive_name: amd64, arm64 would all fetch the same file '{name}-{clean_version}.tar.gz': "
            "add an arch placeholder ({arch}, {rpm_arch} or {upstream_linux_arch})"
        ),
        id="archive-name-without-arch",
    ),
    pytest.param(
        edit(upstream={"repo": "acme/foo", "tag": "v{arch}"}),
        expected("upstream.tag: unknown placeholder '{arch}' (expected one of: {name}, {version}, {clean_version})"),
        id="tag-arch-placeholder",
    ),
    pytest.param(
        edit(upstream={}),
        expected("upstream: expected 'repo' (a GitHub repository) or 'local' (archives in the exporter directory)"),
        id="upstream-empty",
    ),
    pytest.param(
        edit(upstream={"repo": "acme/foo", "local": {"amd64": "a.tar.gz", "arm64": "b.tar.gz"}}),
        expected("upstream: 'repo' and 'local' are mutually exclusive: give one of them"),
        id="repo-and-local",
    ),
    pytest.param(
        edit(upstream={"local": {"amd64": "dist/foo.tar.gz"}}, build__archs=["amd64", "arm64"]),
        expected(
            "upstream.local: no archive for arch 'arm64' (build.archs lists it)",
            "upstream.local.amd64: file not found: 'dist/foo.tar.gz' (paths are relative to the exporter directory)",
        ),
        id="local-missing-arch",
    ),
    # binaries, destinations, relations, names
    pytest.param(
        edit(build__extra_binaries=["promtool", "foo_exporter"]),
        expected("build.extra_binaries[1]: 'foo_exporter' is already build.binary_name"),
        id="binary-twice",
    ),
    pytest.param(
        edit(artifacts={"docker": {"validation": {"expect": "foo_up"}}}),
        expected("artifacts.docker.validation: needs artifacts.docker.port (the port to fetch the metrics from)"),
        id="validation-without-port",
    ),
    pytest.param(
        edit(artifacts={"deb": {"conflicts": ["foo (<< 2.0)"]}}),
        expected("artifacts.deb.conflicts[0]: 'foo' is this package's own name: a package cannot name itself here"),
        id="conflicts-itself",
    ),
    pytest.param(
        edit(artifacts={"rpm": {"extra_files": [EXTRA, {**EXTRA, "mode": "0600"}]}}),
        expected("artifacts.rpm.extra_files[1].dest: duplicate destination '/etc/foo/foo.yml' (also extra_files[0])"),
        id="duplicate-dest",
    ),
    pytest.param(
        edit(artifacts={"rpm": {"extra_files": [{"source": "assets/foo.yml", "dest": "/usr/bin/foo_exporter"}]}}),
        expected(
            "artifacts.rpm.extra_files[0].dest: '/usr/bin/foo_exporter' is where a binary is installed",
            "artifacts.rpm.extra_files[0].dest: '/usr/bin/foo_exporter' is outside this exporter's paths: files may "
            "only go under /etc/foo/, /var/lib/foo/, /var/log/foo/, /usr/share/foo/, /usr/libexec/foo/",
        ),
        id="dest-over-binary",
    ),
    pytest.param(
        edit(name="other"),
        expected("name: 'other' does not match the exporter directory 'foo'"),
        id="name-not-directory",
    ),
]


@pytest.mark.parametrize("make, lines", SEMANTIC_PROBLEMS)
def test_semantic_problem(tmp_path: Path, make: Callable[[], dict[str, Any]], lines: list[str]) -> None:
    assert refusals(tmp_path, make()) == (lines, lines)


def test_source_symlink_outside_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("s")
    data = edit(artifacts={"rpm": {"extra_files": [{"source": "assets/link", "dest": "/etc/foo/x"}]}})()
    path = write_manifest(tmp_path, data)
    (path.parent / "assets").mkdir()
    os.symlink(tmp_path / "secret", path.parent / "assets" / "link")
    assert rendered(path) == expected(
        "artifacts.rpm.extra_files[0].source: 'assets/link' resolves outside the exporter directory"
    )


def test_arch_names_that_collide_are_caught(tmp_path: Path) -> None:
    data = edit(upstream={"repo": "acme/foo", "arch_names": {"arm64": {"arch": "amd64"}}})()
    assert rendered(write_manifest(tmp_path, data)) == expected(
        "upstream.archive_name: amd64, arm64 would all fetch the same file '{name}-{clean_version}.linux-amd64.tar.gz': "
        "add an arch placeholder ({arch}, {rpm_arch} or {upstream_linux_arch})"
    )


def test_validate_data_without_directory_skips_disk_checks() -> None:
    data = edit(name="bar", artifacts={"rpm": {"extra_files": [{"source": "assets/x", "dest": "/etc/bar/x"}]}})()
    assert validate_manifest_data(data) == []
