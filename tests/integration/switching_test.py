"""Switching hosts in place, under a real systemd (PID 1 in a Debian 12 container, the harness
of systemd_host.py), with apt installing from a signed repository through Signed-By.

What is installed: the repository's own manifests (node_exporter, process_exporter,
nginx_exporter), packaged by the engine (`hub package --request`, as the Pants rule runs it)
around Debian's node_exporter build (the binary of Debian's prometheus-node-exporter, under
each exporter's binary name: it stands in for all three, since what is checked is which binary
runs under which unit); Debian's prometheus-node-exporter itself; and the original
monitoring-hub's packages of the same exporters, built the way it built them
(integration.original_packages).

- a foreign process holds port 9100 during a fresh install: apt succeeds, the package is
  configured, and the output names the port, the holder (its command, PID and unit) and the
  flag that moves this exporter to another port;
- a hand-written /etc/systemd/system/node_exporter.service is in place (a tarball install):
  the output names that file, and the process that runs is the hand-written unit's;
- Debian's prometheus-node-exporter runs, with flags of the operator's in its
  /etc/default file: apt shows its removal in the transaction, and afterwards exactly one
  process of the exporter runs, our binary under node_exporter.service, with those flags;
- Debian's prometheus-blackbox-exporter, whose flags name its configuration file (a flag our
  unit passes too), with a module of the operator's in that file: its content becomes our
  configuration file, and ours (Debian's blackbox build) serves that module;
- the original's DEB (unit named after the package: node-exporter.service), enabled and
  running, then ours: one notice names both units; exactly one process, the new binary under
  the new unit; nothing of the old name left; a purge leaves nothing of either name. For
  node_exporter and the two exporters whose binary name differs (process-exporter,
  nginx-prometheus-exporter). Disabled, or masked, it stays so and nothing starts;
- the original's RPM (binary /usr/bin/<name>) enabled and running, then ours with `rpm -U`
  in the same container: exactly one process, our binary at upstream's name;
- dnf --installroot next to a package named like Fedora's: refused with the conflict named,
  `dnf upgrade` does not switch, `--allowerasing` swaps.

Each test checks the processes themselves (binary and unit), not only apt's exit status.
One container is shared by the module; each test purges what it installed. Every package
is built once per module (the originals in two threads while the engine builds ours).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Iterator

from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import pytest

from hub import cli
from hub.manifest.load import load_manifest
from hub.upstream import debian
from hub.upstream import lock as upstream_lock
from integration.roots import cache_dir
from integration.services import dockerd
from integration.original_packages import Original, build_original_deb, build_original_rpm
from integration.systemd_host import SystemdHost, add_apt_repository, apt_get, rpm, systemd_host

REPO_ROOT = Path(__file__).resolve().parents[2]
SUITE, DIST, SUFFIX = "bookworm", "debian-12", "deb12"
PORT = 9100
UNIT = "node_exporter.service"
BINARY = "/usr/bin/node_exporter"
DEBIAN_PACKAGE = "prometheus-node-exporter"
DEBIAN_BINARY = "/usr/bin/prometheus-node-exporter"
DEBIAN_UNIT = "prometheus-node-exporter.service"
# The second exporter switched from Debian's package: its flags name a configuration file.
BLACKBOX_DEBS = ("prometheus-blackbox-exporter", "libcap2-bin")
DEBIAN_BLACKBOX_BINARY = "/usr/bin/prometheus-blackbox-exporter"


# --- the packages and the repository ------------------------------------------------------------


def _nfpm() -> str:
    from testkit.packages import nfpm_path

    return nfpm_path()  # HUB_NFPM, PATH or the tools cache; a clear error otherwise


def build_ours(work: Path, exporter_name: str, binary: bytes, kind: str = "deb", dist: str = DIST) -> Path:
    """Our package of one of the repository's exporters (its manifest), around this binary
    (pinned in a lock of its own): Debian's node_exporter build, which stands in for every
    exporter here (what is checked is which binary runs under which unit)."""
    work.mkdir(parents=True, exist_ok=True)
    exporter = work / "exporters" / exporter_name
    if not exporter.exists():
        shutil.copytree(REPO_ROOT / "exporters" / exporter_name, exporter)
    manifest = load_manifest(exporter / "manifest.yaml")
    binaries = work / "bin" / exporter_name
    binaries.mkdir(parents=True, exist_ok=True)
    (binaries / manifest.build.binary_name).write_bytes(binary)
    (binaries / manifest.build.binary_name).chmod(0o755)
    archive = upstream_lock.LockedArchive(
        url=manifest.archive_url("amd64"), sha256=hashlib.sha256(binary).hexdigest(), size=len(binary)
    )
    lock = upstream_lock.Lock(manifest.name, manifest.version, "2025-01-01T00:00:00Z", {"amd64": archive})
    upstream_lock.write_lock(exporter / "upstream.lock.json", lock)
    out = work / "out" / exporter_name / kind
    out.mkdir(parents=True)
    request = {
        "manifest": str(exporter / "manifest.yaml"),
        "lock": str(exporter / "upstream.lock.json"),
        "kind": kind,
        "arch": "amd64",
        "dist": dist,
        "binaries_dir": str(binaries),
        "nfpm": _nfpm(),
        "output_dir": str(out),
    }
    (out / "request.json").write_text(json.dumps(request))
    assert cli.main(["package", "--request", str(out / "request.json")]) == 0
    artifact = json.loads((out / f"{kind}_amd64_{dist}.json").read_text())
    return out / artifact["package"]["filename"]


def debian_node_exporter_binary(debian_deb: Path) -> bytes:
    return debian.read_deb_files(debian_deb, [DEBIAN_BINARY])[DEBIAN_BINARY][0]


def signed_site(root: Path, debs: list[Path], secret: str) -> Path:
    """An APT site with these packages, built and signed the way //:site and publish do it."""
    from hub.repos import apt as repo_apt
    from hub.repos.sign import sign_site
    from hub.repos.signer import signer_from_env
    from hub.repos.signing_key import KEY_ENV

    site = root / "site"
    entries = []
    for deb in debs:
        entry = repo_apt.apt_entry(deb, codename=SUITE)  # Debian's own versions have no +deb12
        (site / entry["filename"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(deb, site / entry["filename"])
        entries.append(entry)
    repo_apt.build_apt_site(site, entries, codenames=[SUITE])
    with signer_from_env({KEY_ENV: secret}) as signer:
        sign_site(site, signer)
    return site


# The original monitoring-hub's packages the upgrade tests start from (integration.original_packages):
# node_exporter, and the two exporters of those whose binary name differs from the exporter's
# that Debian also ships (their DEB unit is renamed; their RPM binary moves).
ORIGINALS = {
    "node_exporter": Original("node_exporter", "node_exporter", "1.5.0"),
    "process_exporter": Original("process_exporter", "process-exporter", "0.7.0"),
    "nginx_exporter": Original("nginx_exporter", "nginx-prometheus-exporter", "0.11.0"),
}
RPM_UPGRADES = ("node_exporter", "process_exporter")


class Packages(NamedTuple):
    site: Path  # the signed APT site: our DEBs and Debian's prometheus-node-exporter
    original_debs: dict[str, Path]  # exporter -> the original's DEB
    original_rpms: dict[str, Path]
    our_rpms: dict[str, Path]
    first_spec_rpm: Path  # the original's node_exporter RPM as its first specs made it: no %post/%postun


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Packages]:
    from testkit.packages import export_secret_key, generate_key, stop_agent

    debian_deb = debian.fetch_deb(DEBIAN_PACKAGE, "amd64", cache_dir() / "debian-debs").path
    binary = debian_node_exporter_binary(debian_deb)
    # Debian's blackbox exporter, with what it needs that the container lacks, and its binary
    debian_blackbox = [debian.fetch_deb(p, "amd64", cache_dir() / "debian-debs").path for p in BLACKBOX_DEBS]
    blackbox_binary = debian.read_deb_files(debian_blackbox[0], [DEBIAN_BLACKBOX_BINARY])[DEBIAN_BLACKBOX_BINARY][0]
    work = tmp_path_factory.mktemp("build")
    # dpkg-buildpackage and rpmbuild run in two threads while the engine packages ours
    with ThreadPoolExecutor(max_workers=2) as pool:
        original_debs = {
            name: pool.submit(build_original_deb, work / "original-deb" / name, o, binary)
            for name, o in ORIGINALS.items()
            if (work / "original-deb" / name).mkdir(parents=True) is None
        }
        original_rpms = {
            name: pool.submit(build_original_rpm, work / "original-rpm" / name, ORIGINALS[name], binary)
            for name in RPM_UPGRADES
            if (work / "original-rpm" / name).mkdir(parents=True) is None
        }
        first_dir = work / "original-rpm-first"
        first_dir.mkdir()
        first_spec_rpm = pool.submit(
            build_original_rpm, first_dir, ORIGINALS["node_exporter"], binary, scriptlets=False
        )
        ours = [build_ours(work / "ours", name, binary) for name in ORIGINALS]
        ours.append(build_ours(work / "ours", "blackbox_exporter", blackbox_binary))
        our_rpms = {name: build_ours(work / "ours", name, binary, "rpm", "el9") for name in RPM_UPGRADES}
        original_debs = {name: f.result() for name, f in original_debs.items()}
        original_rpms = {name: f.result() for name, f in original_rpms.items()}
        first_spec = first_spec_rpm.result()
    home = tmp_path_factory.mktemp("gpg")
    fpr = generate_key(home, email="release@monitoring-hub.example")
    try:
        debs = [*ours, debian_deb, *debian_blackbox]
        site = signed_site(tmp_path_factory.mktemp("site"), debs, export_secret_key(home, fpr))
        yield Packages(site, original_debs, original_rpms, our_rpms, first_spec)
    finally:
        stop_agent(home)


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory, packages: Packages) -> Iterator[SystemdHost]:
    from hub.repos import user_files

    site = packages.site
    with dockerd(tmp_path_factory.mktemp("dockerd")) as daemon:
        with systemd_host(daemon, SUITE) as h:
            add_apt_repository(h, site, (site / user_files.PUBLIC_KEY_FILE).read_bytes())
            apt_get(h, "update", "--error-on=any")
            h.exec("mkdir", "-p", "/root/packages")
            for path in [
                *packages.original_debs.values(),
                *packages.original_rpms.values(),
                *packages.our_rpms.values(),
            ]:
                h.copy_in(path, f"/root/packages/{path.name}")
            h.exec("mkdir", "-p", "/root/packages/first")
            h.copy_in(packages.first_spec_rpm, f"/root/packages/first/{packages.first_spec_rpm.name}")
            yield h


