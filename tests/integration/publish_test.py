"""`hub publish` end to end, with the real clients, and killed (-9) at many points.

Two small unsigned sites (node_exporter 1.0.0, then 1.1.0: one el9 RPM and two DEBs each, real
nfpm packages put through hub.site.assemble like `./pants package //:site`) are published with an
ephemeral RSA-3072 key into DEST, as `./pants publish //:site` runs it (`hub publish` in its own
process, the key in HUB_SIGNING_KEY). Readers use `file://DEST/current/`, through the link.

- dnf (private config, --installroot, gpgcheck=1 and repo_gpgcheck=1, the site's own `.repo`
  text from hub.repos.user_files.yum_repo_file) installs node_exporter 1.1.0 and sees 1.0.0 too
  (cumulative pool); a tampered repomd.xml is refused.
- apt-get (private APT_CONFIG, the site's own `.sources` text with Signed-By:) runs
  `update --error-on=any` for bookworm and noble and `install --download-only`; a tampered
  InRelease is refused.
- Fault injection: `hub publish` is killed at every crash point of the publish sequence
  (HUB_PUBLISH_CRASH_AT=<name>: os._exit(137) right after it, the test-only hook) and with
  SIGKILL to its process group after a random delay (HUB_PUBLISH_KILLS times, default 50;
  seed HUB_PUBLISH_KILL_SEED). After each kill: `current` is the old snapshot or the new
  complete one, every JSON under it parses, nothing temporary is reachable under it, gpg
  verifies every repomd.xml.asc, InRelease and Release.gpg, and every file repomd.xml,
  primary, Release and Packages name has its checksum (tests/integration/publishing.py).
  dnf makecache and apt-get update run at a few of the points. A final publish succeeds, and
  no keyring or gpg-agent of a killed publish is left.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from hub.site.crash_points import CRASH_ENV, CRASH_STATUS
from hub.site.snapshots import KEYRING_RECORD, PARTIAL_SUFFIX
from hub.repos import user_files
from testkit.unsigned_site import build_unsigned_site
from testkit.packages import export_public_key, export_secret_key, generate_key, stop_agent
from integration.publishing import (
    Verifier,
    apt_for,
    check_tree,
    dnf,
    points_of,
    processes_mentioning,
    publish_argv,
    publish_env,
    reachable,
    short_tmpdir,
)
from integration.roots import base_env, run

KILLS = int(os.environ.get("HUB_PUBLISH_KILLS", "50"))
SEED = int(os.environ.get("HUB_PUBLISH_KILL_SEED", "20250601"))
# Points after which the real clients read the tree too (the rest use the fast checks).
CLIENT_POINTS = ("pool-merged", "release-signed:bookworm", "current-switched")


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("gpg")
    fpr = generate_key(home, length=3072, email="publish-it@monitoring-hub.example")
    try:
        yield {"fpr": fpr, "secret": export_secret_key(home, fpr), "public": export_public_key(home, fpr)}
    finally:
        stop_agent(home)


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("sites")
    return {v: build_unsigned_site(root / v, v).site for v in ("1.0.0", "1.1.0")}


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory, key, sites):
    """DEST after publishing 1.0.0 then 1.1.0; base URL file://DEST/current."""
    root = tmp_path_factory.mktemp("published")
    dest = root / "dest"
    base = (dest / "current").as_uri()
    with short_tmpdir() as tmpdir:
        for version in ("1.0.0", "1.1.0"):
            result = run(
                publish_argv(sites[version], dest, base),
                env=publish_env(key["secret"], root, tmpdir),
                what="hub publish",
            )
            assert json.loads(result.stdout)["temporary_keyring"]["removed"]
        assert not list(tmpdir.iterdir())
    assert os.readlink(dest / "current") == "snapshots/00000002"
    return {"dest": dest, "base": base, "root": root}


# --------------------------------------------------------------------------------------------
# dnf
# --------------------------------------------------------------------------------------------


def el9_repo(site: Path, base: str) -> str:
    """The .repo text the portal shows (hub.repos.user_files), which publish shipped in the site."""
    text = user_files.yum_repo_file(base, "el9")
    assert (site / user_files.yum_repo_file_name("el9")).read_text() == text
    assert "gpgcheck=1\n" in text and "repo_gpgcheck=1\n" in text and f"baseurl={base}/el9/$basearch/\n" in text
    return text


