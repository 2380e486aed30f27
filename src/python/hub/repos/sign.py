"""`hub sign-site`: the publish order of docs/repositories.md, on a built site, in place.

1. sign each RPM (rpmsign --addsign: an OpenPGP header signature that `rpmkeys -K` checks);
2. regenerate the YUM metadata from the signed files (same revision: it comes from the inputs);
3. rewrite `package.sha256`/`size_bytes` of the RPM artifact JSONs under `catalog/`
   (`package.unsigned_sha256` keeps the digest of the package as built);
4. sign each repomd.xml (repomd.xml.asc, detached, armored) and each APT Release
   (InRelease, clearsigned; Release.gpg, detached, armored), and export the public key.

This runs only when publishing, never in a cached build action: the private key must never
reach a sandbox input, a cache entry, `dist/` or a log. The signer comes from
hub.repos.signer.signer_from_env; `hub publish` (hub.site.publish) runs the same steps on a new
snapshot, with the crash points and the merge of the previous publish between them.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Sequence

from hub.catalog.artifact import file_digest
from hub.common import files
from hub.repos import yum
from hub.repos.user_files import PUBLIC_KEY_FILE
from hub.repos.signer import Signer


def yum_repo_dirs(site: Path) -> list[Path]:
    """Every YUM repository of a site: the directories whose repodata/ has a repomd.xml."""
    return sorted(p.parent.parent for p in site.glob("*/*/repodata/repomd.xml"))


def _repomd_revision(repomd: Path) -> int | None:
    m = re.search(r"<revision>(\d+)</revision>", repomd.read_text("utf-8"))
    return int(m.group(1)) if m else None


def rewrite_catalog(site: Path, catalog_dir: Path | None = None) -> list[Path]:
    """Step 3: every RPM artifact JSON whose file changed gets the new sha256/size_bytes;
    `package.unsigned_sha256` keeps the digest of the package as built."""
    changed: list[Path] = []
    root = catalog_dir or site / "catalog"
    if not root.is_dir():
        return changed
    for path in sorted(root.glob("*/*.json")):
        data = json.loads(path.read_text("utf-8"))
        package = data.get("package") if isinstance(data, dict) else None
        if data.get("artifact_type") != "rpm" or not isinstance(package, dict) or "url" not in package:
            continue
        file = site / package["url"]
        if not file.is_file():
            continue
        sha256, size = file_digest(file)
        if package.get("sha256") == sha256 and package.get("size_bytes") == size:
            continue
        package.setdefault("unsigned_sha256", package.get("sha256"))
        package["sha256"], package["size_bytes"] = sha256, size
        files.write_json(path, data)
        changed.append(path)
    return changed


def sign_site(
    site: str | os.PathLike[str], signer: Signer, *, extra_public_keys: Sequence[bytes] = ()
) -> dict[str, Any]:
    """Runs publish steps 1-4 (module doc) on `site` in place; returns what it did."""
    site = Path(site)
    report: dict[str, Any] = {"rpms_signed": 0, "repos": [], "catalog_rewritten": 0, "apt_suites": []}
    repos = yum_repo_dirs(site)
    # 1. RPM header signatures.
    rpms = [rpm for repo in repos for rpm in sorted(repo.glob("*.rpm"))]
    report["rpms_signed"] = len(signer.sign_rpms(rpms))
    # 2. YUM metadata from the signed files (same revision: it comes from the inputs).
    for repo in repos:
        dist = repo.parent.name
        entries = yum.entries_of([(str(rpm), dist) for rpm in sorted(repo.glob("*.rpm"))])
        revision = _repomd_revision(repo / "repodata" / "repomd.xml")
        if revision is None:
            revision = max((e["build_time"] for e in entries), default=0)
        yum.write_repodata(repo, entries, revision)
        report["repos"].append(str(repo.relative_to(site)))
    # 3. The catalog follows the signed bytes.
    report["catalog_rewritten"] = len(rewrite_catalog(site))
    # 4. Repository metadata signatures, checked right away.
    for repo in repos:
        repomd = repo / "repodata" / "repomd.xml"
        signer.verify(signer.detach_sign(repomd, repomd.with_name("repomd.xml.asc")), repomd)
    for release in sorted(site.glob("dists/*/Release")):
        signer.verify(signer.clearsign(release, release.with_name("InRelease")))
        signer.verify(signer.detach_sign(release, release.with_name("Release.gpg")), release)
        report["apt_suites"].append(release.parent.name)
    signer.export_public_key(site / PUBLIC_KEY_FILE, extra=extra_public_keys)
    report["fingerprint"] = signer.fingerprint
    return report