@pytest.fixture
def clean(host: SystemdHost) -> Iterator[SystemdHost]:
    yield host
    debs = [o.deb_name for o in ORIGINALS.values()]
    apt_get(host, "purge", "-y", *debs, DEBIAN_PACKAGE, "blackbox-exporter", BLACKBOX_DEBS[0], check=False)
    rpm(host, "-e", *RPM_UPGRADES, check=False)
    host.exec("rm", "-f", f"/etc/systemd/system/{UNIT}")
    host.systemctl("stop", "hub-foreign-listener.service", check=False)
    host.systemctl("reset-failed", check=False)
    host.systemctl("daemon-reload")


# --- what runs ----------------------------------------------------------------------------------


def exporter_processes(host: SystemdHost) -> list[tuple[str, str]]:
    """(binary, unit) of every process of a node exporter, ours or Debian's."""
    return [
        (p.argv[0], p.unit)
        for p in host.processes()
        if p.argv and p.argv[0] in (BINARY, DEBIAN_BINARY, "node_exporter", "prometheus-node-exporter")
    ]


def port_holder(host: SystemdHost) -> str:
    return host.exec("ss", "-H", "-t", "-l", "-n", "-p", f"sport = :{PORT}").stdout


def installed(host: SystemdHost, package: str) -> str:
    return host.exec("dpkg-query", "-W", "-f=${Status}", package, check=False).stdout


