"""The life cycle of our packages under a real systemd (issue #14, deliverables 2 and 3).

The packages are the lifecycle demo (integration.demo_packages.LIFECYCLE with the grants of
the real node_exporter manifest): Debian's node_exporter binary packaged by the engine, with a
conffile, a secret in the service's home, a textfile directory and a log directory of its own.
DEBs run on a Debian 12 (systemd 252) and a Debian 13 (systemd 257) host, RPMs on the Debian 12
host after its DEBs are purged (integration.systemd_host: containers whose PID 1 is systemd).
Each host already runs a service of its own (`hub-neighbour`, a perl HTTP endpoint) when our
packages arrive. Proven, on both Debian hosts unless said otherwise:

1. apt-get installs the DEB from a signed repository (deb822 source with Signed-By, `update
   --error-on=any`); the package's own scripts enable and start the service. Its main process
   runs as the service user (never root) with `NoNewPrivs: 1`, `Seccomp: 2`, and `CapEff`,
   `CapBnd` and `CapAmb` empty, as its unit grants no capability; the neighbour keeps its PID.
2. `/metrics` is served, again 10 s later (a seccomp kill often shows only after the first
   scrape) and after `systemctl restart`.
3. `apt-get upgrade` to a newer build (same binary, new version, published to the repository)
   keeps the operator's edit of a conffile (the new one lands as `.dpkg-dist`), restarts the
   service (a new PID) and it serves.
4. Upgrade from the legacy package (what main built before least privilege, built from
   fixtures/legacy/): the service user keeps its UID and GID, the operator's
   `dpkg-statoverride` entries stay, the one on a conffile (web.yml: root:<user> 0640) is still
   applied, config edits (a conffile, the secret in the service's home) are kept, and the
   service runs under the new sandbox. The service's directories are declared in tmpfiles.d
   now: an override on one of them (/var/log/<name>, <user>:adm 2750) is carried into
   /etc/tmpfiles.d/<pkg>.conf and stays applied (the legacy postinst skipped such paths);
   purge removes that file again.
5. `apt-get remove` stops the service: no process of the service user is left. `apt-get
   purge` leaves no file behind: a listing of / (without /proc, /sys, /dev, /run, /tmp, the
   journal, apt's and dpkg's state and the repository itself) equals the one taken before the
   first installation, but for the backups of the account files; the accounts stay. A
   directory two packages ship for one user (/var/lib/prometheus, prometheus-style) stays,
   with its data, until the last of them is purged (on the Debian 13 host only).
6. RPM (rpm -i/-U/-e, with EL's database path and EL's "disable *" preset plus a preset that
   enables the unit): `%post` enables the unit through the presets and leaves it stopped, as on
   EL; started, it runs as the service user, sandboxed; `rpm -U` restarts it (new PID) and it
   serves; `rpm -e` stops and disables it.
7. Links planted by the service user are never followed (DEB: `apt-get install --reinstall`;
   RPM: `rpm -U`): the secret in its home replaced by a symbolic link to a root-owned file
   (/etc/hub-canary, root:root 0600) and its textfile directory by one to a root-owned
   directory (0700): their owner, mode and content stay. Hard links: the kernel refuses the
   service user a hard link to that file (fs.protected_hardlinks=1, the host's setting, which
   a container cannot change; where it is 0, systemd-tmpfiles itself refuses to change a
   hard-linked file, the fix of CVE-2017-18078, which this container cannot show).
   Positive control: the same planted link hands a root-owned file to the service user when
   the legacy package is reinstalled (DEB postinst, RPM %post), which is the attack.
8. `systemd-analyze security`, offline, of the installed unit file in the Debian 12 host
   equals the score docs/unit-exposure.md records for node_exporter (same grants, same
   systemd 252: 1.8), and the same checks fail live and offline: the unit writes out
   PrivateMounts=yes, which the mount namespace of its sandbox implies and which 252's live
   analysis credits (a file without it scored 0.1 higher offline than live). Both hosts stay
   within the 3.0 goal.

Cost: two hosts booted once for the module, both alive until its end; the 13 packages built
once, by a background thread that starts while the hosts boot.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import threading
import time
from functools import partial
from pathlib import Path
from typing import Callable, Iterator

import pytest
import yaml

from integration import legacy_fixture
from integration.demo_packages import (
    CONFIG,
    HOME_DIR,
    LIFECYCLE,
    LOG_DIR,
    SECRET,
    TEXTFILE_DIR,
    V1,
    V2,
    WEB_CONFIG,
    Demo,
    Packages,
)
from integration.roots import build_stub_rpm
from integration.services import Dockerd, dockerd
from integration.systemd_host import (
    HTTP_EXPORTER,
    SystemdHost,
    add_apt_repository,
    apt_get,
    rpm,
    systemd_host,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
SUITES = {"bookworm": "debian-12", "trixie": "debian-13"}
UNIT = "demo_exporter.service"
DEB = "demo-exporter"
USER = "demo_exporter"
PORT = 9100  # node_exporter's default: the demo does not set a listen address
METRIC = "node_exporter_build_info"


def _node_exporter_grants() -> tuple[dict[str, str], ...]:
    manifest = yaml.safe_load((REPO_ROOT / "exporters" / "node_exporter" / "manifest.yaml").read_text())
    return tuple(manifest["artifacts"]["deb"]["systemd"]["grants"])


# The lifecycle demo with what the real node_exporter manifest grants its service.
NODE = dataclasses.replace(LIFECYCLE, grants=_node_exporter_grants())


def _shared(name: str, port: int) -> Demo:
    """A demo that runs as `prometheus` and ships /var/lib/prometheus, as nine exporters do."""
    return Demo(
        name=name,
        binary=name,
        system_user="prometheus",
        arguments={V1: [f"--web.listen-address=127.0.0.1:{port}", "--collector.disable-defaults"]},
        files={V1: {}},
        extra_files=(),
        directories=({"path": "/var/lib/prometheus", "mode": "0750", "owner": "prometheus", "group": "prometheus"},),
    )


SHARED = (_shared("shared_a_exporter", 9101), _shared("shared_b_exporter", 9102))
SHARED_SUITE = "trixie"  # one host is enough for the shared directory
SHARED_DIR = "/var/lib/prometheus"

NEIGHBOUR_UNIT = "hub-neighbour.service"
NEIGHBOUR_PORT = 9199
NEIGHBOUR_SCRIPT = "/usr/local/lib/hub-neighbour/http-exporter.pl"

# Root-owned targets of the links the service user plants, and their expected state.
CANARY, CANARY_DIR, CANARY_TEXT = "/etc/hub-canary", "/etc/hub-canary.d", "root's own file\n"
LEGACY_CANARY = "/etc/hub-canary-legacy"  # the positive control's target

# What a purge may leave or the listing does not compare: kernel and runtime file systems,
# the journal, apt's and dpkg's state (dpkg-statoverride's included) and our repository.
PRUNED = (
    "/proc",
    "/sys",
    "/dev",
    "/run",
    "/tmp",
    "/var/log/journal",
    "/var/lib/apt",
    "/var/cache/apt",
    "/var/cache/debconf",
    "/var/lib/dpkg",
    "/var/log/apt",
    "/var/log/dpkg.log",
    "/var/log/alternatives.log",
    "/etc/apt",
    "/srv",
)
# The previous versions of the account files, written when an account is added: the
# accounts stay after a purge (Debian does not remove system users), and these with them.
ACCOUNT_BACKUPS = {"/etc/passwd-", "/etc/group-", "/etc/shadow-", "/etc/gshadow-"}
DPKG_KEEP_OLD_CONFFILES = ("-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold")


# --- the hosts ------------------------------------------------------------------------------------


@dataclasses.dataclass
class Lab:
    """One Debian host and what the steps of this module learn about it."""

    host: SystemdHost
    suite: str
    dist: str
    workdir: Path
    signing_secret: str
    baseline: dict[str, str] = dataclasses.field(default_factory=dict)
    neighbour_pid: int = 0
    publications: int = 0
    first_scrape: tuple[float, int] = (0.0, 0)  # when /metrics first answered, and the PID

    def publish(self, *debs: Path) -> None:
        """A signed APT site holding `debs` (built and signed as //:site and publish do),
        configured in the host as users do, then `apt-get update --error-on=any`."""
        from hub.repos import apt as repo_apt
        from hub.repos import user_files
        from hub.repos.sign import sign_site
        from hub.repos.signer import signer_from_env
        from hub.repos.signing_key import KEY_ENV

        self.publications += 1
        site = self.workdir / f"site-{self.publications}"
        entries = []
        for deb in debs:
            entry = repo_apt.apt_entry(deb)
            (site / entry["filename"]).parent.mkdir(parents=True, exist_ok=True)
            (site / entry["filename"]).write_bytes(deb.read_bytes())
            entries.append(entry)
        repo_apt.build_apt_site(site, entries, codenames=[self.suite])
        with signer_from_env({KEY_ENV: self.signing_secret}) as signer:
            sign_site(site, signer)
        sources = add_apt_repository(self.host, site, (site / user_files.PUBLIC_KEY_FILE).read_bytes())
        assert f"Signed-By: {user_files.APT_KEYRING}" in sources, sources
        # Each publication is a repository of its own, older ones included: apt must not keep
        # the lists of the previous one.
        self.host.sh("rm -rf /var/lib/apt/lists; mkdir -p /var/lib/apt/lists/partial")
        apt_get(self.host, "update", "--error-on=any")

    def apt(self, *args: str) -> str:
        """apt-get in the host, keeping edited conffiles (as unattended upgrades do); then the
        neighbour must still run as the same process."""
        out = apt_get(self.host, "-y", *DPKG_KEEP_OLD_CONFFILES, *args).stdout
        self.check_neighbour()
        return out

    def check_neighbour(self) -> None:
        state = self.host.unit_state(NEIGHBOUR_UNIT)
        disturbed = f"{self.suite}: the neighbour service was disturbed: {state}, was PID {self.neighbour_pid}"
        assert state.active == "active" and state.main_pid == self.neighbour_pid, disturbed
        assert "hub_probe_up" in self.host.scrape(NEIGHBOUR_PORT)


class Builds:
    """Every package the module installs, built once, in the order its steps need them, by a
    background thread that starts while the hosts boot. A step that needs a package waits
    for it (a lock), and gets the build's failure if it failed."""

    def __init__(self, packages: Packages, nfpm: str, workdir: Path) -> None:
        self.packages, self.nfpm, self.workdir = packages, nfpm, workdir
        self.lock = threading.Lock()
        self.stopping = threading.Event()  # the module ended early: build nothing more
        self.done: dict[tuple[str, ...], Path | BaseException] = {}

    def _once(self, key: tuple[str, ...], build: Callable[[], Path]) -> Path:
        with self.lock:
            if key not in self.done:
                try:
                    self.done[key] = build()
                except Exception as e:  # noqa: BLE001 - raised again to whoever needs it
                    self.done[key] = e
            result = self.done[key]
        if isinstance(result, BaseException):
            raise result
        return result

    def deb(self, version: str, dist: str, demo: Demo = NODE) -> Path:
        key = ("deb", version, dist, demo.key)
        return self._once(key, lambda: self.packages.get("deb", "amd64", version, dist=dist, demo=demo).path)

    def rpm(self, version: str) -> Path:
        return self._once(("rpm", version), lambda: self.packages.get("rpm", "amd64", version, demo=NODE).path)

    def legacy(self, kind: str, dist: str) -> Path:
        """The legacy package (fixtures/legacy/), in a directory of its own: its file name is
        today's 1.0.0's."""

        def build() -> Path:
            workdir = self.workdir / f"legacy-{kind}-{dist}"
            workdir.mkdir()
            binaries = self.packages.binaries["amd64"]
            return legacy_fixture.build(kind, dist, binaries=binaries, nfpm=self.nfpm, workdir=workdir)

        return self._once(("legacy", kind, dist), build)

    def stub(self) -> Path:
        return self._once(("stub",), lambda: build_stub_rpm(self.workdir))

    def start(self) -> threading.Thread:
        steps: list[Callable[[], Path]] = []
        for dist in SUITES.values():
            steps += [partial(self.legacy, "deb", dist), partial(self.deb, V2, dist)]
        steps += [partial(self.deb, V1, dist) for dist in SUITES.values()]
        steps += [partial(self.deb, V1, SUITES[SHARED_SUITE], demo) for demo in SHARED]
        steps += [self.stub, partial(self.legacy, "rpm", "el9"), partial(self.rpm, V1), partial(self.rpm, V2)]

        def run() -> None:
            for step in steps:
                if self.stopping.is_set():
                    return
                with contextlib.suppress(Exception):  # kept for the step that needs it
                    step()

        thread = threading.Thread(target=run, name="lifecycle-builds", daemon=True)
        thread.start()
        return thread


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dockerd]:
    with dockerd(tmp_path_factory.mktemp("dockerd")) as d:
        yield d


