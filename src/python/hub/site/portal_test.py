"""The portal, without a browser: escaping, safe README rendering, names, links, install texts.
The real-browser checks are in tests/integration/portal_test.py."""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from testkit import synthetic

from hub import cli
from hub.common import matrix
from hub.repos import user_files
from hub.site import markdown as safe_markdown
from hub.site import portal
from hub.common import files
from hub.common import schemas

HOSTILE_README = """# evil_exporter <script>alert('h1')</script>

<script>alert('raw')</script>
<img src=x onerror="alert('img')">
<iframe src="https://evil.example"></iframe>

[js link](javascript:alert('link')) [data](data:text/html;base64,PHNjcmlwdD4=) [ok](https://example.org/ok)
[quote break](https://example.org/"onmouseover="alert(1)) <javascript:alert(2)>
**<b>bold</b>** `<code>` ![pic](https://example.org/p.png" onerror="x)

```html
</code></pre><script>alert('fence')</script>
```
"""
HOSTILE_DESCRIPTION = "Evil </script><script>alert(1)</script> <!-- & \"quotes\" 'apos'"
# node_exporter's grants, as its manifest declares them (one package spec for both families).
NODE_GRANTS = [
    {"address_family": "AF_NETLINK", "reason": "the netdev collector reads the interfaces' counters over rtnetlink"},
    {"system_call": "adjtimex", "reason": "the timex collector reads the kernel's clock discipline"},
    {"read_path": "/home", "reason": "the filesystem collector reports the space of /home"},
]
# A reason is free text from a manifest: the page must show it as text.
HOSTILE_REASON = "needs </span><script>alert('reason')</script> & \"quotes\""
HOSTILE_SERVICE = {
    "system_user": "root",
    "systemd": {
        "run_as_root": "root <script>alert('root')</script>",
        "grants": [
            {"capability": "CAP_NET_RAW", "reason": HOSTILE_REASON},
            {"device": "/dev/ipmi0", "access": "rw", "reason": "<img src=x onerror=alert(2)>"},
        ],
    },
}


def _specs() -> list[synthetic.Spec]:
    return [
        synthetic.Spec(
            "node_exporter",
            category="System",
            port=9100,
            readme="# node_exporter\n\nHello **world**.\n",
            package_fields={"systemd": {"grants": NODE_GRANTS}},
        ),
        synthetic.Spec(
            "mysqld_exporter",
            category="Database",
            built=["rpm_amd64_el9", "deb_amd64_debian-12"],
            description="MySQL server metrics",
        ),
        synthetic.Spec("redis_exporter", category="Database", stale=["docker"], description="Redis metrics"),
        synthetic.Spec("snmp_exporter", category="Network", archs=("amd64",), docker=False, port=None),
        synthetic.Spec("process_exporter", category="System", pinned=False, built=[]),
        synthetic.Spec(
            "evil_exporter",
            category="Web",
            description=HOSTILE_DESCRIPTION,
            readme=HOSTILE_README,
            package_fields=HOSTILE_SERVICE,
        ),
    ]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return synthetic.build_site(tmp_path_factory.mktemp("portal"), _specs())


@pytest.fixture(scope="module")
def site_with_base(tmp_path_factory) -> Path:
    return synthetic.build_site(
        tmp_path_factory.mktemp("portal-base"), _specs(), base_url="https://packages.example.org/hub/"
    )


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str]] = []
        self.scripts: list[dict] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        for key in ("href", "src"):
            if a.get(key) is not None:
                self.urls.append((tag, a[key]))
        if tag == "script":
            self.scripts.append(a)
        for name in a:
            assert not name.startswith("on"), f"event handler attribute {name} on <{tag}>"


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def _pre_texts(text: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r'<pre id="cmd-[^"]+"[^>]*><code>(.*?)</code></pre>', text, re.S)]


# --------------------------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------------------------