def wait_for(check, what: str, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
    import time

    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout} s: {what}")
        time.sleep(0.3)


# --- a service that does not come up is never silent -----------------------------------------------

# A foreign listener on the exporter's port, in a unit of its own (perl is in every Debian).
FOREIGN = (
    "perl -MIO::Socket::INET -e '$s = IO::Socket::INET->new(LocalPort => shift, Listen => 5, ReuseAddr => 1)"
    ' or die "$!"; sleep 1 while 1\' ' + str(PORT)
)


def test_a_foreign_process_on_the_port_is_named_during_a_fresh_install(clean: SystemdHost) -> None:
    host = clean
    host.exec("systemd-run", "--unit=hub-foreign-listener", "--quiet", "sh", "-c", FOREIGN)
    wait_for(lambda: host.listening(PORT), "the foreign listener holds the port")
    result = apt_get(host, "install", "-y", "node-exporter")  # exits 0: never half-configured
    out = result.stdout + result.stderr
    assert installed(host, "node-exporter") == "install ok installed"
    assert f"warning: {UNIT} is not running" in out, out
    assert f"port {PORT} is taken by perl (pid " in out and ", hub-foreign-listener.service)" in out, out
    assert 'ARGS="--web.listen-address=:<port>" in /etc/default/node_exporter' in out, out
    assert out.count("warning:") == 1, out
    # the processes: the port is the foreign unit's, and no node_exporter serves it
    assert "perl" in port_holder(host)
    assert [unit for _, unit in exporter_processes(host) if unit == UNIT] in ([], [UNIT])
    assert host.unit_state(UNIT).active != "active" or host.unit_state(UNIT).restarts > 0


