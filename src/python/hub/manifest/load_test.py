"""Loading (hub.manifest.load): the strict YAML reader, defaults, the model, the schema itself, the CLI."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any, Callable

import jsonschema
import pytest
import yaml
from testkit.manifests import BASE, DELETE, SHOWN, edit, rendered, write_manifest

from hub.cli import main
from hub.common import matrix as dists
from hub.common import schemas
from hub.common.errors import HubError, LocatedError, ManifestError
from hub.manifest.load import lint_errors, lint_warnings, load_manifest, load_schema, validate_manifest_file
from hub.manifest.model import Artifact

REPO_ROOT = Path(__file__).resolve().parents[4]


BAD_YAML = [
    pytest.param(
        "name: foo\n  description: x\n", [f"{SHOWN}:2:14: mapping values are not allowed here"], id="yaml-syntax"
    ),
    pytest.param(
        "name: foo\nbuild: [a, b\n",
        [f"{SHOWN}:3:1: expected ',' or ']', but got '<stream end>' (while parsing a flow sequence at line 2)"],
        id="yaml-unclosed-list",
    ),
    pytest.param("", [f"{SHOWN}: expected a mapping of manifest fields, got an empty document"], id="empty-file"),
    pytest.param(
        "# nothing\n", [f"{SHOWN}: expected a mapping of manifest fields, got an empty document"], id="only-comment"
    ),
    pytest.param("- name: foo\n", [f"{SHOWN}: expected a mapping of manifest fields, got a list"], id="top-level-list"),
    pytest.param(
        "just text\n",
        [f"{SHOWN}: expected a mapping of manifest fields, got string 'just text'"],
        id="top-level-string",
    ),
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


def test_missing_file(tmp_path: Path) -> None:
    errors = validate_manifest_file(tmp_path / "nope" / "manifest.yaml")
    assert [e.render("x.yaml") for e in errors] == ["x.yaml: cannot read the file: No such file or directory"]


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
        upstream={
            "repo": "acme/foo",
            "tag": "release-{clean_version}",
            "archive_name": "{name}-{arch}.gz",
            "strategy": "pinned",
        },
        build={"binary_name": "foo", "extra_binaries": ["footool"], "archs": ["arm64", "amd64"]},
        artifacts={
            "rpm": {
                "targets": ["el10", "el8"],
                "system_user": "prometheus",
                "extra_files": [
                    {"source": "assets/foo.yml", "dest": "/etc/foo/foo.yml", "mode": "0600", "config": False}
                ],
                "directories": [{"path": "/var/lib/prometheus", "owner": "prometheus", "group": "prometheus"}],
                "dependencies": ["libcap2 (>= 1:2.25)", "glibc >= 2.28"],
                "systemd": {"arguments": ["--web.listen-address=:9999", "--x=$HOME 'q'"], "restart": "always"},
            },
            "deb": {"enabled": False},
            "docker": {
                "port": 9999,
                "validation": {"expect": "foo_up"},
                "base_image": "gcr.io/distroless/static@sha256:" + "a" * 64,
            },
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
    assert [a.id for a in m.matrix()] == [
        "rpm_amd64_el8",
        "rpm_arm64_el8",
        "rpm_amd64_el10",
        "rpm_arm64_el10",
        "docker",
    ]


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
        pytest.param(
            {"rpm": {"system_user": "root", "systemd": {"run_as_root": "reads devices only root may open"}}},
            "foo",
            id="root-service-user-is-not-inherited",
        ),
        pytest.param(
            {
                "rpm": {"system_user": "root", "systemd": {"run_as_root": "reads devices only root may open"}},
                "docker": {"user": "root"},
            },
            "root",
            id="explicit-root",
        ),
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
            [
                "rpm_amd64_el9",
                "rpm_arm64_el9",
                "deb_amd64_debian-12",
                "deb_arm64_debian-12",
                "deb_amd64_ubuntu-24.04",
                "deb_arm64_ubuntu-24.04",
                "docker",
            ],
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


def test_schema_takes_the_matrix_from_matrix_json() -> None:
    schema = load_schema()
    arts = schema["properties"]["artifacts"]["properties"]
    for kind, names in (("rpm", dists.RPM_DISTS), ("deb", dists.DEB_DISTS)):
        targets = arts[kind]["properties"]["targets"]
        assert tuple(schemas.resolve(targets["items"], schema)["enum"]) == names
        assert tuple(schemas.default_value(targets)) == names
        assert all(dists.DISTS[n].family == kind for n in names)
    assert tuple(schemas.resolve(schema["$defs"]["arch"], schema)["enum"]) == dists.ARCHES
    assert tuple(schemas.default_value(schema["properties"]["build"]["properties"]["archs"])) == dists.ARCHES
    for prop in ("arch_names", "local"):
        node = schema["properties"]["upstream"]["properties"][prop]
        assert tuple(schemas.resolve(node["propertyNames"], schema)["enum"]) == dists.ARCHES


def test_defaults_from_the_matrix_follow_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A dist added to hub/matrix.json is built by default: the schema lists none itself."""
    monkeypatch.setitem(schemas.MATRIX_DEFAULTS, "rpm", ("el9",))
    m = load_manifest(write_manifest(tmp_path, BASE))
    assert m.rpm is not None and m.rpm.targets == ("el9",)
    assert m.deb is not None and m.deb.targets == dists.DEB_DISTS and m.build.archs == dists.ARCHES


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
        if node.get("type") == "object" and "propertyNames" in node:  # keys from a list: the matrix's arches
            assert "properties" not in node, path
            assert node["additionalProperties"].get("description"), f"{path}/additionalProperties has no description"
        elif node.get("type") == "object":
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
        assert lint_errors(m) == [], path  # the distribution table is there
        for dist, entry in m.distribution_packages.items():
            assert (entry.packages is None) == (entry.checked is None) == (entry.not_checked is not None), (path, dist)
        assert bool(license_warnings) == (m.license is None), path
        assert (path.parent / "BUILD").read_text().count("exporter()") == 1
        assert (path.parent / "README.md").is_file()