@pytest.fixture(scope="module")
def signing_secret(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from testkit.packages import export_secret_key, generate_key, stop_agent

    home = tmp_path_factory.mktemp("gpg")
    fingerprint = generate_key(home, email="release@monitoring-hub.example")
    try:
        yield export_secret_key(home, fingerprint)
    finally:
        stop_agent(home)


def prepare(lab: Lab) -> None:
    """The neighbour service, the canaries, then the baseline listing."""
    host = lab.host
    host.write_files(
        {
            "/etc/sysusers.d/hub-neighbour.conf": 'u hub-neighbour - "Neighbour service" /nonexistent\n',
            NEIGHBOUR_SCRIPT: HTTP_EXPORTER,
            f"/etc/systemd/system/{NEIGHBOUR_UNIT}": (
                "[Unit]\nDescription=A service the host ran before our packages\n[Service]\n"
                f"User=hub-neighbour\nExecStart=/usr/bin/perl {NEIGHBOUR_SCRIPT} {NEIGHBOUR_PORT}\n"
                "[Install]\nWantedBy=multi-user.target\n"
            ),
            CANARY: (CANARY_TEXT, 0o600),
        }
    )
    host.exec("mkdir", "-m", "0700", CANARY_DIR)
    host.exec("systemd-sysusers")
    host.systemctl("enable", "--now", NEIGHBOUR_UNIT)
    host.wait_port(NEIGHBOUR_PORT, unit=NEIGHBOUR_UNIT)
    lab.neighbour_pid = host.unit_state(NEIGHBOUR_UNIT).main_pid
    lab.check_neighbour()
    lab.baseline = host.listing(["/"], pruned=PRUNED)


@pytest.fixture(scope="module")
def builds(packages: Packages, nfpm: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Builds]:
    b = Builds(packages, nfpm, tmp_path_factory.mktemp("builds"))
    thread = b.start()
    yield b
    b.stopping.set()
    thread.join()


@pytest.fixture(scope="module")
def labs(
    builds: Builds, daemon: Dockerd, signing_secret: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Lab]]:
    """Both Debian hosts, booted on first use and kept for the whole module."""
    with contextlib.ExitStack() as stack:

        class Hosts(dict):
            def __missing__(self, suite: str) -> Lab:
                started = time.monotonic()
                host = stack.enter_context(systemd_host(daemon, suite))
                lab = Lab(host, suite, SUITES[suite], tmp_path_factory.mktemp(f"lab-{suite}"), signing_secret)
                prepare(lab)
                print(f"{suite}: booted and prepared in {time.monotonic() - started:.1f} s")
                self[suite] = lab
                return lab

        yield Hosts()


