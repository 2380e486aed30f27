from __future__ import annotations

import copy
import json
import os
import textwrap
from pathlib import Path
from typing import Any, Callable

import jsonschema
import pytest
import yaml

from hub.cli import main
from hub.common import matrix as dists
from hub.common.errors import HubError, ManifestError
from hub.manifest.load import lint_warnings, load_manifest, load_schema, validate_manifest_data, validate_manifest_file
from hub.manifest.model import Artifact
from hub.common.errors import LocatedError

REPO_ROOT = Path(__file__).resolve().parents[4]
SHOWN = "exporters/foo/manifest.yaml"

BASE: dict[str, Any] = {
    "name": "foo",
    "description": "Foo exporter",
    "category": "System",
    "version": "v1.2.3",
    "license": "Apache-2.0",
    "upstream": {"repo": "acme/foo_exporter"},
    "build": {"binary_name": "foo_exporter"},
}

DELETE = object()


def write_manifest(root: Path, content: str | dict[str, Any], *, name: str = "foo", files: tuple[str, ...] = ()) -> Path:
    directory = root / name
    directory.mkdir(parents=True, exist_ok=True)
    for f in files:
        (directory / f).parent.mkdir(parents=True, exist_ok=True)
        (directory / f).write_text("x: 1\n")
    path = directory / "manifest.yaml"
    path.write_text(content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False))
    return path


def rendered(path: Path) -> list[str]:
    return [e.render(SHOWN) for e in validate_manifest_file(path)]


def edit(**changes: Any) -> Callable[[], dict[str, Any]]:
    """BASE with dotted paths set (a__b means a.b); DELETE removes the key."""

    def make() -> dict[str, Any]:
        data = copy.deepcopy(BASE)
        for dotted, value in changes.items():
            *parents, last = dotted.split("__")
            node = data
            for p in parents:
                node = node.setdefault(p, {})
            if value is DELETE:
                del node[last]
            else:
                node[last] = value
        return data

    return make


def expected(*lines: str) -> list[str]:
    return [f"{SHOWN}: {line}" if not line.startswith(SHOWN) else line for line in lines]


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
TOP_FIELDS = "artifacts, build, category, description, homepage, license, name, upstream, version"
PLACEHOLDERS = "{name}, {version}, {clean_version}, {arch}, {rpm_arch}, {upstream_linux_arch}"
EXTRA = {"source": "assets/foo.yml", "dest": "/etc/foo/foo.yml"}

