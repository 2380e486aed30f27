"""Helpers of the publish tests: `hub publish` as a subprocess, dnf and apt with private
configurations, an independent consistency checker of a published tree. The byte patterns
of a secret key and the scan for them are in integration.keyscan.

The checker is deliberately separate from `hub.site.check.check_site`: it re-reads repomd.xml,
primary, Release and Packages with its own parsing, so a bug in the engine's check cannot
hide a bug in the engine's publish.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import hub
from hub.repos import user_files
from hub.repos.signing_key import KEY_ENV
from integration.roots import base_env, run

ENGINE = str(Path(hub.__file__).resolve().parents[1])
REPO_NS = "{http://linux.duke.edu/metadata/repo}"
COMMON_NS = "{http://linux.duke.edu/metadata/common}"


# --------------------------------------------------------------------------------------------
# hub publish as a subprocess
# --------------------------------------------------------------------------------------------


def publish_env(secret: str, home: Path, tmpdir: Path, **extra: str) -> dict[str, str]:
    """What the Pants rule passes (PATH, HOME, the key), plus the engine on PYTHONPATH and a
    private TMPDIR: the publish's temporary keyrings go there, out of reach of the orphan
    sweep of publishes run by concurrent tests (a killed publish's keyring stays for the
    test to look at)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LC_ALL": "C",
        "TMPDIR": str(tmpdir),
        "PYTHONPATH": os.pathsep.join([ENGINE, *sys.path]),
        KEY_ENV: secret,
    }
    env.update(extra)
    return env


@contextlib.contextmanager
def short_tmpdir() -> Iterator[Path]:
    """A private temporary directory with a short path (gpg-agent's socket path, inside a
    keyring made there, must fit in 108 bytes). Removed afterwards, with the gpg-agent of
    any keyring left in it."""
    path = Path(tempfile.mkdtemp(prefix="hubk-", dir="/tmp"))
    try:
        yield path
    finally:
        for keyring in [*path.glob("*hub-publish-key-*"), *path.glob("*hub-sign-*")]:
            run(
                ["gpgconf", "--homedir", keyring / "gnupg", "--kill", "all"],
                env=base_env(GNUPGHOME=str(keyring / "gnupg")),
                check=False,
            )
        shutil.rmtree(path, ignore_errors=True)


CLI = "import sys; from hub.cli import main; sys.exit(main())"


def publish_argv(site: Path, dest: Path, base_url: str, *extra: str) -> list[str]:
    """`hub publish` through the engine's CLI (hub.cli, as the Pants rule runs it)."""
    entry = ["-c", CLI]
    return [sys.executable, *entry, "publish", "--site", str(site), "--dest", str(dest), "--base-url", base_url, *extra]


def points_of(stderr: str) -> list[str]:
    """The crash points a run passed, in order (`publish: point N name`)."""
    return [m.group(2) for m in re.finditer(r"^publish: point (\d+) (\S+)$", stderr, re.M)]


# --------------------------------------------------------------------------------------------
# An independent consistency checker
# --------------------------------------------------------------------------------------------


def sha256_file(path: Path) -> tuple[str, int]:
    data = path.read_bytes()
    return hashlib.sha256(data).hexdigest(), len(data)