# --- checks ---------------------------------------------------------------------------------------


def account(host: SystemdHost, user: str) -> tuple[int, int] | None:
    result = host.exec("getent", "passwd", user, check=False)
    if result.returncode != 0:
        return None
    fields = result.stdout.strip().split(":")
    return int(fields[2]), int(fields[3])


def unit_setting(host: SystemdHost, unit_path: str, key: str) -> list[str]:
    return [line.split("=", 1)[1].strip() for line in host.read(unit_path).splitlines() if line.startswith(f"{key}=")]


def check_service(host: SystemdHost, user: str = USER, unit: str = UNIT, binary: str = "node_exporter") -> int:
    """The unit is active and its main process runs as `user`, sandboxed: no new privileges, a
    seccomp filter, and the capabilities its unit grants (none). Returns its PID."""
    state = host.wait_active(unit)
    pid = state.main_pid
    assert pid > 0, state
    status = host.proc_status(pid)
    uid, gid = account(host, user) or (None, None)
    assert status["Uid"].split() == [str(uid)] * 4, (user, status["Uid"])
    assert status["Gid"].split() == [str(gid)] * 4, (user, status["Gid"])
    assert status["NoNewPrivs"] == "1", status
    assert status["Seccomp"] == "2", status  # a filter is loaded (SystemCallFilter=)
    unit_path = f"/usr/lib/systemd/system/{unit}"
    # The unit grants no capability: an empty bounding set, nothing effective or ambient.
    assert unit_setting(host, unit_path, "CapabilityBoundingSet") == [""], host.read(unit_path)
    assert not unit_setting(host, unit_path, "AmbientCapabilities")
    for field in ("CapEff", "CapPrm", "CapBnd", "CapAmb"):
        assert int(status[field], 16) == 0, (field, status[field])
    assert host.cmdline(pid)[0] == f"/usr/bin/{binary}"
    return pid