BAD_MANIFESTS = [
    # types
    pytest.param(edit(name=3), expected("name: expected a string, got integer 3"), id="name-integer"),
    pytest.param(edit(description=["a"]), expected("description: expected a string, got a list"), id="description-list"),
    pytest.param(edit(build__archs="amd64"), expected("build.archs: expected a list, got string 'amd64'"), id="archs-string"),
    pytest.param(edit(upstream="acme/foo"), expected("upstream: expected a mapping, got string 'acme/foo'"), id="upstream-string"),
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
        expected("artifacts.rpm.systemd: unknown field 'user' (expected one of: after, arguments, enabled, restart, type)"),
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
        expected("artifacts.deb.targets[0]: 'debian-11' is not one of debian-12, debian-13, ubuntu-22.04, ubuntu-24.04"),
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
    pytest.param(edit(build__archs=["amd64", "i386"]), expected("build.archs[1]: 'i386' is not one of amd64, arm64"), id="bad-arch"),
    pytest.param(edit(build__archs=["amd64", "amd64"]), expected("build.archs[1]: duplicate value 'amd64'"), id="duplicate-arch"),
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
    pytest.param(
        edit(artifacts={"rpm": {"extra_files": [{"source": "assets/missing.yml", "dest": "/etc/foo/foo.yml"}]}}),
        expected(
            "artifacts.rpm.extra_files[0].source: file not found: 'assets/missing.yml' "
            "(paths are relative to the exporter directory)"
        ),
        id="source-missing",
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
    pytest.param(edit(description="Foo\n"), expected("description: " + LINE + "'Foo\\n'"), id="description-trailing-newline"),
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
        expected("category: 'Monitoring' is not one of Database, Infrastructure, Messaging, Network, Storage, System, Web"),
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
    # upstream semantics
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
    # other semantic checks
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
        expected("artifacts.rpm.extra_files[0].dest: '/usr/bin/foo_exporter' is where a binary is installed"),
        id="dest-over-binary",
    ),
    pytest.param(
        edit(name="other"),
        expected("name: 'other' does not match the exporter directory 'foo'"),
        id="name-not-directory",
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
    path = write_manifest(tmp_path, make(), files=("assets/foo.yml",))
    assert rendered(path) == lines
    with pytest.raises(ManifestError) as info:
        load_manifest(path, display_path=SHOWN)
    assert str(info.value) == "\n".join(lines)


BAD_YAML = [
    pytest.param("name: foo\n  description: x\n", [f"{SHOWN}:2:14: mapping values are not allowed here"], id="yaml-syntax"),
    pytest.param(
        "name: foo\nbuild: [a, b\n",
        [f"{SHOWN}:3:1: expected ',' or ']', but got '<stream end>' (while parsing a flow sequence at line 2)"],
        id="yaml-unclosed-list",
    ),
    pytest.param("", [f"{SHOWN}: expected a mapping of manifest fields, got an empty document"], id="empty-file"),
    pytest.param("# nothing\n", [f"{SHOWN}: expected a mapping of manifest fields, got an empty document"], id="only-comment"),
    pytest.param("- name: foo\n", [f"{SHOWN}: expected a mapping of manifest fields, got a list"], id="top-level-list"),
    pytest.param("just text\n", [f"{SHOWN}: expected a mapping of manifest fields, got string 'just text'"], id="top-level-string"),
    pytest.param(
        "name: foo\nversion: v1.0.0\nname: bar\n",
        [f"{SHOWN}:3:1: duplicate field 'name' (first given at line 1)"],
        id="duplicate-key",
    ),
    pytest.param(
        "name: foo\nyes: 1\n",
        [f"{SHOWN}:2:1: field names must be text, got 'yes' (YAML reads it as bool; quote it)"],
        id="boolean-key",
    ),
    pytest.param(
        "name: foo\n---\nname: bar\n",
        [f"{SHOWN}:2:1: but found another document (expected a single document in the stream at line 1)"],
        id="two-documents",
    ),
    pytest.param("name: !!python/object:os.system x\n", None, id="python-tag"),
    pytest.param(b"name: \xff\n", [f"{SHOWN}: not UTF-8 text (byte 6)"], id="not-utf8"),
]


@pytest.mark.parametrize("text, lines", BAD_YAML)
def test_bad_yaml(tmp_path: Path, text: str | bytes, lines: list[str] | None) -> None:
    path = tmp_path / "foo" / "manifest.yaml"
    path.parent.mkdir()
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    got = rendered(path)
    if lines is None:  # a message from PyYAML; what matters is the location and no traceback
        assert len(got) == 1 and got[0].startswith(f"{SHOWN}:1:7: could not determine a constructor"), got
    else:
        assert got == lines
    with pytest.raises(ManifestError):
        load_manifest(path)


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


def test_missing_file(tmp_path: Path) -> None:
    errors = validate_manifest_file(tmp_path / "nope" / "manifest.yaml")
    assert [e.render("x.yaml") for e in errors] == ["x.yaml: cannot read the file: No such file or directory"]


def test_source_symlink_outside_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("s")
    data = edit(artifacts={"rpm": {"extra_files": [{"source": "assets/link", "dest": "/etc/foo/x"}]}})()
    path = write_manifest(tmp_path, data)
    (path.parent / "assets").mkdir()
    os.symlink(tmp_path / "secret", path.parent / "assets" / "link")
    assert rendered(path) == expected("artifacts.rpm.extra_files[0].source: 'assets/link' resolves outside the exporter directory")


def test_located_error_render() -> None:
    assert LocatedError("", "boom", 3, 5).render("f.yaml") == "f.yaml:3:5: boom"


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------


def load(tmp_path: Path, data: dict[str, Any] | str, **kw: Any):  # type: ignore[no-untyped-def]
    return load_manifest(write_manifest(tmp_path, data, **kw))


def test_defaults(tmp_path: Path) -> None:
    m = load(tmp_path, BASE)
    assert m.name == "foo" and m.license == "Apache-2.0" and m.homepage is None
    assert m.upstream.tag == "{version}" and m.tag == "v1.2.3"
    assert m.upstream.strategy == "latest_release"
    assert m.clean_version == "1.2.3"
    assert m.build.archs == ("amd64", "arm64")
    assert m.build.binaries == ("foo_exporter",)
    assert m.archive_name("arm64") == "foo-1.2.3.linux-arm64.tar.gz"
    assert m.archive_url("amd64") == (
        "https://github.com/acme/foo_exporter/releases/download/v1.2.3/foo-1.2.3.linux-amd64.tar.gz"
    )
    assert m.rpm is not None and m.deb is not None and m.docker is not None
    assert m.rpm.targets == dists.RPM_DISTS and m.deb.targets == dists.DEB_DISTS
    assert m.rpm.system_user == "foo" and m.rpm.summary == "Foo exporter"
    assert m.rpm.systemd.enabled and m.rpm.systemd.arguments == ()
    assert m.rpm.systemd.after == ("network-online.target",)
    assert (m.rpm.systemd.restart, m.rpm.systemd.type) == ("on-failure", "simple")
    assert m.rpm.extra_files == () and m.rpm.directories == () and m.rpm.conflicts == ()
    assert m.docker.base_image == "scratch" and m.docker.port is None and m.docker.user == "foo"
    assert m.docker.entrypoint == () and m.docker.cmd == () and not m.docker.ca_certificates
    assert m.docker.validation is None
    assert lint_warnings(m) == []


def test_full_values(tmp_path: Path) -> None:
    data = edit(
        version="1.4.0",
        upstream={"repo": "acme/foo", "tag": "release-{clean_version}", "archive_name": "{name}-{arch}.gz", "strategy": "pinned"},
        build={"binary_name": "foo", "extra_binaries": ["footool"], "archs": ["arm64", "amd64"]},
        artifacts={
            "rpm": {
                "targets": ["el10", "el8"],
                "system_user": "prometheus",
                "extra_files": [{"source": "assets/foo.yml", "dest": "/etc/foo/foo.yml", "mode": "0600", "config": False}],
                "directories": [{"path": "/var/lib/foo", "owner": "prometheus", "group": "prometheus"}],
                "dependencies": ["libcap2 (>= 1:2.25)", "glibc >= 2.28"],
                "systemd": {"arguments": ["--web.listen-address=:9999", "--x=$HOME 'q'"], "restart": "always"},
            },
            "deb": {"enabled": False},
            "docker": {"port": 9999, "validation": {"expect": "foo_up"}, "base_image": "gcr.io/distroless/static@sha256:" + "a" * 64},
        },
    )()
    m = load(tmp_path, data, files=("assets/foo.yml",))
    assert m.tag == "release-1.4.0"
    assert m.archive_url("arm64") == "https://github.com/acme/foo/releases/download/release-1.4.0/foo-arm64.gz"
    assert m.build.archs == ("amd64", "arm64") and m.build.binaries == ("foo", "footool")
    assert m.rpm is not None and m.rpm.targets == ("el8", "el10")
    assert m.rpm.extra_files[0].mode == "0600" and m.rpm.extra_files[0].config is False
    assert m.rpm.directories[0].mode == "0755" and m.rpm.directories[0].owner == "prometheus"
    assert m.rpm.systemd.arguments[1] == "--x=$HOME 'q'"
    assert m.deb is None
    assert m.docker is not None and m.docker.user == "prometheus" and m.docker.port == 9999
    assert m.docker.validation is not None and m.docker.validation.path == "/metrics"
    assert m.docker.validation.expect == "foo_up"
    assert [a.id for a in m.matrix()] == ["rpm_amd64_el8", "rpm_arm64_el8", "rpm_amd64_el10", "rpm_arm64_el10", "docker"]


def test_arch_names_override(tmp_path: Path) -> None:
    data = edit(
        upstream={
            "repo": "nats-io/prometheus-nats-exporter",
            "archive_name": "prometheus-nats-exporter-v{clean_version}-linux-{upstream_linux_arch}.tar.gz",
            "arch_names": {"arm64": {"upstream_linux_arch": "arm64v8"}},
        }
    )()
    m = load(tmp_path, data)
    assert m.archive_name("amd64") == "prometheus-nats-exporter-v1.2.3-linux-x86_64.tar.gz"
    assert m.archive_name("arm64") == "prometheus-nats-exporter-v1.2.3-linux-arm64v8.tar.gz"
    assert m.placeholders("arm64")["rpm_arch"] == "aarch64"
    with pytest.raises(HubError, match="unknown arch 'ppc64le'"):
        m.placeholders("ppc64le")


def test_single_arch_needs_no_arch_placeholder(tmp_path: Path) -> None:
    data = edit(upstream={"repo": "acme/foo", "archive_name": "{name}.zip"}, build__archs=["amd64"])()
    assert load(tmp_path, data).archive_name("amd64") == "foo.zip"


def test_arch_names_that_collide_are_caught(tmp_path: Path) -> None:
    data = edit(upstream={"repo": "acme/foo", "arch_names": {"arm64": {"arch": "amd64"}}})()
    assert rendered(write_manifest(tmp_path, data)) == expected(
        "upstream.archive_name: amd64, arm64 would all fetch the same file '{name}-{clean_version}.linux-amd64.tar.gz': "
        "add an arch placeholder ({arch}, {rpm_arch} or {upstream_linux_arch})"
    )


def test_local_upstream(tmp_path: Path) -> None:
    data = edit(upstream={"local": {"amd64": "dist/foo-amd64.tar.gz", "arm64": "dist/foo-arm64.tar.gz"}})()
    m = load(tmp_path, data, files=("dist/foo-amd64.tar.gz", "dist/foo-arm64.tar.gz"))
    assert m.is_local and m.local_archive("arm64") == "dist/foo-arm64.tar.gz"
    assert m.archive_name("amd64") == "foo-amd64.tar.gz"
    with pytest.raises(HubError, match="local"):
        m.archive_url("amd64")


def test_merge_keys_share_a_package_block(tmp_path: Path) -> None:
    text = textwrap.dedent(
        """\
        name: foo
        description: Foo exporter
        category: System
        version: v1.2.3
        upstream: {repo: acme/foo}
        build: {binary_name: foo}
        artifacts:
          rpm: &package
            system_user: prometheus
            systemd:
              arguments: [--config.file=/etc/foo/foo.yml]
            extra_files:
              - {source: assets/foo.yml, dest: /etc/foo/foo.yml}
          deb:
            <<: *package
            targets: [debian-12]
            conflicts: [prometheus-foo-exporter]
        """
    )
    m = load(tmp_path, text, files=("assets/foo.yml",))
    assert m.rpm is not None and m.deb is not None
    assert m.deb.system_user == m.rpm.system_user == "prometheus"
    assert m.deb.extra_files == m.rpm.extra_files and m.deb.systemd == m.rpm.systemd
    assert m.deb.targets == ("debian-12",) and m.rpm.targets == dists.RPM_DISTS
    assert m.deb.conflicts == ("prometheus-foo-exporter",) and m.rpm.conflicts == ()


def test_alias_of_the_whole_package_block(tmp_path: Path) -> None:
    text = yaml.safe_dump(BASE, sort_keys=False) + textwrap.dedent(
        """\
        artifacts:
          rpm: &package
            system_user: prometheus
          deb: *package
        """
    )
    m = load(tmp_path, text)
    assert m.rpm is not None and m.deb is not None
    assert m.rpm.targets == dists.RPM_DISTS and m.deb.targets == dists.DEB_DISTS
    assert m.deb.system_user == "prometheus" and len(m.matrix()) == 15


def test_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    path = write_manifest(tmp_path, "\n".join(lines) + "\n")
    assert rendered(path) == [f"{SHOWN}: more than 100000 values once YAML aliases are expanded"]


@pytest.mark.parametrize(
    "artifacts, user",
    [
        pytest.param({}, "foo", id="name"),
        pytest.param({"rpm": {"system_user": "prometheus"}}, "prometheus", id="rpm-user"),
        pytest.param({"deb": {"system_user": "prom"}}, "prom", id="deb-user"),
        pytest.param({"rpm": {"system_user": "root"}}, "foo", id="root-service-user-is-not-inherited"),
        pytest.param({"rpm": {"system_user": "root"}, "docker": {"user": "root"}}, "root", id="explicit-root"),
    ],
)
def test_docker_user_default(tmp_path: Path, artifacts: dict[str, Any], user: str) -> None:
    m = load(tmp_path, edit(artifacts=artifacts)())
    assert m.docker is not None and m.docker.user == user


def test_license_missing_is_a_warning(tmp_path: Path) -> None:
    m = load(tmp_path, edit(license=DELETE)())
    assert m.license is None
    assert [w.render("f") for w in lint_warnings(m)] == [
        "f: license: not set: it is never guessed; `update-upstreams` fills it from the GitHub API"
    ]


def test_validate_data_without_directory_skips_disk_checks() -> None:
    data = edit(name="bar", artifacts={"rpm": {"extra_files": [{"source": "assets/x", "dest": "/etc/x"}]}})()
    assert validate_manifest_data(data) == []


def test_model_is_frozen_and_uses_tuples(tmp_path: Path) -> None:
    m = load(tmp_path, BASE)
    with pytest.raises(AttributeError):
        m.name = "bar"  # type: ignore[misc]
    assert isinstance(m.build.archs, tuple) and isinstance(m.matrix(), tuple)


# --------------------------------------------------------------------------------------------
# Matrix
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes, ids",
    [
        pytest.param(
            {},
            [f"rpm_{a}_{d}" for d in dists.RPM_DISTS for a in dists.ARCHES]
            + [f"deb_{a}_{d}" for d in dists.DEB_DISTS for a in dists.ARCHES]
            + ["docker"],
            id="full-default",
        ),
        pytest.param(
            {"build__archs": ["amd64"], "upstream": {"repo": "acme/foo", "archive_name": "foo.tar.gz"}},
            [f"rpm_amd64_{d}" for d in dists.RPM_DISTS] + [f"deb_amd64_{d}" for d in dists.DEB_DISTS] + ["docker"],
            id="amd64-only",
        ),
        pytest.param(
            {"artifacts": {"rpm": {"targets": ["el9"]}, "deb": {"targets": ["ubuntu-24.04", "debian-12"]}}},
            ["rpm_amd64_el9", "rpm_arm64_el9", "deb_amd64_debian-12", "deb_arm64_debian-12",
             "deb_amd64_ubuntu-24.04", "deb_arm64_ubuntu-24.04", "docker"],
            id="restricted-targets",
        ),
        pytest.param(
            {"artifacts": {"docker": {"enabled": False}}},
            [f"rpm_{a}_{d}" for d in dists.RPM_DISTS for a in dists.ARCHES]
            + [f"deb_{a}_{d}" for d in dists.DEB_DISTS for a in dists.ARCHES],
            id="no-docker",
        ),
        pytest.param(
            {"artifacts": {"rpm": {"enabled": False}, "deb": {"enabled": False}}}, ["docker"], id="docker-only"
        ),
        pytest.param(
            {"artifacts": {"rpm": {"enabled": False}, "deb": {"enabled": False}, "docker": {"enabled": False}}},
            [],
            id="nothing",
        ),
    ],
)
def test_matrix(tmp_path: Path, changes: dict[str, Any], ids: list[str]) -> None:
    m = load(tmp_path, edit(**changes)())
    assert [a.id for a in m.matrix()] == ids


def test_full_default_matrix_has_15_artifacts(tmp_path: Path) -> None:
    matrix = load(tmp_path, BASE).matrix()
    assert len(matrix) == 15
    assert sum(a.kind == "rpm" for a in matrix) == 6 and sum(a.kind == "deb" for a in matrix) == 8
    assert matrix[-1] == Artifact("docker") and matrix[-1].id == "docker"
    assert Artifact("deb", "arm64", "debian-12").id == "deb_arm64_debian-12"


# --------------------------------------------------------------------------------------------
# The schema itself
# --------------------------------------------------------------------------------------------


def test_schema_is_valid_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(load_schema())


def test_schema_agrees_with_dists() -> None:
    schema = load_schema()
    arts = schema["properties"]["artifacts"]["properties"]
    for kind, names in (("rpm", dists.RPM_DISTS), ("deb", dists.DEB_DISTS)):
        targets = arts[kind]["properties"]["targets"]
        assert tuple(targets["items"]["enum"]) == names
        assert tuple(targets["default"]) == names
        assert all(dists.DISTS[n].family == kind for n in names)
    assert tuple(schema["$defs"]["arch"]["enum"]) == dists.ARCHES
    assert tuple(schema["properties"]["build"]["properties"]["archs"]["default"]) == dists.ARCHES
    for prop in ("arch_names", "local"):
        assert tuple(schema["properties"]["upstream"]["properties"][prop]["properties"]) == dists.ARCHES


def test_rpm_and_deb_take_the_same_fields() -> None:
    arts = load_schema()["properties"]["artifacts"]["properties"]
    rpm, deb = arts["rpm"]["properties"], arts["deb"]["properties"]
    assert list(rpm) == list(deb)
    for key in rpm:
        if key not in ("targets", "enabled"):
            assert {k: v for k, v in rpm[key].items() if k != "description"} == {
                k: v for k, v in deb[key].items() if k != "description"
            }


def _walk(node: Any, path: str = "#") -> Any:
    if isinstance(node, dict):
        yield path, node
        for k, v in node.items():
            yield from _walk(v, f"{path}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, f"{path}/{i}")


def test_schema_is_strict_and_documented() -> None:
    schema = load_schema()
    for path, node in _walk(schema):
        if node.get("type") == "object" and "properties" in node:
            assert node.get("additionalProperties") is False, path
            for key, sub in node["properties"].items():
                assert sub.get("description"), f"{path}/properties/{key} has no description"
        if "pattern" in node:
            assert node.get("x-expected"), f"{path} has a pattern but no x-expected message"


def test_repository_manifests_are_valid() -> None:
    assert (REPO_ROOT / "exporters").is_dir(), "the tests depend on //exporters:files"
    manifests = sorted((REPO_ROOT / "exporters").glob("*/manifest.yaml"))
    assert len(manifests) >= 3
    for path in manifests:
        assert validate_manifest_file(path) == [], path
        m = load_manifest(path)
        assert m.name == path.parent.name
        # A license is never guessed: where it is unset, lint says so (and update-upstreams fills it).
        license_warnings = [w for w in lint_warnings(m) if w.field == "license"]
        assert bool(license_warnings) == (m.license is None), path
        assert (path.parent / "BUILD").read_text().count("exporter()") == 1
        assert (path.parent / "README.md").is_file()


def test_first_exporters_facts() -> None:
    prom = load_manifest(REPO_ROOT / "exporters" / "prometheus" / "manifest.yaml")
    assert prom.build.binaries == ("prometheus", "promtool")
    assert prom.rpm is not None and prom.deb is not None and prom.docker is not None
    assert prom.rpm.system_user == prom.deb.system_user == prom.docker.user == "prometheus"
    assert {d.path: d.owner for d in prom.rpm.directories} == {"/etc/prometheus": "root", "/var/lib/prometheus": "prometheus"}
    assert prom.rpm.extra_files[0].dest == "/etc/prometheus/prometheus.yml" and prom.rpm.extra_files[0].config
    assert "--config.file=/etc/prometheus/prometheus.yml" in prom.rpm.systemd.arguments
    assert prom.docker.port == 9090
    node = load_manifest(REPO_ROOT / "exporters" / "node_exporter" / "manifest.yaml")
    assert node.docker is not None and node.docker.port == 9100 and len(node.matrix()) == 15
    assert node.archive_url("amd64") == (
        "https://github.com/prometheus/node_exporter/releases/download/v1.11.0/node_exporter-1.11.0.linux-amd64.tar.gz"
    )
    bb = load_manifest(REPO_ROOT / "exporters" / "blackbox_exporter" / "manifest.yaml")
    assert bb.deb is not None and bb.deb.extra_files[0].dest == "/etc/blackbox_exporter/blackbox.yml"
    assert bb.docker is not None and bb.docker.port == 9115
    for m in (prom, node, bb):
        for spec in (m.rpm, m.deb):
            assert spec is not None
            for f in spec.extra_files:
                yaml.safe_load((Path(m.directory) / f.source).read_text())


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


@pytest.fixture
def cli() -> Callable[[list[str]], int]:
    return main


def test_cli_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str], cli: Callable[[list[str]], int]) -> None:
    good = write_manifest(tmp_path, BASE)
    bad = write_manifest(tmp_path / "b", edit(artifacts={"rpm": {"targets": ["el7"]}})())
    assert cli(["validate", str(good)]) == 0
    assert capsys.readouterr().out == "1 manifest OK\n"
    assert cli(["validate", str(good), str(bad)]) == 1
    out = capsys.readouterr().out
    assert out == f"{bad}: artifacts.rpm.targets[0]: 'el7' is not one of el8, el9, el10\n"


def test_cli_validate_warns_about_license(tmp_path: Path, capsys: pytest.CaptureFixture[str], cli: Callable[[list[str]], int]) -> None:
    path = write_manifest(tmp_path, edit(license=DELETE)())
    assert cli(["validate", str(path)]) == 0
    assert "warning: " in capsys.readouterr().err


def test_cli_matrix(tmp_path: Path, capsys: pytest.CaptureFixture[str], cli: Callable[[list[str]], int]) -> None:
    path = write_manifest(tmp_path, edit(build__archs=["arm64"], upstream={"repo": "a/b", "archive_name": "x.zip"},
                                         artifacts={"rpm": {"targets": ["el9"]}, "deb": {"enabled": False}})())
    assert cli(["matrix", str(path)]) == 0
    assert json.loads(capsys.readouterr().out) == ["rpm_arm64_el9", "docker"]


def test_cli_matrix_bad_manifest_exits_2_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str], cli: Callable[[list[str]], int]) -> None:
    path = write_manifest(tmp_path, edit(name=DELETE)())
    assert cli(["matrix", str(path)]) == 2
    assert capsys.readouterr().err == f"error: {path}: name: required field is missing\n"