def test_hostile_readme_renders_inert() -> None:
    out = safe_markdown.render(HOSTILE_README, heading_offset=2)
    assert "<script" not in out and "<img" not in out and "<iframe" not in out and "<b>" not in out
    assert "&lt;script&gt;" in out
    assert all(h.startswith("https://") for h in re.findall(r'href="([^"]*)"', out))
    assert "href='" not in out
    assert '<a href="https://example.org/ok" rel="nofollow noopener noreferrer">ok</a>' in out
    assert "onmouseover" not in re.sub(r"&[a-z#0-9]+;", "", " ".join(re.findall(r"<a [^>]*>", out)))
    assert "onerror" not in " ".join(re.findall(r"<[a-z][^>]*>", out))
    assert "<h3>evil_exporter &lt;script&gt;" in out  # # -> h3 with heading_offset=2
    assert "&lt;/code&gt;&lt;/pre&gt;&lt;script&gt;" in out  # a fence cannot break out
    # Every tag in the output is one the renderer makes.
    allowed = {
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "p",
        "pre",
        "code",
        "a",
        "strong",
        "em",
        "ul",
        "ol",
        "li",
        "blockquote",
        "hr",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "div",
    }
    assert set(re.findall(r"</?([a-zA-Z0-9]+)", out)) <= allowed


@pytest.mark.parametrize(
    "source, expected",
    [
        ("## Title", "<h4>Title</h4>"),
        ("a `x<y` b", "<p>a <code>x&lt;y</code> b</p>"),
        ("- one\n- two\n  continued", "<ul>\n<li>one</li>\n<li>two\ncontinued</li>\n</ul>"),
        ("3. c\n4. d", '<ol start="3">\n<li>c</li>\n<li>d</li>\n</ol>'),
        ("```\n<x>\n```", "<pre><code>&lt;x&gt;\n</code></pre>"),
        ("    indented <x>", "<pre><code>indented &lt;x&gt;\n</code></pre>"),
        (
            "[t](http://a.example/x?y=1&z=2)",
            '<p><a href="http://a.example/x?y=1&amp;z=2" rel="nofollow noopener noreferrer">t</a></p>',
        ),
        ("[t](/relative/path)", "<p>t</p>"),
        ("[t](JAVASCRIPT:alert(1))", "<p>t</p>"),
        (
            "| a | b |\n|---|---|\n| 1 | 2 |",
            '<div class="table-wrap"><table>\n<thead>\n<tr>\n<th scope="col">a</th>\n<th scope="col">b</th>\n</tr>\n'
            "</thead>\n<tbody>\n<tr>\n<td>1</td>\n<td>2</td>\n</tr>\n</tbody>\n</table></div>",
        ),
        ("snake_case_name and *em*", "<p>snake_case_name and <em>em</em></p>"),
    ],
)
def test_markdown_subset(source: str, expected: str) -> None:
    assert safe_markdown.render(source, heading_offset=2) == expected


# --------------------------------------------------------------------------------------------
# The inline JSON
# --------------------------------------------------------------------------------------------


def test_inline_json_cannot_close_its_script_block() -> None:
    data = [{"d": HOSTILE_DESCRIPTION, "x": "</SCRIPT></script ><!--<script>", "u": "\u2028\u2029 é"}]
    text = str(portal.inline_json(data))
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == data


def test_index_inlines_safe_data(site: Path) -> None:
    page = (site / "index.html").read_text()
    block = re.search(r'<script type="application/json" id="exporters-data">(.*?)</script>', page, re.S).group(1)
    assert "</" not in block and "<!--" not in block
    entries = json.loads(block)
    assert [e["name"] for e in entries] == sorted(s.name for s in _specs())
    evil = next(e for e in entries if e["name"] == "evil_exporter")
    assert evil["description"] == HOSTILE_DESCRIPTION
    # The description itself is escaped in the card, and there is exactly one executable script.
    assert "<script>alert(1)</script>" not in page
    assert "Evil &lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert len(re.findall(r"<script(?![^>]*application/json)", page)) == 1


def test_hostile_readme_is_inert_in_the_page(site: Path) -> None:
    page = (site / "exporters" / "evil_exporter.html").read_text()
    parsed = _parse(page_path := site / "exporters" / "evil_exporter.html")
    assert page_path.exists()
    assert [s.get("src", "").split("?")[0] for s in parsed.scripts] == ["../static/portal.js"]
    assert "iframe" not in parsed.tags and "img" not in parsed.tags
    assert "&lt;script&gt;alert(&#x27;raw&#x27;)&lt;/script&gt;" in page
    assert not [u for _, u in parsed.urls if u.lower().startswith(("javascript:", "data:text"))]