def serves(host: SystemdHost, port: int = PORT) -> None:
    host.wait_port(port, unit=UNIT if port == PORT else None)
    assert METRIC in host.scrape(port)


def no_process_of(host: SystemdHost, user: str) -> None:
    left = [p for p in host.processes() if p.user == user]
    assert not left, f"processes of {user} left: {left}"


def file_state(host: SystemdHost, path: str) -> tuple[str, str]:
    """What a planted link must not change: (type uid:gid mode links, content or listing)."""
    if host.exec("test", "-d", path, check=False).returncode == 0:
        return host.stat(path), host.exec("ls", "-A", path).stdout
    return host.stat(path), host.read(path)


def plant_links(host: SystemdHost, user: str = USER) -> None:
    """As the service user: its secret becomes a symbolic link to a root-owned file, its
    textfile directory one to a root-owned directory; a hard link to that file is tried."""
    hard = host.exec("ln", CANARY, f"{HOME_DIR}/hard-link", user=user, check=False)
    protected = host.read("/proc/sys/fs/protected_hardlinks").strip() == "1"
    if protected:
        # The kernel refuses it (the host's setting; a container cannot turn it off).
        assert hard.returncode != 0 and "Operation not permitted" in hard.stderr, hard
    host.sh(
        f"rm -rf {SECRET} {TEXTFILE_DIR}; ln -s {CANARY} {SECRET}; ln -s {CANARY_DIR} {TEXTFILE_DIR}",
        user=user,
    )
    assert host.stat(SECRET).startswith("symbolic link") and host.stat(TEXTFILE_DIR).startswith("symbolic link")


