"""`hub package`: one RPM or DEB of one exporter, built by nfpm, and its artifact JSON.

Vocabulary:
- a *plan* (`PackagePlan`) is everything a package holds and declares, computed from the
  manifest, the upstream lock and the request by `plan_package`, without touching the disk;
- an *entry* is one path of the payload: a file copied from the build inputs, a generated
  file (unit, environment file, docs, license) or a directory;
- the *nfpm config* (`nfpm_config`) is the plan in nfpm's terms; generated files and scripts
  are written under a work directory first (`stage`), then `run_nfpm` builds the package.

Timestamps come from the lock's `source_date` (SOURCE_DATE_EPOCH and nfpm's `mtime`), and
rpm's Buildhost is a constant, so two builds of the same inputs are byte-identical.
"""

from __future__ import annotations

import argparse
import calendar
import datetime
import email.utils
import json
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from hub import catalog, dists
from hub import package_content as content
from hub.errors import HubError

MAINTAINER = "Monitoring Hub <packages@monitoring-hub.invalid>"
VENDOR = "Monitoring Hub"
# rpm records the build machine's name in its header; nfpm would use this machine's.
BUILDHOST = "monitoring-hub"
# One path for both families: it is where EL keeps units, Debian 13 and Ubuntu 24.04 put
# them there too (debhelper 13.11.6+), and systemd on Debian 12 and Ubuntu 22.04 reads it as
# well (it is in their compiled-in unit path; with merged /usr it is the same directory as
# /lib/systemd/system). Lintian 2.116 is "ambivalent about /lib or /usr/lib" and says nothing.
UNIT_DIR = "/usr/lib/systemd/system"
# What Debian itself files its prometheus-*-exporter packages under.
DEB_SECTION = "net"
DEB_PRIORITY = "optional"
RPM_GROUP = "System Environment/Daemons"
NOLOGIN = {"rpm": "/sbin/nologin", "deb": "/usr/sbin/nologin"}
# Tools the maintainer scripts run to create the service user (not Essential on Debian, not
# in ubi-minimal images on EL).
USERADD_PACKAGE = {"rpm": "shadow-utils", "deb": "passwd"}
# Files of an upstream archive that hub.archive may leave next to the binaries.
UPSTREAM_LICENSE_FILES = ("LICENSE", "LICENSE.txt", "LICENSE.md", "COPYING")
UPSTREAM_NOTICE_FILE = "NOTICE"


@dataclass(frozen=True)
class Entry:
    """One path in the payload. Exactly one of src/content for files; neither for dirs."""

    dst: str
    mode: int
    src: str | None = None  # a file of the build inputs
    content: bytes | None = None  # a generated file
    is_dir: bool = False
    config: bool = False  # %config(noreplace) / dpkg conffile
    rpm_type: str = ""  # "doc" or "license": %doc / %license in RPMs


@dataclass(frozen=True)
class Ownership:
    """Applied by the post-install script: the payload itself is root-owned."""

    path: str
    owner: str
    group: str
    mode: str  # octal, e.g. "0750"


@dataclass(frozen=True)
class PackagePlan:
    kind: str  # "rpm" or "deb"
    exporter: str
    name: str  # package name: node_exporter / node-exporter
    version: str  # package version, without release
    release: str  # "1.el9" / "1+deb12"
    arch: str  # amd64 / arm64
    pkg_arch: str  # x86_64 / aarch64 for RPMs, amd64 / arm64 for DEBs
    dist: dists.Dist
    summary: str
    description: str  # nfpm's description: the long text (RPM), synopsis + text (DEB)
    license: str
    homepage: str | None
    depends: tuple[str, ...]
    conflicts: tuple[str, ...]
    replaces: tuple[str, ...]
    entries: tuple[Entry, ...]
    scripts: tuple[tuple[str, str], ...]  # (nfpm script key, text)
    source_date: str  # RFC 3339, from the lock
    ownership: tuple[Ownership, ...] = field(default=())

    @property
    def full_version(self) -> str:
        return f"{self.version}-{self.release}"

    @property
    def filename(self) -> str:
        if self.kind == "rpm":  # rpmbuild's name: %{name}-%{version}-%{release}.%{arch}.rpm
            return f"{self.name}-{self.full_version}.{self.pkg_arch}.rpm"
        return f"{self.name}_{self.full_version}_{self.pkg_arch}.deb"  # dpkg-name's

    @property
    def source_date_epoch(self) -> int:
        return parse_source_date(self.source_date)

    def rpm_changelog(self) -> list[dict[str, Any]]:
        """nfpm's changelog (chglog YAML) for RPMs: one entry, dated by the source date
        (rpmlint: no-changelogname-tag). DEBs carry changelog.Debian.gz among their docs."""
        return [
            {
                "semver": self.full_version,  # free text, shown after the packager's name
                "date": self.source_date,
                "packager": MAINTAINER,
                "changes": [
                    {"note": f"Upstream release {self.version} of {self.exporter}, packaged by Monitoring Hub."}
                ],
            }
        ]


