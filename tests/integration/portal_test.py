"""The portal in a real headless Chromium (Debian's chromium + chromium-driver, driven by
selenium): search, filter, sort, exporter pages, downloads, copy buttons, accessibility basics,
file:// loading, screenshots. The site is synthetic (testkit.synthetic), with one hostile README,
served from 127.0.0.1 by http.server in a thread. No network is used.

Screenshots go to $HUB_TEST_ARTIFACTS_DIR, else dist/test-artifacts/portal/ under the current
directory; the path is printed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import urllib.request
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from hub.common import matrix
from hub.common.serve import serve_directory
from hub.repos import user_files
from testkit import synthetic

CHROMIUM = os.environ.get("HUB_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("HUB_CHROMEDRIVER", "/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
DESKTOP = (1280, 900)
PHONE = (390, 844)

HOSTILE_README = """# evil_exporter

<script>window.hubPwned = 1; alert('raw')</script>
<img src=x onerror="window.hubPwned = 2">
[click me](javascript:window.hubPwned=3) [fine](https://example.org/)

```
</code></pre><script>window.hubPwned = 4</script>
```
"""

# node_exporter's grants, as its manifest declares them; the hostile exporter runs as root with
# reasons that would run script if they were not escaped.
NODE_GRANTS = [
    {"address_family": "AF_NETLINK", "reason": "the netdev collector reads the interfaces' counters over rtnetlink"},
    {"system_call": "adjtimex", "reason": "the timex collector reads the kernel's clock discipline"},
    {"read_path": "/home", "reason": "the filesystem collector reports the space of /home"},
]
HOSTILE_ROOT_REASON = "</span><script>window.hubPwned = 6</script>"
HOSTILE_GRANT_REASON = '<img src=x onerror="window.hubPwned = 7">'

SPECS = [
    synthetic.Spec(
        "node_exporter",
        category="System",
        description="Hardware and OS metrics",
        port=9100,
        build_date="2025-03-01T00:00:00Z",
        readme="# node_exporter\n\nKernel metrics. `node_exporter --help`\n",
        package_fields={"systemd": {"grants": NODE_GRANTS}},
    ),
    synthetic.Spec(
        "mysqld_exporter",
        category="Database",
        description="MySQL server metrics",
        port=9104,
        build_date="2025-05-01T00:00:00Z",
        built=["rpm_amd64_el9", "deb_amd64_debian-12", "docker"],
    ),
    synthetic.Spec(
        "redis_exporter",
        category="Database",
        description="Redis key-value store metrics",
        port=9121,
        build_date="2025-01-15T00:00:00Z",
        stale=["docker"],
    ),
    synthetic.Spec(
        "snmp_exporter",
        category="Network",
        description="SNMP devices",
        archs=("amd64",),
        docker=False,
        port=None,
        build_date="2025-06-01T00:00:00Z",
    ),
    synthetic.Spec(
        "blackbox_exporter",
        category="Network",
        description="Probes endpoints over HTTP, DNS, TCP, ICMP",
        port=9115,
        build_date="2024-12-24T00:00:00Z",
    ),
    synthetic.Spec(
        "evil_exporter",
        category="Web",
        description="Hostile </script><script>window.hubPwned=5</script>",
        readme=HOSTILE_README,
        build_date="2025-02-02T00:00:00Z",
        package_fields={
            "system_user": "root",
            "systemd": {
                "run_as_root": HOSTILE_ROOT_REASON,
                "grants": [{"capability": "CAP_NET_RAW", "reason": HOSTILE_GRANT_REASON}],
            },
        },
    ),
]
NAMES = sorted(s.name for s in SPECS)


# --------------------------------------------------------------------------------------------
# Fixtures: site, server, browser
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return synthetic.build_site(tmp_path_factory.mktemp("portal"), SPECS)


@pytest.fixture(scope="module")
def base(site: Path):
    with serve_directory(site) as url:
        yield url


@pytest.fixture(scope="module")
def artefacts() -> Path:
    out = Path(os.environ.get("HUB_TEST_ARTIFACTS_DIR") or Path.cwd() / "dist" / "test-artifacts" / "portal")
    out.mkdir(parents=True, exist_ok=True)
    print(f"\nportal screenshots: {out}")
    return out


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    for tool in (CHROMIUM, CHROMEDRIVER):
        if not os.access(tool, os.X_OK):
            pytest.fail(f"{tool} not found: run build-support/ci/install-tools.sh (Debian chromium, chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.add_argument(f"--window-size={DESKTOP[0]},{DESKTOP[1]}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    d.set_page_load_timeout(30)
    try:
        yield d
    finally:
        d.quit()


@pytest.fixture(autouse=True)
def no_console_errors(request):
    """Every test ends with an empty list of browser errors (console, CSP, failed loads)."""
    if "driver" not in request.fixturenames:
        yield
        return
    d = request.getfixturevalue("driver")
    d.get_log("browser")  # drop what earlier tests left
    yield
    errors = [e for e in d.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert not errors, f"browser console errors: {errors}"
    with pytest.raises(NoAlertPresentException):
        d.switch_to.alert.text  # noqa: B018 - no alert() ever ran


def open_page(d, url: str) -> None:
    d.get(url)
    WebDriverWait(d, 10).until(lambda drv: drv.execute_script("return !!(window.hubPortal && window.hubPortal.ready)"))


def visible_cards(d) -> list[str]:
    return d.execute_script(
        "return Array.from(document.querySelectorAll('#results > li')).filter(li => !li.hidden).map(li => li.dataset.name)"
    )


def metadata(site: Path, name: str) -> dict:
    return json.loads((site / "catalog" / name / "metadata.json").read_text())


# --------------------------------------------------------------------------------------------
# Index: search, filter, sort, state in the URL
# --------------------------------------------------------------------------------------------


def test_typing_narrows_the_list_instantly(driver, base) -> None:
    open_page(driver, base + "index.html")
    assert visible_cards(driver) == NAMES
    box = driver.find_element(By.ID, "q")
    counts = []
    for ch in "redis":
        box.send_keys(ch)
        counts.append(len(visible_cards(driver)))
    assert counts == sorted(counts, reverse=True) and counts[-1] == 1
    assert visible_cards(driver) == ["redis_exporter"]
    assert driver.find_element(By.ID, "count").text == "1 of 6 exporters match"
    WebDriverWait(driver, 5).until(lambda d: "q=redis" in d.current_url)
    assert driver.execute_script("return window.hubPortal.filterTimings.length") >= 5

    # The description and the category are searched too; words combine.
    box.clear()
    box.send_keys("mysql")
    assert visible_cards(driver) == ["mysqld_exporter"]
    box.clear()
    box.send_keys("database")
    assert visible_cards(driver) == ["mysqld_exporter", "redis_exporter"]
    box.clear()
    box.send_keys("network probes")
    assert visible_cards(driver) == ["blackbox_exporter"]
    box.clear()
    box.send_keys("zzz-nothing")
    assert visible_cards(driver) == []
    assert driver.find_element(By.ID, "empty").is_displayed()
    driver.find_element(By.ID, "reset").click()
    assert visible_cards(driver) == NAMES


def test_category_filter_sort_and_shareable_state(driver, base, site) -> None:
    open_page(driver, base + "index.html")
    Select(driver.find_element(By.ID, "category")).select_by_value("Database")
    assert visible_cards(driver) == ["mysqld_exporter", "redis_exporter"]
    Select(driver.find_element(By.ID, "sort")).select_by_value("updated")
    assert visible_cards(driver) == ["mysqld_exporter", "redis_exporter"]  # 2025-05 before 2025-01
    Select(driver.find_element(By.ID, "category")).select_by_value("")
    by_date = sorted(NAMES, key=lambda n: metadata(site, n)["last_updated"], reverse=True)
    assert visible_cards(driver) == by_date
    Select(driver.find_element(By.ID, "sort")).select_by_value("name")
    assert visible_cards(driver) == NAMES

    # The view is in the URL: opening it again restores it.
    Select(driver.find_element(By.ID, "category")).select_by_value("Network")
    Select(driver.find_element(By.ID, "sort")).select_by_value("updated")
    url = driver.current_url
    assert "category=Network" in url and "sort=updated" in url
    driver.get("about:blank")
    open_page(driver, url)
    assert Select(driver.find_element(By.ID, "category")).first_selected_option.get_attribute("value") == "Network"
    assert visible_cards(driver) == ["snmp_exporter", "blackbox_exporter"]
    open_page(driver, base + "index.html#q=node")
    assert visible_cards(driver) == ["node_exporter"]
    assert driver.find_element(By.ID, "q").get_attribute("value") == "node"


def test_keyboard_use(driver, base) -> None:
    open_page(driver, base + "index.html")
    body = driver.find_element(By.TAG_NAME, "body")
    body.send_keys("/")
    assert driver.switch_to.active_element.get_attribute("id") == "q"
    driver.switch_to.active_element.send_keys("snmp")
    assert visible_cards(driver) == ["snmp_exporter"]
    driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    assert visible_cards(driver) == NAMES
    # The first Tab reaches the skip link, which is visible when focused and moves to <main>.
    open_page(driver, base + "index.html")
    body = driver.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)
    skip = driver.switch_to.active_element
    assert skip.get_attribute("class") == "skip" and skip.is_displayed()
    outline = driver.execute_script("return getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none")
    # Tab through the controls to the first card's link, Enter opens the exporter page.
    for _ in range(12):
        driver.switch_to.active_element.send_keys(Keys.TAB)
        if "exporters/" in (driver.switch_to.active_element.get_attribute("href") or ""):
            break
    link = driver.switch_to.active_element
    assert link.text == NAMES[0]
    link.send_keys(Keys.ENTER)
    WebDriverWait(driver, 10).until(lambda d: d.current_url.endswith(f"exporters/{NAMES[0]}.html"))


def test_long_lists_show_a_page_at_a_time(driver, tmp_path_factory) -> None:
    specs = [
        synthetic.Spec(
            f"many{i:03d}_exporter",
            category="Web" if i % 2 else "Storage",
            built=[],
            description=f"Synthetic number {i}",
        )
        for i in range(130)
    ]
    site = synthetic.build_site(tmp_path_factory.mktemp("many"), specs)
    open_page(driver, (site / "index.html").as_uri())
    assert len(visible_cards(driver)) == 120
    more = driver.find_element(By.ID, "more-button")
    assert more.is_displayed() and more.text == "Show 10 more (10 not shown)"
    more.click()
    assert visible_cards(driver) == sorted(s.name for s in specs)
    assert not more.is_displayed()
    assert driver.switch_to.active_element.text == "many120_exporter"  # focus moves to the first new card

    def expected(query: str, category: str = "") -> list[str]:
        out = []
        for spec in specs:
            hay = f"{spec.name} {spec.name.replace('_', ' ')} {spec.description} {spec.category}".lower()
            if all(t in hay for t in query.lower().split()) and category in ("", spec.category):
                out.append(spec.name)
        return sorted(out)

    driver.find_element(By.ID, "q").send_keys("number 12")
    assert visible_cards(driver) == expected("number 12") and len(expected("number 12")) == 12
    assert not more.is_displayed()
    Select(driver.find_element(By.ID, "category")).select_by_value("Storage")
    assert visible_cards(driver) == expected("number 12", "Storage")
    n = len(expected("number 12", "Storage"))
    assert driver.find_element(By.ID, "count").text == f"{n} of 130 exporters match"


# --------------------------------------------------------------------------------------------
# Exporter pages
# --------------------------------------------------------------------------------------------


def test_exporter_page_shows_the_matrix(driver, base, site) -> None:
    open_page(driver, base + "index.html")
    driver.find_element(By.LINK_TEXT, "mysqld_exporter").click()
    WebDriverWait(driver, 10).until(lambda d: d.current_url.endswith("exporters/mysqld_exporter.html"))
    WebDriverWait(driver, 10).until(lambda d: d.execute_script("return !!(window.hubPortal && window.hubPortal.ready)"))
    md = metadata(site, "mysqld_exporter")
    cells = driver.execute_script(
        "return Array.from(document.querySelectorAll('table.matrix tbody tr')).map(tr =>"
        " [tr.dataset.family, tr.dataset.dist, Array.from(tr.querySelectorAll('td')).map(td => [td.dataset.arch, td.dataset.status, td.innerText])])"  # noqa: B950 - data
    )
    assert [(f, d) for f, d, _ in cells] == [("rpm", d) for d in matrix.RPM_DISTS] + [
        ("deb", d) for d in matrix.DEB_DISTS
    ]
    for family, dist, row in cells:
        for arch, status, text in row:
            assert md["artifacts"][family][dist][arch] == status
            assert ("missing" if status == "missing" else "built") in text
    assert sum(s == "missing" for _, _, row in cells for _, s, _ in row) == 12
    assert "1.2.3" in driver.find_element(By.TAG_NAME, "h1").text
    assert driver.find_element(By.CSS_SELECTOR, "dl.image").get_attribute("data-status") == "success"
    # Back to the list through the breadcrumb.
    driver.find_element(By.CSS_SELECTOR, "nav.breadcrumb a").click()
    WebDriverWait(driver, 10).until(lambda d: d.current_url.endswith("/index.html"))


def test_every_download_and_json_link_resolves(driver, base, site) -> None:
    checked = 0
    for name in NAMES:
        open_page(driver, f"{base}exporters/{name}.html")
        downloads = driver.execute_script(
            "return Array.from(document.querySelectorAll('a.download')).map(a => [a.href, a.dataset.sha256])"
        )
        built = metadata(site, name)["status_counts"]
        expected = (
            built["success"]
            + built["stale"]
            - (1 if metadata(site, name)["artifacts"].get("docker") in ("success", "stale") else 0)
        )
        assert len(downloads) == expected, name
        for href, sha in downloads:
            assert href.startswith(base)
            with urllib.request.urlopen(href, timeout=10) as r:
                assert r.status == 200
                assert hashlib.sha256(r.read()).hexdigest() == sha
            checked += 1
        for href in driver.execute_script(
            "return Array.from(document.querySelectorAll('a.json, .catalog-links a')).map(a => a.href)"
        ):
            with urllib.request.urlopen(href, timeout=10) as r:
                assert r.status == 200
                assert json.loads(r.read())["format_version"] == "3.0"
    assert checked > 40


def test_copy_buttons_copy_the_exact_commands(driver, base, site) -> None:
    open_page(driver, f"{base}exporters/node_exporter.html")
    driver.execute_cdp_cmd(
        "Browser.grantPermissions",
        {"origin": base.rstrip("/"), "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
    )
    site_url = base.rstrip("/")
    docker = json.loads((site / "catalog" / "node_exporter" / "docker.json").read_text())["images"][0]
    ref = f"{docker['registry']}/{docker['repository']}@{docker['digest']}"
    expected = {
        "cmd-rpm-el9-1": user_files.yum_setup_commands(site_url, "el9").rstrip("\n"),
        "cmd-rpm-el9-1-f": user_files.yum_repo_file(site_url, "el9"),
        "cmd-rpm-el9-2": "sudo dnf install node_exporter",
        "cmd-deb-debian-12-1": user_files.apt_setup_commands(site_url, "bookworm").rstrip("\n"),
        "cmd-deb-debian-12-1-f": user_files.apt_sources_file(site_url, "bookworm"),
        "cmd-deb-ubuntu-24.04-2": "sudo apt install node-exporter",
        "cmd-docker-1": f"docker pull {ref}",
        "cmd-docker-2": f"docker run -d --name node_exporter -p 9100:9100 {ref}",
    }
    for target, text in expected.items():
        button = driver.find_element(By.CSS_SELECTOR, f'button[data-copy-target="{target}"]')
        for details in button.find_elements(By.XPATH, "ancestor::details"):  # outermost first
            if details.get_attribute("open") is None:
                details.find_element(By.TAG_NAME, "summary").click()
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
        button.click()
        WebDriverWait(driver, 5).until(lambda d, b=button: b.get_attribute("data-state") in ("copied", "failed"))
        assert button.get_attribute("data-copied") == text
        assert button.get_attribute("data-state") == "copied"
        clip = driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "navigator.clipboard.readText().then(done, e => done('ERROR ' + e))"
        )
        assert clip == text
    # Every copy text says node-exporter for apt, never node_exporter.
    texts = driver.execute_script(
        "return Array.from(document.querySelectorAll('pre.copyable')).map(p => p.textContent)"
    )
    assert all("apt install node-exporter" in t for t in texts if "apt install" in t)
    assert not [t for t in texts if "<your-host>" in t]  # served over http: the real address


def test_hostile_readme_is_inert(driver, base) -> None:
    open_page(driver, f"{base}exporters/evil_exporter.html")
    assert driver.execute_script("return window.hubPwned === undefined")
    assert driver.execute_script("return document.scripts.length") == 1
    readme = driver.find_element(By.CSS_SELECTOR, ".markdown").text
    assert "<script>window.hubPwned = 1; alert('raw')</script>" in readme
    assert driver.find_elements(By.CSS_SELECTOR, ".markdown img, .markdown script, .markdown iframe") == []
    hrefs = driver.execute_script(
        "return Array.from(document.querySelectorAll('.markdown a')).map(a => a.getAttribute('href'))"
    )
    assert hrefs == ["https://example.org/"]
    open_page(driver, base + "index.html")
    driver.find_element(By.ID, "q").send_keys("hostile")
    assert visible_cards(driver) == ["evil_exporter"]
    assert driver.execute_script("return window.hubPwned === undefined")


def service_section(d) -> tuple[str, str, list[str]]:
    """(heading, whole text, grant texts) of the Service section, which must be displayed."""
    section = d.find_element(By.CSS_SELECTOR, 'section[aria-labelledby="service-h"]')
    assert section.is_displayed()
    heading = section.find_element(By.ID, "service-h")
    assert heading.tag_name == "h2"
    grants = [li.text for li in section.find_elements(By.CSS_SELECTOR, "ul.grants li")]
    return heading.text, section.text, grants


def test_service_section_is_readable(driver, base) -> None:
    open_page(driver, f"{base}exporters/node_exporter.html")
    heading, text, grants = service_section(driver)
    assert heading == "Service"
    assert "Runs as user node_exporter." in text and "strict sandbox" in text
    assert grants == [
        f"address family AF_NETLINK: {NODE_GRANTS[0]['reason']}",
        f"system call adjtimex: {NODE_GRANTS[1]['reason']}",
        f"reads /home: {NODE_GRANTS[2]['reason']}",
    ]
    open_page(driver, f"{base}exporters/mysqld_exporter.html")
    heading, text, grants = service_section(driver)
    assert "Runs as user mysqld_exporter." in text and "No privileges beyond the sandbox." in text and grants == []
    # Root is a warning with its reason, and reasons are text, never markup.
    open_page(driver, f"{base}exporters/evil_exporter.html")
    _, text, grants = service_section(driver)
    assert driver.find_element(By.CSS_SELECTOR, ".service .warning").is_displayed()
    assert "Warning: this service runs as root, not as a user of its own." in text
    assert f"The manifest's reason: {HOSTILE_ROOT_REASON}" in text
    assert grants == [f"capability CAP_NET_RAW: {HOSTILE_GRANT_REASON}"]
    assert driver.find_elements(By.CSS_SELECTOR, ".service script, .service img") == []
    assert driver.execute_script("return window.hubPwned === undefined")


# --------------------------------------------------------------------------------------------
# Accessibility basics, layouts, screenshots
# --------------------------------------------------------------------------------------------

_CONTRAST = """
function lum(c) {
  const m = c.match(/rgba?\\(([^)]+)\\)/); const v = m[1].split(',').map(Number);
  const f = x => { x /= 255; return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); };
  return 0.2126 * f(v[0]) + 0.7152 * f(v[1]) + 0.0722 * f(v[2]);
}
function bg(el) {
  while (el) {
    const c = getComputedStyle(el).backgroundColor;
    if (c && !c.startsWith('rgba(0, 0, 0, 0)') && c !== 'transparent') return c;
    el = el.parentElement;
  }
  return 'rgb(255, 255, 255)';
}
const out = [];
for (const sel of arguments[0]) {
  for (const el of document.querySelectorAll(sel)) {
    if (!el.offsetParent && el.tagName !== 'BODY') continue;
    const a = lum(getComputedStyle(el).color), b = lum(bg(el));
    out.push([sel, (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)]);
  }
}
return out;
"""
TEXT_SELECTORS = [
    "body",
    "h1",
    ".lead",
    ".count",
    ".card .desc",
    ".card h2 a",
    ".version",
    ".updated",
    ".badge",
    "label",
    ".hint",
    "input",
    "select",
    ".site-header a",
    ".site-footer p",
    "td",
    "th",
    ".copy",
    ".step-title",
    "pre code",
    ".facts dt",
    ".note",
    ".muted",
    ".warning",
    ".grants li",
]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_contrast_landmarks_and_labels(driver, base, scheme) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": scheme}]}
    )
    try:
        # evil_exporter: the Service section's grant list and its root warning.
        for page in ("index.html", "exporters/mysqld_exporter.html", "exporters/evil_exporter.html"):
            open_page(driver, base + page)
            driver.execute_script("document.querySelectorAll('details').forEach(d => d.open = true)")
            ratios = driver.execute_script(_CONTRAST, TEXT_SELECTORS)
            assert ratios
            low = [(sel, round(r, 2)) for sel, r in ratios if r < 4.5]
            assert not low, f"{scheme} {page}: contrast below 4.5:1: {low[:10]}"
            landmarks = driver.execute_script(
                "return ['header', 'nav', 'main', 'footer'].map(t => document.querySelectorAll(t).length)"
            )
            assert all(landmarks), landmarks
            assert driver.execute_script("return document.documentElement.lang") == "en"
            unlabeled = driver.execute_script(
                "return Array.from(document.querySelectorAll('input, select, button')).filter(el =>"
                " !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.textContent.trim()).length"
            )
            assert unlabeled == 0
            assert driver.execute_script("return document.querySelectorAll('h1').length") == 1
    finally:
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})


def _viewport(d, size: tuple[int, int], mobile: bool) -> None:
    d.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": mobile},
    )


def test_screenshots_and_no_horizontal_scroll(driver, base, artefacts) -> None:
    shots = []
    try:
        for label, size, mobile in (("desktop", DESKTOP, False), ("phone", PHONE, True)):
            _viewport(driver, size, mobile)
            for scheme in ("light", "dark"):
                driver.execute_cdp_cmd(
                    "Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": scheme}]}
                )
                for page, name in (
                    ("index.html", "index"),
                    ("exporters/node_exporter.html", "node_exporter"),
                    ("exporters/mysqld_exporter.html#install-deb-debian-12", "mysqld_exporter-install"),
                ):
                    open_page(driver, base + page)
                    width = driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
                    assert width[0] <= width[1], f"{label} {page}: horizontal scroll {width}"
                    path = artefacts / f"{name}-{label}-{scheme}.png"
                    driver.save_screenshot(str(path))
                    shots.append(path)
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
    assert all(p.stat().st_size > 5000 for p in shots)


def test_works_from_file_urls(driver, site, tmp_path) -> None:
    copy = tmp_path / "site"
    shutil.copytree(site, copy)
    open_page(driver, (copy / "index.html").as_uri())
    driver.find_element(By.ID, "q").send_keys("blackbox")
    assert visible_cards(driver) == ["blackbox_exporter"]
    Select(driver.find_element(By.ID, "sort")).select_by_value("updated")
    assert "q=blackbox" in driver.current_url and "sort=updated" in driver.current_url
    driver.find_element(By.LINK_TEXT, "blackbox_exporter").click()
    WebDriverWait(driver, 10).until(lambda d: d.current_url.endswith("exporters/blackbox_exporter.html"))
    WebDriverWait(driver, 10).until(lambda d: d.execute_script("return !!(window.hubPortal && window.hubPortal.ready)"))
    # No server address to detect: the placeholder stays, and the note says to replace it.
    assert "https://<your-host>/<path>" in driver.find_element(By.ID, "cmd-rpm-el8-1-f").get_attribute("textContent")
    assert driver.find_element(By.ID, "base-note").is_displayed()
    assert driver.find_elements(By.CSS_SELECTOR, "table.matrix tbody tr")