def listing_diff(lab: Lab) -> tuple[dict[str, str], dict[str, str], dict[str, tuple[str, str]]]:
    now = lab.host.listing(["/"], pruned=PRUNED)
    added = {p: m for p, m in now.items() if p not in lab.baseline and p not in ACCOUNT_BACKUPS}
    removed = {p: m for p, m in lab.baseline.items() if p not in now}
    changed = {p: (lab.baseline[p], now[p]) for p in now if p in lab.baseline and now[p] != lab.baseline[p]}
    return added, removed, changed


def assert_nothing_left(lab: Lab) -> None:
    added, removed, changed = listing_diff(lab)
    assert not added and not removed and not changed, f"{lab.suite}: left {added}, removed {removed}, changed {changed}"


def exposure_in_docs(exporter: str) -> float:
    page = (REPO_ROOT / "docs" / "unit-exposure.md").read_text()
    m = re.search(rf"^\| {exporter} \| [^|]+ \| ([0-9.]+) ", page, re.M)
    assert m, f"docs/unit-exposure.md has no row for {exporter}"
    return float(m.group(1))


def security(host: SystemdHost, *args: str) -> tuple[float, set[str]]:
    """`systemd-analyze security`'s overall exposure and the checks it fails (LC_ALL=C marks
    them with "-")."""
    out = host.exec("systemd-analyze", "security", "--no-pager", *args).stdout
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", out)
    assert m, out
    return float(m.group(1)), {line.split()[1] for line in out.splitlines() if line.startswith("- ")}