def parse_source_date(value: str) -> int:
    try:
        return calendar.timegm(time.strptime(value, "%Y-%m-%dT%H:%M:%SZ"))
    except (TypeError, ValueError):
        raise HubError(f"source_date {value!r}: expected a UTC time like 2025-06-01T12:00:00Z")


def parse_mode(mode: str | int) -> int:
    return mode if isinstance(mode, int) else int(mode, 8)


def package_name(kind: str, exporter: str) -> str:
    return exporter if kind == "rpm" else dists.deb_package_name(exporter)


# --- the plan ------------------------------------------------------------------------------


def _spec(manifest: Any, kind: str, arch: str, dist_name: str) -> Any:
    dist = dists.DISTS.get(dist_name)
    if kind not in ("rpm", "deb"):
        raise HubError(f"kind {kind!r}: expected rpm or deb")
    if dist is None or dist.family != kind:
        names = dists.RPM_DISTS if kind == "rpm" else dists.DEB_DISTS
        raise HubError(f"dist {dist_name!r}: expected one of {', '.join(names)} for {kind}")
    spec = manifest.rpm if kind == "rpm" else manifest.deb
    if spec is None:
        raise HubError(f"{manifest.path}: artifacts.{kind} is disabled")
    if dist_name not in spec.targets:
        raise HubError(f"{manifest.path}: artifacts.{kind}.targets does not list {dist_name}")
    if arch not in manifest.build.archs:
        raise HubError(f"{manifest.path}: build.archs does not list {arch}")
    return spec


def _ownerships(spec: Any, user: str | None) -> list[Ownership]:
    """Directories with a non-root owner, then extra files inside such a directory: a file
    placed in a directory that belongs to the service (mysqld_exporter's .my.cnf, mode 0600)
    must be readable by the service, so it gets that directory's owner too."""
    allowed = {"root", user} if user else {"root"}
    out = []
    for d in spec.directories:
        for who in (d.owner, d.group):
            if who not in allowed:
                raise HubError(
                    f"directory {d.path}: owner/group {who!r} is neither root nor the service "
                    f"user ({user or 'root'}); the package creates no other account"
                )
        if (d.owner, d.group) != ("root", "root"):
            out.append(Ownership(d.path, d.owner, d.group, d.mode))
    for f in spec.extra_files:
        parents = [d for d in spec.directories if f.dest.startswith(d.path.rstrip("/") + "/")]
        if parents:
            d = max(parents, key=lambda x: len(x.path))
            if (d.owner, d.group) != ("root", "root"):
                out.append(Ownership(f.dest, d.owner, d.group, f.mode))
    return out


def is_deb_conffile_path(path: str) -> bool:
    """Debian Policy 10.7.2: conffiles live under /etc (lintian: non-etc-file-marked-as-conffile)."""
    return path.startswith("/etc/")


@dataclass(frozen=True)
class Seeded:
    """A DEB configuration file outside /etc: shipped as a template, installed by postinst."""

    template: str
    dest: str
    mode: str


