"""End to end: every exporter, from a local upstream mirror to what operators install.

1. The mirror (tests/e2e/mirror.py): Debian's real builds of 16 exporters, repacked in each
   upstream archive's layout and naming, amd64 and arm64; for the 18 exporters Debian does not
   build, a small static stand-in (standin/standin.c, compiled here for both arches) named and
   laid out like the upstream archive. Debian's builds are older than the manifests: nothing
   here compares `--version` output with a manifest version.
2. A throwaway copy of the repository pins the mirror (`./pants update-lock exporters::`),
   commits, and runs `./pants --hub-require-pinned package //:site` over all 34 exporters
   (pantsd on, stopped at the end). The catalog must list 34 exporters with every declared
   artifact "success", and the site must hold every declared package (455: 195 RPMs, 260 DEBs).
3. The site is signed and published with `hub publish` (an ephemeral RSA-3072 key) and served
   over HTTP on 127.0.0.1 with the base URL it was published for. There is no unsigned
   fallback: without hub.site.publish or a key, the test fails.
4. Seven exporters (node_exporter, prometheus with promtool, alertmanager with amtool,
   blackbox_exporter, redis_exporter, mysqld_exporter, process_exporter) as operators run them:
   - EL, dnf: the el9 packages install into an installroot (a Debian minbase userland plus a
     stub RPM providing what an EL base has) from the `.repo` file the site serves
     (gpgcheck=1, repo_gpgcheck=1: the YUM repository's signature is what this proves), with
     the install command the portal shows; the service user, unit, environment file and
     config files are checked there.
   - Debian 12 and 13, apt under a real systemd (tests/e2e/hosts.py over
     integration.systemd_host): one container per suite, for all seven, whose PID 1 is
     systemd and where another service already runs. The published site's APT tree (signed
     InRelease, the seven packages' pool files) is copied in, the deb822 `.sources` the site
     serves is installed with its URI pointed at that copy (`file:`) and the published key as
     Signed-By, and each package goes in with the portal's command (`apt install
     <package>`). The maintainer scripts alone must leave each unit enabled and active. Its
     main process runs as the unit's user (not root) with exactly the capabilities its
     manifest grants (CapEff, CapPrm, CapAmb and CapBnd of /proc/<pid>/status), NoNewPrivs 1
     and Seccomp 2 with more filters than the neighbour's (Docker's profile puts one on every
     process of the container); /metrics answers, again 10 s later from the same process
     (systemd never restarted it), and after `systemctl restart`. blackbox_exporter pings and connects
     through /probe (ICMP needs its CAP_NET_RAW grant: the hosts allow no unprivileged ICMP),
     process_exporter groups other users' processes (its proc grant), promtool and amtool
     talk to their servers. Each exporter's metric families equal those of the same binary
     run as root without a sandbox (`systemd-run`, the unit's ExecStart and
     EnvironmentFile, started next to the service), apart from a commented allow-list. `systemd-analyze security` scores
     each running unit as docs/unit-exposure.md does (offline, systemd 252), on Debian 12 and
     on 13 (257) alike. `apt-get purge` of the seven stops every one of their processes and
     leaves the other service untouched.
   - EL, rpm under systemd: EL's own systemd cannot run here (no EL package can be
     downloaded), so the same el9 RPMs, signatures checked first (`rpm -K`), go into a
     fresh Debian 12 host (systemd 252, as EL 9.3's) with EL's presets (`disable *`) by
     `rpm -i --nodeps` (its rpm database holds none of Debian's packages). Their scriptlets
     run under that systemd: the account comes from sysusers.d in %pre, the payload's %attr
     owners apply, %post loads the unit and leaves it disabled as EL does; the test then runs
     `systemctl enable --now` as an EL operator would and checks the processes, scrapes,
     restarts and scores as above, and `rpm -e` stops them all.
   Deviations forced by the stand-in upstream (Debian's older builds) are explicit: Debian's
   alertmanager reads its notification templates from /usr/share (copied from the same
   Debian package before the install), and Debian's mysqld_exporter 0.14 refuses a .my.cnf
   without a password (upstream's current release starts without one), so its unit fails
   after the DEB's postinst starts it, until the password is set as the shipped .my.cnf says.
5. arm64: every arm64 RPM and DEB of the site holds only aarch64 ELF files under /usr/bin;
   node_exporter's (Debian's build, dynamic) runs under qemu-aarch64-static with libc6:arm64
   as its sysroot, and a stand-in's (static) without one.
6. Docker, under a private dockerd: a stand-in exporter's image exactly as the site run built
   it (FROM scratch; the stand-in is static) is loaded and serves /metrics; and node_exporter's
   image is built by the engine (hub.image.request) from the same pinned archive with a libc6 base layer,
   because Debian's binary is dynamically linked and the manifest's base is scratch.
7. The portal: a page for each of the 34 exporters; for the seven, the dnf/apt install
   commands on the page are the ones the tests ran, and the `.repo`/`.sources` texts on the
   page are `hub.repos.user_files.yum_repo_file`/`apt_sources_file` for the served base URL.

Needs root (chroot, mmdebstrap roots, dockerd) and the tools of build-support/ci/install-tools.sh
(HUB_NFPM is not needed: packages come from the ./pants run). Timings are printed (pytest -s,
or the test report's captured output).
"""

from __future__ import annotations

import contextlib
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import pytest
import yaml

from hub.common import matrix
from hub.repos import user_files
from hub.manifest.load import load_manifest
from hub.packaging.plan import is_deb_conffile_path
from hub.upstream.mirror import serve

from e2e.hosts import (
    NEIGHBOUR_PORT,
    HostFiles,
    Neighbour,
    Reference,
    RootFiles,
    accounts_in,
    apt_tree,
    capability_mask,
    capability_names,
    documented_exposure,
    environment_text,
    group_ids_in,
    metric_families,
    neighbour_untouched,
    prepare_server,
    proc_status,
    sample_value,
    scrape_reference,
    start_neighbour,
    start_reference,
    stop_reference,
)
from e2e.mirror import STATUS_OK, STATUS_STANDIN, build_e2e_mirror, compile_standin
from integration.offline import debian_cache
from integration.roots import (
    ELF_AARCH64,
    ELF_X86_64,
    EL_ROOT_ABSENT,
    STUB_NAME,
    ElRoot,
    arm64_sysroot,
    base_env,
    build_stub_rpm,
    createrepo,
    debian_root_tarball,
    describe,
    exec_start_argv,
    free_port,
    inside,
    rpm_home,
    run,
    run_arm64,
    unit_section,
    unpacked_root,
)
from integration.services import dockerd
from integration.systemd_host import (
    APT_REPOSITORY_DIR,
    SystemdHost,
    UnitState,
    add_apt_repository,
    apt_get,
    rpm,
    systemd_host,
)
from integration.workspace import copy_workspace, find_repo_root, git, stop_pantsd

# The declared matrix of the 34 exporters (SPEC "Scale"): 31 on amd64 + arm64, 3 amd64-only.
EXPECTED_EXPORTERS = 34
EXPECTED_RPMS, EXPECTED_DEBS = 195, 260
EL_DIST, DEB_DIST = "el9", "debian-12"


# integration.workspace.run_pants stops a command after 20 minutes; the cold //:site build can
# take longer on a loaded 2-core machine. HUB_E2E_PANTS_TIMEOUT (seconds) overrides this cap.
PANTS_TIMEOUT = float(os.environ.get("HUB_E2E_PANTS_TIMEOUT", "3000"))
# For developing the later steps only: HUB_E2E_KEEP_SITE=<directory> keeps the workspace copy
# and its built site there, and later runs reuse them instead of building again. Nothing
# checks that they are current: delete the directory after changing manifests, templates,
# the engine or the plugin.
KEEP_SITE = os.environ.get("HUB_E2E_KEEP_SITE", "")