# --------------------------------------------------------------------------------------------
# Pages
# --------------------------------------------------------------------------------------------


def test_every_local_link_resolves_and_is_relative(site: Path) -> None:
    pages = [site / "index.html", *sorted((site / "exporters").glob("*.html"))]
    assert len(pages) == 1 + len(_specs())
    checked = 0
    for page in pages:
        for tag, url in _parse(page).urls:
            if url.startswith(("https://", "http://")) or url.startswith("#") or url.startswith("data:"):
                continue
            assert not url.startswith("/"), f"{page.name}: absolute path {url}"
            target = (page.parent / url.split("?")[0].split("#")[0]).resolve()
            assert target.is_file(), f"{page.name}: {tag} {url} does not resolve"
            checked += 1
    assert checked > 100


def test_downloads_are_package_urls_with_their_sha256(site: Path) -> None:
    page = (site / "exporters" / "node_exporter.html").read_text()
    links = re.findall(r'<a class="download" href="([^"]+)" data-sha256="([0-9a-f]{64})"', page)
    assert len(links) == 14
    for href, sha in links:
        doc_path = None
        for doc in (site / "catalog" / "node_exporter").glob("*_*.json"):
            d = json.loads(doc.read_text())
            if "../" + d["package"]["url"] == html.unescape(href):
                doc_path = doc
                assert d["package"]["sha256"] == sha
        assert doc_path is not None, href


def test_deb_names_use_dashes_everywhere(site: Path) -> None:
    for page in (site / "exporters").glob("*.html"):
        text = html.unescape(page.read_text())
        for name in re.findall(r"apt install (\S+)", text):
            assert "_" not in name, f"{page.name}: apt install {name}"
        for name in re.findall(r'class="download" href="[^"]*/([^/"]+\.deb)"', text):
            assert "_" not in name.split("_")[0]
    node = html.unescape((site / "exporters" / "node_exporter.html").read_text())
    assert "sudo apt install node-exporter" in node and "sudo dnf install node_exporter" in node
    assert "sudo apt install mysqld-exporter" in html.unescape(
        (site / "exporters" / "mysqld_exporter.html").read_text()
    )
    md = json.loads((site / "catalog" / "process_exporter" / "metadata.json").read_text())
    assert md["packages"]["deb"] == "process-exporter"


def test_missing_artifacts_are_shown_as_missing(site: Path) -> None:
    page = (site / "exporters" / "mysqld_exporter.html").read_text()
    cells = re.findall(r'<td data-arch="(amd64|arm64)" data-status="(\w+)"', page)
    assert len(cells) == 14
    assert sorted(s for _, s in cells).count("success") == 2
    assert sorted(s for _, s in cells).count("missing") == 12
    assert '<dl class="facts image" data-status="missing">' in page
    unpinned = (site / "exporters" / "process_exporter.html").read_text()
    assert "upstream not pinned" in unpinned and unpinned.count('data-status="missing"') == 15
    stale = (site / "exporters" / "redis_exporter.html").read_text()
    assert '<dl class="facts image" data-status="stale">' in stale
    index = (site / "index.html").read_text()
    assert "13 missing" in index and "15 missing" in index and "1 stale" in index


