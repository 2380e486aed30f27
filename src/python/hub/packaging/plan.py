"""The plan of one package: every path it installs, every script and every header field,
computed from the manifest, the upstream lock and the request, without touching the disk.

Vocabulary:
- an *entry* is one path of the payload: a file copied from the build inputs (binaries,
  extra files), a generated file (unit, environment file, docs, license) or a directory;
- an *ownership* is a path that belongs to the service (hub.packaging.ownership): declared in
  tmpfiles.d for DEBs, applied by rpm itself for RPMs; no maintainer script changes an owner;
- a *seeded* file is a DEB configuration file outside /etc: dpkg conffiles must live in /etc
  (Policy 10.7.2), so it ships as a template that systemd-tmpfiles copies when it is missing;
- the *sandbox* of the unit starts strict and opens only what the manifest grants
  (hub.packaging.sandbox).
"""

from __future__ import annotations

import datetime
import email.utils
import os
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from hub.common import matrix
from hub.common.dates import parse_source_date
from hub.common.errors import HubError
from hub.packaging import content, licenses, ownership, sandbox, systemd
from hub.packaging.ownership import Ownership
from hub.packaging.templates import render
from hub.upstream.lock import Lock

MAINTAINER = "Monitoring Hub <packages@monitoring-hub.invalid>"
VENDOR = "Monitoring Hub"
# One path for both families: EL keeps units there, Debian 13 and Ubuntu 24.04 packages
# install theirs there too (the /usr merge), and systemd on Debian 12 searches it as well
# (`systemd-analyze unit-paths`; merged /usr makes /lib/systemd/system the same directory).
# Lintian 2.116 is "ambivalent about /lib or /usr/lib". See docs/packaging.md.
UNIT_DIR = "/usr/lib/systemd/system"
# What Debian itself files its prometheus-*-exporter packages under.
DEB_SECTION = "net"
DEB_PRIORITY = "optional"
RPM_GROUP = "System Environment/Daemons"
NOLOGIN = {"rpm": "/sbin/nologin", "deb": "/usr/sbin/nologin"}
# Tools the maintainer scripts run to create the service user (not Essential on Debian, not
# in ubi-minimal images on EL).
USERADD_PACKAGE = {"rpm": "shadow-utils", "deb": "passwd"}
# The interpreter of every maintainer script (nfpm runs RPM scriptlets with /bin/sh).
SCRIPT_SHELL = "/bin/sh"
# Files of an upstream archive that hub.upstream.archive may leave next to the binaries.
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
    # RPMs only: rpm applies the owner itself (%attr), the service user being created by %pre
    # before the payload is unpacked. DEB payloads stay root's (tmpfiles.d gives ownership).
    owner: str = "root"
    group: str = "root"


@dataclass(frozen=True)
class PackagePlan:
    kind: str  # "rpm" or "deb"
    exporter: str
    name: str  # package name: node_exporter / node-exporter
    version: str  # package version, without release
    release: str  # "1.el9" / "1+deb12"
    arch: str  # amd64 / arm64
    pkg_arch: str  # x86_64 / aarch64 for RPMs, amd64 / arm64 for DEBs
    dist: matrix.Dist
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


def parse_mode(mode: str | int) -> int:
    return mode if isinstance(mode, int) else int(mode, 8)


def package_name(kind: str, exporter: str) -> str:
    return exporter if kind == "rpm" else matrix.deb_package_name(exporter)


# --- the plan ------------------------------------------------------------------------------

# The Debian revision before the dist suffix: 1.11.0-1+deb12 (SPEC, "Names").
DEB_REVISION = "1"


def _spec(manifest: Any, kind: str, arch: str, dist_name: str) -> Any:
    dist = matrix.DISTS.get(dist_name)
    if kind not in ("rpm", "deb"):
        raise HubError(f"kind {kind!r}: expected rpm or deb")
    if dist is None or dist.family != kind:
        names = matrix.RPM_DISTS if kind == "rpm" else matrix.DEB_DISTS
        raise HubError(f"dist {dist_name!r}: expected one of {', '.join(names)} for {kind}")
    spec = manifest.rpm if kind == "rpm" else manifest.deb
    if spec is None:
        raise HubError(f"{manifest.path}: artifacts.{kind} is disabled")
    if dist_name not in spec.targets:
        raise HubError(f"{manifest.path}: artifacts.{kind}.targets does not list {dist_name}")
    if arch not in manifest.build.archs:
        raise HubError(f"{manifest.path}: build.archs does not list {arch}")
    return spec


def is_deb_conffile_path(path: str) -> bool:
    """Debian Policy 10.7.2: conffiles live under /etc (lintian: non-etc-file-marked-as-conffile)."""
    return path.startswith("/etc/")