def installed_version(host: SystemdHost, package: str) -> str:
    return host.exec("dpkg-query", "-W", "-f=${Status} ${Version}", package).stdout


# --- DEB ------------------------------------------------------------------------------------------

suites = pytest.mark.parametrize("suite", list(SUITES))


@suites
def test_deb_upgrade_from_the_legacy_package(labs: dict[str, Lab], builds: Builds, suite: str) -> None:
    lab = labs[suite]
    host = lab.host
    lab.publish(builds.legacy("deb", lab.dist))
    lab.apt("install", "--no-install-recommends", DEB)
    assert installed_version(host, DEB) == f"install ok installed 1.0.0-1+deb{lab.dist[-2:]}"
    ids = account(host, USER)
    assert ids is not None
    host.wait_active(UNIT)
    assert unit_setting(host, f"/usr/lib/systemd/system/{UNIT}", "ProtectSystem") == ["full"]  # the old unit

    # Positive control: the legacy postinst chowns and chmods by path, so a link the service
    # user plants hands root's file over on the next configure.
    host.write(LEGACY_CANARY, CANARY_TEXT, 0o600)
    host.sh(f"rm -f {SECRET}; ln -s {LEGACY_CANARY} {SECRET}", user=USER)
    lab.apt("install", "--reinstall", DEB)
    uid, gid = ids
    assert host.stat(LEGACY_CANARY) == f"regular file {uid}:{gid} 600 1", "the attack no longer works on legacy"
    host.exec("rm", "-f", LEGACY_CANARY, SECRET)

    # The operator's changes: statoverrides on a conffile and on the log directory, edits
    # (the secret written anew, where the link was).
    host.sh(
        f"dpkg-statoverride --update --add root {USER} 0640 {WEB_CONFIG}; "
        f"dpkg-statoverride --update --add {USER} adm 2750 {LOG_DIR}; "
        f"echo 'level: debug # edited' >> {CONFIG}"
    )
    host.write(SECRET, "[client]\nuser=exporter\npassword=edited\n", 0o600, owner=f"{USER}:{USER}")
    config, secret = host.read(CONFIG), host.read(SECRET)
    overrides = host.exec("dpkg-statoverride", "--list").stdout

    lab.publish(builds.deb(V2, lab.dist))
    lab.apt("upgrade")
    assert installed_version(host, DEB) == f"install ok installed {V2}-1+deb{lab.dist[-2:]}"
    assert account(host, USER) == ids
    assert host.exec("dpkg-statoverride", "--list").stdout == overrides
    assert host.stat(WEB_CONFIG) == f"regular file 0:{gid} 640 1"  # applied by dpkg on unpack
    # tmpfiles.d declares the log directory now: postinst carried the override into the
    # administrator's tmpfiles.d file, which wins over the package's, and said so.
    assert host.stat(LOG_DIR) == f"directory {uid}:4 2750 2"  # adm is GID 4 on Debian
    carried = host.read(f"/etc/tmpfiles.d/{DEB}.conf")
    assert f"d {LOG_DIR} 2750 {USER} adm -" in carried.splitlines(), carried
    assert host.read(CONFIG) == config and host.exists(f"{CONFIG}.dpkg-dist")
    assert host.read(SECRET) == secret and host.stat(SECRET) == f"regular file {uid}:{gid} 600 1"
    assert host.stat(TEXTFILE_DIR) == f"directory {uid}:{gid} 755 2"  # re-made, the service's again
    assert unit_setting(host, f"/usr/lib/systemd/system/{UNIT}", "ProtectSystem") == ["strict"]
    check_service(host)
    serves(host)

    lab.apt("purge", DEB)
    host.sh(f"dpkg-statoverride --remove {WEB_CONFIG}; dpkg-statoverride --remove {LOG_DIR}")
    no_process_of(host, USER)
    assert_nothing_left(lab)