def test_dnf_installs_from_the_published_site(published, tmp_path: Path, key) -> None:
    current = published["dest"] / "current"
    repo = el9_repo(current, published["base"])
    listing = dnf(tmp_path, repo, "--showduplicates", "list", "available", "node_exporter").stdout
    assert "1.0.0-1.el9" in listing and "1.1.0-1.el9" in listing, listing
    dnf(tmp_path, repo, "install", "node_exporter")
    query = run(
        ["rpm", "--root", tmp_path / "root", "-q", "node_exporter", "gpg-pubkey"],
        env=base_env(HOME=str(tmp_path / "home")),
    ).stdout
    assert "node_exporter-1.1.0-1.el9.x86_64" in query
    assert f"gpg-pubkey-{key['fpr'][-8:].lower()}" in query  # imported from gpgkey=, as users get it
    assert (tmp_path / "root/usr/bin/node_exporter").is_file()


def test_dnf_refuses_a_tampered_repomd(published, tmp_path: Path) -> None:
    bad = tmp_path / "site"
    shutil.copytree(published["dest"] / "current", bad, symlinks=True)
    repomd = bad / "el9/x86_64/repodata/repomd.xml"
    repomd.write_text(repomd.read_text().replace("<revision>", "<revision>1"))
    result = dnf(tmp_path / "w", user_files.yum_repo_file(bad.as_uri(), "el9"), "install", "node_exporter", check=False)
    out = result.stdout + result.stderr
    assert result.returncode != 0 and ("GPG" in out.upper() or "signature" in out.lower()), out
    assert not (tmp_path / "w/root/usr/bin/node_exporter").exists()


# --------------------------------------------------------------------------------------------
# apt
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("codename, suffix", [("bookworm", "deb12"), ("noble", "ubuntu24.04")])
def test_apt_updates_and_downloads(published, tmp_path: Path, codename: str, suffix: str) -> None:
    current = published["dest"] / "current"
    assert (current / user_files.apt_sources_file_name(codename)).read_text() == user_files.apt_sources_file(
        published["base"], codename
    )
    env = apt_for(tmp_path, published["base"], codename, (current / user_files.PUBLIC_KEY_FILE).read_bytes())
    update = run(["apt-get", "update", "--error-on=any"], env=env, what="apt-get update")
    assert "NO_PUBKEY" not in update.stdout + update.stderr
    madison = run(["apt-cache", "madison", "node-exporter"], env=env).stdout
    assert {line.split("|")[1].strip() for line in madison.splitlines()} == {f"1.0.0-1+{suffix}", f"1.1.0-1+{suffix}"}
    install = run(
        ["apt-get", "install", "--download-only", "-y", "node-exporter"],
        env=env,
        what="apt-get install --download-only",
    )
    assert (
        f"node-exporter amd64 1.1.0-1+{suffix}" in install.stdout and "Download complete" in install.stdout
    ), install.stdout
    dl = tmp_path / "dl"  # file: sources are used in place (not copied to archives/): download one
    dl.mkdir()
    run(["apt-get", "download", "node-exporter"], env=env, cwd=dl, what="apt-get download")
    (got,) = dl.glob("*.deb")
    assert got.name == f"node-exporter_1.1.0-1+{suffix}_amd64.deb"
    assert got.read_bytes() == (current / "pool/main/n/node-exporter" / got.name).read_bytes()


def test_apt_refuses_a_tampered_inrelease(published, tmp_path: Path) -> None:
    bad = tmp_path / "site"
    shutil.copytree(published["dest"] / "current", bad, symlinks=True)
    for f in (bad / "dists/bookworm/InRelease", bad / "dists/bookworm/Release"):
        f.write_text(f.read_text().replace("Label: Monitoring Hub", "Label: Monitoring Hub!"))
    env = apt_for(tmp_path / "apt", bad.as_uri(), "bookworm", (bad / user_files.PUBLIC_KEY_FILE).read_bytes())
    result = run(["apt-get", "update", "--error-on=any"], env=env, check=False)
    out = result.stdout + result.stderr
    assert result.returncode != 0 and ("BADSIG" in out or "signature" in out), out


# --------------------------------------------------------------------------------------------
# Fault injection
# --------------------------------------------------------------------------------------------