@dataclass(frozen=True)
class _Context:
    manifest: Any
    spec: Any
    kind: str
    arch: str
    dist: matrix.Dist
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
    service = c.spec.systemd
    unit_text = systemd.unit_file(
        unit=c.unit,
        package=c.name,
        description=c.summary,
        homepage=c.homepage,
        after=service.after,
        service_type=service.type,
        user=c.user,
        env_file=c.env_file,
        exec_start_line=systemd.exec_start(binary, service.arguments),
        restart=service.restart,
        sandbox=sandbox.sandbox(service.grants, writable=_service_dirs(c)),
    )
    env_text = render(
        "common/environment.j2",
        unit=c.unit,
        unit_path=c.unit_path,
        binary=binary,
        arguments=" ".join(systemd.systemd_quote(a) for a in service.arguments),
    )
    return [
        Entry(c.unit_path, 0o644, content=unit_text.encode()),
        Entry(c.env_file, 0o644, content=env_text.encode(), config=True),
    ]


def _service_dirs(c: _Context) -> list[str]:
    """The directories the service user owns: the only places its unit may write."""
    return [d.path for d in c.spec.directories if c.user and d.owner == c.user]


def _seeded(c: _Context) -> dict[str, str]:
    """DEB configuration files outside /etc, each with its template (a conffile must live in
    /etc, Policy 10.7.2; the template is copied once by systemd-tmpfiles)."""
    if c.kind != "deb":
        return {}
    return {
        f.dest: f"/usr/share/{c.name}/default-config{f.dest}"
        for f in c.spec.extra_files
        if f.config and not is_deb_conffile_path(f.dest)
    }


def _extra_entries(c: _Context, seeded: dict[str, str], owned: Sequence[Ownership]) -> list[Entry]:
    """The manifest's files and directories. An RPM carries their owner (rpm applies it); a
    DEB's stay root's, and its tmpfiles.d gives them to the service."""
    owners = {o.path: o for o in owned} if c.kind == "rpm" else {}
    entries = []
    for f in c.spec.extra_files:
        src = os.path.join(c.manifest.directory, f.source)
        mode = parse_mode(f.mode)
        if f.dest in seeded:
            entries.append(Entry(seeded[f.dest], mode, src=src))
        else:
            o = owners.get(f.dest)
            owner, group = _owner(o)
            entries.append(Entry(f.dest, mode, src=src, config=f.config, owner=owner, group=group))
    for d in c.spec.directories:
        owner, group = _owner(owners.get(d.path))
        entries.append(Entry(d.path, parse_mode(d.mode), is_dir=True, owner=owner, group=group))
    return entries


def _owner(o: Ownership | None) -> tuple[str, str]:
    return (o.owner, o.group) if o else ("root", "root")


def _account_entries(c: _Context, owned: Sequence[Ownership]) -> list[Entry]:
    """sysusers.d for the service account; tmpfiles.d for what a DEB's service owns."""
    entries = []
    line = _sysusers_line(c)
    if line:
        text = ownership.sysusers_conf(c.name, line)
        entries.append(Entry(ownership.sysusers_path(c.name), 0o644, content=text.encode()))
    if c.kind == "deb" and owned:
        text = ownership.tmpfiles_conf(c.name, owned)
        entries.append(Entry(ownership.tmpfiles_path(c.name), 0o644, content=text.encode()))
    return entries


def _account_comment(user: str) -> str:
    return f"{user} service account (Monitoring Hub)"


def _sysusers_line(c: _Context) -> str | None:
    if not c.user:
        return None
    return ownership.sysusers_line(c.user, _account_comment(c.user), f"/var/lib/{c.user}", NOLOGIN[c.kind])


def _deb_dists(c: _Context) -> list[matrix.Dist]:
    """Every DEB dist the manifest declares, in matrix order: the dists one DEB payload serves."""
    return [matrix.DISTS[name] for name in matrix.DEB_DISTS if name in c.spec.targets]


