"""Switching hosts in place, under a real systemd (PID 1 in a Debian 12 container, the harness
of systemd_host.py), with apt installing from a signed repository through Signed-By.

What is installed: the repository's own node_exporter manifest, packaged by the engine
(`hub package --request`, as the Pants rule runs it) around Debian's node_exporter build
(the binary of Debian's prometheus-node-exporter, renamed as upstream names it), and Debian's
prometheus-node-exporter itself, both served from one signed repository.

- a foreign process holds port 9100 during a fresh install: apt succeeds, the package is
  configured, and the output names the port, the holder (its command, PID and unit) and the
  flag that moves this exporter to another port;
- a hand-written /etc/systemd/system/node_exporter.service is in place (a tarball install):
  the output names that file, and the process that runs is the hand-written unit's;
- Debian's prometheus-node-exporter runs, with flags of the operator's in its
  /etc/default file: apt shows its removal in the transaction, and afterwards exactly one
  process of the exporter runs, our binary under node_exporter.service, with those flags.

Each test checks the processes themselves (binary and unit), not only apt's exit status.
One container is shared by the module; each test purges what it installed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Iterator

import pytest

from hub import cli
from hub.manifest.load import load_manifest
from hub.upstream import debian
from hub.upstream import lock as upstream_lock
from integration.roots import cache_dir
from integration.services import dockerd
from integration.systemd_host import SystemdHost, add_apt_repository, apt_get, systemd_host

REPO_ROOT = Path(__file__).resolve().parents[2]
SUITE, DIST, SUFFIX = "bookworm", "debian-12", "deb12"
PORT = 9100
UNIT = "node_exporter.service"
BINARY = "/usr/bin/node_exporter"
DEBIAN_PACKAGE = "prometheus-node-exporter"
DEBIAN_BINARY = "/usr/bin/prometheus-node-exporter"
DEBIAN_UNIT = "prometheus-node-exporter.service"


# --- the packages and the repository ------------------------------------------------------------


def _nfpm() -> str:
    path = os.environ.get("HUB_NFPM", "")
    assert path and os.access(path, os.X_OK), (
        f"HUB_NFPM={path!r} is not an executable nfpm: run "
        '`source "$(build-support/ci/install-tools.sh | tail -n 1)"` first'
    )
    return path


def build_node_exporter(work: Path, debian_deb: Path) -> Path:
    """Our node-exporter DEB for Debian 12 from the repository's manifest, around Debian's build
    of the binary (pinned in a lock of its own)."""
    exporter = work / "exporters" / "node_exporter"
    shutil.copytree(REPO_ROOT / "exporters" / "node_exporter", exporter)
    binaries = work / "bin"
    binaries.mkdir()
    data = debian.read_deb_files(debian_deb, [DEBIAN_BINARY])[DEBIAN_BINARY][0]
    (binaries / "node_exporter").write_bytes(data)
    (binaries / "node_exporter").chmod(0o755)
    manifest = load_manifest(exporter / "manifest.yaml")
    archive = upstream_lock.LockedArchive(
        url=manifest.archive_url("amd64"), sha256=hashlib.sha256(data).hexdigest(), size=len(data)
    )
    lock = upstream_lock.Lock(manifest.name, manifest.version, "2025-01-01T00:00:00Z", {"amd64": archive})
    upstream_lock.write_lock(exporter / "upstream.lock.json", lock)
    out = work / "out"
    out.mkdir()
    request = {
        "manifest": str(exporter / "manifest.yaml"),
        "lock": str(exporter / "upstream.lock.json"),
        "kind": "deb",
        "arch": "amd64",
        "dist": DIST,
        "binaries_dir": str(binaries),
        "nfpm": _nfpm(),
        "output_dir": str(out),
    }
    (work / "request.json").write_text(json.dumps(request))
    assert cli.main(["package", "--request", str(work / "request.json")]) == 0
    artifact = json.loads((out / f"deb_amd64_{DIST}.json").read_text())
    return out / artifact["package"]["filename"]


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


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    from testkit.packages import export_secret_key, generate_key, stop_agent

    debian_deb = debian.fetch_deb(DEBIAN_PACKAGE, "amd64", cache_dir() / "debian-debs").path
    ours = build_node_exporter(tmp_path_factory.mktemp("build"), debian_deb)
    home = tmp_path_factory.mktemp("gpg")
    fpr = generate_key(home, email="release@monitoring-hub.example")
    try:
        yield signed_site(tmp_path_factory.mktemp("site"), [ours, debian_deb], export_secret_key(home, fpr))
    finally:
        stop_agent(home)


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory, site: Path) -> Iterator[SystemdHost]:
    from hub.repos import user_files

    with dockerd(tmp_path_factory.mktemp("dockerd")) as daemon:
        with systemd_host(daemon, SUITE) as h:
            add_apt_repository(h, site, (site / user_files.PUBLIC_KEY_FILE).read_bytes())
            apt_get(h, "update", "--error-on=any")
            yield h


@pytest.fixture
def clean(host: SystemdHost) -> Iterator[SystemdHost]:
    yield host
    apt_get(host, "purge", "-y", "node-exporter", DEBIAN_PACKAGE, check=False)
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