class Faults:
    """One DEST, published over and over, killed at chosen points; `check` after each kill."""

    def __init__(self, root: Path, dest: Path, site: Path, key: dict, verifier: Verifier, tmpdir: Path):
        self.root, self.dest, self.site, self.key, self.verifier, self.tmpdir = root, dest, site, key, verifier, tmpdir
        self.base = (dest / "current").as_uri()
        self.argv = publish_argv(site, dest, self.base)
        self.env = publish_env(key["secret"], root, tmpdir)
        self.keyrings: set[str] = set()
        self.client_checks = 0
        self.spent = {"checks": 0.0, "clients": 0.0}

    def current(self) -> str:
        return os.readlink(self.dest / "current")

    def note_keyring(self) -> None:
        record = self.dest / KEYRING_RECORD
        if record.exists():
            self.keyrings.add(record.read_text().strip())

    def check(self, old: str, *, clients: bool = False) -> str:
        """The invariants after a kill; returns where `current` points."""
        t0 = time.monotonic()
        try:
            return self._check(old)
        finally:
            t1 = time.monotonic()
            self.spent["checks"] += t1 - t0
            if clients:
                self.clients()
                self.spent["clients"] += time.monotonic() - t1

    def _check(self, old: str) -> str:
        link = self.dest / "current"
        assert link.is_symlink(), "current must stay a link"
        target = os.readlink(link)
        assert target == old or (
            target.startswith("snapshots/") and int(target.split("/")[1]) > int(old.split("/")[1])
        ), (old, target)
        snapshot = self.dest / target
        assert snapshot.is_dir() and not snapshot.name.endswith(PARTIAL_SUFFIX)
        for path in reachable(link):
            assert not path.is_symlink(), f"{path}: a link under current"
            assert not path.name.startswith(".") and not path.name.endswith(
                (".partial", ".tmp", ".trash")
            ), f"{path}: a temporary name is reachable under current"
            if path.suffix == ".json":
                json.loads(path.read_text())
        problems = check_tree(link)
        assert not problems, "\n".join(problems)
        assert self.verifier.verify_site(link) == 6 + 4
        if target != old:  # switched: the new site, in full
            rpms = {p.name for p in (link / "el9/x86_64").glob("*.rpm")}
            assert {"node_exporter-1.0.0-1.el9.x86_64.rpm", "node_exporter-1.1.0-1.el9.x86_64.rpm"} <= rpms
            assert json.loads((link / "catalog/node_exporter/rpm_amd64_el9.json").read_text())["version"] == "1.1.0"
        return target

    def clients(self) -> None:
        work = self.root / f"clients-{self.client_checks}"
        self.client_checks += 1
        repo = user_files.yum_repo_file(self.base, "el9")
        dnf(work / "dnf", repo, "makecache")
        env = apt_for(work / "apt", self.base, "bookworm", self.key["public"])
        run(["apt-get", "update", "--error-on=any"], env=env, what="apt-get update after a kill")

    def crash_at(self, point: str) -> subprocess.CompletedProcess:
        return run(self.argv, env={**self.env, CRASH_ENV: point}, check=False, timeout=120)

    def kill_after(self, delay: float | None) -> tuple[str | None, float]:
        """Starts a publish, waits for its first point (the lock taken: the interpreter's
        start-up is not worth killing), sleeps `delay`, SIGKILLs its process group.
        Returns the last point it passed (None: it finished first) and the time from its
        first point to its end (or the kill). `delay` None: no kill."""
        log = self.root / "kill.log"
        with open(log, "wb") as err:
            proc = subprocess.Popen(
                self.argv,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + 60
            while b"point 1 " not in log.read_bytes() and proc.poll() is None:
                assert time.monotonic() < deadline, "publish did not start"
                time.sleep(0.005)
            started = time.monotonic()
            try:
                proc.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                return (points_of(log.read_text()) or ["(start)"])[-1], time.monotonic() - started
            assert proc.returncode == 0, log.read_text()
            return None, time.monotonic() - started
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture
def fault_root(tmp_path: Path):
    """DEST on a tmpfs when there is one (fsync is then free: a kill -9 does not lose the page
    cache, so the disk adds nothing here but time)."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        import tempfile

        root = Path(tempfile.mkdtemp(prefix="hub-publish-faults-", dir=shm))
    else:
        root = tmp_path / "faults"
        root.mkdir()
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def publish_tmpdir():
    """The publishes' private TMPDIR (their keyrings; see publishing.publish_env)."""
    with short_tmpdir() as path:
        yield path


def test_kill_9_at_every_point_and_at_random(
    fault_root: Path, tmp_path: Path, key, sites, publish_tmpdir: Path
) -> None:
    started = time.monotonic()
    verifier = Verifier(tmp_path / "verify-gnupg", key["public"])
    faults = Faults(fault_root, fault_root / "dest", sites["1.1.0"], key, verifier, publish_tmpdir)
    # The old site: 1.0.0, published in full; then one full publish of 1.1.0 to learn the points.
    run(publish_argv(sites["1.0.0"], faults.dest, faults.base), env=faults.env, what="first publish")
    old = faults.check(faults.current())
    _, duration = faults.kill_after(None)  # a full publish, timed from its first point
    points = points_of((fault_root / "kill.log").read_text())
    assert len(points) == len(set(points)) >= 30, points
    old = faults.check(faults.current())
    try:
        # 1. Deterministic: right after each named point.
        outcomes = {}
        for point in points:
            result = faults.crash_at(point)
            assert result.returncode == CRASH_STATUS, result.stdout + result.stderr
            assert points_of(result.stderr)[-1] == point
            faults.note_keyring()
            new = faults.check(old, clients=point in CLIENT_POINTS)
            outcomes[point] = "new" if new != old else "old"
            old = new
        # Before the switch readers see the old site; from the switch on, the new one.
        switch = points.index("current-switched")
        assert all(outcomes[p] == "old" for p in points[:switch]), outcomes
        assert all(outcomes[p] == "new" for p in points[switch:]), outcomes

        deterministic_done = time.monotonic()
        # 2. Random: SIGKILL to the whole process group after a random delay.
        # A run that finishes before its kill is checked too but does not count; it shows the
        # delays overshoot (the machine got faster), so the next ones are drawn shorter.
        rng = random.Random(SEED)
        landed: dict[str, int] = {}
        finished = 0
        while sum(landed.values()) < KILLS:
            assert finished <= KILLS, f"{finished} runs finished before their kill: {landed}"
            last, took = faults.kill_after(rng.uniform(0.0, duration))
            faults.note_keyring()
            if last is None:
                finished += 1
                duration = max(0.2, took)
            else:
                landed[last] = landed.get(last, 0) + 1
            old = faults.check(old, clients=last is not None and sum(landed.values()) == KILLS // 2)
        random_done = time.monotonic()

        # 3. A final publish succeeds, and cleans up after every kill.
        result = run(faults.argv, env=faults.env, what="final publish")
        new = faults.check(old, clients=True)
        assert new != old and json.loads(result.stdout)["snapshot"] == new
        entries = sorted(p.name for p in faults.dest.iterdir())
        assert entries == [".publish.lock", "current", "snapshots"], entries
        assert len(list((faults.dest / "snapshots").iterdir())) == 2
        for keyring in faults.keyrings:
            assert not os.path.exists(keyring), f"{keyring}: a killed publish's keyring was not removed"
            assert not processes_mentioning(keyring), f"{keyring}: its gpg-agent still runs"
        assert not list(faults.tmpdir.iterdir()), "a keyring (or its temporary name) is left"
    finally:
        verifier.close()
        for keyring in faults.keyrings:  # only on failure: agents of the keyrings this test's publishes made
            for pid in processes_mentioning(keyring):
                os.kill(pid, signal.SIGKILL)
            shutil.rmtree(keyring, ignore_errors=True)
    elapsed = time.monotonic() - started
    summary = {
        "deterministic_points": len(points),
        "random_kills": KILLS,
        "random_killed": sum(landed.values()),
        "random_finished_first": finished,
        "random_distinct_points": len(landed),
        "client_checks": faults.client_checks,
        "keyrings_left_by_kills_then_removed": len(faults.keyrings),
        "full_publish_s": round(duration, 2),
        "elapsed_s": round(elapsed, 1),
        "deterministic_s": round(deterministic_done - started, 1),
        "random_s": round(random_done - deterministic_done, 1),
        "checks_s": round(faults.spent["checks"], 1),
        "clients_s": round(faults.spent["clients"], 1),
    }
    print("fault injection:", json.dumps(summary, sort_keys=True))