@dataclass(frozen=True)
class _Context:
    manifest: Any
    spec: Any
    kind: str
    arch: str
    dist: dists.Dist
    name: str
    version: str
    release: str
    user: str | None
    homepage: str | None
    unit: str | None
    summary: str

    @property
    def unit_path(self) -> str:
        return f"{UNIT_DIR}/{self.unit}"

    @property
    def env_file(self) -> str:
        return f"{self.dist.env_dir}/{self.manifest.name}"

    @property
    def doc_dir(self) -> str:
        return f"/usr/share/doc/{self.name}"


def _service_entries(c: _Context) -> list[Entry]:
    if not c.unit:
        return []
    binary = f"/usr/bin/{c.manifest.build.binary_name}"
    systemd = c.spec.systemd
    unit_text = content.unit_file(
        unit=c.unit,
        package=c.name,
        description=c.summary,
        homepage=c.homepage,
        after=systemd.after,
        service_type=systemd.type,
        user=c.user,
        env_file=c.env_file,
        exec_start_line=content.exec_start(binary, systemd.arguments),
        restart=systemd.restart,
    )
    env_text = content.render(
        "common/environment.j2",
        unit=c.unit,
        unit_path=c.unit_path,
        binary=binary,
        arguments=" ".join(content.systemd_quote(a) for a in systemd.arguments),
    )
    return [
        Entry(c.unit_path, 0o644, content=unit_text.encode()),
        Entry(c.env_file, 0o644, content=env_text.encode(), config=True),
    ]


def _extra_entries(c: _Context) -> tuple[list[Entry], list[Seeded]]:
    entries, seeded = [], []
    for f in c.spec.extra_files:
        src = os.path.join(c.manifest.directory, f.source)
        mode = parse_mode(f.mode)
        if c.kind == "deb" and f.config and not is_deb_conffile_path(f.dest):
            template = f"/usr/share/{c.name}/default-config{f.dest}"
            entries.append(Entry(template, mode, src=src))
            seeded.append(Seeded(template, f.dest, f.mode))
        else:
            entries.append(Entry(f.dest, mode, src=src, config=f.config))
    for d in c.spec.directories:
        entries.append(Entry(d.path, parse_mode(d.mode), is_dir=True))
    return entries, seeded


def _readme(c: _Context) -> bytes:
    return content.render(
        "common/README.j2",
        exporter=c.manifest.name,
        version=c.manifest.version,
        dist=c.dist.name,
        description=c.manifest.description,
        homepage=c.homepage or "(none)",
        license=c.manifest.license or "not determined",
        binaries=c.manifest.build.binaries,
        binary=f"/usr/bin/{c.manifest.build.binary_name}",
        unit=c.unit,
        unit_path=c.unit_path,
        env_file=c.env_file,
        user=c.user,
        family=c.kind,
        config_files=[f.dest for f in c.spec.extra_files if f.config],
    ).encode()


def _rpm_docs(c: _Context, upstream_license: bytes | None, notice: bytes | None) -> list[Entry]:
    lic_dir = f"/usr/share/licenses/{c.name}"
    license_bytes = upstream_license or content.license_notice(
        c.manifest.name, c.manifest.license, c.homepage
    ).encode()
    entries = [
        Entry(c.doc_dir, 0o755, is_dir=True),
        Entry(f"{c.doc_dir}/README", 0o644, content=_readme(c), rpm_type="doc"),
        Entry(lic_dir, 0o755, is_dir=True),
        Entry(f"{lic_dir}/LICENSE", 0o644, content=license_bytes, rpm_type="license"),
    ]
    if notice:
        entries.append(Entry(f"{lic_dir}/NOTICE", 0o644, content=notice, rpm_type="license"))
    return entries