def test_install_texts_come_from_user_files(site: Path, site_with_base: Path) -> None:
    ph = portal.PLACEHOLDER_BASE_URL
    for page, base in ((site, ph), (site_with_base, "https://packages.example.org/hub/")):
        text = (page / "exporters" / "node_exporter.html").read_text()
        blocks = _pre_texts(text)
        for dist in matrix.RPM_DISTS:
            assert user_files.yum_repo_file(base, dist) in blocks, dist
            assert user_files.yum_setup_commands(base, dist).rstrip("\n") in blocks, dist
        for dist in matrix.DEB_DISTS:
            codename = matrix.DISTS[dist].codename
            assert user_files.apt_sources_file(base, codename) in blocks, dist
            assert user_files.apt_setup_commands(base, codename).rstrip("\n") in blocks, dist
        assert blocks.count("sudo dnf install node_exporter") == 3
        assert blocks.count("sudo apt install node-exporter") == 4
        docker = json.loads((page / "catalog" / "node_exporter" / "docker.json").read_text())["images"][0]
        ref = f"{docker['registry']}/{docker['repository']}@{docker['digest']}"
        assert f"docker pull {ref}" in blocks
        assert f"docker run -d --name node_exporter -p 9100:9100 {ref}" in blocks
        assert all("Signed-By: /etc/apt/keyrings/monitoring-hub.asc" in b for b in blocks if b.startswith("Types: deb"))
    placeholder_page = (site / "exporters" / "node_exporter.html").read_text()
    assert 'id="base-note"' in placeholder_page and html.escape(ph) in placeholder_page
    with_base = (site_with_base / "exporters" / "node_exporter.html").read_text()
    assert html.escape(ph) not in with_base and 'id="base-note"' not in with_base


# --------------------------------------------------------------------------------------------
# The service section
# --------------------------------------------------------------------------------------------


def _service_section(page: Path) -> str | None:
    text = page.read_text(encoding="utf-8")
    found = re.search(r'<section aria-labelledby="service-h"[^>]*>(.*?)</section>', text, re.S)
    return found.group(1) if found else None


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", fragment))).strip()


def test_service_lists_the_grants_once_when_both_families_agree(site: Path) -> None:
    section = _service_section(site / "exporters" / "node_exporter.html")
    assert section is not None and '<h2 id="service-h">Service</h2>' in section
    assert re.findall(r'data-families="([^"]+)"', section) == ["rpm deb"]  # shown once
    assert "<h3>" not in section
    assert "Runs as user <code>node_exporter</code>." in section
    assert "strict sandbox" in _text(section) and "No privileges beyond" not in section
    items = [_text(li) for li in re.findall(r"<li data-kind=[^>]*>(.*?)</li>", section, re.S)]
    assert items == [
        f"address family AF_NETLINK: {NODE_GRANTS[0]['reason']}",
        f"system call adjtimex: {NODE_GRANTS[1]['reason']}",
        f"reads /home: {NODE_GRANTS[2]['reason']}",
    ]
    assert 'class="warning' not in section


def test_service_without_grants_says_so(site: Path) -> None:
    section = _service_section(site / "exporters" / "redis_exporter.html")
    assert section is not None
    assert "Runs as user <code>redis_exporter</code>." in section
    assert '<p class="no-grants">No privileges beyond the sandbox.</p>' in section
    assert "<ul" not in section and 'class="warning' not in section


def test_service_reasons_are_escaped_and_root_is_a_warning(site: Path) -> None:
    page = site / "exporters" / "evil_exporter.html"
    section = _service_section(page)
    assert section is not None
    assert "<script" not in section and "<img" not in section
    assert html.escape(HOSTILE_REASON, quote=False) in section.replace("&#34;", '"').replace("&#39;", "'")
    text = _text(section)
    assert "Warning: this service runs as root" in text
    assert "The manifest's reason: root <script>alert('root')</script>" in text
    assert f"capability CAP_NET_RAW: {HOSTILE_REASON}" in text
    assert "device /dev/ipmi0 (read and write): <img src=x onerror=alert(2)>" in text
    parsed = _parse(page)  # also asserts that no element has an on* attribute
    assert "img" not in parsed.tags and len(parsed.scripts) == 1


def test_service_per_family_when_they_differ(tmp_path: Path) -> None:
    spec = synthetic.Spec(
        "ping_exporter",
        package_fields={"systemd": {"grants": [{"capability": "CAP_NET_RAW", "reason": "ICMP echo"}]}},
        deb_fields={"system_user": "prometheus"},
    )
    site = synthetic.build_site(tmp_path, [spec, synthetic.Spec("only_rpm_exporter", deb=(), docker=False)])
    section = _service_section(site / "exporters" / "ping_exporter.html")
    assert section is not None
    assert re.findall(r'data-families="([^"]+)"', section) == ["rpm", "deb"]
    assert re.findall(r"<h3>([^<]+)</h3>", section) == ["RPM package", "DEB package"]
    rpm, deb = section.split('data-families="deb"')
    assert "Runs as user ping_exporter. Beyond the sandbox, it gets: capability CAP_NET_RAW: ICMP echo" in _text(rpm)
    assert "Runs as user prometheus. No privileges beyond the sandbox." in _text(deb)
    # One family only: shown once, without a family heading.
    single = _service_section(site / "exporters" / "only_rpm_exporter.html")
    assert single is not None and re.findall(r'data-families="([^"]+)"', single) == ["rpm"] and "<h3>" not in single


