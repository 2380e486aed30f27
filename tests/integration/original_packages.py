"""Packages made the way the original monitoring-hub (SckyzO/monitoring-hub) made them, for the
upgrade tests: the hosts that switch to these packages run those.

Written from the facts of its templates (core/templates/debian_*.j2, default.spec.j2) and its
builder (core/engine/builder.py), not from their code:

- **DEB**: built by debhelper at compat level 10 (`debian/compat`, `dh $@`), so the unit is
  `debian/<package>.service` and is named after the package, `node-exporter.service`;
  dh_systemd_enable and dh_systemd_start write the maintainer scripts (enable and start on
  installation, restart on upgrade, stop on removal, mask on remove and unmask/purge on purge,
  with deb-systemd-helper's state under /var/lib/systemd). The binary is
  `/usr/bin/<binary_name>`, the flags are in the unit's ExecStart. Its unit names
  `User=<system_user>` but no script creates that user; the fixtures leave User= out (the
  service runs as root), as the original did for an exporter without `system_user`.
- **RPM**: rpmbuild from a spec whose `%pre` creates the user with groupadd/useradd (home
  `/var/lib/<name>`, /sbin/nologin); the binary is `/usr/bin/<name>` whatever upstream calls
  it; the unit is `<name>.service`; `%post`, `%preun` and `%postun` are systemd-rpm-macros'
  `%systemd_post`, `%systemd_preun` and `%systemd_postun_with_restart`, written out here as
  they expand on EL8 (Debian's rpm has no systemd-rpm-macros). The test binaries are dynamic
  (Debian's builds), so `AutoReqProv: no` keeps the dependencies of a static upstream binary:
  none but `Requires(pre): shadow-utils`, which a Debian container's rpm database lacks
  (install with --nodeps).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Original:
    """One exporter as the original packaged it."""

    name: str  # the exporter: node_exporter
    binary_name: str  # upstream's binary: node_exporter, process-exporter
    version: str  # 1.5.0
    arguments: tuple[str, ...] = ()
    description: str = "Prometheus exporter (original monitoring-hub package)"

    @property
    def deb_name(self) -> str:
        return self.name.replace("_", "-")

    @property
    def deb_unit(self) -> str:
        return f"{self.deb_name}.service"

    @property
    def rpm_unit(self) -> str:
        return f"{self.name}.service"


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    assert result.returncode == 0, f"$ {' '.join(cmd)} (exit {result.returncode})\n{result.stdout}\n{result.stderr}"


def _exec_start(binary: str, arguments: tuple[str, ...]) -> str:
    return " ".join((binary, *arguments))


def build_original_deb(work: Path, original: Original, binary: bytes) -> Path:
    """The original's DEB of this exporter (amd64), built by dpkg-buildpackage with debhelper 10."""
    source = work / f"{original.deb_name}-{original.version}"
    debian = source / "debian"
    debian.mkdir(parents=True)
    (source / original.binary_name).write_bytes(binary)
    (source / original.binary_name).chmod(0o755)
    package = original.deb_name
    (debian / "compat").write_text("10\n")
    (debian / "control").write_text(
        f"Source: {package}\nSection: net\nPriority: optional\n"
        "Maintainer: Monitoring Hub <noreply@monitoring-hub.local>\nBuild-Depends: debhelper (>= 10)\n"
        "Standards-Version: 4.5.0\n\n"
        f"Package: {package}\nArchitecture: amd64\nDepends: ${{shlibs:Depends}}, ${{misc:Depends}}\n"
        f"Description: {original.description}\n {original.description}\n"
    )
    (debian / "changelog").write_text(
        f"{package} ({original.version}-1) stable; urgency=medium\n\n  * Automated build\n\n"
        " -- Monitoring Hub <noreply@monitoring-hub.local>  Wed, 31 Dec 2025 00:00:00 +0000\n"
    )
    # The binary is installed by hand (a repack); nothing is built, stripped or cleaned.
    (debian / "rules").write_text(
        "#!/usr/bin/make -f\n%:\n\tdh $@\n\n"
        "override_dh_auto_build override_dh_auto_clean override_dh_strip:\n\n"
        "override_dh_auto_install:\n"
        f"\tinstall -D -m 0755 {original.binary_name} debian/{package}/usr/bin/{original.binary_name}\n\n"
        "override_dh_builddeb:\n\tdh_builddeb -- -Zgzip -z1\n"
    )
    (debian / "rules").chmod(0o755)
    (debian / f"{package}.service").write_text(
        f"[Unit]\nDescription={original.description}\nAfter=network-online.target\n\n"
        "[Service]\nType=simple\n"
        f"ExecStart={_exec_start('/usr/bin/' + original.binary_name, original.arguments)}\n"
        "Restart=on-failure\nRestartSec=5\n"
        "NoNewPrivileges=true\nPrivateTmp=true\nProtectSystem=strict\nProtectHome=true\n"
        f"ReadWritePaths=-/var/lib/{original.name}\nReadWritePaths=-/var/log/{original.name}\n\n"
        "[Install]\nWantedBy=multi-user.target\n"
    )
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(work),
        "LC_ALL": "C.UTF-8",
        "SOURCE_DATE_EPOCH": "1767139200",
    }
    _run(["dpkg-buildpackage", "-b", "-us", "-uc", "--no-pre-clean"], cwd=source, env=env)
    (deb,) = work.glob(f"{package}_{original.version}-1_amd64.deb")
    return deb


