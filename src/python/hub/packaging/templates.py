"""The package templates: the Jinja2 environment that renders `hub/templates/` (units,
environment files, maintainer scripts, Debian docs, license texts).

Templates are loaded with pkgutil, so they work from a PEX. The output is shell, systemd
and Debian control syntax, never HTML: nothing is autoescaped. Instead, maintainer scripts
quote every interpolated value with shlex.quote (the `sq` filter), and the unit's values are
escaped for systemd before they reach a template (`hub.packaging.systemd`).
"""

from __future__ import annotations

import pkgutil
import shlex

import jinja2


def load_template(name: str) -> str:
    """The text of `hub/templates/<name>`."""
    data = pkgutil.get_data("hub", f"templates/{name}")
    if data is None:  # pragma: no cover - a broken installation
        raise FileNotFoundError(f"hub/templates/{name}")
    return data.decode("utf-8")


_ENV = jinja2.Environment(
    loader=jinja2.FunctionLoader(load_template),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,  # shell, systemd and Debian control syntax, never HTML
)
_ENV.filters["sq"] = lambda value: shlex.quote(str(value))


def render(template: str, **values: object) -> str:
    return _ENV.get_template(template).render(**values)