def test_service_without_a_unit_or_a_package_or_in_older_metadata() -> None:
    no_unit = portal.service_groups({"packages": {"rpm": "a", "deb": "a"}, "service": {"rpm": None, "deb": None}})
    assert no_unit == [{"label": None, "families": ["rpm", "deb"], "unit": False}]
    assert portal.service_groups({"packages": {"rpm": None, "deb": None}, "service": {"rpm": None, "deb": None}}) == []
    assert portal.service_groups({"packages": {"rpm": "a", "deb": "a"}}) is None  # written before 'service'
    # A tampered catalog gives texts, never an exception.
    odd = portal.service_groups(
        {"packages": {"rpm": "a"}, "service": {"rpm": {"user": 0, "grants": [7, {"kind": None, "value": []}]}}}
    )
    assert odd is not None and odd[0]["grants"] == [
        {"kind": "None", "label": "None", "value": "[]", "access": None, "reason": ""}
    ]


def test_service_section_on_pages(tmp_path: Path) -> None:
    site = synthetic.build_site(
        tmp_path,
        [
            synthetic.Spec("a_exporter", package_fields={"systemd": {"enabled": False}}),
            synthetic.Spec("b_exporter", rpm=(), deb=()),
        ],
    )
    no_unit = _service_section(site / "exporters" / "a_exporter.html")
    assert no_unit is not None and "No systemd service: the packages install the program only." in no_unit
    assert "strict sandbox" not in no_unit
    no_package = _service_section(site / "exporters" / "b_exporter.html")
    assert no_package is not None and "ships no package, so no systemd service" in no_package
    # Metadata written before 'service': the section is left out, the page still renders.
    md_path = site / "catalog" / "a_exporter" / "metadata.json"
    md = json.loads(md_path.read_text())
    del md["service"]
    md_path.write_text(json.dumps(md))
    portal.build_portal(site / "catalog", site)
    assert _service_section(site / "exporters" / "a_exporter.html") is None


def test_no_image_and_no_port(site: Path) -> None:
    snmp = html.unescape((site / "exporters" / "snmp_exporter.html").read_text())
    assert "docker pull" not in snmp and "Container image" not in snmp
    assert "not declared" not in snmp  # amd64 only: one column


def test_rendering_is_deterministic(site: Path, tmp_path: Path) -> None:
    again = synthetic.build_site(tmp_path, _specs())
    for page in [Path("index.html"), *[p.relative_to(site) for p in (site / "exporters").glob("*.html")]]:
        assert (again / page).read_bytes() == (site / page).read_bytes(), page


def test_cli_and_a_catalog_outside_the_site(tmp_path: Path, capsys) -> None:
    paths = synthetic.write_exporters(tmp_path, _specs()[:2])
    assert (
        cli.main(
            [
                "catalog",
                "--manifests",
                paths["exporters"],
                "--artifacts",
                paths["artifacts"],
                "--out",
                str(tmp_path / "cat"),
            ]
        )
        == 0
    )
    out = tmp_path / "www"
    assert (
        cli.main(["portal", "--catalog", str(tmp_path / "cat"), "--readmes", paths["exporters"], "--out", str(out)])
        == 0
    )
    assert "3 pages" in capsys.readouterr().out
    assert (out / "catalog" / "index.json").is_file()  # copied, so the JSON links work
    assert cli.main(["portal", "--catalog", str(tmp_path / "cat"), "--out", str(out), "--base-url", "ftp://x"]) == 2
    assert cli.main(["portal", "--catalog", str(tmp_path / "nowhere"), "--out", str(out)]) == 2