def _deb_docs(
    c: _Context,
    lock: Mapping[str, Any],
    upstream_license: bytes | None,
    notice: bytes | None,
    payload: Sequence[Entry],
) -> list[Entry]:
    m = c.manifest
    license_text = upstream_license.decode("utf-8", "replace") if upstream_license else None
    dep5_name, dep5_body = content.dep5_license(m.license, license_text)
    source = c.homepage or m.name
    copyright_text = content.render(
        "deb/copyright.j2",
        exporter=m.name,
        version=m.version,
        source=source,
        archive_url=lock["archives"][c.arch]["url"],
        copyright=content.dep5_copyright_field(content.copyright_notices(license_text), m.name, source),
        license=dep5_name,
        license_body=dep5_body,
    )
    date = datetime.datetime.fromtimestamp(parse_source_date(lock["source_date"]), datetime.timezone.utc)
    changelog = content.render(
        "deb/changelog.Debian.j2",
        package=c.name,
        full_version=f"{c.version}-{c.release}",
        codename=c.dist.codename,
        version=m.version,
        exporter=m.name,
        maintainer=MAINTAINER,
        date=email.utils.format_datetime(date),
    )
    odd_modes = [
        {"path": e.dst.lstrip("/") + ("/" if e.is_dir else ""), "is_dir": e.is_dir}
        for e in payload
        if e.mode != (0o755 if e.is_dir or e.mode & 0o111 else 0o644)
    ]
    overrides = content.render(
        "deb/lintian-overrides.j2",
        package=c.name,
        binaries=m.build.binaries,
        unit=c.unit,
        zstd=c.dist.compression.startswith("zstd"),
        copyright_notice=content.has_copyright_notice(copyright_text),
        modes=odd_modes,
    )
    entries = [
        Entry(c.doc_dir, 0o755, is_dir=True),
        Entry(f"{c.doc_dir}/copyright", 0o644, content=copyright_text.encode()),
        Entry(f"{c.doc_dir}/changelog.Debian.gz", 0o644, content=content.changelog_debian_gz(changelog)),
        Entry(f"{c.doc_dir}/README.Debian", 0o644, content=_readme(c)),
    ]
    if notice:
        entries.append(Entry(f"{c.doc_dir}/NOTICE", 0o644, content=notice))
    entries.append(Entry(f"/usr/share/lintian/overrides/{c.name}", 0o644, content=overrides.encode()))
    return entries


def _description(c: _Context) -> str:
    m = c.manifest
    paragraphs = []
    # The extended description must not repeat the synopsis (lintian:
    # description-synopsis-is-duplicated), and the manifest's summary defaults to it.
    if content.synopsis(m.description).lower() != c.summary.lower():
        paragraphs.append(m.description.rstrip(".") + ".")
    service = ""
    if c.unit:
        runs_as = f"the system user {c.user}" if c.user else "root"
        service = f", with the systemd service {c.unit}, which runs as {runs_as}"
    paragraphs.append(
        f"This package installs the unmodified upstream release of {m.name} {m.version} "
        f"({', '.join(m.build.binaries)}){service}."
    )
    lines = content.long_description(paragraphs)
    return "\n".join(lines) if c.kind == "rpm" else content.deb_description(c.summary, lines)