def check_tree(site: Path) -> list[str]:
    """Problems of a published tree: each file repomd.xml, primary, Release and Packages name
    exists with its checksum and size; the catalog's package digests match the files."""
    problems: list[str] = []
    seen: dict[Path, tuple[str, int]] = {}

    def expect(path: Path, sha: str | None, size: int | None, why: str) -> None:
        if not path.is_file():
            problems.append(f"{why}: missing {path.relative_to(site)}")
            return
        got = seen.get(path) or sha256_file(path)
        seen[path] = got
        if (sha and got[0] != sha) or (size is not None and got[1] != size):
            problems.append(f"{why}: {path.relative_to(site)} is {got}, expected {(sha, size)}")

    for repomd in site.glob("*/*/repodata/repomd.xml"):
        repo = repomd.parent.parent
        root = ET.parse(repomd).getroot()
        for data in root.iter(f"{REPO_NS}data"):
            href = data.find(f"{REPO_NS}location").get("href")
            checksum = data.find(f"{REPO_NS}checksum")
            assert checksum.get("type") == "sha256"
            expect(repo / href, checksum.text, int(data.find(f"{REPO_NS}size").text), str(repomd.relative_to(site)))
            if data.get("type") == "primary" and (repo / href).is_file():
                primary = ET.fromstring(gzip.decompress((repo / href).read_bytes()))
                for pkg in primary.iter(f"{COMMON_NS}package"):
                    expect(
                        repo / pkg.find(f"{COMMON_NS}location").get("href"),
                        pkg.find(f"{COMMON_NS}checksum").text,
                        int(pkg.find(f"{COMMON_NS}size").get("package")),
                        f"{repo.relative_to(site)}/primary",
                    )
    for release in site.glob("dists/*/Release"):
        listed = {}
        in_sha = False
        for line in release.read_text().splitlines():
            if not line.startswith(" "):
                in_sha = line == "SHA256:"
            elif in_sha:
                digest, size, name = line.split()
                listed[name] = (digest, int(size))
        if not listed:
            problems.append(f"{release.relative_to(site)}: lists no SHA256")
        for name, (digest, size) in listed.items():
            expect(release.parent / name, digest, size, str(release.relative_to(site)))
            by_hash = release.parent / Path(name).parent / "by-hash/SHA256" / digest
            if not name.endswith("/Release"):
                expect(by_hash, digest, size, f"{release.relative_to(site)} by-hash")
            if name.endswith("/Packages") and (release.parent / name).is_file():
                for stanza in (release.parent / name).read_text().strip().split("\n\n"):
                    f = dict(
                        line.split(": ", 1) for line in stanza.splitlines() if ": " in line and not line.startswith(" ")
                    )
                    if f:
                        expect(site / f["Filename"], f["SHA256"], int(f["Size"]), f"{release.parent.name}/{name}")
    for path in site.glob("catalog/*/*.json"):
        package = json.loads(path.read_text()).get("package")
        if isinstance(package, dict):
            expect(site / package["url"], package["sha256"], package["size_bytes"], str(path.relative_to(site)))
    return problems


@dataclass
class Verifier:
    """`gpg --verify` with a keyring holding only the expected public key; a result is
    remembered per (signature bytes, data bytes), so an unchanged snapshot is verified once."""

    home: Path
    public_key: bytes
    done: dict[tuple[str, str], bool] = field(default_factory=dict)

    def close(self) -> None:
        """Stops the gpg-agent gpg started for this keyring."""
        run(["gpgconf", "--homedir", self.home, "--kill", "all"], env=base_env(GNUPGHOME=str(self.home)), check=False)

    def __post_init__(self) -> None:
        self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        run(
            ["gpg", "--homedir", self.home, "--batch", "--import", self.write_key()],
            env=base_env(),
            what="gpg --import",
        )

    def write_key(self) -> Path:
        path = self.home.parent / f"{self.home.name}.asc"
        path.write_bytes(self.public_key)
        return path

    def verify(self, signature: Path, data: Path | None = None) -> None:
        key = (sha256_file(signature)[0], sha256_file(data)[0] if data else "")
        if key in self.done:
            return
        cmd = ["gpg", "--homedir", self.home, "--batch", "--status-fd", "1", "--verify", signature] + (
            [data] if data else []
        )
        result = run(cmd, env=base_env(), check=False)
        assert (
            result.returncode == 0 and "[GNUPG:] VALIDSIG" in result.stdout
        ), f"{signature}: {result.stdout}{result.stderr}"
        self.done[key] = True

    def verify_site(self, site: Path) -> int:
        count = 0
        for repomd in sorted(site.glob("*/*/repodata/repomd.xml")):
            self.verify(repomd.with_name("repomd.xml.asc"), repomd)
            count += 1
        for in_release in sorted(site.glob("dists/*/InRelease")):
            self.verify(in_release)
            self.verify(in_release.with_name("Release.gpg"), in_release.with_name("Release"))
            count += 1
        return count


def reachable(root: Path) -> Iterator[Path]:
    """Every path under `root` (a directory or a link to one), links not followed below it."""
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            yield Path(dirpath, name)


# --------------------------------------------------------------------------------------------
# dnf and apt with private configurations
# --------------------------------------------------------------------------------------------


