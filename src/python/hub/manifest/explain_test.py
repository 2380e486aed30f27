"""Schema errors in words (hub.manifest.explain): every kind of schema problem, as printed."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml
from testkit.manifests import BASE, DELETE, edit, expected, refusals, rendered, write_manifest

ABS_PATH = (
    "expected an absolute, normalized path like /etc/name/config.yml "
    "(no '.', '..', '//', trailing '/', spaces or shell characters), got "
)
REL_PATH = (
    "expected a relative path inside the exporter directory, like assets/config.yml "
    "(no leading '/', no '..', spaces or shell characters), got "
)
NAME = (
    "expected a lowercase name of letters, digits and underscores "
    "(2 to 64 characters, starting and ending with a letter or digit), got "
)
LINE = "expected one line of text without control characters (at most 200 characters), got "
VERSION = (
    "expected a version like v1.2.3 or 1.2.3 (MAJOR.MINOR.PATCH with an optional leading 'v', "
    "-prerelease and +build; quote it in YAML), got "
)
USER = (
    "expected a user or group name of lowercase letters, digits, '_' and '-', starting with a "
    "letter or '_' (at most 32 characters), got "
)
ARCHIVE = (
    "expected a file name ending in .tar.gz, .tgz, .zip or .gz, made of letters, digits, '.', '_', "
    "'+', '-' and placeholders like {arch} (no '/' or '..'), got "
)
BINARY = (
    "expected a file name of letters, digits, '.', '_', '+' and '-' (no '/', spaces or shell "
    "characters; at most 64 characters), got "
)
TOP_FIELDS = (
    "artifacts, build, category, description, distribution_packages, homepage, license, name, upstream, version"
)
EXTRA = {"source": "assets/foo.yml", "dest": "/etc/foo/foo.yml"}

BAD_MANIFESTS = [
    # types
    pytest.param(edit(name=3), expected("name: expected a string, got integer 3"), id="name-integer"),
    pytest.param(
        edit(description=["a"]), expected("description: expected a string, got a list"), id="description-list"
    ),
    pytest.param(
        edit(build__archs="amd64"), expected("build.archs: expected a list, got string 'amd64'"), id="archs-string"
    ),
    pytest.param(
        edit(upstream="acme/foo"), expected("upstream: expected a mapping, got string 'acme/foo'"), id="upstream-string"
    ),
    pytest.param(
        edit(artifacts={"docker": {"enabled": "yes"}}),
        expected("artifacts.docker.enabled: expected a boolean (true or false), got string 'yes'"),
        id="enabled-string",
    ),
    pytest.param(
        edit(artifacts={"rpm": {"systemd": None}}),
        expected("artifacts.rpm.systemd: expected a mapping, got null"),
        id="systemd-null",
    ),
    # unknown keys
    pytest.param(edit(foo=1), expected(f"unknown field 'foo' (expected one of: {TOP_FIELDS})"), id="unknown-top-level"),
    pytest.param(
        edit(artifacts={"rpm": {"systemd": {"user": "root"}}}),
        expected(
            "artifacts.rpm.systemd: unknown field 'user' "
            "(expected one of: after, arguments, enabled, grants, restart, run_as_root, type)"
        ),
        id="unknown-nested",
    ),
    pytest.param(
        edit(artifacts={"rpm": {"extra_files": [{**EXTRA, "owner": "root"}]}}),
        expected("artifacts.rpm.extra_files[0]: unknown field 'owner' (expected one of: config, dest, mode, source)"),
        id="unknown-in-list-item",
    ),
    pytest.param(
        edit(artifacts={"snap": {}}),
        expected("artifacts: unknown field 'snap' (expected one of: deb, docker, rpm)"),
        id="unknown-artifact-kind",
    ),
    # dists and arches
    pytest.param(
        edit(artifacts={"rpm": {"targets": ["el8", "el7"]}}),
        expected("artifacts.rpm.targets[1]: 'el7' is not one of el8, el9, el10"),
        id="el7",
    ),
    pytest.param(
        edit(artifacts={"deb": {"targets": ["debian-11"]}}),
        expected(
            "artifacts.deb.targets[0]: 'debian-11' is not one of debian-12, debian-13, ubuntu-22.04, ubuntu-24.04"
        ),
        id="bad-deb-dist",
    ),
    pytest.param(
        edit(artifacts={"deb": {"targets": ["el9"]}}),
        expected("artifacts.deb.targets[0]: 'el9' is not one of debian-12, debian-13, ubuntu-22.04, ubuntu-24.04"),
        id="rpm-dist-in-deb",
    ),
    pytest.param(
        edit(artifacts={"rpm": {"targets": []}}),
        expected("artifacts.rpm.targets: expected at least 1 item, got an empty list"),
        id="empty-targets",
    ),
    pytest.param(
        edit(artifacts={"rpm": {"targets": ["el9", "el9"]}}),
        expected("artifacts.rpm.targets[1]: duplicate value 'el9'"),
        id="duplicate-dist",
    ),
    pytest.param(
        edit(build__archs=["amd64", "i386"]),
        expected("build.archs[1]: 'i386' is not one of amd64, arm64"),
        id="bad-arch",
    ),
    pytest.param(
        edit(build__archs=["amd64", "amd64"]), expected("build.archs[1]: duplicate value 'amd64'"), id="duplicate-arch"
    ),
    pytest.param(
        edit(upstream={"repo": "acme/foo", "arch_names": {"x86_64": {"arch": "x64"}, "arm64": {"arch": "aarch64"}}}),
        expected("upstream.arch_names: unknown field 'x86_64' (expected one of: amd64, arm64)"),
        id="arch-names-unknown-arch",
    ),
    pytest.param(
        edit(upstream={"repo": "acme/foo", "arch_names": {"i386": {"colour": "red"}, "amd64": {"size": 1}}}),
        expected(
            "upstream.arch_names: unknown field 'i386' (expected one of: amd64, arm64)",
            "upstream.arch_names.amd64: unknown field 'size' (expected one of: arch, rpm_arch, upstream_linux_arch)",
        ),
        id="arch-names-unknown-arch-value-unchecked",
    ),
    pytest.param(
        edit(upstream={"local": {"amd64": "dist/a.tar.gz", "ppc64le": 3}}, build__archs=["amd64"]),
        expected(
            "upstream.local: unknown field 'ppc64le' (expected one of: amd64, arm64)",
            "upstream.local.amd64: file not found: 'dist/a.tar.gz' (paths are relative to the exporter directory)",
        ),
        id="local-unknown-arch",
    ),
    # paths
    pytest.param(
        edit(artifacts={"rpm": {"extra_files": [{"source": "assets/foo.yml", "dest": "/etc/foo/../shadow"}]}}),
        expected("artifacts.rpm.extra_files[0].dest: " + ABS_PATH + "'/etc/foo/../shadow'"),
        id="dest-traversal",
    ),
    pytest.param(
        edit(artifacts={"rpm": {"extra_files": [{"source": "assets/foo.yml", "dest": "etc/foo.yml"}]}}),
        expected("artifacts.rpm.extra_files[0].dest: " + ABS_PATH + "'etc/foo.yml'"),
        id="dest-relative",
    ),
    pytest.param(
        edit(artifacts={"deb": {"directories": [{"path": "/var/lib//foo"}]}}),
        expected("artifacts.deb.directories[0].path: " + ABS_PATH + "'/var/lib//foo'"),
        id="directory-double-slash",
    ),
    pytest.param(
        edit(artifacts={"deb": {"directories": [{"path": "/var/lib/foo bar"}]}}),
        expected("artifacts.deb.directories[0].path: " + ABS_PATH + "'/var/lib/foo bar'"),
        id="directory-space",
    ),
    pytest.param(
        edit(artifacts={"rpm": {"extra_files": [{"source": "../secret", "dest": "/etc/foo/foo.yml"}]}}),
        expected("artifacts.rpm.extra_files[0].source: " + REL_PATH + "'../secret'"),
        id="source-dotdot",
    ),
    pytest.param(
        edit(artifacts={"rpm": {"extra_files": [{"source": "/etc/passwd", "dest": "/etc/foo/foo.yml"}]}}),
        expected("artifacts.rpm.extra_files[0].source: " + REL_PATH + "'/etc/passwd'"),
        id="source-absolute",
    ),
    # shell metacharacters and control characters
    pytest.param(edit(name="node;rm -rf /"), expected("name: " + NAME + "'node;rm -rf /'"), id="name-semicolon"),
    pytest.param(edit(name="$(id)"), expected("name: " + NAME + "'$(id)'"), id="name-command-substitution"),
    pytest.param(edit(name="foo`id`"), expected("name: " + NAME + "'foo`id`'"), id="name-backtick"),
    pytest.param(edit(name="Foo"), expected("name: " + NAME + "'Foo'"), id="name-uppercase"),
    pytest.param(
        edit(build__binary_name="foo;rm"), expected("build.binary_name: " + BINARY + "'foo;rm'"), id="binary-semicolon"
    ),
    pytest.param(
        edit(description="Foo\nExecStart=/bin/sh"),
        expected("description: " + LINE + "'Foo\\nExecStart=/bin/sh'"),
        id="description-newline",
    ),
    pytest.param(
        edit(description="Foo\n"), expected("description: " + LINE + "'Foo\\n'"), id="description-trailing-newline"
    ),
    pytest.param(
        edit(artifacts={"rpm": {"systemd": {"arguments": ["--a", "--b\n[Service]"]}}}),
        expected(
            "artifacts.rpm.systemd.arguments[1]: expected a non-empty, single-line argument without control "
            "characters, got '--b\\n[Service]'"
        ),
        id="argument-newline",
    ),
    pytest.param(
        edit(artifacts={"rpm": {"dependencies": ["libc; rm -rf /"]}}),
        expected(
            "artifacts.rpm.dependencies[0]: expected a package name with an optional version constraint, like "
            "libcap2, libcap2 (>= 1:2.25) or libcap >= 2.25, got 'libc; rm -rf /'"
        ),
        id="dependency-shell",
    ),
    # required fields
    pytest.param(edit(build={}), expected("build.binary_name: required field is missing"), id="missing-binary-name"),
    pytest.param(edit(name=DELETE), expected("name: required field is missing"), id="missing-name"),
    pytest.param(
        edit(artifacts={"rpm": {"extra_files": [{"source": "assets/foo.yml"}]}}),
        expected("artifacts.rpm.extra_files[0].dest: required field is missing"),
        id="missing-dest",
    ),
    # values
    pytest.param(edit(version="1.2"), expected("version: " + VERSION + "'1.2'"), id="version-two-parts"),
    pytest.param(edit(version="latest"), expected("version: " + VERSION + "'latest'"), id="version-word"),
    pytest.param(edit(version=1.2), expected("version: expected a string, got number 1.2"), id="version-float"),
    pytest.param(
        edit(category="Monitoring"),
        expected(
            "category: 'Monitoring' is not one of Database, Infrastructure, Messaging, Network, Storage, System, Web"
        ),
        id="bad-category",
    ),
    pytest.param(
        edit(artifacts={"docker": {"port": 0}}),
        expected("artifacts.docker.port: expected an integer from 1 to 65535, got integer 0"),
        id="port-0",
    ),
    pytest.param(
        edit(artifacts={"docker": {"port": 70000}}),
        expected("artifacts.docker.port: expected an integer from 1 to 65535, got integer 70000"),
        id="port-70000",
    ),
    pytest.param(
        edit(artifacts={"docker": {"port": "abc"}}),
        expected("artifacts.docker.port: expected an integer, got string 'abc'"),
        id="port-string",
    ),
    pytest.param(
        edit(artifacts={"rpm": {"directories": [{"path": "/var/lib/foo", "mode": "0999"}]}}),
        expected("artifacts.rpm.directories[0].mode: expected a quoted octal mode like \"0644\", got '0999'"),
        id="mode-not-octal",
    ),
    pytest.param(
        edit(artifacts={"rpm": {"system_user": "Root"}}),
        expected("artifacts.rpm.system_user: " + USER + "'Root'"),
        id="user-uppercase",
    ),
    pytest.param(
        edit(artifacts={"deb": {"directories": [{"path": "/var/lib/foo", "owner": "foo;id"}]}}),
        expected("artifacts.deb.directories[0].owner: " + USER + "'foo;id'"),
        id="owner-shell",
    ),
    pytest.param(
        edit(artifacts={"docker": {"user": "a" * 33}}),
        expected("artifacts.docker.user: " + USER + "'" + "a" * 33 + "'"),
        id="user-too-long",
    ),
    pytest.param(
        edit(upstream={"repo": "node_exporter"}),
        expected(
            "upstream.repo: expected a GitHub repository as owner/name, like prometheus/node_exporter, got 'node_exporter'"
        ),
        id="repo-no-owner",
    ),
    pytest.param(
        edit(upstream={"repo": "https://github.com/acme/foo"}),
        expected(
            "upstream.repo: expected a GitHub repository as owner/name, like prometheus/node_exporter, "
            "got 'https://github.com/acme/foo'"
        ),
        id="repo-url",
    ),
    pytest.param(
        edit(homepage="http://example.org"),
        expected("homepage: expected an https:// URL without spaces or quotes, got 'http://example.org'"),
        id="homepage-http",
    ),
    pytest.param(
        edit(license="Apache 2"),
        expected("license: expected an SPDX license identifier like Apache-2.0 or MIT, got 'Apache 2'"),
        id="license-not-spdx",
    ),
    pytest.param(
        edit(upstream={"repo": "acme/foo", "strategy": "newest"}),
        expected("upstream.strategy: 'newest' is not one of latest_release, pinned"),
        id="bad-strategy",
    ),
    # archive names
    pytest.param(
        edit(upstream={"repo": "acme/foo", "archive_name": "dl/{name}-{arch}.tar.gz"}),
        expected("upstream.archive_name: " + ARCHIVE + "'dl/{name}-{arch}.tar.gz'"),
        id="archive-name-slash",
    ),
    pytest.param(
        edit(upstream={"repo": "acme/foo", "archive_name": "..{arch}.tar.gz"}),
        expected("upstream.archive_name: " + ARCHIVE + "'..{arch}.tar.gz'"),
        id="archive-name-dotdot",
    ),
    pytest.param(
        edit(upstream={"repo": "acme/foo", "archive_name": "{name}-{arch}.exe"}),
        expected("upstream.archive_name: " + ARCHIVE + "'{name}-{arch}.exe'"),
        id="archive-name-extension",
    ),
    # several problems at once: all of them, in one pass
    pytest.param(
        edit(version="x", build={"archs": ["ppc64le"]}, artifacts={"rpm": {"targets": ["el7"]}, "docker": {"port": 0}}),
        expected(
            "version: " + VERSION + "'x'",
            "build.binary_name: required field is missing",
            "build.archs[0]: 'ppc64le' is not one of amd64, arm64",
            "artifacts.rpm.targets[0]: 'el7' is not one of el8, el9, el10",
            "artifacts.docker.port: expected an integer from 1 to 65535, got integer 0",
        ),
        id="many-errors",
    ),
]


@pytest.mark.parametrize("make, lines", BAD_MANIFESTS)
def test_bad_manifest(tmp_path: Path, make: Callable[[], dict[str, Any]], lines: list[str]) -> None:
    assert refusals(tmp_path, make()) == (lines, lines)


def test_unquoted_mode_explains_yaml_octal(tmp_path: Path) -> None:
    text = yaml.safe_dump(BASE, sort_keys=False) + textwrap.dedent(
        """\
        artifacts:
          rpm:
            directories:
              - path: /var/lib/foo
                mode: 0750
        """
    )
    path = write_manifest(tmp_path, text)
    assert rendered(path) == expected(
        "artifacts.rpm.directories[0].mode: expected a string, got integer 488 "
        '(write it quoted, like "0644": YAML reads an unquoted 0644 as the number 420)'
    )