def plan_package(
    manifest: Any,
    lock: Mapping[str, Any],
    *,
    kind: str,
    arch: str,
    dist: str,
    binaries_dir: str,
    upstream_docs: Mapping[str, bytes] | None = None,
    dynamic_binaries: Sequence[str] = (),
) -> PackagePlan:
    """Everything the package holds and declares.

    `upstream_docs` maps a file found next to the extracted binaries (LICENSE..., NOTICE) to
    its bytes; `dynamic_binaries` names the binaries that need the C library's dynamic loader.
    """
    spec = _spec(manifest, kind, arch, dist)
    d = dists.DISTS[dist]
    parse_source_date(lock["source_date"])
    upstream_docs = upstream_docs or {}
    name = package_name(kind, manifest.name)
    c = _Context(
        manifest=manifest,
        spec=spec,
        kind=kind,
        arch=arch,
        dist=d,
        name=name,
        version=content.package_version(manifest.clean_version),
        release=f"1.{d.release_suffix}" if kind == "rpm" else f"1+{d.release_suffix}",
        user=None if spec.system_user == "root" else spec.system_user,
        homepage=manifest.homepage
        or (f"https://github.com/{manifest.upstream.repo}" if manifest.upstream.repo else None),
        unit=f"{manifest.name}.service" if spec.systemd.enabled else None,
        summary=content.synopsis(spec.summary),
    )
    entries = [
        Entry(f"/usr/bin/{b}", 0o755, src=os.path.join(binaries_dir, b))
        for b in manifest.build.binaries
    ]
    entries += _service_entries(c)
    extra, seeded = _extra_entries(c)
    entries += extra
    upstream_license = next(
        (upstream_docs[n] for n in UPSTREAM_LICENSE_FILES if n in upstream_docs), None
    )
    notice = upstream_docs.get(UPSTREAM_NOTICE_FILE)
    if kind == "rpm":
        entries += _rpm_docs(c, upstream_license, notice)
    else:
        entries += _deb_docs(c, lock, upstream_license, notice, list(entries))
    _check_unique(entries)

    ownership = _ownerships(spec, c.user)
    scripts = content.maintainer_scripts(
        kind,
        {
            "package": name,
            "user": c.user,
            "home": f"/var/lib/{c.user}" if c.user else None,
            "comment": f"{c.user} service account (Monitoring Hub)" if c.user else None,
            "unit": c.unit,
            "owned": ownership,
            "seeded": seeded,
        },
    )
    depends = content.relations(spec.dependencies, kind)
    names = {r.split(" ")[0] for r in depends}
    if c.user and USERADD_PACKAGE[kind] not in names:
        depends.append(USERADD_PACKAGE[kind])
    if kind == "deb" and dynamic_binaries and "libc6" not in names:
        # What dpkg-shlibdeps would at least find (lintian: missing-dependency-on-libc).
        # EL's glibc is in every installation, and rpm has no lintian to satisfy.
        depends.append("libc6")
    return PackagePlan(
        kind=kind,
        exporter=manifest.name,
        name=name,
        version=c.version,
        release=c.release,
        arch=arch,
        pkg_arch=dists.RPM_ARCH[arch] if kind == "rpm" else arch,
        dist=d,
        summary=c.summary,
        description=_description(c),
        license=manifest.license or content.UNKNOWN_LICENSE,
        homepage=c.homepage,
        depends=tuple(depends),
        conflicts=tuple(content.relations(spec.conflicts, kind)),
        replaces=tuple(content.relations(spec.replaces, kind)),
        entries=tuple(entries),
        scripts=tuple(scripts.items()),
        source_date=lock["source_date"],
        ownership=tuple(ownership),
    )


def _check_unique(entries: Sequence[Entry]) -> None:
    seen: set[str] = set()
    for e in entries:
        if e.dst in seen:
            raise HubError(f"{e.dst}: two files of the package would be installed there")
        seen.add(e.dst)


# --- nfpm ----------------------------------------------------------------------------------


def staged_files(plan: PackagePlan, workdir: str) -> list[tuple[Entry, str | None]]:
    """Each entry with the file nfpm reads it from (generated ones live under workdir)."""
    out = []
    for i, e in enumerate(plan.entries):
        if e.content is not None:
            out.append((e, os.path.join(workdir, "files", f"{i:03d}-{os.path.basename(e.dst)}")))
        else:
            out.append((e, e.src))
    return out


def nfpm_config(plan: PackagePlan, workdir: str) -> dict[str, Any]:
    """The nfpm configuration (JSON is valid YAML, and needs no quoting rules)."""
    contents = []
    for entry, src in staged_files(plan, workdir):
        item: dict[str, Any] = {
            "dst": entry.dst,
            "file_info": {"mode": entry.mode, "owner": "root", "group": "root"},
        }
        if entry.is_dir:
            item["type"] = "dir"
        else:
            item["src"] = src
            if entry.config:
                item["type"] = "config|noreplace"
            elif plan.kind == "rpm" and entry.rpm_type:
                item["type"] = entry.rpm_type
        contents.append(item)
    scripts = {key: os.path.join(workdir, "scripts", key) for key, _ in plan.scripts}
    config: dict[str, Any] = {
        "name": plan.name,
        "arch": plan.arch,
        "platform": "linux",
        "version": plan.version,
        "version_schema": "none",  # already an RPM/dpkg version (see package_version)
        "release": plan.release,
        "maintainer": MAINTAINER,
        "vendor": VENDOR,
        "license": plan.license,
        "description": plan.description,
        "mtime": plan.source_date,
        "umask": 0o022,
        "disable_globbing": True,  # paths are literal, even with [ or *
        "depends": list(plan.depends),
        "conflicts": list(plan.conflicts),
        "replaces": list(plan.replaces),
        "contents": contents,
        "scripts": scripts,
    }
    if plan.homepage:
        config["homepage"] = plan.homepage
    if plan.kind == "rpm":
        config["changelog"] = os.path.join(workdir, "changelog.yaml")
        config["rpm"] = {
            "arch": plan.pkg_arch,
            "buildhost": BUILDHOST,
            "compression": plan.dist.compression,
            "group": RPM_GROUP,
            "packager": MAINTAINER,
            "summary": plan.summary,
        }
    else:
        config["section"] = DEB_SECTION
        config["priority"] = DEB_PRIORITY
        config["deb"] = {"arch": plan.pkg_arch, "compression": plan.dist.compression}
    return config