def test_first_exporters_facts() -> None:
    prom = load_manifest(REPO_ROOT / "exporters" / "prometheus" / "manifest.yaml")
    assert prom.build.binaries == ("prometheus", "promtool")
    assert prom.rpm is not None and prom.deb is not None and prom.docker is not None
    assert prom.rpm.system_user == prom.deb.system_user == prom.docker.user == "prometheus"
    assert {d.path: d.owner for d in prom.rpm.directories} == {
        "/etc/prometheus": "root",
        "/var/lib/prometheus": "prometheus",
    }
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


# What lint requires of every exporter of the repository: the distributions' own packages.
TABLE = {
    "debian-12": {"packages": ["prometheus-foo-exporter"], "checked": "Debian 12 archive, apt-cache show (1.0-1)"},
    "debian-13": {"packages": [], "checked": "Debian 13 archive, apt-cache search"},
    "ubuntu-22.04": {"not_checked": "Ubuntu's archive was not reachable"},
    "ubuntu-24.04": {"not_checked": "Ubuntu's archive was not reachable"},
    "fedora": {"packages": ["golang-github-acme-foo", "foo"], "checked": "packages.fedoraproject.org"},
    "epel": {"packages": [], "checked": "packages.fedoraproject.org", "note": "none in EPEL 8, 9, 10"},
}


def test_cli_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str], cli: Callable[[list[str]], int]) -> None:
    good = write_manifest(tmp_path, edit(distribution_packages=TABLE)())
    bad = write_manifest(tmp_path / "b", edit(artifacts={"rpm": {"targets": ["el7"]}})())
    assert cli(["validate", str(good)]) == 0
    assert capsys.readouterr().out == "1 manifest OK\n"
    assert cli(["validate", str(good), str(bad)]) == 1
    out = capsys.readouterr().out
    assert out == f"{bad}: artifacts.rpm.targets[0]: 'el7' is not one of el8, el9, el10\n"