def test_a_tampered_catalog_cannot_inject_links(tmp_path: Path) -> None:
    site = synthetic.build_site(tmp_path, [synthetic.Spec("node_exporter", built=["rpm_amd64_el9"])])
    md_path = site / "catalog" / "node_exporter" / "metadata.json"
    md = json.loads(md_path.read_text())
    md.update(homepage="javascript:alert(1)", repository='https://x.example/" onclick="alert(1)')
    md_path.write_text(json.dumps(md))
    art = site / "catalog" / "node_exporter" / "rpm_amd64_el9.json"
    doc = json.loads(art.read_text())
    doc["package"]["url"] = "javascript:alert(1)"
    art.write_text(json.dumps(doc))
    portal.build_portal(site / "catalog", site)
    parsed = _parse(site / "exporters" / "node_exporter.html")  # asserts no on* attribute
    assert not [u for _, u in parsed.urls if u.lower().startswith("javascript:") or "alert" in u]


def test_a_tampered_catalog_cannot_inject_commands() -> None:
    md = {
        "exporter": "x_exporter",
        "port": "9100; curl evil",
        "artifacts": {
            "rpm": {"el9": {"amd64": "success"}},
            "deb": {"debian-12": {"amd64": "success"}},
            "docker": "success",
        },
        "packages": {"rpm": "x; rm -rf /", "deb": "$(evil)"},
    }
    docker = {"images": [{"registry": "r.example", "repository": "a/b", "digest": "sha256:" + "0" * 64 + " && evil"}]}
    texts = [step["text"] for g in portal.install_blocks(md, docker, "https://h.example/") for step in g["steps"]]
    assert "sudo dnf install x_exporter" in texts and "sudo apt install x-exporter" in texts
    assert not [t for t in texts if "evil" in t or "rm -rf" in t or "docker" in t]


def test_sbom_links_next_to_the_downloads(tmp_path: Path) -> None:
    from hub.catalog import artifact as catalog

    site = synthetic.build_site(tmp_path, [synthetic.Spec("node_exporter", built=["rpm_amd64_el9", "docker"])])
    art_path = site / "catalog" / "node_exporter" / "rpm_amd64_el9.json"
    art = json.loads(art_path.read_text())
    url = art["package"]["url"] + ".cdx.json"
    (site / url).write_text('{"bomFormat": "CycloneDX"}\n')
    sha, size = catalog.file_digest(site / url)
    art["sbom"] = {
        "filename": url.rsplit("/", 1)[1],
        "url": url,
        "sha256": sha,
        "size_bytes": size,
        "format": "CycloneDX 1.5",
    }
    schemas.validate(art, "artifact")
    art_path.write_text(files.dumps_json(art))
    docker_path = site / "catalog" / "node_exporter" / "docker.json"
    docker = json.loads(docker_path.read_text())
    for m in docker["images"][0]["manifests"]:
        arch = m["platform"].split("/")[1]
        image_url = f"images/node_exporter/node_exporter-{docker['images'][0]['tag']}-{arch}.cdx.json"
        (site / image_url).parent.mkdir(parents=True, exist_ok=True)
        (site / image_url).write_text("{}\n")
        m["sbom"] = {
            "filename": image_url.rsplit("/", 1)[1],
            "url": image_url,
            "sha256": "b" * 64,
            "size_bytes": 3,
            "format": "CycloneDX 1.5",
        }
    schemas.validate(docker, "docker")
    docker_path.write_text(files.dumps_json(docker))
    portal.build_portal(site / "catalog", site)
    page = site / "exporters" / "node_exporter.html"
    links = re.findall(r'<a class="sbom" href="([^"]+)" data-sha256="([0-9a-f]{64})"', page.read_text())
    assert ("../" + url, sha) in links
    assert len(links) == 1 + len(docker["images"][0]["manifests"])
    for href, _ in links:
        assert (page.parent / html.unescape(href)).resolve().is_file()
    # A tampered SBOM URL gives no link at all.
    art["sbom"]["url"] = "javascript:alert(1)"
    art_path.write_text(json.dumps(art))
    portal.build_portal(site / "catalog", site)
    assert "javascript:" not in page.read_text()