def stage(plan: PackagePlan, workdir: str) -> str:
    """Writes the generated files, the scripts and the config; returns the config's path."""
    for entry, src in staged_files(plan, workdir):
        if entry.content is not None and src is not None:
            os.makedirs(os.path.dirname(src), exist_ok=True)
            Path(src).write_bytes(entry.content)
    os.makedirs(os.path.join(workdir, "scripts"), exist_ok=True)
    for key, text in plan.scripts:
        Path(workdir, "scripts", key).write_text(text)
    if plan.kind == "rpm":
        Path(workdir, "changelog.yaml").write_text(json.dumps(plan.rpm_changelog(), indent=2))
    config_path = os.path.join(workdir, "nfpm.yaml")
    Path(config_path).write_text(json.dumps(nfpm_config(plan, workdir), indent=2, sort_keys=True))
    return config_path


def nfpm_command(nfpm: str, config_path: str, packager: str, target: str) -> list[str]:
    return [nfpm, "package", "--config", config_path, "--packager", packager, "--target", target]


def run_nfpm(nfpm: str, config_path: str, packager: str, target: str, source_date_epoch: int) -> Path:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "SOURCE_DATE_EPOCH": str(source_date_epoch),
        "TZ": "UTC",
        "LC_ALL": "C",
    }
    result = subprocess.run(
        nfpm_command(nfpm, config_path, packager, target),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if result.returncode != 0:
        raise HubError(f"nfpm failed (exit {result.returncode}):\n{result.stdout.strip()}")
    path = Path(target)
    if not path.is_file():
        raise HubError(f"nfpm reported success but wrote no {target}")
    return path


# --- the whole step ------------------------------------------------------------------------


def check_elf(path: str, arch: str) -> bool:
    """Checks that the binary is an ELF executable for `arch` (an amd64 binary once shipped
    in an arm64 image) and returns whether it is dynamically linked (has PT_INTERP)."""
    try:
        with open(path, "rb") as f:
            data = f.read(1 << 16)
    except OSError as e:
        raise HubError(f"{path}: cannot read the binary ({e.strerror})")
    if len(data) < 64 or data[:4] != b"\x7fELF":
        raise HubError(f"{path}: not an ELF executable")
    if data[4] != 2:
        raise HubError(f"{path}: not a 64-bit ELF file")
    order = "little" if data[5] == 1 else "big"

    def u(offset: int, size: int) -> int:
        return int.from_bytes(data[offset : offset + size], order)

    machine = u(18, 2)
    if machine != dists.ELF_MACHINE[arch]:
        raise HubError(f"{path}: ELF machine {machine} is not {arch} ({dists.ELF_MACHINE[arch]})")
    phoff, phentsize, phnum = u(32, 8), u(54, 2), u(56, 2)
    for i in range(phnum):
        at = phoff + i * phentsize
        if at + 4 > len(data):
            break
        if u(at, 4) == 3:  # PT_INTERP
            return True
    return False


def read_lock(path: str, manifest: Any, arch: str) -> dict[str, Any]:
    try:
        lock = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise HubError(f"{path}: cannot read the upstream lock ({e})")
    problems = []
    if not isinstance(lock, dict):
        raise HubError(f"{path}: expected a JSON object")
    if lock.get("version") != manifest.version:
        problems.append(f"version: pins {lock.get('version')!r}, the manifest says {manifest.version!r}")
    pin = (lock.get("archives") or {}).get(arch)
    if not isinstance(pin, dict) or not {"url", "sha256"} <= pin.keys():
        problems.append(f"archives.{arch}: missing (url and sha256 expected)")
    if not isinstance(lock.get("source_date"), str):
        problems.append("source_date: missing")
    if problems:
        raise HubError("\n".join(f"{path}: {p}" for p in problems))
    parse_source_date(lock["source_date"])
    return lock


def upstream_docs(binaries_dir: str) -> dict[str, bytes]:
    names = (*UPSTREAM_LICENSE_FILES, UPSTREAM_NOTICE_FILE)
    return {n: Path(binaries_dir, n).read_bytes() for n in names if Path(binaries_dir, n).is_file()}


def metadata(plan: PackagePlan) -> dict[str, Any]:
    """rpm_metadata / deb_metadata of the artifact JSON: what the package's header says."""
    if plan.kind == "rpm":
        return {
            "name": plan.name,
            "version": plan.version,
            "release": plan.release,
            "arch": plan.pkg_arch,
            "summary": plan.summary,
            "license": plan.license,
        }
    return {
        "package": plan.name,
        "version": plan.full_version,
        "architecture": plan.pkg_arch,
        "section": DEB_SECTION,
        "priority": DEB_PRIORITY,
        "maintainer": MAINTAINER,
        "depends": list(plan.depends),
        "conflicts": list(plan.conflicts),
        "replaces": list(plan.replaces),
    }


def build(request: Mapping[str, Any]) -> tuple[Path, Path]:
    """Runs one request (see docs/contracts.md); returns (package file, artifact JSON)."""
    from hub.manifest import load_manifest  # the manifest model, with its YAML dependency

    missing = [k for k in ("manifest", "lock", "kind", "arch", "dist", "binaries_dir", "nfpm", "output_dir") if k not in request]
    if missing:
        raise HubError(f"package request: missing {', '.join(missing)}")
    kind, arch, dist = request["kind"], request["arch"], request["dist"]
    if arch not in dists.ARCHES:
        raise HubError(f"arch {arch!r}: expected one of {', '.join(dists.ARCHES)}")
    manifest = load_manifest(request["manifest"])
    lock = read_lock(request["lock"], manifest, arch)
    binaries_dir = request["binaries_dir"]
    dynamic = [
        b for b in manifest.build.binaries if check_elf(os.path.join(binaries_dir, b), arch)
    ]
    plan = plan_package(
        manifest, lock, kind=kind, arch=arch, dist=dist, binaries_dir=binaries_dir,
        upstream_docs=upstream_docs(binaries_dir), dynamic_binaries=dynamic,
    )
    out = Path(request["output_dir"])
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hub-nfpm-") as workdir:
        config = stage(plan, os.path.abspath(workdir))
        package = run_nfpm(request["nfpm"], config, kind, str(out / plan.filename), plan.source_date_epoch)
    pin = lock["archives"][arch]
    artifact = catalog.package_artifact(
        kind=kind,
        exporter=manifest.name,
        version=manifest.clean_version,
        arch=arch,
        dist=dist,
        build_date=plan.source_date,
        path=package,
        package_name=plan.name,
        metadata=metadata(plan),
        source={"url": pin["url"], "sha256": pin["sha256"]},
    )
    catalog.validate(artifact, "artifact")
    json_path = out / f"{dists.artifact_id(kind, arch, dist)}.json"
    catalog.write_json_atomic(json_path, artifact)
    return package, json_path


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "package",
        help="build one RPM or DEB with nfpm and write its artifact JSON",
        description="Reads a JSON request (manifest, lock, kind, arch, dist, binaries_dir, "
        "nfpm, output_dir) and writes <output_dir>/<package file> and <artifact id>.json.",
    )
    p.add_argument("--request", required=True, metavar="FILE", help="the request JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        request = json.loads(Path(args.request).read_text())
    except (OSError, ValueError) as e:
        raise HubError(f"{args.request}: cannot read the request ({e})")
    if not isinstance(request, dict):
        raise HubError(f"{args.request}: expected a JSON object")
    package, artifact = build(request)
    print(package)
    print(artifact)
    return 0