def _rpm_spec(original: Original, user: str, scriptlets: bool = True) -> str:
    name, unit = original.name, original.rpm_unit
    return f"""%define debug_package %{{nil}}
%define __strip /bin/true
Name: {name}
Version: {original.version}
Release: 1
Summary: {original.description}
License: Apache-2.0
BuildArch: x86_64
AutoReqProv: no
Requires(pre): shadow-utils

%description
{original.description}

%install
install -D -m 0755 %{{_sourcedir}}/{original.binary_name} %{{buildroot}}/usr/bin/{name}
mkdir -p %{{buildroot}}/usr/lib/systemd/system
cat > %{{buildroot}}/usr/lib/systemd/system/{unit} <<'UNIT'
[Unit]
Description={original.description}
After=network-online.target

[Service]
Type=simple
User={user}
ExecStart={_exec_start('/usr/bin/' + name, original.arguments)}
Restart=on-failure

[Install]
WantedBy=multi-user.target
UNIT

%pre
getent group {user} >/dev/null || groupadd -r {user}
getent passwd {user} >/dev/null || useradd -r -g {user} -d /var/lib/{name} -s /sbin/nologin -c "User for {name}" {user}
exit 0

{_rpm_scriptlets(unit) if scriptlets else ""}%files
/usr/bin/{name}
/usr/lib/systemd/system/{unit}
"""


def _rpm_scriptlets(unit: str) -> str:
    """systemd-rpm-macros' %post, %preun and %postun as they expand on EL 8 (Debian's rpm has
    no systemd-rpm-macros), which the original's last spec template used."""
    return f"""%post
if [ $1 -eq 1 ] ; then
    systemctl --no-reload preset {unit} >/dev/null 2>&1 || :
fi

%preun
if [ $1 -eq 0 ] ; then
    systemctl --no-reload disable --now {unit} >/dev/null 2>&1 || :
fi

%postun
if [ $1 -ge 1 ] ; then
    systemctl try-restart {unit} >/dev/null 2>&1 || :
fi

"""


def build_original_rpm(
    work: Path, original: Original, binary: bytes, *, user: str | None = None, scriptlets: bool = True
) -> Path:
    """The original's RPM of this exporter (x86_64), built by rpmbuild from its spec. Without
    `scriptlets`, as its first spec templates: no %post, %preun or %postun at all."""
    top = work / "rpmbuild"
    for d in ("SOURCES", "SPECS", "BUILD", "RPMS", "SRPMS", "BUILDROOT"):
        (top / d).mkdir(parents=True, exist_ok=True)
    (top / "SOURCES" / original.binary_name).write_bytes(binary)
    spec = top / "SPECS" / f"{original.name}.spec"
    spec.write_text(_rpm_spec(original, user or original.name, scriptlets))
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(work), "LC_ALL": "C.UTF-8"}
    _run(
        ["rpmbuild", "-bb", "--define", f"_topdir {top}", "--define", "_binary_payload w2.gzdio", str(spec)],
        cwd=work,
        env=env,
    )
    (rpm,) = (top / "RPMS" / "x86_64").glob(f"{original.name}-{original.version}-1.x86_64.rpm")
    out = work / rpm.name
    shutil.move(str(rpm), out)
    return out
