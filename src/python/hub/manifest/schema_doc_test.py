from pathlib import Path

from hub.manifest.schema_doc import render

REPO_ROOT = Path(__file__).resolve().parents[4]


def test_every_schema_field_is_documented() -> None:
    text = render()
    for field in (
        "`name`",
        "`upstream.archive_name`",
        "`build.archs`",
        "`artifacts.rpm.targets`",
        "`artifacts.deb.extra_files[].dest`",
        "`artifacts.docker.port`",
    ):
        assert field in text


def test_docs_manifest_md_is_current() -> None:
    committed = (REPO_ROOT / "docs" / "manifest.md").read_text()
    assert committed == render(), "regenerate: ./pants run src/python/hub:cli -- manifest-doc > docs/manifest.md"
