"""Demo exporter packages built by the engine, shared by the install and lifecycle tests.

`demo_exporter` is a small manifest (a config file and a web config in /etc, a secret in the
service's home, a directory owned by the service user, systemd arguments) around a real
exporter: Debian's node_exporter build for amd64 and arm64, fetched through
`hub.upstream.mirror`. `Demo` describes one such exporter; variants (other names, a shared
service user, the grants of the real node_exporter manifest) derive from `DEMO`.

`Packages` builds them on demand with `hub package --request` (the engine's CLI, as the Pants
rule runs it), once per session and per (demo, kind, arch, version, dist); conftest.py gives
it to tests as the session fixture `packages` (with `nfpm` and `binaries`). HUB_NFPM names
the nfpm binary: `source "$(build-support/ci/install-tools.sh | tail -n 1)"`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml
from hub import cli
from hub.manifest.load import load_manifest
from hub.upstream import debian, mirror
from hub.upstream import lock as fetch
from integration.roots import ELF_AARCH64, ELF_X86_64, cache_dir

EXPORTER = "demo_exporter"
DEB_NAME = "demo-exporter"
BINARY = "node_exporter"
USER = EXPORTER
HOME_DIR = f"/var/lib/{USER}"
TEXTFILE_DIR = f"{HOME_DIR}/textfile"
SECRET = f"{HOME_DIR}/.my.cnf"  # mode 0600, in the service's directory: owned by the service
CONFIG_DIR = f"/etc/{EXPORTER}"
CONFIG = f"{CONFIG_DIR}/demo.yml"  # the operator edits this one
WEB_CONFIG = f"{CONFIG_DIR}/web.yml"  # read by node_exporter; never edited here
UNIT = f"/usr/lib/systemd/system/{EXPORTER}.service"
BIN = f"/usr/bin/{BINARY}"
ENV_FILE = {"rpm": f"/etc/sysconfig/{EXPORTER}", "deb": f"/etc/default/{EXPORTER}"}
NOLOGIN = {"rpm": "/sbin/nologin", "deb": "/usr/sbin/nologin"}
V1, V2 = "1.0.0", "1.1.0"
SOURCE_DATE = {V1: "2024-01-01T00:00:00Z", V2: "2024-06-01T00:00:00Z"}
# What the real binary prints for --version (Debian's build: version, then the platform).
VERSION_LINE = re.compile(r"^node_exporter, version \d+\.\d+\.\d+", re.M)
# The dist each family is built for unless a test asks for another.
DEFAULT_DIST = {"rpm": "el9", "deb": "debian-12"}
# The DEB revision suffix of each dist (Debian's own package versions: +deb12, +deb13).
DEB_SUFFIX = {"debian-12": "deb12", "debian-13": "deb13"}

# A real node_exporter flag whose value needs systemd escaping ($ and |).
MOUNTS_EXCLUDE = "^/(dev|proc|sys|var/lib/docker/.+)($|/)"
ARGUMENTS = {
    V1: [
        f"--web.config.file={WEB_CONFIG}",
        f"--collector.textfile.directory={TEXTFILE_DIR}",
        f"--collector.filesystem.mount-points-exclude={MOUNTS_EXCLUDE}",
    ],
}
ARGUMENTS[V2] = [*ARGUMENTS[V1], "--web.telemetry-path=/metrics"]
FILES = {
    V1: {
        "demo.yml": "# demo_exporter settings\nlevel: info\n",
        "web.yml": "# node_exporter web configuration (no TLS, no auth in this test)\n"
        "http_server_config:\n  http2: true\n",
        "my.cnf": "[client]\nuser=exporter\npassword=changeme\n",
    },
}
FILES[V2] = {
    "demo.yml": FILES[V1]["demo.yml"] + "# since 1.1.0\ntimeout: 5s\n",
    "web.yml": FILES[V1]["web.yml"] + "# since 1.1.0: unchanged settings\n",
    "my.cnf": FILES[V1]["my.cnf"],  # unchanged: never a .rpmnew
}
EXTRA_FILES = (
    {"source": "assets/demo.yml", "dest": CONFIG, "mode": "0644", "config": True},
    {"source": "assets/web.yml", "dest": WEB_CONFIG, "mode": "0644", "config": True},
    {"source": "assets/my.cnf", "dest": SECRET, "mode": "0600", "config": True},
)


def _directories(user: str) -> tuple[dict[str, str], ...]:
    return (
        {"path": CONFIG_DIR, "mode": "0755", "owner": "root", "group": "root"},
        {"path": HOME_DIR, "mode": "0750", "owner": user, "group": user},
        {"path": TEXTFILE_DIR, "mode": "0755", "owner": user, "group": user},
    )


@dataclass(frozen=True)
class Demo:
    """One demo exporter: a manifest around Debian's node_exporter build, installed as
    /usr/bin/<binary>. `arguments` and `files` map a version to the unit's arguments and
    to the assets (name -> text) its extra files come from."""

    name: str = EXPORTER
    binary: str = BINARY
    system_user: str | None = None  # None: the schema's default, the exporter's name
    arguments: Mapping[str, Sequence[str]] = dataclasses.field(default_factory=lambda: ARGUMENTS)
    files: Mapping[str, Mapping[str, str]] = dataclasses.field(default_factory=lambda: FILES)
    extra_files: tuple[Mapping[str, Any], ...] = EXTRA_FILES
    directories: tuple[Mapping[str, str], ...] = _directories(USER)
    grants: tuple[Mapping[str, str], ...] = ()
    deb_targets: tuple[str, ...] = ("debian-12", "debian-13")
    rpm_targets: tuple[str, ...] = ("el9",)

    @property
    def deb_name(self) -> str:
        return self.name.replace("_", "-")

    @property
    def user(self) -> str:
        return self.system_user or self.name

    @property
    def key(self) -> str:
        """Tells apart two demos of the same name (with and without grants...)."""
        return hashlib.sha256(json.dumps(dataclasses.asdict(self), sort_keys=True).encode()).hexdigest()[:10]

    def manifest(self, version: str) -> dict[str, Any]:
        systemd: dict[str, Any] = {"arguments": list(self.arguments[version]), "after": ["network-online.target"]}
        if self.grants:
            systemd["grants"] = [dict(g) for g in self.grants]
        package: dict[str, Any] = {
            "summary": "Demo exporter for the install tests",
            "systemd": systemd,
            "extra_files": [dict(f) for f in self.extra_files],
            "directories": [dict(d) for d in self.directories],
        }
        if self.system_user:
            package["system_user"] = self.system_user
        return {
            "name": self.name,
            "description": "Demo exporter packaging a real node_exporter build for install tests",
            "category": "System",
            "version": version,
            "license": "Apache-2.0",
            "homepage": "https://github.com/prometheus/node_exporter",
            "upstream": {"repo": "prometheus/node_exporter"},
            "build": {"binary_name": self.binary, "archs": ["amd64", "arm64"]},
            "artifacts": {
                "rpm": {**package, "targets": list(self.rpm_targets)},
                "deb": {**package, "targets": list(self.deb_targets)},
                "docker": {"enabled": False},
            },
        }

    def write_exporter_dir(self, directory: Path, version: str) -> None:
        """manifest.yaml and assets/ of one version (the lock is the caller's)."""
        (directory / "assets").mkdir(parents=True)
        for name, text in self.files[version].items():
            (directory / "assets" / name).write_text(text)
        (directory / "manifest.yaml").write_text(yaml.safe_dump(self.manifest(version), sort_keys=False))


# The demo of the install tests: node_exporter's binary, its own user, no grants.
DEMO = Demo()
# The demo of the lifecycle tests: also a log directory of the service's own. They add the
# real node_exporter manifest's grants; the legacy fixture (integration.legacy_fixture) is
# this demo as the engine built it before grants existed.
LOG_DIR = f"/var/log/{EXPORTER}"
LIFECYCLE = Demo(directories=(*_directories(USER), {"path": LOG_DIR, "mode": "0750", "owner": USER, "group": USER}))


def manifest(version: str) -> dict:
    return DEMO.manifest(version)


# --- the binary ---------------------------------------------------------------------------------


def node_exporter_binaries(dest: Path, arch: str) -> Path:
    """A binaries dir holding Debian's node_exporter for `arch` (as `node_exporter`) and its
    copyright file (as LICENSE), fetched once into the cache."""
    source = debian.DEBIAN_BUILDS["node_exporter"]
    copyright_path = f"/usr/share/doc/{source.package}/copyright"
    deb = debian.fetch_deb(source.package, arch, cache_dir() / "debian-debs")
    files = debian.read_deb_files(deb.path, [source.main_binary, copyright_path])
    data = files[source.main_binary][0]
    machine = {"amd64": ELF_X86_64, "arm64": ELF_AARCH64}[arch]
    assert mirror.elf_machine(data) == machine, f"{deb.path.name}: not an {arch} binary"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / BINARY).write_bytes(data)
    (dest / BINARY).chmod(0o755)
    (dest / "LICENSE").write_bytes(files[copyright_path][0])
    return dest