def test_a_hand_written_unit_in_etc_is_named(clean: SystemdHost) -> None:
    host = clean
    host.write_unit(
        UNIT,
        "[Unit]\nDescription=node_exporter from a tarball\n[Service]\n"
        f"ExecStart={BINARY} --web.listen-address=127.0.0.1:{PORT} --collector.disable-defaults --collector.time\n"
        "[Install]\nWantedBy=multi-user.target\n",
    )
    result = apt_get(host, "install", "-y", "node-exporter")
    out = result.stdout + result.stderr
    assert (
        f"warning: /etc/systemd/system/{UNIT} overrides the packaged /usr/lib/systemd/system/{UNIT}: the packaged"
        " unit is not the one that runs" in out
    ), out
    host.wait_port(PORT, unit=UNIT)
    fragment = host.systemctl("show", "-p", "FragmentPath", "--value", UNIT).stdout.strip()
    assert fragment == f"/etc/systemd/system/{UNIT}"
    running = [p for p in host.processes() if p.unit == UNIT]
    assert len(running) == 1 and "--collector.disable-defaults" in running[0].argv  # the hand-written one runs
    assert running[0].user == "root"  # not the packaged unit's service user


# --- next to the distribution's own package --------------------------------------------------------

DEBIAN_FLAGS = "--collector.textfile.directory=/var/lib/prometheus/node-exporter --no-collector.wifi"


def test_switching_from_debians_package_carries_its_flags(clean: SystemdHost) -> None:
    host = clean
    apt_get(host, "install", "-y", DEBIAN_PACKAGE)
    host.wait_port(PORT, unit=DEBIAN_UNIT)
    host.exec("sed", "-i", f's|^ARGS=.*|ARGS="{DEBIAN_FLAGS}"|', f"/etc/default/{DEBIAN_PACKAGE}")
    host.systemctl("restart", DEBIAN_UNIT)
    host.wait_port(PORT, unit=DEBIAN_UNIT)
    assert exporter_processes(host) == [(DEBIAN_BINARY, DEBIAN_UNIT)]

    result = apt_get(host, "install", "-y", "node-exporter")
    out = result.stdout + result.stderr
    # apt showed the removal in the transaction, before going ahead
    assert "The following packages will be REMOVED:" in out and DEBIAN_PACKAGE in out, out
    assert installed(host, DEBIAN_PACKAGE).startswith("deinstall ok config-files")
    assert (
        f'carried over from /etc/default/{DEBIAN_PACKAGE} (the distribution\'s package): ARGS="{DEBIAN_FLAGS}"'
        " is now in /etc/default/node_exporter" in out
    ), out
    assert f'ARGS="{DEBIAN_FLAGS}"' in host.read("/etc/default/node_exporter")
    host.wait_port(PORT, unit=UNIT)
    # exactly one exporter runs: our binary, under our unit, with the operator's flags
    wait_for(lambda: exporter_processes(host) == [(BINARY, UNIT)], "only node_exporter.service runs")
    (ours,) = [p for p in host.processes() if p.unit == UNIT]
    assert ours.argv[0] == BINARY and ours.user == "node_exporter"
    assert all(flag in ours.argv for flag in DEBIAN_FLAGS.split())
    assert "warning" not in out.lower().replace("warning: apt does not have a stable cli", ""), out


