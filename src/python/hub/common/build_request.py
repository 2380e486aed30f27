"""The request file of a build command (`hub package`, `hub image`).

The Pants rule that runs a build writes its inputs as one JSON object to a file and passes it
as `--request FILE` (build-support/hub_plugin/engine.py); the command reads it back here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from hub.common.errors import HubError


def read_request(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The request object in the JSON file at `path`; a HubError naming the file if it cannot be
    read or is not an object (the command then exits 2, without a traceback)."""
    try:
        request = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise HubError(f"{path}: cannot read the request ({e})")
    if not isinstance(request, dict):
        raise HubError(f"{path}: expected a JSON object")
    return request
