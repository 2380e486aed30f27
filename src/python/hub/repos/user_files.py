"""The files operators install to use the repositories: a dnf `.repo` per EL dist and a deb822
`.sources` per codename, plus the shell commands that install them.

Each text is made by ONE function (`yum_repo_file`, `apt_sources_file`, `yum_setup_commands`,
`apt_setup_commands`), which the portal and the tests both call: what the portal shows is
what the tests install from. The site's base URL is a parameter here, never a build input of
packages or metadata (catalog URLs are relative to the site root).

- `.repo` (section `[monitoring-hub-<dist>]`): `baseurl=<base>/<dist>/$basearch/`, `gpgcheck=1` (RPM header signatures),
  `repo_gpgcheck=1` (repomd.xml.asc), `gpgkey=<base>/monitoring-hub.asc`.
- `.sources`: `URIs: <base>/`, `Suites: <codename>`, `Components: main`,
  `Architectures: amd64 arm64` and `Signed-By: /etc/apt/keyrings/monitoring-hub.asc`: the path form, so the key is trusted for
  this source only. The armored key is installed there first (apt reads armored `.asc` keys
  since 1.4; every target codename has apt 2.4 or later).
"""

from __future__ import annotations

import shlex
from pathlib import Path

from hub.common import matrix
from hub.common.errors import HubError
from hub.common.files import write_atomic

REPO_ID = "monitoring-hub"
PUBLIC_KEY_FILE = "monitoring-hub.asc"
APT_KEYRING = "/etc/apt/keyrings/monitoring-hub.asc"
YUM_REPO_PATH = "/etc/yum.repos.d/monitoring-hub.repo"
APT_SOURCES_PATH = "/etc/apt/sources.list.d/monitoring-hub.sources"
CODENAMES = {matrix.DISTS[d].codename: d for d in matrix.DEB_DISTS}


def _base(base_url: str) -> str:
    """The base URL without a trailing slash. It lands in line-based files, so whitespace and
    control characters are refused (a newline would inject a setting); it should be an
    absolute http(s):// or file:// URL, which is what dnf and apt accept."""
    if not base_url or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in base_url):
        raise HubError(f"base URL {base_url!r}: expected a URL without whitespace or control characters")
    return base_url.rstrip("/")


def yum_repo_file_name(dist: str) -> str:
    return f"monitoring-hub-{dist}.repo"


def apt_sources_file_name(codename: str) -> str:
    return f"monitoring-hub-{codename}.sources"


def yum_repo_file(base_url: str, dist: str) -> str:
    """The dnf/yum repository definition for `dist` (el8, el9, el10)."""
    if dist not in matrix.RPM_DISTS:
        raise HubError(f"dist {dist!r}: expected one of {', '.join(matrix.RPM_DISTS)}")
    base = _base(base_url)
    return (
        f"[{REPO_ID}-{dist}]\n"
        f"name=Monitoring Hub ({dist}, $basearch)\n"
        f"baseurl={base}/{dist}/$basearch/\n"
        "enabled=1\n"
        "gpgcheck=1\n"
        "repo_gpgcheck=1\n"
        f"gpgkey={base}/{PUBLIC_KEY_FILE}\n"
    )


def apt_sources_file(base_url: str, codename: str, *, keyring: str = APT_KEYRING) -> str:
    """The deb822 source for `codename` (bookworm, trixie, jammy, noble). `keyring` is where
    the armored public key is installed (tests point it into their own directory)."""
    if codename not in CODENAMES:
        raise HubError(f"codename {codename!r}: expected one of {', '.join(CODENAMES)}")
    base = _base(base_url)
    return (
        "Types: deb\n"
        f"URIs: {base}/\n"
        f"Suites: {codename}\n"
        "Components: main\n"
        "Architectures: amd64 arm64\n"
        f"Signed-By: {keyring}\n"
    )


def yum_setup_commands(base_url: str, dist: str) -> str:
    """What an operator runs on `dist` (the portal shows it): dnf imports the key on first use."""
    base = _base(base_url)
    yum_repo_file(base, dist)  # validates dist
    url = shlex.quote(f"{base}/{yum_repo_file_name(dist)}")
    return f"sudo curl -fsSL -o {YUM_REPO_PATH} {url}\n"


def apt_setup_commands(base_url: str, codename: str) -> str:
    """What an operator runs on `codename`: the key into /etc/apt/keyrings, then the source."""
    base = _base(base_url)
    apt_sources_file(base, codename)  # validates codename
    key = shlex.quote(f"{base}/{PUBLIC_KEY_FILE}")
    sources = shlex.quote(f"{base}/{apt_sources_file_name(codename)}")
    return (
        "sudo install -d -m 0755 /etc/apt/keyrings\n"
        f"sudo curl -fsSL -o {APT_KEYRING} {key}\n"
        f"sudo curl -fsSL -o {APT_SOURCES_PATH} {sources}\n"
        "sudo apt-get update\n"
    )


def user_files(base_url: str) -> dict[str, str]:
    """{path under the site root: text} of every .repo and .sources file."""
    out = {yum_repo_file_name(d): yum_repo_file(base_url, d) for d in matrix.RPM_DISTS}
    out.update({apt_sources_file_name(c): apt_sources_file(base_url, c) for c in CODENAMES})
    return out


def write_user_files(site_dir: str | Path, base_url: str) -> list[Path]:
    written = []
    for name, text in user_files(base_url).items():
        path = Path(site_dir, name)
        write_atomic(path, text.encode("utf-8"))
        written.append(path)
    return written
