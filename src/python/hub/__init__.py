"""Monitoring Hub engine: turns exporter manifests into packages, images, catalog and repositories.

Plain Python, runnable without Pants (``python -m hub``). The Pants plugin in
``build-support/hub_plugin`` runs it as sandboxed, cached processes.
"""

__version__ = "0.1.0"