BLACKBOX_PORT = 9115


def test_switching_from_debians_blackbox_carries_its_configuration_file(clean: SystemdHost) -> None:
    """Debian's flags name its configuration file (`--config.file /etc/prometheus/blackbox.yml`),
    a flag our unit already passes: that file's content becomes ours."""
    host = clean
    debian_unit, unit = "prometheus-blackbox-exporter.service", "blackbox_exporter.service"
    apt_get(host, "install", "-y", BLACKBOX_DEBS[0])
    host.wait_port(BLACKBOX_PORT, unit=debian_unit)
    assert "--config.file /etc/prometheus/blackbox.yml" in host.read("/etc/default/prometheus-blackbox-exporter")
    # the operator's own module, in Debian's configuration file
    host.exec(
        "sed", "-i", r"s/^modules:$/modules:\n  hub_operator_module:\n    prober: tcp/", "/etc/prometheus/blackbox.yml"
    )
    host.systemctl("restart", debian_unit)
    host.wait_port(BLACKBOX_PORT, unit=debian_unit)

    result = apt_get(host, "install", "-y", "blackbox-exporter")
    out = result.stdout + result.stderr
    assert "The following packages will be REMOVED:" in out and BLACKBOX_DEBS[0] in out, out
    assert (
        "carried over from /etc/default/prometheus-blackbox-exporter: --config.file /etc/prometheus/blackbox.yml;"
        " its content is now /etc/blackbox_exporter/blackbox.yml" in out
    ), out
    assert "hub_operator_module" in host.read("/etc/blackbox_exporter/blackbox.yml")
    assert host.exists("/etc/blackbox_exporter/blackbox.yml.dpkg-dist")
    host.wait_port(BLACKBOX_PORT, unit=unit)
    blackbox = lambda: [  # noqa: E731
        (p.argv[0], p.unit) for p in host.processes() if p.argv and "blackbox" in p.argv[0].rsplit("/", 1)[-1]
    ]
    # exactly one blackbox exporter: ours, reading its own file, which has the operator's module
    wait_for(lambda: blackbox() == [("/usr/bin/blackbox_exporter", unit)], f"only {unit} runs")
    (ours,) = [p for p in host.processes() if p.unit == unit]
    assert "--config.file=/etc/blackbox_exporter/blackbox.yml" in ours.argv and ours.user == "blackbox_exporter"
    assert "hub_operator_module" in host.scrape(BLACKBOX_PORT, "/config")
    assert "warning" not in out.lower().replace("warning: apt does not have a stable cli", ""), out


# --- from the original monitoring-hub's packages ------------------------------------------------------


def processes_of(host: SystemdHost, original: Original) -> list[tuple[str, str]]:
    """(binary, unit) of every process of this exporter: the original's binary or ours."""
    names = {original.binary_name, original.name}
    return [(p.argv[0], p.unit) for p in host.processes() if p.argv and p.argv[0].rsplit("/", 1)[-1] in names]


def old_name_left(host: SystemdHost, unit: str) -> list[str]:
    """Everything of a unit's name systemd and deb-systemd-helper keep outside the package: links,
    drop-ins, a mask, deb-systemd-helper's state."""
    found = host.sh(
        "find /etc/systemd/system /var/lib/systemd/deb-systemd-helper-enabled"
        f" /var/lib/systemd/deb-systemd-helper-masked -name '{unit}*' 2>/dev/null || true"
    ).stdout
    return found.split()


def install_original_deb(host: SystemdHost, packages: Packages, original: Original) -> None:
    host.exec("dpkg", "-i", f"/root/packages/{packages.original_debs[original.name].name}")
    host.wait_port(PORT, unit=original.deb_unit)  # debhelper's postinst enabled and started it
    assert host.unit_state(original.deb_unit).file_state == "enabled"
    assert processes_of(host, original) == [(f"/usr/bin/{original.binary_name}", original.deb_unit)]


