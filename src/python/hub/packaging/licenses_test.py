"""hub.packaging.licenses: the License field and body of a DEP-5 copyright file."""

from __future__ import annotations

import pytest

from hub.packaging import licenses


@pytest.mark.parametrize(
    "license_id, name, needle",
    [
        ("MIT", "Expat", " Permission is hereby granted, free of charge"),
        ("BSD-3-Clause", "BSD-3-clause", " 3. Neither the name of the copyright holder"),
        ("GPL-3.0-or-later", "GPL-3+", '"/usr/share/common-licenses/GPL-3"'),
        (None, "NOASSERTION", "has not been determined"),
        ("MIT OR Apache-2.0", "Expat or Apache-2.0", " Apache-2.0: /usr/share/common-licenses/Apache-2.0"),
    ],
)
def test_dep5_license(license_id: str | None, name: str, needle: str) -> None:
    short, body = licenses.dep5_license(license_id, None)
    assert short == name
    assert needle in body
    assert all(line.startswith(" ") and line.strip() for line in body.splitlines())
