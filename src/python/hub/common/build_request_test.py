"""hub.common.build_request: the request file a build command reads (one JSON object)."""

from pathlib import Path

import pytest

from hub.common.build_request import read_request
from hub.common.errors import HubError


def test_reads_the_request_object(tmp_path: Path) -> None:
    path = tmp_path / "request.json"
    path.write_text('{"manifest": "manifest.yaml", "output_dir": "out"}')
    assert read_request(path) == {"manifest": "manifest.yaml", "output_dir": "out"}
    assert read_request(str(path)) == {"manifest": "manifest.yaml", "output_dir": "out"}


@pytest.mark.parametrize(
    "text, message",
    [
        (None, "cannot read the request"),
        ("{not json", "cannot read the request"),
        ('["a", "list"]', "expected a JSON object"),
    ],
)
def test_bad_request_files_name_the_file(tmp_path: Path, text: str | None, message: str) -> None:
    path = tmp_path / "request.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(HubError, match=message) as raised:
        read_request(path)
    assert str(raised.value).startswith(f"{path}: ")