@pytest.mark.parametrize("name", list(ORIGINALS))
def test_upgrade_from_the_original_deb_enabled(clean: SystemdHost, packages: Packages, name: str) -> None:
    host, original = clean, ORIGINALS[name]
    new_unit = f"{name}.service"
    install_original_deb(host, packages, original)
    result = apt_get(host, "install", "-y", original.deb_name)
    out = result.stdout + result.stderr
    assert "1 upgraded" in out, out
    # the upgrade names the old and the new unit, once
    notice = f"the service is now {new_unit} (it was {original.deb_unit}"
    assert out.count(notice) == 1 and "enabled and running, as before" in out, out
    host.wait_port(PORT, unit=new_unit)
    # exactly one process of the exporter: the new binary, under our unit
    wait_for(
        lambda: processes_of(host, original) == [(f"/usr/bin/{original.binary_name}", new_unit)],
        f"only {new_unit} runs",
    )
    assert host.unit_state(new_unit).file_state == "enabled"
    assert host.unit_state(original.deb_unit).active in ("inactive", "")
    assert old_name_left(host, original.deb_unit) == []
    assert "warning" not in out.lower().replace("warning: apt does not have a stable cli", ""), out

    # a purge removes everything of both names, and nothing of the exporter runs
    apt_get(host, "purge", "-y", original.deb_name)
    assert old_name_left(host, original.deb_unit) == [] and old_name_left(host, new_unit) == []
    wait_for(lambda: processes_of(host, original) == [], "no process of the exporter is left")


@pytest.mark.parametrize("state", ["disabled", "masked"])
def test_upgrade_from_the_original_deb_keeps_its_state(clean: SystemdHost, packages: Packages, state: str) -> None:
    host, original = clean, ORIGINALS["node_exporter"]
    install_original_deb(host, packages, original)
    host.systemctl("disable" if state == "disabled" else "mask", "--now", original.deb_unit)
    assert processes_of(host, original) == []
    result = apt_get(host, "install", "-y", original.deb_name)
    out = result.stdout + result.stderr
    assert out.count(f"the service is now {UNIT} (it was {original.deb_unit}") == 1, out
    assert f"{state}, as before" in out, out
    # the state carried over, and nothing was started
    assert host.unit_state(UNIT).file_state == state
    assert host.unit_state(UNIT).active == "inactive"
    assert processes_of(host, original) == [] and not host.listening(PORT)
    assert old_name_left(host, original.deb_unit) == []


@pytest.mark.parametrize("name", RPM_UPGRADES)
def test_upgrade_from_the_original_rpm_enabled(clean: SystemdHost, packages: Packages, name: str) -> None:
    host, original = clean, ORIGINALS[name]
    unit = original.rpm_unit  # the same name before and after
    # --nodeps: the original requires shadow-utils, which this Debian host's rpm database lacks
    rpm(host, "-i", "--nodeps", f"/root/packages/{packages.original_rpms[name].name}")
    host.systemctl("enable", "--now", unit)
    host.wait_port(PORT, unit=unit)
    assert processes_of(host, original) == [(f"/usr/bin/{name}", unit)]  # the original's path

    rpm(host, "-U", "--nodeps", f"/root/packages/{packages.our_rpms[name].name}")  # ours: /bin/sh, shadow-utils
    host.wait_port(PORT, unit=unit)
    # exactly one process: our binary (at upstream's name), under the same unit, as our user
    binary = f"/usr/bin/{original.binary_name}"
    wait_for(lambda: processes_of(host, original) == [(binary, unit)], f"only {binary} runs")
    assert host.unit_state(unit).file_state == "enabled"
    if binary != f"/usr/bin/{name}":
        assert not host.lexists(f"/usr/bin/{name}")  # the original's path went with it
    rpm(host, "-e", name)
    wait_for(lambda: processes_of(host, original) == [], "no process of the exporter is left")