def dnf(work: Path, repo_file: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """dnf with only `repo_file` (the users' .repo text), an empty installroot, everything in `work`."""
    reposdir = work / "repos"
    reposdir.mkdir(parents=True, exist_ok=True)
    (reposdir / "monitoring-hub.repo").write_text(repo_file)
    conf = work / "dnf.conf"
    conf.write_text(
        "[main]\n"
        f"reposdir={reposdir}\n"
        f"cachedir={work / 'cache'}\n"
        f"logdir={work / 'log'}\n"
        f"persistdir={work / 'persist'}\n"
        "plugins=0\ninstall_weak_deps=0\nmetadata_expire=0\n"
    )
    home = work / "home"
    home.mkdir(exist_ok=True)
    (home / ".rpmmacros").write_text("%_dbpath /var/lib/rpm\n")
    try:
        return run(
            [
                "dnf",
                "-c",
                conf,
                f"--installroot={work / 'root'}",
                "--releasever=9",
                f"--setopt=reposdir={reposdir}",
                "-y",
                *args,
            ],
            env=base_env(HOME=str(home)),
            check=check,
            timeout=300,
            what="dnf",
        )
    finally:
        # librepo checks repomd.xml.asc with a keyring of its own per repository (under the
        # cache) and leaves that keyring's gpg-agent running: stop it.
        for pubring in work.rglob("pubring"):
            if pubring.is_dir():
                run(
                    ["gpgconf", "--homedir", pubring, "--kill", "all"],
                    env=base_env(GNUPGHOME=str(pubring)),
                    check=False,
                )


def apt_env(work: Path, sources: str, public_key: bytes) -> dict[str, str]:
    """A private apt (APT_CONFIG): only this deb822 source, its own lists, cache and an empty
    dpkg status; the key where the source's Signed-By points."""
    for d in (
        "etc/sources.list.d",
        "etc/trusted.gpg.d",
        "etc/preferences.d",
        "lists/partial",
        "cache/archives/partial",
        "log",
        "keyrings",
    ):
        (work / d).mkdir(parents=True, exist_ok=True)
    (work / "status").write_text("")
    (work / "etc/sources.list.d/monitoring-hub.sources").write_text(sources)
    (work / "keyrings/monitoring-hub.asc").write_bytes(public_key)
    (work / "apt.conf").write_text(
        f'Dir::Etc::sourcelist "{work}/etc/sources.list";\n'
        f'Dir::Etc::sourceparts "{work}/etc/sources.list.d";\n'
        f'Dir::Etc::trusted "{work}/etc/trusted.gpg";\n'
        f'Dir::Etc::trustedparts "{work}/etc/trusted.gpg.d";\n'
        f'Dir::Etc::preferences "{work}/etc/preferences";\n'
        f'Dir::Etc::preferencesparts "{work}/etc/preferences.d";\n'
        f'Dir::State::Lists "{work}/lists";\n'
        f'Dir::State::status "{work}/status";\n'
        f'Dir::Cache "{work}/cache";\n'
        f'Dir::Log "{work}/log";\n'
        'APT::Architecture "amd64";\n'
        'APT::Architectures { "amd64"; "arm64"; };\n'
        'APT::Sandbox::User "root";\n'
        'Acquire::Languages "none";\n'
        'Debug::NoLocking "true";\n'
    )
    return base_env(APT_CONFIG=str(work / "apt.conf"), DEBIAN_FRONTEND="noninteractive")


def apt_for(work: Path, base_url: str, codename: str, public_key: bytes) -> dict[str, str]:
    """apt for the site's own .sources text (hub.repos.user_files), Signed-By pointing into `work`."""
    keyring = str(work / "keyrings/monitoring-hub.asc")
    shipped = user_files.apt_sources_file(base_url, codename)
    ours = user_files.apt_sources_file(base_url, codename, keyring=keyring)
    assert ours == shipped.replace(user_files.APT_KEYRING, keyring)
    return apt_env(work, ours, public_key)


def processes_mentioning(text: str) -> list[int]:
    """PIDs whose command line contains `text` (e.g. a keyring path: a leftover gpg-agent)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            pids.append(int(entry.name))
    return pids
