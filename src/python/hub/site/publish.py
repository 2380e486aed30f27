"""`hub publish`: sign the unsigned site and publish it as a new snapshot, switched atomically.

    hub publish --site DIR --dest DIR --base-url URL [--keep N] [--readmes DIR]
                [--extra-public-key FILE...]

`--site` is the unsigned site of `./pants package //:site`; `--dest` is `HUB_PUBLISH_DIR`, laid
out as hub.site.snapshots describes (`current` -> `snapshots/<id>`).

Order (docs/repositories.md, "Publishing: order, atomic switch, crash safety"):

1. copy the unsigned site into a NEW `snapshots/<id>.partial` (`<id>`: the next integer after
   every existing snapshot, zero-padded; no clock);
2. merge the pool `current` points to (`hub.repos.merge.merge_previous`: cumulative, newest
   `--keep` versions, default 3). Published files keep their bytes (an RPM signed before is
   not signed again). The previous APT `Release` and its by-hash files, and afterwards the
   previous YUM metadata files, are carried over, so a client that read the old
   InRelease/repomd.xml just before the switch still finds every index it names;
3. sign every RPM (header signature, `hub.repos.signer`), regenerate the YUM metadata from the
   signed files, rewrite `sha256`/`size_bytes` of the catalog's artifact JSONs (`unsigned_sha256`
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
clock. Keys come from the environment (hub.repos.signing_key: RSA >= 3072, SHA-256); an
imported key lives in a temporary keyring recorded in DEST before it exists
(hub.site.publish_keyring), so the next publish removes what a killed one left.
`HUB_SIGNING_KEY` and `HUB_SIGNING_KEY_PASSPHRASE` are removed from this process's environment
as soon as they are read (hub.site.cli), so no child sees them.

Each step ends at a named crash point (hub.site.crash_points: `HUB_PUBLISH_CRASH_AT`, a
test-only hook that exits like `kill -9` right after the point it names).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Mapping, Sequence

from hub.common import files
from hub.common.errors import HubError
from hub.repos import user_files
from hub.repos import yum
from hub.repos.common import DEFAULT_KEEP
from hub.repos.merge import merge_previous
from hub.repos.sign import yum_repo_dirs
from hub.repos.signer import Signer
from hub.site.carry import carry_apt_indexes, carry_yum_metadata, copy_site
from hub.site.check import check_site
from hub.site.crash_points import CrashPoints
from hub.site.publish_keyring import signer_for_publish, sweep_keyrings
from hub.site.rewrite import render_portal, rewrite_catalog_digests
from hub.site.snapshots import (
    PARTIAL_SUFFIX,
    SNAPSHOTS,
    clean_stale,
    current_snapshot,
    next_snapshot_number,
    prune_snapshots,
    publish_lock,
    remove_tree,
    snapshot_name,
    switch_current,
)


def _sign_and_index(
    snapshot: Path, signer: Signer, source_date: int, previous: Path | None, crash: CrashPoints
) -> dict[str, Any]:
    """Step 3, first half: sign the RPMs, then write the YUM metadata from the signed files."""
    report: dict[str, Any] = {}
    repos = yum_repo_dirs(snapshot)
    rpms = [rpm for repo in repos for rpm in sorted(repo.glob("*.rpm"))]
    todo = [rpm for rpm in rpms if signer.rpm_signer_key(rpm) not in signer.keyids]
    for rpm in todo:  # a file linked from the previous snapshot must never change there
        if rpm.stat().st_nlink > 1:
            with open(rpm, "rb") as linked, files.atomic_output(rpm) as copy:
                shutil.copyfileobj(linked, copy)
    report["rpms_signed"] = len(signer.sign_rpms(todo))
    report["rpms"] = len(rpms)
    crash("rpms-signed")
    carried = 0
    for repo in repos:
        rel = repo.relative_to(snapshot).as_posix()
        dist = repo.parent.name
        entries = yum.entries_of([(str(rpm), dist) for rpm in sorted(repo.glob("*.rpm"))])
        yum.write_repodata(repo, entries, source_date)
        if previous is not None:
            carried += carry_yum_metadata(previous, snapshot, rel)
        crash(f"yum-metadata:{rel}")
    report["yum_repos"] = len(repos)
    report["yum_metadata_carried"] = carried
    crash("yum-metadata")
    return report


def _sign_metadata(
    snapshot: Path, signer: Signer, crash: CrashPoints, extra_public_keys: Sequence[bytes]
) -> dict[str, Any]:
    """Step 4: repomd.xml.asc, InRelease, Release.gpg (each checked), the public key."""
    repos = yum_repo_dirs(snapshot)
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
    signer.export_public_key(snapshot / user_files.PUBLIC_KEY_FILE, extra=extra_public_keys)
    crash("public-key-exported")
    return {"apt_suites": suites, "fingerprint": signer.fingerprint}


def publish(
    site: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    base_url: str,
    *,
    keep: int = DEFAULT_KEEP,
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
    user_files.yum_repo_file(base_url, "el9")  # validates the base URL before any work
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
            final = _build_snapshot(
                site,
                dest,
                partial,
                name,
                previous,
                base_url,
                keep=keep,
                readmes=readmes,
                extra_public_keys=extra_public_keys,
                env=env,
                crash=crash,
                report=report,
            )
        except BaseException:
            remove_tree(partial)  # an error (a crash leaves it to the next publish)
            raise
        switch_current(dest, final, crash)
        report["snapshot"] = f"{SNAPSHOTS}/{name}"
        report["previous"] = f"{SNAPSHOTS}/{previous.name}" if previous is not None else None
        report["pruned"] = prune_snapshots(dest, [final] + ([previous] if previous is not None else []))
        files.fsync_directory(dest / SNAPSHOTS)
        crash("pruned")
    return report


def _build_snapshot(
    site: Path,
    dest: Path,
    partial: Path,
    name: str,
    previous: Path | None,
    base_url: str,
    *,
    keep: int,
    readmes: str | os.PathLike[str] | None,
    extra_public_keys: Sequence[bytes],
    env: Mapping[str, str],
    crash: CrashPoints,
    report: dict[str, Any],
) -> Path:
    """Everything up to the complete, renamed snapshot `snapshots/<name>` (not yet current)."""
    report["files_copied"] = copy_site(site, partial)
    crash("site-copied")
    if previous is not None:
        report["apt_by_hash_carried"] = carry_apt_indexes(previous, partial)
        crash("previous-indexes-carried")
    merged = merge_previous(partial, previous, keep=keep)
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
    user_files.write_user_files(partial, base_url)
    crash("user-files-written")
    problems = check_site(partial)
    if problems:
        raise HubError("the new snapshot is inconsistent, not publishing it:\n  " + "\n  ".join(problems[:50]))
    crash("checked")
    files.fsync_tree(partial)
    crash("fsynced")
    final = dest / SNAPSHOTS / name
    os.replace(partial, final)
    files.fsync_directory(dest / SNAPSHOTS)
    crash("snapshot-renamed")
    return final