@suites
def test_deb_install_from_a_signed_repository_runs_the_service_sandboxed(
    labs: dict[str, Lab], builds: Builds, suite: str
) -> None:
    lab = labs[suite]
    host = lab.host
    lab.publish(builds.deb(V1, lab.dist))
    lab.apt("install", "--no-install-recommends", DEB)
    state = host.unit_state(UNIT)
    assert state.file_state == "enabled", state
    pid = check_service(host)
    serves(host)
    lab.first_scrape = (time.monotonic(), pid)

    # docs/unit-exposure.md scores the unit file offline, here the running unit is scored
    # too. A running service has its own mount namespace (which ProtectSystem= and the others
    # imply) and 252's live analysis credits it as PrivateMounts=; the unit writes it out, so
    # the file scores the same.
    live, live_failing = security(host, UNIT)
    offline, offline_failing = security(host, "--offline=true", f"/usr/lib/systemd/system/{UNIT}")
    documented = exposure_in_docs("node_exporter")
    print(f"{suite}: systemd-analyze security {UNIT}: {live} live, {offline} offline; docs (252): {documented}")
    assert live_failing == offline_failing, (sorted(offline_failing), sorted(live_failing))
    if suite == "bookworm":  # the systemd the page was scored with
        assert offline == documented, f"systemd 252 scores the unit {offline}, docs/unit-exposure.md {documented}"
    assert live == offline <= 3.0


@suites
def test_deb_serves_10_s_later_and_after_a_restart(labs: dict[str, Lab], suite: str) -> None:
    # The other host's steps run in between: the wait rarely costs anything.
    lab = labs[suite]
    host = lab.host
    first, pid = lab.first_scrape
    time.sleep(max(0.0, 10 - (time.monotonic() - first)))
    serves(host)
    assert host.unit_state(UNIT).main_pid == pid, "the service was restarted while serving"
    host.systemctl("restart", UNIT)
    restarted = check_service(host)
    assert restarted != pid
    serves(host)
    lab.check_neighbour()


@suites
def test_deb_upgrade_keeps_the_edited_conffile_and_restarts(labs: dict[str, Lab], builds: Builds, suite: str) -> None:
    lab = labs[suite]
    host = lab.host
    before = check_service(host)
    host.sh(f"echo 'level: debug # edited' >> {CONFIG}")
    edited = host.read(CONFIG)
    lab.publish(builds.deb(V1, lab.dist), builds.deb(V2, lab.dist))
    lab.apt("upgrade")
    assert installed_version(host, DEB) == f"install ok installed {V2}-1+deb{lab.dist[-2:]}"
    assert host.read(CONFIG) == edited
    assert "# since 1.1.0" in host.read(f"{CONFIG}.dpkg-dist")
    after = check_service(host)
    assert after != before, "the upgrade did not restart the service"
    assert "--web.telemetry-path=/metrics" in host.cmdline(after)  # the new version's arguments
    serves(host)


@suites
def test_deb_reinstall_does_not_follow_links_the_service_user_planted(labs: dict[str, Lab], suite: str) -> None:
    lab = labs[suite]
    host = lab.host
    canaries = {path: file_state(host, path) for path in (CANARY, CANARY_DIR)}
    assert canaries[CANARY] == ("regular file 0:0 600 1", CANARY_TEXT)
    plant_links(host)
    lab.apt("install", "--reinstall", DEB)
    assert {path: file_state(host, path) for path in canaries} == canaries
    check_service(host)
    serves(host)


@suites
def test_deb_remove_stops_the_service_and_purge_leaves_nothing(labs: dict[str, Lab], suite: str) -> None:
    lab = labs[suite]
    host = lab.host
    canaries = {path: file_state(host, path) for path in (CANARY, CANARY_DIR)}
    ids = account(host, USER)
    lab.apt("remove", DEB)
    assert host.unit_state(UNIT).active == "inactive"
    no_process_of(host, USER)
    assert host.exists(CONFIG), "remove keeps the conffiles"
    lab.apt("purge", DEB)
    assert host.exec("dpkg-query", "-W", DEB, check=False).returncode != 0
    assert account(host, USER) == ids, "the account stays"
    assert {path: file_state(host, path) for path in canaries} == canaries
    assert_nothing_left(lab)