def run_pants(
    repo: Path, *args: str, env: dict[str, str] | None = None, check: bool = False, pantsd: bool = True
) -> subprocess.CompletedProcess:
    """The real launcher in the workspace copy (as integration.workspace.run_pants does),
    with pantsd by default (stopped by the `site` fixture) and a longer timeout."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("PANTS_BUILDROOT_OVERRIDE", None)
    result = subprocess.run(
        ["./pants", "--pantsd" if pantsd else "--no-pantsd", "--no-dynamic-ui", *args],
        cwd=repo,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=PANTS_TIMEOUT,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"./pants {' '.join(args)} exited {result.returncode}\n{result.stdout[-8000:]}\n{result.stderr[-8000:]}"
        )
    return result


TIMINGS: list[str] = []  # every log line, printed again at the end of the session


def log(message: str) -> None:
    """Progress and timings: live on stderr (captured per test, shown with -s or on failure),
    and repeated in the session summary (see `timing_report`)."""
    line = f"[e2e {time.strftime('%H:%M:%S')}] {message}"
    TIMINGS.append(line)
    print(line, file=sys.stderr, flush=True)


@pytest.fixture(scope="session", autouse=True)
def timing_report(request, record_testsuite_property) -> Iterator[dict[str, float]]:
    """At the end of the session, the progress log and timings go to the terminal (also when
    every test passed, so `./pants test --test-output=all` shows them), and the //:site build
    time to the JUnit report as the test-suite property `site_build_seconds`."""
    measured: dict[str, float] = {}
    yield measured
    for key, value in measured.items():
        record_testsuite_property(key, f"{value:.1f}")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_sep("-", "e2e progress and timings")
        for line in TIMINGS:
            reporter.write_line(line)


@contextlib.contextmanager
def timed(what: str) -> Iterator[None]:
    start = time.monotonic()
    log(f"{what} ...")
    yield
    log(f"{what}: {time.monotonic() - start:.1f} s")


# --- the seven exporters checked through the operators' clients ---------------------------------


def debian_alertmanager_templates() -> dict[str, tuple[bytes, int]]:
    """Debian's alertmanager build reads its default notification templates from
    /usr/share/prometheus/alertmanager/ (Debian's patch), where upstream's binary embeds them,
    and does not start without them. The files come from the same Debian .deb the mirror
    repacked; this is a quirk of the stand-in upstream, not of our package."""
    from hub.upstream.debian import DEBIAN_BUILDS, fetch_deb, read_deb_files

    source = DEBIAN_BUILDS["alertmanager"]
    deb = fetch_deb(source.package, "amd64", debian_cache())
    wanted = [f"/usr/share/prometheus/alertmanager/{n}" for n in ("default.tmpl", "email.tmpl")]
    found = read_deb_files(deb.path, wanted)
    assert sorted(found) == sorted(wanted), sorted(found)
    return {path: (data, 0o644) for path, (data, _) in found.items()}


def _blackbox_probes(host: SystemdHost, port: int) -> None:
    """ICMP echo to the host itself (a raw socket: the hosts allow no unprivileged ICMP, so
    only the CAP_NET_RAW grant makes it work), and a TCP connection to the neighbour."""
    for module, target in (("icmp", "127.0.0.1"), ("tcp_connect", f"127.0.0.1:{NEIGHBOUR_PORT}")):
        body = host.scrape(port, f"/probe?module={module}&target={target}&debug=true")
        assert sample_value(body, "probe_success") == 1, f"blackbox {module} probe of {target} failed:\n{body}"


def _process_groups(host: SystemdHost, port: int) -> None:
    """With its proc grant (ProtectProc=default), process_exporter sees the processes of other
    users: the neighbour's perl (hub-neighbour), dbus-daemon (messagebus), systemd (root)."""
    body = host.scrape(port)
    for group in ("perl", "dbus-daemon", "systemd"):
        count = sample_value(body, "namedprocess_namegroup_num_procs", {"groupname": group})
        assert count is not None and count >= 1, f"process_exporter sees no {group} process:\n{body[:3000]}"


def _promtool(host: SystemdHost, port: int) -> None:
    out = host.exec("promtool", "check", "config", "/etc/prometheus/prometheus.yml").stdout
    assert "SUCCESS" in out, out
    out = host.exec("promtool", "query", "instant", f"http://127.0.0.1:{port}", "vector(42)").stdout
    assert "42" in out, out


def _amtool(host: SystemdHost, port: int) -> None:
    out = host.exec("amtool", "check-config", "/etc/alertmanager/alertmanager.yml").stdout
    assert "SUCCESS" in out, out
    out = host.exec("amtool", f"--alertmanager.url=http://127.0.0.1:{port}", "config", "show").stdout
    assert "receiver: default" in out, out


# The operator's edit that makes process_exporter group something: by default (ARGS="") it
# reads /proc but groups nothing.
_PROCESS_EXPORTER_ARGS = "-procnames=perl,dbus-daemon,systemd"


@dataclass(frozen=True)
class Check:
    metric: str  # a metric the real (Debian) build serves; the real names, checked by hand
    down: str = ""  # the exporter's "backend is up" gauge: 0 here, where no backend runs
    # What an operator does once the package is installed, as root, with the environment
    # file's path as $1: (why, shell script). The service is restarted (or started) afterwards.
    configure: tuple[str, str] | None = None
    # A regex of the service's journal when Debian's build cannot start from the package's
    # defaults (see `configure`): the maintainer scripts start it, and it fails this way.
    unconfigured: str = ""
    probe: Callable[[SystemdHost, int], None] | None = None  # beyond /metrics: (host, port)
    # Flags that replace the same ones in the unsandboxed reference's command line: state of its own.
    reference_args: tuple[str, ...] = ()


# A truncating write keeps the file's owner and mode (sed -i would make a new root-owned file).
_EDIT = 'grep -q "$2" "$1"; sed "s|$2|$3|" "$1" > /tmp/hub-e2e-edit; cat /tmp/hub-e2e-edit > "$1"; rm /tmp/hub-e2e-edit'

CHECKS = {
    "node_exporter": Check("node_exporter_build_info"),
    "prometheus": Check(
        "prometheus_build_info",
        probe=_promtool,
        reference_args=("--storage.tsdb.path=/var/tmp/hub-e2e-reference/prometheus",),
    ),
    "alertmanager": Check(
        "alertmanager_build_info",
        probe=_amtool,
        # Gossip stays on: the cluster metrics are part of the comparison.
        reference_args=(
            "--storage.path=/var/tmp/hub-e2e-reference/alertmanager",
            "--cluster.listen-address=0.0.0.0:19094",
        ),
    ),
    "blackbox_exporter": Check("blackbox_exporter_build_info", probe=_blackbox_probes),
    "redis_exporter": Check("redis_exporter_build_info", down="redis_up"),
    "mysqld_exporter": Check(
        "mysqld_exporter_build_info",
        down="mysql_up",
        configure=(
            "the shipped .my.cnf says to set the password; Debian's 0.14 build does not start without one",
            f"set -- /var/lib/mysqld_exporter/.my.cnf '^password *= *$' 'password = e2e-not-secret'\n{_EDIT}",
        ),
        unconfigured=r"password or ssl-key should be specified under \[client\]",
    ),
    "process_exporter": Check(
        "process_exporter_build_info",
        configure=(
            "which processes to group",
            f'set -- "$1" \'^ARGS=""$\' \'ARGS="{_PROCESS_EXPORTER_ARGS}"\'\n{_EDIT}',
        ),
        probe=_process_groups,
    ),
}


# --- session fixtures: mirror, site, published site -------------------------------------------------


@dataclass
class Site:
    workspace: Path
    dir: Path  # dist/site of the workspace (unsigned)
    manifests: dict  # name -> Manifest
    mirror: list  # MirrorEntry
    build_seconds: float
    env: dict[str, str]


@dataclass
class Served:
    root: Path  # the directory served: the published, signed `current`
    base_url: str  # ends without "/"
    public_key: bytes  # the ASCII-armored public key of the signing key


@pytest.fixture(scope="session")
def standins(tmp_path_factory) -> dict[str, Path]:
    with timed("compiling the static stand-in (amd64, arm64)"):
        return compile_standin(tmp_path_factory.mktemp("standin"))


@pytest.fixture(scope="session")
def site(tmp_path_factory, standins, timing_report) -> Iterator[Site]:
    assert os.geteuid() == 0, "the e2e tests need root (chroot, mmdebstrap roots, dockerd)"
    repo = find_repo_root()
    manifests = {p.parent.name: load_manifest(p) for p in sorted((repo / "exporters").glob("*/manifest.yaml"))}
    assert len(manifests) == EXPECTED_EXPORTERS, sorted(manifests)

    mirror_dir = tmp_path_factory.mktemp("mirror")
    with timed("building the upstream mirror (Debian builds + stand-ins)"):
        entries = build_e2e_mirror(
            list(manifests.values()), mirror_dir, cache_dir=debian_cache(), standins=standins, jobs=2
        )
    declared = {(m.name, a) for m in manifests.values() for a in m.build.archs}
    assert {(e.exporter, e.arch) for e in entries} == declared
    debian = sorted({e.exporter for e in entries if e.status == STATUS_OK})
    standin = sorted({e.exporter for e in entries if e.status == STATUS_STANDIN})
    log(f"mirror: {len(debian)} exporters from Debian's builds, {len(standin)} stand-ins: {', '.join(standin)}")
    assert set(CHECKS) <= set(debian), "the seven checked exporters must be Debian's real builds"

    kept = Path(KEEP_SITE) / "site.json" if KEEP_SITE else None
    if kept is not None and kept.is_file():
        workspace, seconds = Path(KEEP_SITE) / "repo", json.loads(kept.read_text())["build_seconds"]
        log(f"HUB_E2E_KEEP_SITE: reusing the site built in {workspace} (not rebuilt, maybe stale)")
        try:
            with serve(mirror_dir) as url:
                env = {"PANTS_HUB_UPSTREAM_MIRROR": url}
                yield Site(workspace, workspace / "dist" / "site", manifests, entries, seconds, env)
        finally:
            stop_pantsd(workspace)
        return
    workspace = copy_workspace(Path(KEEP_SITE) / "repo" if KEEP_SITE else tmp_path_factory.mktemp("ws") / "repo")
    try:
        with serve(mirror_dir) as url:
            env = {"PANTS_HUB_UPSTREAM_MIRROR": url}
            with timed("./pants update-lock exporters::"):
                run_pants(workspace, "update-lock", "exporters::", env=env, pantsd=True, check=True)
            locks = sorted(workspace.glob("exporters/*/upstream.lock.json"))
            assert len(locks) == EXPECTED_EXPORTERS, locks
            for lock_path in locks:  # the lock keeps GitHub's canonical URL, never the mirror's
                lock = json.loads(lock_path.read_text())
                urls = [a["url"] for a in lock["archives"].values()]
                assert all(u.startswith("https://github.com/") for u in urls), (lock_path, urls)
            git(workspace, "add", "-A")
            git(workspace, "commit", "-q", "-m", "pin the upstream mirror")
            start = time.monotonic()
            with timed("./pants --hub-require-pinned package //:site (34 exporters)"):
                result = run_pants(workspace, "--hub-require-pinned", "package", "//:site", env=env, pantsd=True)
            seconds = time.monotonic() - start
            assert (
                result.returncode == 0
            ), f"./pants package //:site exited {result.returncode}\n{result.stdout[-8000:]}\n{result.stderr[-8000:]}"
            log(f"//:site built in {seconds:.0f} s")
            timing_report["site_build_seconds"] = seconds
            if kept is not None:
                kept.write_text(json.dumps({"build_seconds": seconds}))
            yield Site(workspace, workspace / "dist" / "site", manifests, entries, seconds, env)
    finally:
        stop_pantsd(workspace)


@pytest.fixture(scope="session")
def served(site: Site, tmp_path_factory) -> Iterator[Served]:
    """The site as operators reach it: signed and published by `hub publish`, served over
    HTTP at the base URL it was published for. Never the unsigned site: what the clients
    check below is the signature."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    from testkit import packages as repo_testkit
    from hub.cli import main as hub
    from hub.site import publish  # noqa: F401 - missing, it fails here: no unsigned fallback

    work = tmp_path_factory.mktemp("publish")
    home = work / "gnupg"
    fingerprint = repo_testkit.generate_key(home, length=3072, email="e2e@example.invalid")
    secret = repo_testkit.export_secret_key(home, fingerprint)
    public = repo_testkit.export_public_key(home, fingerprint)
    repo_testkit.stop_agent(home)
    assert "BEGIN PGP PRIVATE KEY BLOCK" in secret and b"BEGIN PGP PUBLIC KEY BLOCK" in public, "no signing key"
    dest = work / "dest"
    dest.mkdir()
    saved = os.environ.get("HUB_SIGNING_KEY")
    os.environ["HUB_SIGNING_KEY"] = secret
    try:
        with timed("hub publish (sign, index, portal) of the site"):
            code = hub(
                [
                    "publish",
                    "--site",
                    str(site.dir),
                    "--dest",
                    str(dest),
                    "--base-url",
                    base + "/",
                    "--readmes",
                    str(site.workspace / "exporters"),
                ]
            )
    finally:
        os.environ.pop("HUB_SIGNING_KEY", None)
        if saved is not None:
            os.environ["HUB_SIGNING_KEY"] = saved
    assert code == 0, "hub publish failed (see the captured stderr)"
    current = (dest / "current").resolve()
    with serve(current, port=port):
        yield Served(current, base, public)


@pytest.fixture(scope="session")
def debian_tarball() -> Path:
    with timed("the Debian minbase root tarball"):
        return debian_root_tarball()


@pytest.fixture(scope="session")
def stub_repo(tmp_path_factory) -> Path:
    """A file:// YUM repository holding only the EL-userland stub (unsigned, local)."""
    repo = tmp_path_factory.mktemp("stub-repo")
    shutil.copy(build_stub_rpm(tmp_path_factory.mktemp("stub")), repo)
    return createrepo(repo)


@pytest.fixture(scope="session")
def arm64_libc(tmp_path_factory) -> Path:
    return arm64_sysroot(tmp_path_factory.mktemp("arm64") / "sysroot")


# --- helpers -----------------------------------------------------------------------------------------


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()


class _PreText(html.parser.HTMLParser):
    """The text of every element with an id (the portal's copyable <pre> blocks)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: dict[str, str] = {}
        self._open: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("br", "img", "meta", "link", "input", "hr"):
            return
        ident = dict(attrs).get("id")
        self._open.append((tag, ident))
        if ident:
            self.texts.setdefault(ident, "")

    def handle_endtag(self, tag):
        while self._open:
            t, _ = self._open.pop()
            if t == tag:
                break

    def handle_data(self, data):
        for _, ident in self._open:
            if ident:
                self.texts[ident] += data


def portal_page(served: Served, name: str) -> dict[str, str]:
    page = served.root / "exporters" / f"{name}.html"
    assert page.is_file(), f"no portal page for {name}"
    parser = _PreText()
    parser.feed(page.read_text())
    return parser.texts


def portal_install(served: Served, name: str, family: str, dist: str) -> tuple[str, str, str]:
    """(setup command, repository file text, install command) shown for `dist`."""
    texts = portal_page(served, name)
    prefix = f"cmd-{family}-{dist}-"
    try:
        return texts[prefix + "1"], texts[prefix + "1-f"], texts[prefix + "2"]
    except KeyError:
        raise AssertionError(f"{name}.html has no {family} {dist} install steps: {sorted(texts)}") from None


def install_words(command: str, client: str) -> list[str]:
    """`sudo dnf install x` -> ["install", "x"]: what the test passes to its client."""
    words = command.split()
    assert words[:2] == ["sudo", client], command
    return words[2:]


def check_installed_files(files: HostFiles | RootFiles, name: str, family: str, dist: str) -> None:
    """Service user, unit, environment file, config files, directories and binaries of an
    installed package, read from a chroot (RootFiles) or a running host (HostFiles)."""
    manifest = load_manifest(find_repo_root() / "exporters" / name / "manifest.yaml")
    spec = manifest.rpm if family == "rpm" else manifest.deb
    user = spec.system_user
    env_file = f"{matrix.DISTS[dist].env_dir}/{name}"
    passwd = files.read_text("/etc/passwd")

    (account,) = accounts_in(passwd, user)
    assert account.home == f"/var/lib/{user}", account
    assert account.shell.endswith("/nologin"), account
    assert account.uid < 1000, f"{user} is not a system account: {account}"
    assert group_ids_in(files.read_text("/etc/group"), user) == [account.gid], f"group {user}"

    unit_path = f"/usr/lib/systemd/system/{name}.service"
    unit = files.read_text(unit_path)
    service = unit_section(unit, "Service")
    assert service.get("User") == [user] and service.get("Group") == [user], service
    assert service.get("EnvironmentFile") == [f"-{env_file}"], service
    assert service.get("Restart") == ["on-failure"], service
    (exec_start,) = service["ExecStart"]
    env_text = files.read_text(env_file)
    argv = exec_start_argv(exec_start, environment_text(env_text))
    assert argv[0] == f"/usr/bin/{manifest.build.binary_name}", exec_start
    assert argv[1:] == list(spec.systemd.arguments), f"ExecStart={exec_start}"
    assert unit_section(unit, "Install").get("WantedBy") == ["multi-user.target"], unit
    assert re.search(r'^ARGS=""$', env_text, re.M), env_text

    assets = find_repo_root() / "exporters" / name
    for extra in spec.extra_files:
        assert files.is_file(extra.dest), f"{extra.dest} is not installed"
        assert files.read_bytes(extra.dest) == (assets / extra.source).read_bytes(), extra.dest
        assert files.owner_mode(extra.dest)[1] == int(extra.mode, 8), f"{extra.dest}: mode"
    for directory in spec.directories:
        uid = 0 if directory.owner == "root" else accounts_in(passwd, directory.owner)[0].uid
        assert files.owner_mode(directory.path) == (uid, int(directory.mode, 8)), directory

    for binary in manifest.build.binaries:
        path = f"/usr/bin/{binary}"
        assert files.elf_machine(path) == ELF_X86_64, path
        assert files.owner_mode(path) == (0, 0o755), path
        result = files.run(path, "--version")
        # Debian's builds are older than the manifests: only that it runs is checked, never the version.
        assert (
            result.returncode == 0 and binary.split("-")[0].split("_")[0] in (result.stdout + result.stderr).lower()
        ), describe(result)


def expected_config_files(name: str, family: str, dist: str) -> set[str]:
    manifest = load_manifest(find_repo_root() / "exporters" / name / "manifest.yaml")
    spec = manifest.rpm if family == "rpm" else manifest.deb
    config = {e.dest for e in spec.extra_files if e.config}
    if family == "deb":  # dpkg conffiles live under /etc; others are seeded (docs/packaging.md)
        config = {path for path in config if is_deb_conffile_path(path)}
    return {f"{matrix.DISTS[dist].env_dir}/{name}", *config}


# --- 1. the site: catalog and packages ----------------------------------------------------------------


def test_site_catalog_lists_every_exporter_and_artifact(site: Site) -> None:
    log(f"//:site build time: {site.build_seconds:.0f} s")
    catalog = site.dir / "catalog"
    index = json.loads((catalog / "index.json").read_text())
    names = sorted(e["name"] for e in index["exporters"])
    assert names == sorted(site.manifests), names

    declared_rpm = declared_deb = 0
    problems = []
    for name, manifest in site.manifests.items():
        metadata = json.loads((catalog / name / "metadata.json").read_text())
        arts = metadata["artifacts"]
        for artifact in manifest.matrix():
            kind, aid = artifact.kind, artifact.id
            if kind == "docker":
                status = arts.get("docker")
            else:
                _, arch, dist = aid.split("_", 2)
                status = arts.get(kind, {}).get(dist, {}).get(arch)
                declared_rpm += kind == "rpm"
                declared_deb += kind == "deb"
                doc = json.loads((catalog / name / f"{aid}.json").read_text())
                package = site.dir / doc["package"]["url"]
                if not package.is_file():
                    problems.append(f"{name}/{aid}: {doc['package']['url']} is not in the site")
            if status != "success":
                problems.append(f"{name}/{aid}: {status}")
    assert not problems, "\n".join(problems)

    rpms = sorted(site.dir.glob("el*/*/*.rpm"))
    debs = sorted((site.dir / "pool").rglob("*.deb"))
    log(f"site: {len(rpms)} RPMs, {len(debs)} DEBs (declared {declared_rpm} + {declared_deb})")
    assert (len(rpms), len(debs)) == (declared_rpm, declared_deb)
    assert (declared_rpm, declared_deb) == (EXPECTED_RPMS, EXPECTED_DEBS), "the declared matrix changed"


# --- 2. arm64 -------------------------------------------------------------------------------------------


def _usr_bin_machines(package: Path) -> dict[str, int | None]:
    """{member: ELF e_machine} of every regular file under usr/bin of an RPM or DEB."""
    found: dict[str, int | None] = {}
    if package.suffix == ".deb":
        proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(package)], stdout=subprocess.PIPE)
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            for member in tar:
                name = member.name.lstrip("./")
                if name.startswith("usr/bin/") and member.isfile():
                    head = tar.extractfile(member).read(20)
                    found[name] = _machine(head)
        assert proc.wait() == 0, package
        return found
    # RPM: rpm2archive turns the payload into a tar stream on stdout ("-")
    proc = subprocess.Popen(["rpm2archive", "-"], stdin=open(package, "rb"), stdout=subprocess.PIPE)
    with tarfile.open(fileobj=proc.stdout, mode="r|*") as tar:
        for member in tar:
            name = member.name.lstrip("./")
            if name.startswith("usr/bin/") and member.isfile():
                found[name] = _machine(tar.extractfile(member).read(20))
    assert proc.wait() == 0, package
    return found


def _machine(head: bytes) -> int | None:
    if len(head) < 20 or head[:4] != b"\x7fELF":
        return None
    return int.from_bytes(head[18:20], "little" if head[5] == 1 else "big")


def _arm64_packages(site: Site) -> list[tuple[str, Path, dict]]:
    out = []
    for doc_path in sorted((site.dir / "catalog").glob("*/*_arm64_*.json")):
        doc = json.loads(doc_path.read_text())
        out.append((doc["exporter"], site.dir / doc["package"]["url"], doc))
    return out


def test_every_arm64_package_holds_aarch64_binaries(site: Site) -> None:
    packages = _arm64_packages(site)
    expected = sum(1 for m in site.manifests.values() for a in m.matrix() if "_arm64_" in a.id)
    assert len(packages) == expected, (len(packages), expected)
    bad = []
    start = time.monotonic()
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda p: (p, _usr_bin_machines(p[1])), packages))
    for (exporter, path, _), machines in results:
        binaries = {f"usr/bin/{b}" for b in site.manifests[exporter].build.binaries}
        if set(machines) != binaries:
            bad.append(f"{path.name}: usr/bin holds {sorted(machines)}, expected {sorted(binaries)}")
        bad += [f"{path.name}: {m} has e_machine {v}" for m, v in machines.items() if v != ELF_AARCH64]
    log(f"arm64: {len(packages)} packages checked in {time.monotonic() - start:.0f} s")
    assert not bad, "\n".join(bad)


def _extract(package: Path, dest: Path) -> Path:
    dest.mkdir(parents=True)
    if package.suffix == ".deb":
        run(["dpkg-deb", "-x", package, dest], env=base_env())
    else:
        run(["sh", "-c", 'rpm2cpio "$1" | (cd "$2" && cpio -idm --quiet)', "sh", package, dest], env=base_env())
    return dest


def test_arm64_binaries_run_under_qemu(site: Site, arm64_libc: Path, tmp_path: Path) -> None:
    catalog = site.dir / "catalog"
    # node_exporter: Debian's dynamically linked build, with libc6:arm64 as the sysroot
    doc = json.loads((catalog / "node_exporter" / f"rpm_arm64_{EL_DIST}.json").read_text())
    root = _extract(site.dir / doc["package"]["url"], tmp_path / "node")
    result = run_arm64(root / "usr/bin/node_exporter", arm64_libc, "--version")
    assert "node_exporter, version" in result.stdout + result.stderr, describe(result)
    # a stand-in (static): no sysroot needed
    standin = next(
        n
        for n, e in sorted(site.manifests.items())
        if n not in CHECKS
        and all(x.exporter != n or x.status == STATUS_STANDIN for x in site.mirror)
        and "arm64" in e.build.archs
    )
    doc = json.loads((catalog / standin / f"deb_arm64_{DEB_DIST}.json").read_text())
    root = _extract(site.dir / doc["package"]["url"], tmp_path / "standin")
    binary = site.manifests[standin].build.binary_name
    result = run(["qemu-aarch64-static", root / "usr/bin" / binary, "--version"], env=base_env())
    assert result.stdout.strip() == f"{binary} standin", describe(result)


# --- 3. EL: dnf from the site's YUM repository ------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_dnf_installs_from_the_yum_repository(
    name: str, site: Site, served: Served, debian_tarball: Path, stub_repo: Path, tmp_path: Path
) -> None:
    setup, repo_text, install = portal_install(served, name, "rpm", EL_DIST)
    # What the setup command downloads is what the portal shows, and what hub.repos.user_files makes.
    served_repo = fetch(f"{served.base_url}/{user_files.yum_repo_file_name(EL_DIST)}").decode()
    assert served_repo == repo_text == user_files.yum_repo_file(served.base_url + "/", EL_DIST)
    assert f"{served.base_url}/{user_files.yum_repo_file_name(EL_DIST)}" in setup, setup
    # dnf checks each package's signature and the repository's (repomd.xml.asc) with the key
    # the .repo file names (gpgkey=), which the site serves.
    assert "\ngpgcheck=1\n" in repo_text and "\nrepo_gpgcheck=1\n" in repo_text, repo_text

    with unpacked_root(debian_tarball, tmp_path) as root:
        # Like an EL image, no systemd tools: the scriptlets take their fallbacks (useradd).
        for tool in EL_ROOT_ABSENT:
            inside(root, tool).unlink(missing_ok=True)
        work = tmp_path / "el-work"
        home = rpm_home(work / "home")
        conf = work / "dnf.conf"
        conf.write_text(
            "[main]\nreposdir=\nplugins=0\ninstall_weak_deps=0\nkeepcache=0\n\n"
            + repo_text
            + "\n[el-userland-stub]\nname=EL userland stub (test only, unsigned)\n"
            f"baseurl={stub_repo.resolve().as_uri()}\nenabled=1\ngpgcheck=0\nrepo_gpgcheck=0\n"
        )
        el = ElRoot(root, home, conf)
        words = install_words(install, "dnf")
        assert words == ["install", name], install  # the RPM is named after the exporter
        with timed(f"dnf {' '.join(words)} ({name}, el9)"):
            el.dnf("install", STUB_NAME)
            result = el.dnf(*words)
        assert el.installed(name), describe(result)
        # Every RPM carries a header signature the imported key verifies.
        pkg = el.rpm("-q", "--qf", "%{SIGPGP:pgpsig}|%{RSAHEADER:pgpsig}\n", name).stdout
        assert "RSA/SHA256" in pkg, pkg
        check_installed_files(RootFiles(root), name, "rpm", EL_DIST)
        assert set(el.rpm("-qc", name).stdout.split()) == expected_config_files(name, "rpm", EL_DIST)
        # The service itself runs under systemd: test_rpm_service_runs_sandboxed_under_systemd.


# --- 4. under a real systemd: apt on Debian 12 and 13, rpm with EL's presets ----------------------

DEB_SUITES = {"bookworm": "debian-12", "trixie": "debian-13"}
EL_HOST_SUITE = "bookworm"  # the systemd the el9 RPMs' scriptlets run under (EL 9.3 and later have 252)
# Our packages' names, in the order they are installed (one `apt install` each, as the portal shows).
SERVICES = sorted(CHECKS)
# EL's systemd leaves services it has no preset for disabled (90-default.preset ends with
# `disable *`); Debian's enables them. The RPM host gets EL's rule.
EL_PRESET = (
    "/usr/lib/systemd/system-preset/99-hub-e2e-el.preset",
    "# As on EL: no service without a preset.\ndisable *\n",
)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):  # type: ignore[no-untyped-def]
    """The private dockerd of the systemd hosts (section 4) and of the image tests (section 5)."""
    with dockerd(tmp_path_factory.mktemp("dockerd")) as d:
        yield d


@dataclass(frozen=True)
class Installed:
    """One package's installation, as seen right after it, before the test changed anything."""

    seconds: float
    output: str  # what the client printed
    state: UnitState  # the unit then
    journal: str  # its journal then
    files: str  # what check_installed_files found wrong; "" when nothing


@dataclass
class ServiceHost:
    host: SystemdHost
    family: str  # deb or rpm
    dist: str  # debian-12, debian-13, el9
    neighbour: Neighbour
    installed: dict[str, Installed]
    # name -> (when check_service first scraped it, its unit then)
    first_seen: dict[str, tuple[float, UnitState]] = field(default_factory=dict)
    # name -> the same binary unsandboxed, started next to the service (hosts.start_reference)
    references: dict[str, Reference] = field(default_factory=dict)


def _installed(host: SystemdHost, name: str, family: str, dist: str, started: float, output: str) -> Installed:
    seconds = time.monotonic() - started
    unit = f"{name}.service"
    state = host.unit_state(unit)
    try:
        check_installed_files(HostFiles(host), name, family, dist)
        if family == "deb":
            out = host.exec("dpkg-query", "-W", "-f=${Conffiles}\\n", matrix.deb_package_name(name)).stdout
            config = {line.split()[0] for line in out.splitlines() if line.strip()}
        else:
            config = set(rpm(host, "-qc", name).stdout.split())
        assert config == expected_config_files(name, family, dist), f"config files: {sorted(config)}"
        problems = ""
    except AssertionError as e:
        problems = str(e) or repr(e)
    return Installed(seconds, output, state, host.journal(unit, lines=60), problems)


def _configure(host: SystemdHost, name: str, env_file: str) -> None:
    """The operator's step of CHECKS[name].configure, if any."""
    configure = CHECKS[name].configure
    if configure:
        why, script = configure
        log(f"{host.suite}: configuring {name} ({why})")
        host.exec("sh", "-euc", script, "sh", env_file)


@contextlib.contextmanager
def operator_host(daemon, suite: str) -> Iterator[tuple[SystemdHost, Neighbour]]:  # type: ignore[no-untyped-def]
    """A systemd host like the servers the packages are for (hosts.prepare_server), where the
    neighbour service already runs, with the files Debian's alertmanager build needs."""
    with systemd_host(daemon, suite) as host:
        prepare_server(host)
        neighbour = start_neighbour(host)
        host.write_files(debian_alertmanager_templates())
        yield host, neighbour


@pytest.fixture(scope="module", params=sorted(DEB_SUITES))
def deb_host(request, served: Served, daemon, tmp_path_factory, timing_report) -> Iterator[ServiceHost]:  # type: ignore[no-untyped-def]
    """One host per suite; the seven packages installed from the published site, one after
    the other, with the portal's setup and install commands (apart from the URI)."""
    suite = request.param
    dist = DEB_SUITES[suite]
    started = time.monotonic()
    with operator_host(daemon, suite) as (host, neighbour):
        log(f"{suite}: the systemd host runs, with its neighbour ({time.monotonic() - started:.1f} s)")
        sources_name = user_files.apt_sources_file_name(suite)
        served_sources = fetch(f"{served.base_url}/{sources_name}").decode()
        for name in SERVICES:
            setup, sources_text, _ = portal_install(served, name, "deb", dist)
            assert sources_text == served_sources, name
            assert (
                f"{served.base_url}/{sources_name}" in setup
                and f"{served.base_url}/{user_files.PUBLIC_KEY_FILE}" in setup
            )
        # The setup command's two downloads, the .sources pointed at the copy in the host.
        key = fetch(f"{served.base_url}/{user_files.PUBLIC_KEY_FILE}")
        packages = [matrix.deb_package_name(n) for n in SERVICES]
        tree = apt_tree(served.root, suite, packages, tmp_path_factory.mktemp(f"apt-{suite}"))
        sources = add_apt_repository(host, tree, key, codename=suite)
        assert sources == served_sources.replace(f"URIs: {served.base_url}/\n", f"URIs: file:{APT_REPOSITORY_DIR}/\n")
        # Debian's own archive (sources.list) is out of reach under --network none: ours only.
        host.sh("if [ -e /etc/apt/sources.list ]; then mv /etc/apt/sources.list /etc/apt/sources.list.aside; fi")
        apt_get(host, "update", "--error-on=any")
        installed = {}
        for name in SERVICES:
            words = install_words(portal_install(served, name, "deb", dist)[2], "apt")
            assert words == ["install", matrix.deb_package_name(name)], words
            begin = time.monotonic()
            result = host.exec("apt", "-y", *words, env={"DEBIAN_FRONTEND": "noninteractive"}, timeout=600)
            installed[name] = _installed(host, name, "deb", dist, begin, result.stdout + result.stderr)
        for name in SERVICES:
            if CHECKS[name].configure:
                _configure(host, name, f"/etc/default/{name}")
                host.systemctl("restart", f"{name}.service")
        references = {name: _start_reference(host, name, dist) for name in SERVICES}
        seconds = time.monotonic() - started
        log(f"{suite}: host booted, seven packages installed and configured in {seconds:.1f} s")
        timing_report[f"systemd_{suite}_install_seconds"] = seconds
        yield ServiceHost(host, "deb", dist, neighbour, installed, references=references)


@pytest.fixture(scope="module")
def rpm_host(served: Served, daemon, timing_report) -> Iterator[ServiceHost]:  # type: ignore[no-untyped-def]
    """A fresh host with EL's presets; the seven el9 RPMs of the published site installed with
    `rpm -i --nodeps` (the host's rpm database is empty: Debian's packages are not in it),
    then configured and started as an EL operator does (`systemctl enable --now`)."""
    started = time.monotonic()
    with operator_host(daemon, EL_HOST_SUITE) as (host, neighbour):
        log(f"{EL_HOST_SUITE} (rpm): the systemd host runs, with its neighbour ({time.monotonic() - started:.1f} s)")
        host.write(*EL_PRESET)
        host.write("/root/monitoring-hub.asc", fetch(f"{served.base_url}/{user_files.PUBLIC_KEY_FILE}"))
        rpm(host, "--import", "/root/monitoring-hub.asc")
        paths = {}
        for name in SERVICES:
            doc = json.loads((served.root / "catalog" / name / f"rpm_amd64_{EL_DIST}.json").read_text())
            paths[name] = f"/root/{Path(doc['package']['url']).name}"
            host.copy_in(served.root / doc["package"]["url"], paths[name])
        checked = rpm(host, "-K", *paths.values()).stdout
        assert checked.count("digests signatures OK") == len(paths), checked
        installed = {}
        for name in SERVICES:
            begin = time.monotonic()
            result = rpm(host, "-i", "--nodeps", paths[name])
            installed[name] = _installed(host, name, "rpm", EL_DIST, begin, result.stdout + result.stderr)
        for name in SERVICES:
            _configure(host, name, f"/etc/sysconfig/{name}")
            host.systemctl("enable", "--now", f"{name}.service")
        seconds = time.monotonic() - started
        log(f"{EL_HOST_SUITE} (rpm): host booted, seven RPMs installed and started in {seconds:.1f} s")
        timing_report["systemd_rpm_install_seconds"] = seconds
        yield ServiceHost(host, "rpm", EL_DIST, neighbour, installed)


def check_service(service_host: ServiceHost, name: str) -> str:
    """The running service: active and enabled; every process of its unit runs as its user;
    the main process is the packaged binary with exactly the granted capabilities (effective,
    permitted, ambient and bounding), no_new_privs and seccomp filters of its own; /metrics
    answers with the expected metric, and the exporter's own probe passes. Returns the scrape."""
    host, check = service_host.host, CHECKS[name]
    manifest = load_manifest(find_repo_root() / "exporters" / name / "manifest.yaml")
    spec = manifest.deb if service_host.family == "deb" else manifest.rpm
    unit, port = f"{name}.service", manifest.docker.port
    host.wait_active(unit)
    host.wait_port(port, unit=unit)
    state = host.unit_state(unit)
    assert (state.active, state.sub, state.file_state) == ("active", "running", "enabled"), state
    processes = [p for p in host.processes() if p.unit == unit]
    assert {p.user for p in processes} == {spec.system_user}, processes
    (main,) = [p for p in processes if p.pid == state.main_pid]
    assert main.argv[0] == f"/usr/bin/{manifest.build.binary_name}", main
    status = proc_status(host, main.pid)
    (account,) = accounts_in(host.read("/etc/passwd"), spec.system_user)
    assert set(status.uids) == {account.uid} and set(status.gids) == {account.gid}, status
    granted = capability_mask(g.value for g in spec.systemd.granted("capability"))
    sets = {"CapEff": status.cap_eff, "CapPrm": status.cap_prm, "CapAmb": status.cap_amb, "CapBnd": status.cap_bnd}
    wrong = {k: capability_names(v) for k, v in sets.items() if v != granted}
    assert not wrong, f"{name}: granted {capability_names(granted)}, but the process has {wrong}"
    assert (status.no_new_privs, status.seccomp) == (1, 2), status
    # Docker's profile filters every process of the host: the unit's filters come on top.
    plain = proc_status(host, service_host.neighbour.pid)
    assert status.seccomp_filters > plain.seccomp_filters, f"{name}: no seccomp filter of its own: {status}"
    body = host.scrape(port)
    assert sample_value(body, check.metric) is not None, f"{name}: no {check.metric} in /metrics:\n{body[:3000]}"
    if check.down:
        assert sample_value(body, check.down) == 0, f"{name}: {check.down} is not 0 with no backend"
    if check.probe:
        check.probe(host, port)
    service_host.first_seen.setdefault(name, (time.monotonic(), state))
    return body


def _check_installed(service_host: ServiceHost, name: str, expected: tuple[str, str]) -> None:
    installed = service_host.installed[name]
    where = f"{name} ({service_host.dist}, {service_host.host.suite})"
    assert not installed.files, f"{where}: {installed.files}\n{installed.output}"
    state = installed.state
    if CHECKS[name].unconfigured and service_host.family == "deb":
        # Started by the postinst, and failing as Debian's build does without its setting.
        assert state.file_state == expected[1], state
        assert re.search(CHECKS[name].unconfigured, installed.journal), installed.journal
    else:
        assert (
            state.active,
            state.file_state,
        ) == expected, f"{where} after its installation: {state}\n{installed.output}\n{installed.journal}"


@pytest.mark.parametrize("name", SERVICES)
def test_deb_service_runs_sandboxed_under_systemd(deb_host: ServiceHost, name: str) -> None:
    _check_installed(deb_host, name, ("active", "enabled"))  # the maintainer scripts alone
    check_service(deb_host, name)


# Metric families of the unsandboxed root run that the service lacks (or the reverse), each
# with why it is no missing grant: {exporter: {family: why}}. Anything else fails the test:
# grant what the exporter needs. Empty: with their grants, the seven serve every family on
# Debian 12 and 13 (alertmanager's gossip needed AF_NETLINK, granted since).
FAMILY_ALLOWANCE: dict[str, dict[str, str]] = {}


def _start_reference(host: SystemdHost, name: str, dist: str) -> Reference:
    """The packaged binary without a sandbox (hosts.start_reference), on the service's port
    plus 10000, with CHECKS[name].reference_args."""
    manifest = load_manifest(find_repo_root() / "exporters" / name / "manifest.yaml")
    (exec_start,) = unit_section(host.read(f"/usr/lib/systemd/system/{name}.service"), "Service")["ExecStart"]
    port = manifest.docker.port + 10000
    overrides = (f"--web.listen-address=127.0.0.1:{port}", *CHECKS[name].reference_args)
    return start_reference(host, name, exec_start, f"{matrix.DISTS[dist].env_dir}/{name}", port, overrides)


@pytest.mark.parametrize("name", SERVICES)
def test_deb_sandbox_costs_no_metric_family(deb_host: ServiceHost, name: str) -> None:
    """The same binary, command line and EnvironmentFile as root without any sandbox, started
    right after the service (so both have run about as long, and both have been scraped
    before the scrapes compared): the metric families must be the same, apart from
    FAMILY_ALLOWANCE."""
    host, reference = deb_host.host, deb_host.references[name]
    port = load_manifest(find_repo_root() / "exporters" / name / "manifest.yaml").docker.port
    try:
        sandboxed = metric_families(host.scrape(port))
        reference_families = set().union(*map(metric_families, scrape_reference(host, reference)))
        sandboxed |= metric_families(host.scrape(port))
    finally:
        stop_reference(host, reference.unit)
    allowed = FAMILY_ALLOWANCE.get(name, {})
    lost = sorted(f for f in reference_families - sandboxed if f not in allowed)
    extra = sorted(f for f in sandboxed - reference_families if f not in allowed)
    log(f"{host.suite}: {name}: {len(sandboxed)} metric families sandboxed, {len(reference_families)} unsandboxed")
    assert not lost and not extra, (
        f"{name} on {host.suite}: the sandboxed service lacks {lost} and alone has {extra}"
        " (a missing grant? see FAMILY_ALLOWANCE)"
    )


def units_score_as_documented(service_host: ServiceHost, timing_report: dict[str, float]) -> None:
    """`systemd-analyze security` of each loaded unit equals docs/unit-exposure.md, which
    systemd 252 scores offline from the unit file: on Debian 12 (252) and on Debian 13 (257,
    which could weigh settings differently but scores these seven units the same)."""
    host = service_host.host
    documented = documented_exposure(find_repo_root() / "docs" / "unit-exposure.md")
    scores = {name: host.security(f"{name}.service") for name in SERVICES}
    where = f"{host.suite} ({service_host.family})"
    log(f"{where}: systemd-analyze security: " + ", ".join(f"{n} {s:.1f}" for n, s in scores.items()))
    for name, score in scores.items():
        timing_report[f"exposure_{host.suite}_{service_host.family}_{name}"] = score
    differ = {n: (s, documented.get(n)) for n, s in scores.items() if s != documented.get(n)}
    assert not differ, f"{where}: scores differ from docs/unit-exposure.md (score, documented): {differ}"


# A seccomp kill or a crash often shows only after the first scrape, and Restart=on-failure
# would hide it behind a new process: the same process must still serve this long after.
LATER_SECONDS = 10


def serves_later_and_after_restart(service_host: ServiceHost) -> None:
    """Every service, LATER_SECONDS after its first scrape: the same main process, never
    restarted by systemd, and it passes check_service again (scrape, probes); then after
    `systemctl restart`: a new process that passes it too."""
    host = service_host.host
    unseen = sorted(set(SERVICES) - set(service_host.first_seen))
    assert not unseen, f"never seen running (see their own tests): {unseen}"
    # In the order they were first scraped, each when its own time has come: the checks of
    # the first ones fill the wait for the last.
    for name in sorted(SERVICES, key=lambda n: service_host.first_seen[n][0]):
        seen, first = service_host.first_seen[name]
        time.sleep(max(0.0, seen + LATER_SECONDS - time.monotonic()))
        now = host.unit_state(f"{name}.service")
        assert (now.active, now.main_pid, now.restarts) == ("active", first.main_pid, first.restarts), (
            f"{name} on {host.suite}, {LATER_SECONDS} s after its first scrape: {now}, first {first}\n"
            f"{host.journal(f'{name}.service', lines=60)}"
        )
        check_service(service_host, name)
    host.systemctl("restart", *(f"{name}.service" for name in SERVICES))
    for name in SERVICES:
        check_service(service_host, name)
        pid = host.unit_state(f"{name}.service").main_pid
        assert pid != service_host.first_seen[name][1].main_pid, f"{name}: not restarted"


def _gone(service_host: ServiceHost) -> None:
    """None of the seven runs any more, and the neighbour was not touched."""
    host = service_host.host
    units = {f"{n}.service" for n in SERVICES}
    binaries = {f"/usr/bin/{b}" for n in SERVICES for b in _binaries(n)}
    left = [p for p in host.processes() if p.unit in units or (p.argv and p.argv[0] in binaries)]
    assert not left, f"still running after the removal: {left}"
    for unit in sorted(units):
        load = host.systemctl("show", "-p", "LoadState", "--value", unit).stdout.strip()
        assert load == "not-found", f"{unit}: {load}"
    neighbour_untouched(host, service_host.neighbour)


def _binaries(name: str) -> tuple[str, ...]:
    return load_manifest(find_repo_root() / "exporters" / name / "manifest.yaml").build.binaries


def test_deb_units_score_as_documented(deb_host: ServiceHost, timing_report) -> None:  # type: ignore[no-untyped-def]
    units_score_as_documented(deb_host, timing_report)


def test_deb_services_serve_later_and_after_restart(deb_host: ServiceHost) -> None:
    serves_later_and_after_restart(deb_host)


def test_deb_purge_stops_every_exporter_and_spares_the_neighbour(deb_host: ServiceHost) -> None:
    host = deb_host.host
    for reference in deb_host.references.values():  # stopped already, unless a test was skipped
        stop_reference(host, reference.unit)
    packages = [matrix.deb_package_name(n) for n in SERVICES]
    with timed(f"{host.suite}: apt-get purge of the seven"):
        apt_get(host, "purge", "-y", *packages)
    status = host.exec("dpkg-query", "-W", "-f=${db:Status-Abbrev}|${Package}\\n", *packages, check=False).stdout
    assert all(not line.startswith("ii") for line in status.splitlines()), status
    _gone(deb_host)


@pytest.mark.parametrize("name", SERVICES)
def test_rpm_service_runs_sandboxed_under_systemd(rpm_host: ServiceHost, name: str) -> None:
    # %post loads the unit and applies the presets: EL's leave it disabled and stopped.
    _check_installed(rpm_host, name, ("inactive", "disabled"))
    check_service(rpm_host, name)


def test_rpm_units_score_as_documented(rpm_host: ServiceHost, timing_report) -> None:  # type: ignore[no-untyped-def]
    units_score_as_documented(rpm_host, timing_report)


def test_rpm_services_serve_later_and_after_restart(rpm_host: ServiceHost) -> None:
    serves_later_and_after_restart(rpm_host)


def test_rpm_erase_stops_every_exporter_and_spares_the_neighbour(rpm_host: ServiceHost) -> None:
    with timed(f"{rpm_host.host.suite} (rpm): rpm -e of the seven"):
        rpm(rpm_host.host, "-e", *SERVICES)
    assert rpm(rpm_host.host, "-q", *SERVICES, check=False).stdout.count("is not installed") == len(SERVICES)
    _gone(rpm_host)


# --- 5. Docker ---------------------------------------------------------------------------------------


def _wait_for_metrics(url: str, container, timeout: float = 60) -> str:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        container.reload()
        if container.status == "exited":
            raise AssertionError(f"the container exited:\n{container.logs().decode(errors='replace')[-4000:]}")
        try:
            return fetch(url).decode("utf-8", "replace")
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} did not answer:\n{container.logs().decode(errors='replace')[-4000:]}")
            time.sleep(0.3)