def nfpm_binary() -> str:
    """The nfpm of HUB_NFPM; a clear failure (never a skip) when it is not set."""
    path = os.environ.get("HUB_NFPM", "")
    assert path and os.access(path, os.X_OK), (
        f"HUB_NFPM={path!r} is not an executable nfpm: run "
        '`source "$(build-support/ci/install-tools.sh | tail -n 1)"` first'
    )
    return path


# --- the packages -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Built:
    path: Path
    artifact: dict


class Packages:
    """Packages built on demand by `hub package --request`, once per session."""

    def __init__(self, workdir: Path, binaries: dict[str, Path], nfpm: str):
        self.workdir, self.binaries, self.nfpm = workdir, binaries, nfpm
        self.built: dict[tuple[str, str, str, str, str], Built] = {}

    def binaries_dir(self, arch: str, demo: Demo = DEMO) -> Path:
        """The binaries dir of `demo`: node_exporter under the demo's binary name."""
        if demo.binary == BINARY:
            return self.binaries[arch]
        d = self.workdir / "binaries" / f"{demo.binary}-{arch}"
        if not d.exists():
            d.mkdir(parents=True)
            os.link(self.binaries[arch] / BINARY, d / demo.binary)
            os.link(self.binaries[arch] / "LICENSE", d / "LICENSE")
        return d

    def exporter_dir(self, version: str, demo: Demo = DEMO) -> Path:
        d = self.workdir / "exporters" / demo.key / version / demo.name
        if not d.exists():
            demo.write_exporter_dir(d, version)
            archives = {}
            loaded = load_manifest(d / "manifest.yaml")
            for arch in self.binaries:
                data = (self.binaries_dir(arch, demo) / demo.binary).read_bytes()
                archives[arch] = fetch.LockedArchive(
                    url=loaded.archive_url(arch),
                    # The package step takes the binaries dir; this pins the binary itself.
                    sha256=hashlib.sha256(data).hexdigest(),
                    size=len(data),
                )
            lock = fetch.Lock(demo.name, version, SOURCE_DATE[version], archives)
            fetch.write_lock(d / "upstream.lock.json", lock)
            fetch.parse_lock((d / "upstream.lock.json").read_text())  # a valid lock
        return d

    def get(self, kind: str, arch: str, version: str, *, dist: str | None = None, demo: Demo = DEMO) -> Built:
        dist = dist or DEFAULT_DIST[kind]
        key = (demo.key, kind, arch, version, dist)
        if key not in self.built:
            self.built[key] = build_package(
                self.exporter_dir(version, demo),
                kind,
                arch,
                self.binaries_dir(arch, demo),
                self.nfpm,
                self.workdir / "out" / demo.key / f"{kind}-{arch}-{version}-{dist}",
                dist=dist,
            )
        return self.built[key]


def build_package(
    exporter: Path, kind: str, arch: str, binaries: Path, nfpm: str, out: Path, *, dist: str | None = None
) -> Built:
    """`hub package --request` (the engine's CLI, as the Pants rule runs it) for one package."""
    dist = dist or DEFAULT_DIST[kind]
    request = {
        "manifest": str(exporter / "manifest.yaml"),
        "lock": str(exporter / "upstream.lock.json"),
        "kind": kind,
        "arch": arch,
        "dist": dist,
        "binaries_dir": str(binaries),
        "nfpm": nfpm,
        "output_dir": str(out),
    }
    out.mkdir(parents=True)
    request_file = out / "request.json"
    request_file.write_text(json.dumps(request))
    assert cli.main(["package", "--request", str(request_file)]) == 0
    artifact = json.loads((out / f"{kind}_{arch}_{dist}.json").read_text())
    path = out / artifact["package"]["filename"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == artifact["package"]["sha256"]
    return Built(path, artifact)