def test_deb_a_shared_directory_stays_until_the_last_purge(labs: dict[str, Lab], builds: Builds) -> None:
    lab = labs[SHARED_SUITE]
    host = lab.host
    lab.publish(*(builds.deb(V1, lab.dist, demo) for demo in SHARED))
    lab.apt("install", "--no-install-recommends", *(d.deb_name for d in SHARED))
    for demo in SHARED:
        check_service(host, "prometheus", f"{demo.name}.service", demo.binary)
    host.write(f"{SHARED_DIR}/data", "collected\n", 0o640, owner="prometheus:prometheus")
    lab.apt("purge", SHARED[0].deb_name)
    assert host.read(f"{SHARED_DIR}/data") == "collected\n", "purged while another package ships it"
    check_service(host, "prometheus", f"{SHARED[1].name}.service", SHARED[1].binary)
    lab.apt("purge", SHARED[1].deb_name)
    assert not host.lexists(SHARED_DIR)
    assert account(host, "prometheus") is not None
    no_process_of(host, "prometheus")
    assert_nothing_left(lab)


# --- RPM, under the Debian 12 host's systemd ------------------------------------------------------


def test_rpm_install_upgrade_erase(labs: dict[str, Lab], builds: Builds) -> None:
    lab = labs["bookworm"]
    host = lab.host
    assert_nothing_left(lab)  # the DEB steps left the host as they found it
    stub, legacy, v1, v2 = builds.stub(), builds.legacy("rpm", "el9"), builds.rpm(V1), builds.rpm(V2)
    legacy_in = "/root/legacy.rpm"  # the same file name as today's 1.0.0
    host.copy_in(legacy, legacy_in)
    for path in (stub, v1, v2):
        host.copy_in(path, f"/root/{path.name}")
    rpm(host, "-i", f"/root/{stub.name}")  # /bin/sh, shadow-utils...: what EL's base provides
    # EL's default preset (99-default-disable.preset), and a site preset for our unit.
    host.write_files(
        {
            "/etc/systemd/system-preset/99-default-disable.preset": "disable *\n",
            "/etc/systemd/system-preset/50-hub.preset": f"enable {UNIT}\n",
        }
    )

    # Positive control: the legacy %post changes owners by path on every upgrade.
    rpm(host, "-i", legacy_in)
    uid, gid = account(host, USER) or (0, 0)
    host.write(LEGACY_CANARY, CANARY_TEXT, 0o600)
    host.sh(f"rm -f {SECRET}; ln -s {LEGACY_CANARY} {SECRET}", user=USER)
    rpm(host, "-U", "--replacepkgs", legacy_in)
    assert host.stat(LEGACY_CANARY) == f"regular file {uid}:{gid} 600 1", "the attack no longer works on legacy"
    rpm(host, "-e", "demo_exporter")
    host.exec("rm", "-rf", LEGACY_CANARY, HOME_DIR, LOG_DIR)

    rpm(host, "-i", f"/root/{v1.name}")
    state = host.unit_state(UNIT)
    assert (state.active, state.file_state) == ("inactive", "enabled"), state  # EL starts nothing
    host.systemctl("start", UNIT)
    before = check_service(host)
    serves(host)

    canaries = {path: file_state(host, path) for path in (CANARY, CANARY_DIR)}
    plant_links(host)
    rpm(host, "-U", f"/root/{v2.name}")
    assert rpm(host, "-q", "demo_exporter").stdout.strip() == "demo_exporter-1.1.0-1.el9.x86_64"
    assert {path: file_state(host, path) for path in canaries} == canaries
    after = check_service(host)
    assert after != before, "the upgrade did not restart the service"
    serves(host)

    rpm(host, "-e", "demo_exporter")
    state = host.unit_state(UNIT)
    assert state.active == "inactive" and state.file_state in ("", "not-found"), state
    assert not host.lexists(f"/etc/systemd/system/multi-user.target.wants/{UNIT}")
    no_process_of(host, USER)
    assert {path: file_state(host, path) for path in canaries} == canaries
    lab.check_neighbour()
