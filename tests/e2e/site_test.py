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
   over HTTP on 127.0.0.1 with the base URL it was published for. Without hub.site.publish the
   unsigned site is served instead, and dnf/apt are told not to check signatures.
4. For seven exporters (node_exporter, prometheus with promtool, alertmanager with amtool,
   blackbox_exporter, redis_exporter, mysqld_exporter, process_exporter):
   - EL: dnf installs the el9 package into an installroot (a Debian minbase userland plus a
     stub RPM providing what an EL base has) from the `.repo` file the site serves
     (gpgcheck=1, repo_gpgcheck=1), with the install command shown on the portal;
   - Debian 12: apt, chrooted into a minbase root, from the deb822 `.sources` the site serves
     (Signed-By the published key), with the portal's install command;
   - both: the service user, the unit, the environment file, the config files; then the
     binary is started as the unit's User= with the unit's ExecStart (its $ARGS from the
     environment file, plus `--web.listen-address=127.0.0.1:<free port>`) and /metrics is
     scraped; promtool and amtool run.
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
import stat
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

from e2e.mirror import STATUS_OK, STATUS_STANDIN, build_e2e_mirror, compile_standin
from integration.offline import debian_cache
from integration.roots import (
    ELF_AARCH64,
    ELF_X86_64,
    STUB_NAME,
    DebRoot,
    ElRoot,
    accounts,
    arm64_sysroot,
    base_env,
    build_stub_rpm,
    chroot_cmd,
    chroot_env,
    createrepo,
    debian_root_tarball,
    describe,
    elf_machine,
    environment_file,
    exec_start_argv,
    free_port,
    groups,
    http_get,
    inside,
    rpm_home,
    run,
    run_arm64,
    running,
    unit_section,
    unpacked_root,
)
from integration.services import dockerd
from integration.workspace import copy_workspace, find_repo_root, git, stop_pantsd

# The declared matrix of the 34 exporters (SPEC "Scale"): 31 on amd64 + arm64, 3 amd64-only.
EXPECTED_EXPORTERS = 34
EXPECTED_RPMS, EXPECTED_DEBS = 195, 260
EL_DIST, DEB_DIST = "el9", "debian-12"
CODENAME = matrix.DISTS[DEB_DIST].codename  # bookworm


# integration.workspace.run_pants stops a command after 20 minutes; the cold //:site build can
# take longer on a loaded 2-core machine. HUB_E2E_PANTS_TIMEOUT (seconds) overrides this cap.
PANTS_TIMEOUT = float(os.environ.get("HUB_E2E_PANTS_TIMEOUT", "3000"))


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


def _set_mysql_password(root: Path) -> None:
    """As the shipped .my.cnf says: set the password before starting. Debian's mysqld_exporter
    0.14 refuses a .my.cnf without one; no MySQL server runs, so it reports mysql_up 0."""
    path = inside(root, "/var/lib/mysqld_exporter/.my.cnf")
    text = path.read_text()
    assert re.search(r"^password\s*=\s*$", text, re.M), text
    path.write_text(re.sub(r"^password\s*=\s*$", "password = e2e-not-secret", text, count=1, flags=re.M))