def _run_image(client, archive: Path, expect: str, args: list[str] | None = None) -> str:  # type: ignore[no-untyped-def]
    with open(archive, "rb") as f:
        (image,) = client.images.load(f.read())
    port = free_port()
    container = client.containers.run(
        image.id, [*(args or []), f"--web.listen-address=127.0.0.1:{port}"], network_mode="host", detach=True
    )
    try:
        body = _wait_for_metrics(f"http://127.0.0.1:{port}/metrics", container)
        container.reload()
        assert container.attrs["Config"]["User"] not in ("", "0", "root", "0:0"), container.attrs["Config"]["User"]
    finally:
        container.remove(force=True)
    assert re.search(rf"^{re.escape(expect)}(\{{| )", body, re.M), body[:2000]
    return body


def test_site_image_of_a_standin_runs_under_dockerd(site: Site, daemon) -> None:  # type: ignore[no-untyped-def]
    """The image exactly as the //:site run built it (FROM scratch: the stand-in is static)."""
    name = "json_exporter"
    assert all(e.status == STATUS_STANDIN for e in site.mirror if e.exporter == name)
    with timed(f"./pants package exporters/{name}#docker (a cache hit of the site run)"):
        run_pants(site.workspace, "package", f"exporters/{name}#docker", env=site.env, pantsd=True, check=True)
    out = site.workspace / "dist" / name
    built = json.loads(next(out.glob("docker.json")).read_text())
    in_site = json.loads((site.dir / "catalog" / name / "docker.json").read_text())
    assert built["images"][0]["digest"] == in_site["images"][0]["digest"], "not the image the site lists"
    archive = next(out.glob("*amd64*.docker.tar"))
    client = daemon.client()
    try:
        _run_image(client, archive, f"{name}_build_info")
    finally:
        client.close()