def test_cli_validate_warns_about_license(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cli: Callable[[list[str]], int]
) -> None:
    path = write_manifest(tmp_path, edit(license=DELETE, distribution_packages=TABLE)())
    assert cli(["validate", str(path)]) == 0
    assert "warning: " in capsys.readouterr().err


def test_cli_validate_requires_the_distribution_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cli: Callable[[list[str]], int]
) -> None:
    path = write_manifest(tmp_path, BASE)
    load_manifest(path)  # a build does not need it
    assert cli(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{path}: distribution_packages: missing: list, for each of debian-12, debian-13,")
    assert "`packages: []` for none" in out and "`not_checked: ...`" in out


@pytest.mark.parametrize(
    "change, message",
    [
        pytest.param(
            {"fedora": {"packages": ["foo"]}},
            "distribution_packages.fedora:",
            id="no-checked",
        ),
        pytest.param(
            {"debian-13": {"packages": ["foo_exporter"], "checked": "apt"}},
            "distribution_packages.debian-13.packages[0]: expected a Debian package name",
            id="deb-name",
        ),
        pytest.param(
            {"centos": {"packages": [], "checked": "x"}},
            "unknown field 'centos' (expected a Debian/Ubuntu dist of the build matrix",
            id="unknown",
        ),
    ],
)
def test_distribution_table_is_checked(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    table = {k: v for k, v in {**TABLE, **change}.items() if v is not DELETE}
    errors = [
        e.render("m") for e in validate_manifest_file(write_manifest(tmp_path, edit(distribution_packages=table)()))
    ]
    assert any(message in e for e in errors), errors


def test_lint_requires_every_distribution(tmp_path: Path) -> None:
    """The matrix's DEB dists, fedora and epel: a table without one of them fails the lint
    (a build does not need the table)."""
    table = {k: v for k, v in TABLE.items() if k != "epel"}
    m = load_manifest(write_manifest(tmp_path, edit(distribution_packages=table)()))
    assert [e.render("m") for e in lint_errors(m)] == [
        "m: distribution_packages.epel: missing: list the packages that ship this same exporter there"
        " (`packages: []` for none) and where that was checked (`checked: ...`), or say why it could not"
        " be (`not_checked: ...`); see docs/migrating.md"
    ]


def test_distribution_table_in_the_model(tmp_path: Path) -> None:
    m = load_manifest(write_manifest(tmp_path, edit(distribution_packages=TABLE)()))
    assert m.distribution_packages["ubuntu-22.04"].packages is None
    assert m.distribution_packages["debian-13"].packages == ()
    assert m.distribution_packages["epel"].note == "none in EPEL 8, 9, 10"
    assert m.distribution_package_names("deb") == ("prometheus-foo-exporter",)
    # the package of the exporter's own name is upgraded in place, never a conflict
    assert m.distribution_package_names("rpm") == ("golang-github-acme-foo",)


def test_cli_matrix(tmp_path: Path, capsys: pytest.CaptureFixture[str], cli: Callable[[list[str]], int]) -> None:
    path = write_manifest(
        tmp_path,
        edit(
            build__archs=["arm64"],
            upstream={"repo": "a/b", "archive_name": "x.zip"},
            artifacts={"rpm": {"targets": ["el9"]}, "deb": {"enabled": False}},
        )(),
    )
    assert cli(["matrix", str(path)]) == 0
    assert json.loads(capsys.readouterr().out) == ["rpm_arm64_el9", "docker"]


def test_cli_matrix_bad_manifest_exits_2_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cli: Callable[[list[str]], int]
) -> None:
    path = write_manifest(tmp_path, edit(name=DELETE)())
    assert cli(["matrix", str(path)]) == 2
    assert capsys.readouterr().err == f"error: {path}: name: required field is missing\n"