def test_upgrade_from_the_originals_first_rpm_spec_restarts_the_replaced_binary(
    clean: SystemdHost, packages: Packages
) -> None:
    """The original's first specs had no %postun: nothing restarts the service on upgrade, so
    the old process would keep running the deleted binary. Our %posttrans sees that its
    executable is not ours and restarts the unit once."""
    host, original = clean, ORIGINALS["node_exporter"]
    unit = original.rpm_unit
    rpm(host, "-i", "--nodeps", f"/root/packages/first/{packages.first_spec_rpm.name}")
    host.systemctl("daemon-reload")  # no %post does it
    host.systemctl("enable", "--now", unit)
    host.wait_port(PORT, unit=unit)
    (old,) = [p.pid for p in host.processes() if p.unit == unit]
    time.sleep(1.1)  # the check compares whole seconds: the start, then the upgrade's install

    result = rpm(host, "-U", "--nodeps", f"/root/packages/{packages.our_rpms['node_exporter'].name}")
    out = result.stdout + result.stderr
    assert out.count(f"restarting {unit}: it was started before /usr/bin/node_exporter was replaced") == 1, out
    host.wait_port(PORT, unit=unit)

    def runs_ours() -> bool:  # a new process, started after the upgrade replaced the file
        pids = [p.pid for p in host.processes() if p.unit == unit]
        return len(pids) == 1 and pids != [old]

    wait_for(runs_ours, "one process, a new one (the old one ran the deleted binary), under the same unit")
    assert host.unit_state(unit).file_state == "enabled"
    rpm(host, "-e", "node_exporter")
    wait_for(lambda: processes_of(host, original) == [], "no process of the exporter is left")


# --- next to Fedora's and EPEL's package: dnf refuses, --allowerasing swaps ------------------------


def build_fedora_stand_in(work: Path) -> Path:
    """A package named like Fedora's and EPEL's node_exporter package (rpmbuild, no scripts, no
    file in common with ours: only the Conflicts header can refuse the pair)."""
    top = work / "rpmbuild"
    (top / "SPECS").mkdir(parents=True)
    spec = top / "SPECS" / "fedora.spec"
    spec.write_text(
        f"Name: {FEDORA_PACKAGE}\nVersion: 1.3.1\nRelease: 5.el9\nSummary: Fedora's node_exporter (stand-in)\n"
        "License: Apache-2.0\nBuildArch: noarch\n\n%description\nStand-in.\n\n"
        "%install\nmkdir -p %{buildroot}/usr/share/doc/fedora-node-exporter\n"
        "echo stand-in > %{buildroot}/usr/share/doc/fedora-node-exporter/README\n\n"
        "%files\n/usr/share/doc/fedora-node-exporter/README\n"
    )
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(work), "LC_ALL": "C.UTF-8"}
    subprocess.run(
        ["rpmbuild", "-bb", "--define", f"_topdir {top}", str(spec)], env=env, check=True, capture_output=True
    )
    (rpm_file,) = (top / "RPMS" / "noarch").glob("*.rpm")
    return rpm_file


FEDORA_PACKAGE = "golang-github-prometheus-node-exporter"


def test_dnf_refuses_next_to_fedoras_package_until_allowerasing(packages: Packages, tmp_path: Path) -> None:
    from integration.roots import STUB_NAME, ElRoot, build_stub_rpm, createrepo

    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(build_stub_rpm(tmp_path / "stub"), repo)  # what EL's base provides: /bin/sh, shadow-utils
    shutil.copy(build_fedora_stand_in(tmp_path / "fedora"), repo)
    shutil.copy(packages.our_rpms["node_exporter"], repo)
    createrepo(repo)
    (tmp_path / "root").mkdir()
    root = ElRoot.create(tmp_path / "root", tmp_path / "el-work", repo)
    # no scriptlets: an empty root has no shell; what is tested is dnf's resolution
    noscripts = "--setopt=tsflags=noscripts"
    root.dnf(noscripts, "install", STUB_NAME, FEDORA_PACKAGE)
    refused = root.dnf(noscripts, "install", "node_exporter", check=False)
    assert refused.returncode != 0, refused.stdout
    said = refused.stdout + refused.stderr
    assert "conflicts" in said and FEDORA_PACKAGE in said and "--allowerasing" in said, said
    assert root.installed("node_exporter") is None and root.installed(FEDORA_PACKAGE)
    # a routine upgrade never switches vendors
    root.dnf(noscripts, "upgrade")
    assert root.installed("node_exporter") is None
    swapped = root.dnf(noscripts, "install", "--allowerasing", "node_exporter")
    assert "Removing" in swapped.stdout and FEDORA_PACKAGE in swapped.stdout, swapped.stdout
    assert root.installed(FEDORA_PACKAGE) is None and root.installed("node_exporter")