def test_node_exporter_image_with_a_libc_base_runs_under_dockerd(site: Site, daemon, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """node_exporter's manifest builds FROM scratch, which suits upstream's static binary but
    not Debian's dynamically linked one. So this image is built by the engine (hub.image.request, as the
    Pants rule runs it) from the same pinned mirror archive, with a libc6 base layer; see
    tests/integration/image_test.py."""
    from hub.image.build import write_base_layout
    from hub.image.request import build
    from hub.upstream.archive import extract_binaries

    name = "node_exporter"
    ws_exporter = site.workspace / "exporters" / name
    lock = json.loads((ws_exporter / "upstream.lock.json").read_text())
    entries = {e.arch: e for e in site.mirror if e.exporter == name}
    binaries, libcs = {}, {}
    for arch in ("amd64", "arm64"):
        assert lock["archives"][arch]["sha256"] == entries[arch].sha256  # the pinned archive
        extract_binaries(entries[arch].path, ("node_exporter",), tmp_path / "bin" / arch, arch=arch)
        binaries[arch] = str(tmp_path / "bin" / arch)
        from hub.upstream.debian import fetch_deb

        deb = fetch_deb("libc6", arch, debian_cache())
        libcs[arch] = tmp_path / f"libc6-{arch}"
        libcs[arch].mkdir()
        run(["dpkg-deb", "-x", deb.path, libcs[arch]], env=base_env())
    base = tmp_path / "base"
    base_digest = write_base_layout(base, libcs, source_date="2024-01-01T00:00:00Z", tag="bookworm")
    exporter = tmp_path / "ws" / name
    exporter.mkdir(parents=True)
    data = yaml.safe_load((ws_exporter / "manifest.yaml").read_text())
    data["artifacts"]["docker"]["base_image"] = f"debian/libc6@{base_digest}"
    (exporter / "manifest.yaml").write_text(yaml.safe_dump(data))
    shutil.copy(ws_exporter / "upstream.lock.json", exporter / "upstream.lock.json")
    image, _ = build(
        {
            "manifest": str(exporter / "manifest.yaml"),
            "lock": str(exporter / "upstream.lock.json"),
            "binaries": binaries,
            "registry": "127.0.0.1",
            "repository": "monitoring-hub/node_exporter",
            "base_layout": str(base),
            "base_digest": base_digest,
            "output_dir": str(tmp_path / "out"),
        }
    )
    client = daemon.client()
    try:
        _run_image(client, image.archives["amd64"], "node_exporter_build_info")
    finally:
        client.close()


# --- 6. the portal ---------------------------------------------------------------------------------


def test_portal_has_a_page_per_exporter_and_the_tested_texts(site: Site, served: Served) -> None:
    index = (served.root / "index.html").read_text()
    for name in site.manifests:
        assert (served.root / "exporters" / f"{name}.html").is_file(), name
        assert f'data-name="{name}"' in index, name
    base = served.base_url + "/"
    for name in CHECKS:
        texts = portal_page(served, name)
        # rpm: every EL dist; deb: every Debian/Ubuntu dist (the same functions as the repos)
        manifest = site.manifests[name]
        for dist in manifest.rpm.targets:
            assert texts[f"cmd-rpm-{dist}-1-f"] == user_files.yum_repo_file(base, dist), (name, dist)
            assert texts[f"cmd-rpm-{dist}-1"] == user_files.yum_setup_commands(base, dist).rstrip("\n")
            assert texts[f"cmd-rpm-{dist}-2"] == f"sudo dnf install {name}"
        for dist in manifest.deb.targets:
            codename = matrix.DISTS[dist].codename
            assert texts[f"cmd-deb-{dist}-1-f"] == user_files.apt_sources_file(base, codename), (name, dist)
            assert texts[f"cmd-deb-{dist}-1"] == user_files.apt_setup_commands(base, codename).rstrip("\n")
            assert texts[f"cmd-deb-{dist}-2"] == f"sudo apt install {matrix.deb_package_name(name)}"
