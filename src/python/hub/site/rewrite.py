"""After signing, the catalog and the portal follow the published bytes.

Signing changes the RPMs' bytes, and the merge may keep a previously published file in place of
a rebuilt one, so each artifact JSON's `package.sha256`/`size_bytes` are rewritten to the
published file's (`package.unsigned_sha256` keeps the digest as built), and the portal is
re-rendered from the rewritten catalog. Its README sections are *carried* from the unsigned
site's pages (publish gets the site, not the exporters' README.md sources) unless `--readmes`
gives the sources.
"""

from __future__ import annotations

import json
from pathlib import Path

from hub.catalog.artifact import file_digest
from hub.common import files
from hub.common import schemas
from hub.common.errors import HubError
from hub.repos.sign import rewrite_catalog
from hub.site.portal import build_portal

_README_START = '<section aria-labelledby="readme-h" class="readme">'


def rewrite_catalog_digests(site: Path) -> list[Path]:
    """Step 3: every artifact JSON's `package.sha256`/`size_bytes` become the published
    file's (`package.unsigned_sha256` keeps the digest as built). RPMs through
    hub.repos.sign.rewrite_catalog; DEBs too when the merge kept a previously published file of the
    same name. Each document is validated; a `package.url` without a file is an error (the
    portal would link to nothing)."""
    changed = list(rewrite_catalog(site))
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
        sha256, size = file_digest(file)
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
            files.write_atomic(page, merged.encode("utf-8"))
            count += 1
    return count


def render_portal(unsigned_site: Path, site: Path, base_url: str, readmes: Path | None) -> int:
    """Re-renders the portal from the site's catalog, with the READMEs of `readmes`, else the
    unsigned site's rendered ones; returns the number of pages."""
    portal_base = base_url if base_url.startswith(("http://", "https://")) else None
    written = build_portal(site / "catalog", site, readmes=readmes, base_url=portal_base)
    if readmes is None:
        carry_readmes(unsigned_site, site)
    return sum(1 for w in written if w.endswith(".html"))