def _readme(c: _Context) -> bytes:
    # A DEB's README names every DEB dist of the exporter, not its own: the four DEBs of an arch
    # then carry the same payload, compressed once (hub.packaging.debs). RPMs name their dist.
    dists = ", ".join(d.name for d in _deb_dists(c)) if c.kind == "deb" else c.dist.name
    return render(
        "common/README.j2",
        exporter=c.manifest.name,
        version=c.manifest.version,
        dist=dists,
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
    license_bytes = (
        upstream_license or licenses.license_notice(c.manifest.name, c.manifest.license, c.homepage).encode()
    )
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
    lock: Lock,
    upstream_license: bytes | None,
    notice: bytes | None,
    payload: Sequence[Entry],
    static_binaries: Sequence[str],
) -> list[Entry]:
    m = c.manifest
    license_text = upstream_license.decode("utf-8", "replace") if upstream_license else None
    dep5_name, dep5_body = licenses.dep5_license(m.license, license_text)
    source = c.homepage or m.name
    copyright_text = render(
        "deb/copyright.j2",
        exporter=m.name,
        version=m.version,
        source=source,
        archive_url=lock.archives[c.arch].url,
        copyright=licenses.dep5_copyright_field(licenses.copyright_notices(license_text), m.name, source),
        license=dep5_name,
        license_body=dep5_body,
    )
    date = datetime.datetime.fromtimestamp(lock.source_date_epoch, datetime.timezone.utc)
    # Shared by every DEB dist of the exporter, like the rest of the payload: the entry carries
    # the Debian revision without the dist suffix (1.11.0-1, not 1.11.0-1+deb12) and every
    # codename the payload ships to, as a binNMU's changelog keeps its source version. Policy
    # 12.7 asks for the file, not for its version to be the binary's; lintian accepts it.
    changelog = render(
        "deb/changelog.Debian.j2",
        package=c.name,
        full_version=f"{c.version}-{DEB_REVISION}",
        codename=" ".join(d.codename for d in _deb_dists(c)),
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
    overrides = render(
        "deb/lintian-overrides.j2",
        package=c.name,
        binaries=m.build.binaries,
        static_binaries=static_binaries,
        unit=c.unit,
        zstd=c.dist.compression.startswith("zstd"),
        copyright_notice=licenses.has_copyright_notice(copyright_text),
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


def _context(manifest: Any, kind: str, arch: str, dist: str) -> _Context:
    spec = _spec(manifest, kind, arch, dist)
    d = matrix.DISTS[dist]
    return _Context(
        manifest=manifest,
        spec=spec,
        kind=kind,
        arch=arch,
        dist=d,
        name=package_name(kind, manifest.name),
        version=content.package_version(manifest.clean_version),
        release=f"1.{d.release_suffix}" if kind == "rpm" else f"{DEB_REVISION}+{d.release_suffix}",
        user=None if spec.system_user == "root" else spec.system_user,
        homepage=manifest.homepage
        or (f"https://github.com/{manifest.upstream.repo}" if manifest.upstream.repo else None),
        unit=f"{manifest.name}.service" if spec.systemd.enabled else None,
        summary=content.synopsis(spec.summary),
    )


def old_unit_name(kind: str, exporter: str) -> str | None:
    """The unit of the original monitoring-hub's package of this exporter, where it differs
    from ours: its DEBs named the unit after the package (`node-exporter.service`); its RPMs
    used the exporter's name, as we do."""
    old = f"{package_name(kind, exporter)}.service"
    return old if old != f"{exporter}.service" else None


def _packaged_flags(arguments: Sequence[str]) -> list[tuple[str, str]]:
    """(flag name without dashes, value) of the unit's `--flag=value` arguments: a flag the
    distribution's ARGS also set cannot be repeated (exporters refuse it)."""
    out = []
    for argument in arguments:
        if argument.startswith("-") and "=" in argument:
            flag, value = argument.split("=", 1)
            out.append((flag.lstrip("-"), value))
    return out


def _switching_values(c: _Context) -> dict[str, Any]:
    """What the scripts need for hosts that switch to this package (docs/migrating.md)."""
    if not c.unit:
        return {"carried_defaults": [], "packaged_flags": [], "old_unit": None}
    docker = c.manifest.docker
    return {
        "unit_path": c.unit_path,
        "env_file": c.env_file,
        "binary": f"/usr/bin/{c.manifest.build.binary_name}",
        "port": docker.port if docker is not None else None,
        # Debian keeps a service's flags in /etc/default/<package> (ARGS=).
        "carried_defaults": (
            [f"/etc/default/{p}" for p in c.manifest.distribution_package_names("deb")] if c.kind == "deb" else []
        ),
        "packaged_flags": _packaged_flags(c.spec.systemd.arguments),
        "old_unit": old_unit_name(c.kind, c.manifest.name),
    }


def service_unit(manifest: Any, kind: str, dist: str) -> Entry | None:
    """The package's systemd unit alone (the exposure report scores it), or None."""
    c = _context(manifest, kind, manifest.build.archs[0], dist)
    return next((e for e in _service_entries(c) if e.dst == c.unit_path), None)


def plan_package(
    manifest: Any,
    lock: Lock,
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
    c = _context(manifest, kind, arch, dist)
    spec, d, name = c.spec, c.dist, c.name
    parse_source_date(lock.source_date)
    upstream_docs = upstream_docs or {}
    entries = [Entry(f"/usr/bin/{b}", 0o755, src=os.path.join(binaries_dir, b)) for b in manifest.build.binaries]
    entries += _service_entries(c)
    seeded = _seeded(c)
    owned = ownership.ownerships(spec, c.user, seeded)
    entries += _extra_entries(c, seeded, owned)
    entries += _account_entries(c, owned)
    upstream_license = next((upstream_docs[n] for n in UPSTREAM_LICENSE_FILES if n in upstream_docs), None)
    notice = upstream_docs.get(UPSTREAM_NOTICE_FILE)
    if kind == "rpm":
        entries += _rpm_docs(c, upstream_license, notice)
    else:
        static = [b for b in manifest.build.binaries if b not in dynamic_binaries]
        entries += _deb_docs(c, lock, upstream_license, notice, list(entries), static)
    _check_unique(entries)

    scripts = content.maintainer_scripts(
        kind,
        {
            "package": name,
            "arch": arch,  # dpkg-query names a package "name:arch" when it is Multi-Arch: same
            "user": c.user,
            "home": f"/var/lib/{c.user}" if c.user else None,
            "comment": _account_comment(c.user) if c.user else None,
            "nologin": NOLOGIN[kind],
            "unit": c.unit,
            "sysusers_path": ownership.sysusers_path(name),
            "sysusers_line": _sysusers_line(c),
            "tmpfiles_path": ownership.tmpfiles_path(name) if kind == "deb" and owned else None,
            "tmpfiles_override": ownership.tmpfiles_override_path(name),
            # Each line of the tmpfiles.d file, split where an administrator's
            # dpkg-statoverride entry replaces mode, owner and group (postinst).
            "owned": (
                [
                    (o.path, ownership.tmpfiles_type(o), ownership.tmpfiles_line(o), ownership.tmpfiles_argument(o))
                    for o in owned
                ]
                if kind == "deb"
                else []
            ),
            "seeded": sorted(seeded),
            "service_dirs": _service_dirs(c),
            **_switching_values(c),
        },
    )
    depends = content.relations(spec.dependencies, kind)
    names = {r.split(" ")[0] for r in depends}
    if kind == "rpm" and SCRIPT_SHELL not in names:
        # rpmbuild adds Requires(pre,post,preun,postun): /bin/sh for shell scriptlets, so
        # that a system being installed gets its shell before our %pre runs; nfpm adds
        # nothing. A plain Requires orders the transaction the same way (nfpm.py adds the
        # Requires(post) nfpm can express).
        depends.append(SCRIPT_SHELL)
    if c.user and USERADD_PACKAGE[kind] not in names:
        depends.append(USERADD_PACKAGE[kind])
    if kind == "deb" and owned and not names & {"systemd", "systemd-tmpfiles"}:
        # postinst applies the package's tmpfiles.d: what dh_installtmpfiles depends on.
        depends.append("systemd | systemd-tmpfiles")
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
        pkg_arch=matrix.RPM_ARCH[arch] if kind == "rpm" else arch,
        dist=d,
        summary=c.summary,
        description=_description(c),
        license=manifest.license or licenses.UNKNOWN_LICENSE,
        homepage=c.homepage,
        depends=tuple(depends),
        conflicts=_with_distribution_packages(content.relations(spec.conflicts, kind), manifest, kind),
        replaces=(
            tuple(content.relations(spec.replaces, kind))
            if kind == "rpm"  # RPM `replaces` are Obsoletes: never on a distribution's package
            else _with_distribution_packages(content.relations(spec.replaces, kind), manifest, kind)
        ),
        entries=tuple(entries),
        scripts=tuple(scripts.items()),
        source_date=lock.source_date,
        ownership=tuple(owned),
    )


def _with_distribution_packages(relations: list[str], manifest: Any, kind: str) -> tuple[str, ...]:
    """The manifest's relations, then the distributions' own packages of the same exporter
    (manifest `distribution_packages`) that they do not name already.

    A DEB declares Conflicts and Replaces on them: apt then shows their removal in the
    transaction, before the operator agrees, and dpkg lets our files take over theirs. An RPM
    declares Conflicts only, never Obsoletes: dnf refuses with a message, `--allowerasing`
    swaps the packages, and a routine `dnf upgrade` never switches vendors silently. No
    Provides: see docs/migrating.md (their dependants expect paths these packages do not have).
    """
    named = {r.split(" ")[0] for r in relations}
    return tuple(relations + [p for p in manifest.distribution_package_names(kind) if p not in named])


def _check_unique(entries: Sequence[Entry]) -> None:
    seen: set[str] = set()
    for e in entries:
        if e.dst in seen:
            raise HubError(f"{e.dst}: two files of the package would be installed there")
        seen.add(e.dst)
