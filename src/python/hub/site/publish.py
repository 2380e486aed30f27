"""`hub publish`: sign the unsigned site and publish it as a new snapshot, switched atomically.

    hub publish --site DIR --dest DIR --base-url URL [--keep N] [--readmes DIR]
                [--extra-public-key FILE...]

`--site` is the unsigned site of `./pants package //:site`; `--dest` is `HUB_PUBLISH_DIR`:

    DEST/
      current -> snapshots/00000007       the published site (a relative symbolic link)
      snapshots/00000006/                 the one it replaced (kept for readers and rollback)
      snapshots/00000007/
      .publish.lock                       flock: one publish at a time per DEST
      .publish-keyring                    only while signing: where the temporary keyring is

Order (docs/repositories.md, "Publishing: order, atomic switch, crash safety"), each step
ending at a named crash point (below):

1. copy the unsigned site into a NEW `snapshots/<id>.partial` (`<id>`: the next integer after
   every existing snapshot, zero-padded; no clock);
2. merge the pool `current` points to (`hub.repos.merge.merge_previous`: cumulative, newest
   `--keep` versions, default 3). Published files keep their bytes (an RPM signed before is
   not signed again). The previous APT `Release` and its by-hash files, and afterwards the
   previous YUM metadata files, are carried over, so a client that read the old
   InRelease/repomd.xml just before the switch still finds every index it names;
3. sign every RPM (header signature, `hub.repos.sign`), regenerate the YUM metadata from the signed
   files, rewrite `sha256`/`size_bytes` of the catalog's artifact JSONs (`unsigned_sha256`
   keeps the digest as built), re-render the portal with the published digests;
4. sign each repomd.xml (repomd.xml.asc), each Release (InRelease, Release.gpg), check each
   signature, export the public key (monitoring-hub.asc), write the users' .repo/.sources
   files for `--base-url`;
5. check the snapshot (every file named by repomd.xml, primary, Release, Packages and the
   catalog exists with its size and sha256; no temporary name), fsync every file and
   directory, rename `<id>.partial` to `<id>`, then switch `current`: a symbolic link
   `current.tmp-<id>` -> `snapshots/<id>` renamed onto `current` (`os.replace`), and fsync DEST;
6. remove the snapshots other than the new one and the one it replaced, and stale
   `*.partial`/`*.trash` directories and `current.tmp-*` links.

Readers resolve `current` once per path: they see the old site or the new one, never a mix.
A crash anywhere leaves the previous `current` and its snapshot untouched (the new files are
only under `*.partial` until the rename); the next publish cleans up what a crash left.

Every metadata timestamp comes from the inputs (the newest package build time), never the
clock. Keys come from the environment through `hub.repos.sign` (RSA >= 3072, SHA-256): with
`HUB_SIGNING_KEY` the key is imported into a private temporary GNUPGHOME
(`$TMPDIR/hub-publish-key-<random>/gnupg`, 0700), removed (agent stopped) once the metadata is
signed. Its path is recorded in `DEST/.publish-keyring` BEFORE it is created, and its `lock`
file is flocked for its whole life, so a publish killed meanwhile (SIGKILL, power loss) leaves
a keyring the next publish finds and removes first: the one its DEST recorded, and any whose
lock nobody holds. `HUB_SIGNING_KEY` and `HUB_SIGNING_KEY_PASSPHRASE` are removed from this
process's environment as soon as they are read, so no child sees them.

Test-only hook: `HUB_PUBLISH_CRASH_AT=<point name>` or `=<N>` makes the process exit at once
with status 137 (`os._exit`, no clean-up, like `kill -9`) right after that crash point (or the
N-th one reached, counting from 1). Each point is logged on stderr as `publish: point N name`.
The Pants rule never passes it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import gzip
import json
import os
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from hub.catalog import artifact as catalog
from hub.common.errors import HubError
from hub.repos import files as repo_files
from hub.repos import merge as repo_site
from hub.repos import sign
from hub.repos import yum as repo_yum
from hub.common.files import write_atomic
from hub.common import files
from hub.common import schemas

SNAPSHOTS = "snapshots"
CURRENT = "current"
PARTIAL_SUFFIX = ".partial"
TRASH_SUFFIX = ".trash"
LINK_TMP_PREFIX = "current.tmp-"
LOCK_FILE = ".publish.lock"
KEYRING_RECORD = ".publish-keyring"
KEYRING_PREFIX = sign.PUBLISH_KEYRING_PREFIX
ID_WIDTH = 8
KEEP_SNAPSHOTS = 2  # the new one and the one it replaced
CRASH_ENV = "HUB_PUBLISH_CRASH_AT"
CRASH_STATUS = 137

_SNAPSHOT_NAME = re.compile(r"^(\d+)(\.partial|\.trash)?$")
_KEYRING_NAME = sign.keyring_name(KEYRING_PREFIX)
_README_START = '<section aria-labelledby="readme-h" class="readme">'
_REPOMD_NS = "{http://linux.duke.edu/metadata/repo}"
_COMMON_NS = "{http://linux.duke.edu/metadata/common}"


# --------------------------------------------------------------------------------------------
# Crash points (test-only hook)
# --------------------------------------------------------------------------------------------


class CrashPoints:
    """Counts and logs the crash points; exits like `kill -9` at the one `HUB_PUBLISH_CRASH_AT`
    names (a point name, or N for the N-th point reached)."""

    def __init__(self, spec: str | None, log: Any = None):
        self.spec = (spec or "").strip()
        self.count = 0
        self.log = log

    def __call__(self, name: str) -> None:
        self.count += 1
        if self.log is not None:
            print(f"publish: point {self.count} {name}", file=self.log, flush=True)
        if self.spec and (self.spec == name or self.spec == str(self.count)):
            os._exit(CRASH_STATUS)


# --------------------------------------------------------------------------------------------
# Files and directories
# --------------------------------------------------------------------------------------------


def _fsync_path(path: str | os.PathLike[str], directory: bool = False) -> None:
    flags = os.O_RDONLY | (os.O_DIRECTORY if directory else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    except OSError as e:  # some file systems refuse fsync on directories
        if e.errno not in (errno.EINVAL, errno.EBADF):
            raise
    finally:
        os.close(fd)


def fsync_tree(root: str | os.PathLike[str]) -> int:
    """fsync every regular file and directory under `root` (and `root`); returns the count."""
    count = 0
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                _fsync_path(path)
                count += 1
        _fsync_path(dirpath, directory=True)
        count += 1
    return count


def copy_site(src: Path, dest: Path) -> int:
    """Copies the unsigned site (regular files and directories only; hidden names, the
    temporary files of atomic writes, are left out). Copies, never links: signing rewrites
    files of the snapshot, which must not touch the input."""
    count = 0
    for dirpath, dirnames, filenames in os.walk(src):
        rel = Path(dirpath).relative_to(src)
        for d in list(dirnames):
            if os.path.islink(os.path.join(dirpath, d)):
                raise HubError(f"{src / rel / d}: the site holds a symbolic link; refusing to publish it")
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        target = dest / rel
        target.mkdir(mode=0o755, parents=True, exist_ok=True)
        os.chmod(target, 0o755)
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = Path(dirpath, name)
            if path.is_symlink() or not path.is_file():
                raise HubError(f"{path}: not a regular file; refusing to publish it")
            shutil.copyfile(path, target / name)
            os.chmod(target / name, 0o644)
            count += 1
    return count


def _link_or_copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)
        os.chmod(dest, 0o644)


def _remove_tree(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.exists():
        shutil.rmtree(path, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Snapshots
# --------------------------------------------------------------------------------------------


def snapshot_name(number: int) -> str:
    return f"{number:0{ID_WIDTH}d}"


def _snapshot_entries(snapshots: Path) -> list[tuple[int, str, Path]]:
    """(number, suffix, path) of every snapshot, partial or trash directory."""
    out = []
    if snapshots.is_dir():
        for entry in snapshots.iterdir():
            m = _SNAPSHOT_NAME.match(entry.name)
            if m:
                out.append((int(m.group(1)), m.group(2) or "", entry))
    return sorted(out)


def next_snapshot_number(snapshots: Path) -> int:
    """The next integer after every snapshot ever left in `snapshots/` (partial ones too)."""
    return max((n for n, _, _ in _snapshot_entries(snapshots)), default=0) + 1


def current_snapshot(dest: Path) -> Path | None:
    """The snapshot `DEST/current` points to, or None before the first publish."""
    link = dest / CURRENT
    if not link.is_symlink():
        if link.exists():
            raise HubError(f"{link}: expected a symbolic link to {SNAPSHOTS}/<id> (made by hub publish)")
        return None
    target = os.readlink(link)
    m = re.fullmatch(rf"{SNAPSHOTS}/(\d+)", target)
    if not m:
        raise HubError(f"{link} -> {target}: expected {SNAPSHOTS}/<id>")
    snapshot = dest / SNAPSHOTS / m.group(1)
    if not snapshot.is_dir():
        raise HubError(f"{link} -> {target}: the snapshot is missing")
    return snapshot


def clean_stale(dest: Path) -> list[str]:
    """What a crashed publish may have left: `*.partial` and `*.trash` snapshot directories,
    `current.tmp-*` links, temporary record files. Never `current` or a complete snapshot."""
    removed = []
    for _, suffix, path in _snapshot_entries(dest / SNAPSHOTS):
        if suffix:
            _remove_tree(path)
            removed.append(f"{SNAPSHOTS}/{path.name}")
    for entry in dest.iterdir():
        if entry.name.startswith(LINK_TMP_PREFIX) or entry.name.startswith(f".{KEYRING_RECORD}."):
            _remove_tree(entry)
            removed.append(entry.name)
    return removed


def prune_snapshots(dest: Path, keep: Sequence[Path]) -> list[str]:
    """Removes every complete snapshot not in `keep` (renamed to `<id>.trash` first, so a
    crash never leaves a half-deleted directory under a snapshot's name)."""
    kept = {p.name for p in keep}
    current = current_snapshot(dest)
    if current is not None:
        kept.add(current.name)
    removed = []
    for _, suffix, path in _snapshot_entries(dest / SNAPSHOTS):
        if suffix == PARTIAL_SUFFIX or suffix == TRASH_SUFFIX:
            _remove_tree(path)
            removed.append(path.name)
        elif path.name not in kept:
            trash = path.with_name(path.name + TRASH_SUFFIX)
            os.replace(path, trash)
            _remove_tree(trash)
            removed.append(path.name)
    return removed


@contextlib.contextmanager
def publish_lock(dest: Path) -> Iterator[None]:
    """One publish at a time per DEST (flock: released by the kernel if the process dies)."""
    fd = os.open(dest / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise HubError(f"{dest}: another publish is running (it holds {LOCK_FILE})") from None
        yield
    finally:
        os.close(fd)


def switch_current(dest: Path, snapshot: Path, crash: CrashPoints) -> None:
    """`current` -> `snapshots/<id>` by renaming a new link over it, then fsync DEST."""
    tmp = dest / f"{LINK_TMP_PREFIX}{snapshot.name}"
    _remove_tree(tmp)
    os.symlink(f"{SNAPSHOTS}/{snapshot.name}", tmp)
    crash("link-created")
    os.replace(tmp, dest / CURRENT)
    crash("current-switched")
    _fsync_path(dest, directory=True)
    crash("dest-fsynced")


# --------------------------------------------------------------------------------------------
# The signing key: a temporary keyring recorded before it exists
# --------------------------------------------------------------------------------------------


# The temporary keyring itself (made under a temporary name, its lock held for its whole life,
# swept once its process is gone) is hub.repos.sign.locked_keyring, shared with `hub sign`.
_keyring_base = sign.keyring_base
remove_keyring = sign.remove_keyring


def _record_keyring(dest: Path, path: str | None) -> None:
    record = dest / KEYRING_RECORD
    if path is None:
        record.unlink(missing_ok=True)
    else:
        tmp = dest / f".{KEYRING_RECORD}.{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(path + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, record)
    _fsync_path(dest, directory=True)


def sweep_keyrings(dest: Path) -> list[str]:
    """Removes the temporary keyrings of killed publishes (and of killed `hub sign` runs): the
    one DEST's record names, and any orphan of any DEST in the temporary directory (their
    lock is no longer held). Returns their paths."""
    record = dest / KEYRING_RECORD
    try:
        recorded = record.read_text("utf-8").strip()
    except FileNotFoundError:
        recorded = None
    extra = []
    if recorded and os.path.isabs(recorded) and _KEYRING_NAME.match(os.path.basename(recorded)):
        extra.append(Path(recorded))  # a torn record names nothing we could have made
    removed = sign.sweep_keyrings(extra)
    if recorded is not None:
        _record_keyring(dest, None)
    return removed


@contextlib.contextmanager
def signer_for_publish(dest: Path, env: Mapping[str, str]) -> Iterator[tuple[sign.Signer, str | None]]:
    """(signer, temporary keyring path or None). `HUB_SIGNING_KEY` goes into a private
    temporary GNUPGHOME (hub.repos.sign.import_private_key: through gpg's stdin) inside a
    `hub.repos.sign.locked_keyring` named `hub-publish-key-<16 hex>` and recorded in DEST before it
    exists. `HUB_GNUPGHOME` + `HUB_SIGNING_KEY_ID` are used in place."""
    if not env.get(sign.KEY_ENV, "").strip():
        with sign.signer_from_env(env) as signer:
            yield signer, None
        return
    record = functools.partial(_record_keyring, dest)
    with sign.signer_from_env(env, prefix=KEYRING_PREFIX, record=record) as signer:
        yield signer, os.path.dirname(signer.gnupghome)


# --------------------------------------------------------------------------------------------
# Carrying the previous publish's indexes over
# --------------------------------------------------------------------------------------------


def carry_apt_indexes(previous: Path, snapshot: Path) -> int:
    """Puts the previous `dists/<codename>/Release` and its by-hash files into the snapshot
    before the merge rewrites them: `repo_apt.write_codename` keeps the by-hash files the
    Release it replaces names, so clients that read the old InRelease still find them."""
    count = 0
    for release in sorted(previous.glob("dists/*/Release")):
        rel = release.relative_to(previous)
        (snapshot / rel).parent.mkdir(parents=True, exist_ok=True)
        (snapshot / rel).unlink(missing_ok=True)
        shutil.copyfile(release, snapshot / rel)
        for by_hash in sorted(release.parent.glob("main/binary-*/by-hash/SHA256/*")):
            target = snapshot / by_hash.relative_to(previous)
            if not target.exists():
                _link_or_copy(by_hash, target)
                count += 1
    return count


def repomd_locations(repomd: Path) -> list[dict[str, Any]]:
    """[{type, href, sha256, size}] of a repomd.xml."""
    root = ET.parse(repomd).getroot()
    out = []
    for data in root.findall(f"{_REPOMD_NS}data"):
        location = data.find(f"{_REPOMD_NS}location")
        checksum = data.find(f"{_REPOMD_NS}checksum")
        size = data.find(f"{_REPOMD_NS}size")
        out.append({
            "type": data.get("type"),
            "href": location.get("href") if location is not None else None,
            "checksum_type": checksum.get("type") if checksum is not None else None,
            "checksum": checksum.text if checksum is not None else None,
            "size": int(size.text) if size is not None and size.text else None,
        })
    return out


def carry_yum_metadata(previous: Path, snapshot: Path, repo: str) -> int:
    """Links the metadata files the previous repomd.xml names into the new repodata/ (their
    names carry their checksum, so they never clash), like createrepo_c --retain-old-md: a
    client that read the old repomd.xml just before the switch still finds them."""
    old = previous / repo / "repodata" / "repomd.xml"
    if not old.is_file():
        return 0
    count = 0
    for loc in repomd_locations(old):
        href = loc["href"] or ""
        if not href.startswith("repodata/") or "/" in href[len("repodata/"):]:
            continue
        src, dst = previous / repo / href, snapshot / repo / href
        if src.is_file() and not dst.exists():
            _link_or_copy(src, dst)
            count += 1
    return count


# --------------------------------------------------------------------------------------------
# Catalog and portal
# --------------------------------------------------------------------------------------------


def rewrite_catalog_digests(site: Path) -> list[Path]:
    """Step 3: every artifact JSON's `package.sha256`/`size_bytes` become the published
    file's (`package.unsigned_sha256` keeps the digest as built). RPMs through
    hub.repos.sign.rewrite_catalog; DEBs too when the merge kept a previously published file of the
    same name. Each document is validated; a `package.url` without a file is an error (the
    portal would link to nothing)."""
    changed = list(sign.rewrite_catalog(site))
    root = site / "catalog"
    for path in sorted(root.glob("*/*.json")) if root.is_dir() else []:
        data = json.loads(path.read_text("utf-8"))
        package = data.get("package") if isinstance(data, dict) else None
        if data.get("artifact_type") not in ("rpm", "deb") or not isinstance(package, dict):
            continue
        file = site / package["url"]
        if not file.is_file():
            raise HubError(
                f"{path.relative_to(site)}: {package['url']} is not in the published pool (retention removed it: "
                "an older version than the published ones?); refusing to publish a catalog that links to nothing"
            )
        sha256, size = catalog.file_digest(file)
        if (package.get("sha256"), package.get("size_bytes")) != (sha256, size):
            package.setdefault("unsigned_sha256", package.get("sha256"))
            package["sha256"], package["size_bytes"] = sha256, size
            files.write_json(path, data)
            changed.append(path)
        schemas.validate(data, "artifact", what=str(path.relative_to(site)))
    return sorted(set(changed))


def _readme_section(html: str) -> tuple[int, int] | None:
    """The README section of an exporter page. The README is escaped Markdown (hub.site.markdown
    emits only its own tags), so the section is the one start marker up to the next </section>."""
    start = html.find(_README_START)
    if start < 0 or html.find(_README_START, start + 1) >= 0:
        return None
    end = html.find("</section>", start)
    return None if end < 0 else (start, end + len("</section>"))


def carry_readmes(unsigned_site: Path, site: Path) -> int:
    """The unsigned site's rendered README sections, put into the re-rendered pages (publish
    gets the site, not the exporters' README.md sources)."""
    count = 0
    for page in sorted((site / "exporters").glob("*.html")):
        old_page = unsigned_site / "exporters" / page.name
        if not old_page.is_file():
            continue
        old, new = old_page.read_text("utf-8"), page.read_text("utf-8")
        o, n = _readme_section(old), _readme_section(new)
        if o is None or n is None:
            raise HubError(f"exporters/{page.name}: cannot find the README section to carry over; pass --readmes")
        merged = new[: n[0]] + old[o[0] : o[1]] + new[n[1] :]
        if merged != new:
            write_atomic(page, merged.encode("utf-8"))
            count += 1
    return count


def render_portal(unsigned_site: Path, site: Path, base_url: str, readmes: Path | None) -> int:
    from hub.site import portal

    portal_base = base_url if base_url.startswith(("http://", "https://")) else None
    written = portal.build_portal(site / "catalog", site, readmes=readmes, base_url=portal_base)
    if readmes is None:
        carry_readmes(unsigned_site, site)
    return sum(1 for w in written if w.endswith(".html"))


# --------------------------------------------------------------------------------------------
# The consistency check before the switch
# --------------------------------------------------------------------------------------------


class _Digests:
    def __init__(self) -> None:
        self.cache: dict[tuple[int, int], tuple[str, int]] = {}

    def __call__(self, path: Path) -> tuple[str, int] | None:
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        key = (st.st_dev, st.st_ino)
        if key not in self.cache:
            self.cache[key] = catalog.file_digest(path)
        return self.cache[key]


def _release_sha256(text: str) -> dict[str, tuple[str, int]]:
    out, section = {}, None
    for line in text.splitlines():
        if line and not line[0].isspace():
            section = line.split(":", 1)[0]
        elif section == "SHA256" and line.strip():
            digest, size, name = line.split()
            out[name] = (digest, int(size))
    return out


def _sbom_refs(data: Any) -> list[Mapping[str, Any]]:
    """The SBOM references of an artifact JSON: `sbom` of a package, `images[].manifests[].sbom`."""
    if not isinstance(data, dict):
        return []
    refs = [data.get("sbom")]
    for image in data.get("images") or []:
        refs += [m.get("sbom") for m in image.get("manifests") or [] if isinstance(m, dict)]
    return [r for r in refs if isinstance(r, dict) and isinstance(r.get("url"), str)]


def check_site(site: Path) -> list[str]:
    """Problems of a signed site (empty: consistent): every file repomd.xml and primary name,
    every index a Release names and every .deb a Packages names exists with its size and
    sha256, each has its signature file, every catalog package.url and SBOM url matches, and
    no hidden (temporary) name exists."""
    problems: list[str] = []
    digest = _Digests()

    def expect(path: Path, sha256: str | None, size: int | None, what: str) -> None:
        got = digest(path)
        if got is None:
            problems.append(f"{what}: {path.relative_to(site)} is missing")
        elif (sha256 is not None and got[0] != sha256) or (size is not None and got[1] != size):
            problems.append(f"{what}: {path.relative_to(site)} has sha256 {got[0]} size {got[1]}, expected {sha256} {size}")

    for repomd in sorted(site.glob("*/*/repodata/repomd.xml")):
        repo = repomd.parent.parent
        if not repomd.with_name("repomd.xml.asc").is_file():
            problems.append(f"{repomd.relative_to(site)}: no repomd.xml.asc")
        for loc in repomd_locations(repomd):
            expect(repo / loc["href"], loc["checksum"], loc["size"], str(repomd.relative_to(site)))
            if loc["type"] == "primary" and (repo / loc["href"]).is_file():
                root = ET.fromstring(gzip.decompress((repo / loc["href"]).read_bytes()))
                for pkg in root.findall(f"{_COMMON_NS}package"):
                    href = pkg.find(f"{_COMMON_NS}location").get("href")
                    size = int(pkg.find(f"{_COMMON_NS}size").get("package"))
                    expect(repo / href, pkg.find(f"{_COMMON_NS}checksum").text, size, f"{repo.relative_to(site)} primary")
    for release in sorted(site.glob("dists/*/Release")):
        base = release.parent
        for name in ("InRelease", "Release.gpg"):
            if not (base / name).is_file():
                problems.append(f"{base.relative_to(site)}: no {name}")
        for name, (sha256, size) in _release_sha256(release.read_text("utf-8")).items():
            expect(base / name, sha256, size, str(release.relative_to(site)))
            if name.endswith("/Packages"):
                for stanza in (base / name).read_text("utf-8").split("\n\n") if (base / name).is_file() else []:
                    fields = dict(re.findall(r"^([A-Za-z0-9-]+): (.*)$", stanza, re.M))
                    if "Filename" in fields:
                        expect(site / fields["Filename"], fields.get("SHA256"), int(fields["Size"]), str((base / name).relative_to(site)))
    for path in sorted(site.glob("catalog/*/*.json")):
        try:
            data = json.loads(path.read_text("utf-8"))
        except ValueError as e:
            problems.append(f"{path.relative_to(site)}: not JSON ({e})")
            continue
        package = data.get("package") if isinstance(data, dict) else None
        if isinstance(package, dict) and "url" in package:
            expect(site / package["url"], package.get("sha256"), package.get("size_bytes"), str(path.relative_to(site)))
        for ref in _sbom_refs(data):
            expect(site / ref["url"], ref.get("sha256"), ref.get("size_bytes"), str(path.relative_to(site)))
    for dirpath, dirnames, filenames in os.walk(site):
        for name in dirnames + filenames:
            if name.startswith("."):
                problems.append(f"{Path(dirpath, name).relative_to(site)}: a temporary (hidden) name in the snapshot")
    return problems


# --------------------------------------------------------------------------------------------
# Publish
# --------------------------------------------------------------------------------------------


def _sign_and_index(snapshot: Path, signer: sign.Signer, source_date: int, previous: Path | None,
                    crash: CrashPoints) -> dict[str, Any]:
    """Steps 1 and 2: the RPMs, then the YUM metadata from the signed files."""
    report: dict[str, Any] = {}
    repos = sign.yum_repo_dirs(snapshot)
    rpms = [rpm for repo in repos for rpm in sorted(repo.glob("*.rpm"))]
    todo = [rpm for rpm in rpms if signer.rpm_signer_key(rpm) not in signer.keyids]
    for rpm in todo:  # a file linked from the previous snapshot must never change there
        if rpm.stat().st_nlink > 1:
            tmp = rpm.with_name(f".{rpm.name}.copy")
            shutil.copyfile(rpm, tmp)
            os.replace(tmp, rpm)
    report["rpms_signed"] = len(signer.sign_rpms(todo))
    report["rpms"] = len(rpms)
    crash("rpms-signed")
    carried = 0
    for repo in repos:
        rel = repo.relative_to(snapshot).as_posix()
        dist = repo.parent.name
        entries = repo_yum.entries_of([(str(rpm), dist) for rpm in sorted(repo.glob("*.rpm"))])
        repo_yum.write_repodata(repo, entries, source_date)
        if previous is not None:
            carried += carry_yum_metadata(previous, snapshot, rel)
        crash(f"yum-metadata:{rel}")
    report["yum_repos"] = len(repos)
    report["yum_metadata_carried"] = carried
    crash("yum-metadata")
    return report


def _sign_metadata(snapshot: Path, signer: sign.Signer, crash: CrashPoints, extra_public_keys: Sequence[bytes]) -> dict[str, Any]:
    """Step 4: repomd.xml.asc, InRelease, Release.gpg (each checked), the public key."""
    repos = sign.yum_repo_dirs(snapshot)
    for repo in repos:
        repomd = repo / "repodata" / "repomd.xml"
        signer.verify(signer.detach_sign(repomd, repomd.with_name("repomd.xml.asc")), repomd)
        crash(f"repomd-signed:{repo.relative_to(snapshot).as_posix()}")
    crash("repomd-signed")
    suites = []
    for release in sorted(snapshot.glob("dists/*/Release")):
        signer.verify(signer.clearsign(release, release.with_name("InRelease")))
        signer.verify(signer.detach_sign(release, release.with_name("Release.gpg")), release)
        suites.append(release.parent.name)
        crash(f"release-signed:{release.parent.name}")
    crash("release-signed")
    signer.export_public_key(snapshot / sign.PUBLIC_KEY_FILE, extra=extra_public_keys)
    crash("public-key-exported")
    return {"apt_suites": suites, "fingerprint": signer.fingerprint}


def publish(
    site: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    base_url: str,
    *,
    keep: int = repo_site.DEFAULT_KEEP,
    readmes: str | os.PathLike[str] | None = None,
    extra_public_keys: Sequence[bytes] = (),
    env: Mapping[str, str] | None = None,
    crash: CrashPoints | None = None,
) -> dict[str, Any]:
    """Publishes the unsigned `site` as a new snapshot of `dest` (module doc); returns what
    it did. `env` holds the signing variables (default: os.environ)."""
    site, dest = Path(site), Path(dest)
    env = os.environ if env is None else env
    crash = crash or CrashPoints(None)
    repo_files.yum_repo_file(base_url, "el9")  # validates the base URL before any work
    if keep < 1:
        raise HubError(f"--keep: expected at least 1 version, got {keep}")
    if not site.is_dir() or not (site / "catalog").is_dir():
        raise HubError(f"{site}: not a built site (no catalog/): run ./pants package //:site")
    if readmes is not None and not Path(readmes).is_dir():
        raise HubError(f"--readmes {readmes}: not a directory")
    dest.mkdir(parents=True, exist_ok=True)
    (dest / SNAPSHOTS).mkdir(exist_ok=True)
    report: dict[str, Any] = {"dest": str(dest)}
    with publish_lock(dest):
        # The number first: never reuse the name of a partial a killed publish left (an
        # orphaned child of it might still write there).
        name = snapshot_name(next_snapshot_number(dest / SNAPSHOTS))
        report["stale_removed"] = clean_stale(dest) + sweep_keyrings(dest)
        previous = current_snapshot(dest)
        crash("locked")
        partial = dest / SNAPSHOTS / (name + PARTIAL_SUFFIX)
        partial.mkdir(mode=0o755)
        crash("snapshot-created")
        try:
            final = _build_snapshot(site, dest, partial, name, previous, base_url, keep=keep, readmes=readmes,
                                    extra_public_keys=extra_public_keys, env=env, crash=crash, report=report)
        except BaseException:
            _remove_tree(partial)  # an error (a crash leaves it to the next publish)
            raise
        switch_current(dest, final, crash)
        report["snapshot"] = f"{SNAPSHOTS}/{name}"
        report["previous"] = f"{SNAPSHOTS}/{previous.name}" if previous is not None else None
        report["pruned"] = prune_snapshots(dest, [final] + ([previous] if previous is not None else []))
        _fsync_path(dest / SNAPSHOTS, directory=True)
        crash("pruned")
    return report


def _build_snapshot(site: Path, dest: Path, partial: Path, name: str, previous: Path | None, base_url: str, *,
                    keep: int, readmes: str | os.PathLike[str] | None, extra_public_keys: Sequence[bytes],
                    env: Mapping[str, str], crash: CrashPoints, report: dict[str, Any]) -> Path:
    """Everything up to the complete, renamed snapshot `snapshots/<name>` (not yet current)."""
    report["files_copied"] = copy_site(site, partial)
    crash("site-copied")
    if previous is not None:
        report["apt_by_hash_carried"] = carry_apt_indexes(previous, partial)
        crash("previous-indexes-carried")
    merged = repo_site.merge_previous(partial, previous, keep=keep)
    report["merge"] = {k: len(merged[k]) for k in ("copied", "kept_published", "removed")}
    report["source_date"] = merged["source_date"]
    crash("pool-merged")
    with signer_for_publish(dest, env) as (signer, keyring):
        crash("keyring-ready")
        report.update(_sign_and_index(partial, signer, merged["source_date"], previous, crash))
        report["catalog_rewritten"] = len(rewrite_catalog_digests(partial))
        crash("catalog-rewritten")
        report["portal_pages"] = render_portal(site, partial, base_url, Path(readmes) if readmes else None)
        crash("portal-rendered")
        report.update(_sign_metadata(partial, signer, crash, extra_public_keys))
    report["temporary_keyring"] = {"path": keyring, "removed": keyring is None or not os.path.exists(keyring)}
    crash("keyring-removed")
    repo_files.write_user_files(partial, base_url)
    crash("user-files-written")
    problems = check_site(partial)
    if problems:
        raise HubError("the new snapshot is inconsistent, not publishing it:\n  " + "\n  ".join(problems[:50]))
    crash("checked")
    fsync_tree(partial)
    crash("fsynced")
    final = dest / SNAPSHOTS / name
    os.replace(partial, final)
    _fsync_path(dest / SNAPSHOTS, directory=True)
    crash("snapshot-renamed")
    return final