def _debian_alertmanager_templates(root: Path) -> None:
    """Debian's alertmanager build reads its default notification templates from
    /usr/share/prometheus/alertmanager/ (Debian's patch), where upstream's binary embeds them.
    The files come from the same Debian .deb the mirror repacked; this is a quirk of the
    stand-in upstream, not of our package."""
    from hub.upstream.debian import DEBIAN_BUILDS, fetch_deb, read_deb_files

    source = DEBIAN_BUILDS["alertmanager"]
    deb = fetch_deb(source.package, "amd64", debian_cache())
    wanted = [f"/usr/share/prometheus/alertmanager/{n}" for n in ("default.tmpl", "email.tmpl")]
    for path, (data, _) in read_deb_files(deb.path, wanted).items():
        target = inside(root, path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        target.chmod(0o644)


@dataclass(frozen=True)
class Check:
    # A metric the real (Debian) build serves; these are the real names, checked by hand.
    metric: str
    tools: tuple[str, ...] = ()  # extra binaries that must run with --version
    also: tuple[str, ...] = ()  # other metric names expected in the scrape
    prepare: Callable[[Path], None] | None = None  # what an operator does before starting
    args: tuple[str, ...] = ()  # added to ARGS, besides the listen address


CHECKS = {
    "node_exporter": Check("node_exporter_build_info"),
    "prometheus": Check("prometheus_build_info", tools=("promtool",)),
    # No gossip listener on the shared host's port 9094: an empty address disables clustering.
    "alertmanager": Check(
        "alertmanager_build_info",
        tools=("amtool",),
        args=("--cluster.listen-address=",),
        prepare=_debian_alertmanager_templates,
    ),
    "blackbox_exporter": Check("blackbox_exporter_build_info"),
    "redis_exporter": Check("redis_exporter_build_info", also=("redis_up",)),
    "mysqld_exporter": Check("mysqld_exporter_build_info", also=("mysql_up",), prepare=_set_mysql_password),
    "process_exporter": Check("process_exporter_build_info"),
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
    root: Path  # the directory served (the published `current`, or the unsigned site)
    base_url: str  # ends without "/"
    signed: bool
    public_key: bytes | None = None
    notes: list[str] = field(default_factory=list)


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

    workspace = copy_workspace(tmp_path_factory.mktemp("ws") / "repo")
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
            yield Site(workspace, workspace / "dist" / "site", manifests, entries, seconds, env)
    finally:
        stop_pantsd(workspace)


@pytest.fixture(scope="session")
def served(site: Site, tmp_path_factory) -> Iterator[Served]:
    """The site as operators reach it: signed and published by `hub publish` when the engine
    has it, served over HTTP at the base URL it was published for."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    try:
        from hub.site import publish  # noqa: F401 - presence check
    except ModuleNotFoundError:
        log("hub.site.publish is not available: serving the UNSIGNED site (gpgcheck off)")
        with serve(site.dir, port=port):
            yield Served(site.dir, base, signed=False)
        return

    from testkit import packages as repo_testkit
    from hub.cli import main as hub

    work = tmp_path_factory.mktemp("publish")
    home = work / "gnupg"
    fingerprint = repo_testkit.generate_key(home, length=3072, email="e2e@example.invalid")
    secret = repo_testkit.export_secret_key(home, fingerprint)
    public = repo_testkit.export_public_key(home, fingerprint)
    repo_testkit.stop_agent(home)
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
        yield Served(current, base, signed=True, public_key=public)


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


def scrape_service(root: Path, name: str, env_file: str, check: Check, workdir: Path, tag: str) -> str:
    """Starts the installed service as systemd would (User=, Group=, EnvironmentFile=,
    ExecStart= with $ARGS), with the listen address set in ARGS as an operator would, chrooted
    into the root; returns the /metrics text."""
    unit = inside(root, f"/usr/lib/systemd/system/{name}.service").read_text()
    service = unit_section(unit, "Service")
    (account,) = accounts(root, service["User"][0])
    (gid,) = groups(root, service["Group"][0])
    env_path = inside(root, env_file)
    text = env_path.read_text()
    assert re.search(r"^ARGS=", text, re.M), f"{env_file} has no ARGS= line:\n{text}"
    port = free_port()
    args = " ".join(
        [environment_file(env_path).get("ARGS", ""), *check.args, f"--web.listen-address=127.0.0.1:{port}"]
    ).strip()
    env_path.write_text(re.sub(r"^ARGS=.*$", lambda _: f'ARGS="{args}"', text, count=1, flags=re.M))
    env = environment_file(env_path)
    (exec_start,) = service["ExecStart"]
    argv = exec_start_argv(exec_start, env)
    if check.prepare:
        check.prepare(root)
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / f"{name}-{tag}.log"
    process_env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C", **env}
    # As under systemd, the service sees a /proc (process_exporter needs it; node_exporter reads
    # it): a private mount namespace mounts one at <root>/proc, and it goes away with the
    # process, so nothing stays mounted in the root. unshare and chroot exec, so the PID that
    # `running` stops is the service's own.
    as_systemd = [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        f"--mount-proc={root}/proc",
        chroot_cmd(),
        f"--userspec={account.uid}:{gid}",
        str(root),
    ]
    with running([*as_systemd, *argv], process_env, log_path) as proc:
        metrics = http_get(f"http://127.0.0.1:{port}/metrics", proc, log_path, timeout=90)
    for metric in (check.metric, *check.also):
        assert re.search(
            rf"^{re.escape(metric)}(\{{| )", metrics, re.M
        ), f"{name} ({tag}): no {metric} in /metrics:\n{metrics[:3000]}"
    return metrics


def check_installed_files(root: Path, name: str, family: str) -> None:
    """Service user, unit, environment file, config files and binaries of an installed package."""
    manifest = load_manifest(find_repo_root() / "exporters" / name / "manifest.yaml")
    spec = manifest.rpm if family == "rpm" else manifest.deb
    user = spec.system_user
    env_file = f"{matrix.DISTS[EL_DIST if family == 'rpm' else DEB_DIST].env_dir}/{name}"

    (account,) = accounts(root, user)
    assert account.home == f"/var/lib/{user}", account
    assert account.shell.endswith("/nologin"), account
    assert account.uid < 1000, f"{user} is not a system account: {account}"
    assert groups(root, user) == [account.gid], f"group {user}"

    unit_path = f"/usr/lib/systemd/system/{name}.service"
    unit = inside(root, unit_path).read_text()
    service = unit_section(unit, "Service")
    assert service.get("User") == [user] and service.get("Group") == [user], service
    assert service.get("EnvironmentFile") == [f"-{env_file}"], service
    assert service.get("Restart") == ["on-failure"], service
    (exec_start,) = service["ExecStart"]
    argv = exec_start_argv(exec_start, environment_file(inside(root, env_file)))
    assert argv[0] == f"/usr/bin/{manifest.build.binary_name}", exec_start
    assert argv[1:] == list(spec.systemd.arguments), f"ExecStart={exec_start}"
    assert unit_section(unit, "Install").get("WantedBy") == ["multi-user.target"], unit

    env_text = inside(root, env_file).read_text()
    assert re.search(r'^ARGS=""$', env_text, re.M), env_text

    assets = find_repo_root() / "exporters" / name
    for extra in spec.extra_files:
        path = inside(root, extra.dest)
        assert path.is_file(), f"{extra.dest} is not installed"
        assert path.read_bytes() == (assets / extra.source).read_bytes(), extra.dest
        assert stat.S_IMODE(path.stat().st_mode) == int(extra.mode, 8), f"{extra.dest}: mode {oct(path.stat().st_mode)}"
    for directory in spec.directories:
        st = inside(root, directory.path).stat()
        uid = 0 if directory.owner == "root" else accounts(root, directory.owner)[0].uid
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (uid, int(directory.mode, 8)), directory

    for binary in manifest.build.binaries:
        path = inside(root, f"/usr/bin/{binary}")
        assert elf_machine(path) == ELF_X86_64, f"/usr/bin/{binary}"
        assert stat.S_IMODE(path.stat().st_mode) == 0o755, f"/usr/bin/{binary}"
        result = run([chroot_cmd(), root, f"/usr/bin/{binary}", "--version"], env=chroot_env(), check=False)
        # Debian's builds are older than the manifests: only that it runs is checked, never the version.
        assert (
            result.returncode == 0 and binary.split("-")[0].split("_")[0] in (result.stdout + result.stderr).lower()
        ), describe(result)


def config_files(family: str, root: Path, el: ElRoot | None, name: str) -> set[str]:
    if family == "rpm":
        return set(el.rpm("-qc", name).stdout.split())
    return set(DebRoot(root).conffiles(matrix.deb_package_name(name)))


def expected_config_files(name: str, family: str) -> set[str]:
    manifest = load_manifest(find_repo_root() / "exporters" / name / "manifest.yaml")
    spec = manifest.rpm if family == "rpm" else manifest.deb
    env_dir = matrix.DISTS[EL_DIST if family == "rpm" else DEB_DIST].env_dir
    config = {e.dest for e in spec.extra_files if e.config}
    if family == "deb":  # dpkg conffiles live under /etc; others are seeded (docs/packaging.md)
        config = {path for path in config if is_deb_conffile_path(path)}
    return {f"{env_dir}/{name}", *config}


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
    if not served.signed:
        repo_text = repo_text.replace("gpgcheck=1", "gpgcheck=0")  # also repo_gpgcheck
    assert "gpgcheck=1" in repo_text and "repo_gpgcheck=1" in repo_text or not served.signed, repo_text

    with unpacked_root(debian_tarball, tmp_path) as root:
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
        if served.signed:  # every RPM carries a header signature the imported key verifies
            pkg = el.rpm("-q", "--qf", "%{SIGPGP:pgpsig}|%{RSAHEADER:pgpsig}\n", name).stdout
            assert "RSA/SHA256" in pkg, pkg
        check_installed_files(root, name, "rpm")
        assert config_files("rpm", root, el, name) == expected_config_files(name, "rpm")
        scrape_service(root, name, f"/etc/sysconfig/{name}", CHECKS[name], tmp_path, "el9")


# --- 4. Debian: apt from the site's APT repository ----------------------------------------------------


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_apt_installs_from_the_apt_repository(
    name: str, site: Site, served: Served, debian_tarball: Path, tmp_path: Path
) -> None:
    setup, sources_text, install = portal_install(served, name, "deb", DEB_DIST)
    served_sources = fetch(f"{served.base_url}/{user_files.apt_sources_file_name(CODENAME)}").decode()
    assert served_sources == sources_text == user_files.apt_sources_file(served.base_url + "/", CODENAME)
    assert f"{served.base_url}/{user_files.PUBLIC_KEY_FILE}" in setup, setup

    with unpacked_root(debian_tarball, tmp_path) as path:
        root = DebRoot(path)
        # Only our repository: the root's Debian sources are disabled (no network needed).
        for debian in (path / "etc/apt/sources.list", *(path / "etc/apt/sources.list.d").glob("*")):
            if debian.is_file():
                debian.unlink()
        # The portal's setup steps, done from the host (the minbase root has no curl):
        # the key into /etc/apt/keyrings, the .sources into sources.list.d.
        keyring = inside(path, user_files.APT_KEYRING)
        keyring.parent.mkdir(parents=True, exist_ok=True)
        sources = inside(path, user_files.APT_SOURCES_PATH)
        if served.signed:
            keyring.write_bytes(fetch(f"{served.base_url}/{user_files.PUBLIC_KEY_FILE}"))
            sources.write_text(served_sources)
        else:
            sources.write_text(re.sub(r"^Signed-By:.*$", "Trusted: yes", served_sources, flags=re.M))
        update = root.chroot("apt-get", "update", "--error-on=any", what="apt-get update")
        words = install_words(install, "apt")
        package = matrix.deb_package_name(name)
        assert words == ["install", package], install
        with timed(f"apt {' '.join(words)} ({name}, bookworm)"):
            result = root.chroot("apt", "-y", *words, what=f"apt install {package}")
        assert (root.status(package) or "").startswith("ii "), describe(result) + describe(update)
        check_installed_files(path, name, "deb")
        assert config_files("deb", path, None, name) == expected_config_files(name, "deb")
        scrape_service(path, name, f"/etc/default/{name}", CHECKS[name], tmp_path, "bookworm")


# --- 5. Docker ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):  # type: ignore[no-untyped-def]
    with dockerd(tmp_path_factory.mktemp("dockerd")) as d:
        yield d


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
