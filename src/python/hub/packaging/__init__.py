"""The packaging layer: one RPM or DEB from a manifest, a lock and the extracted binaries.

``plan`` (every file, script and field of the package), the texts (``content``, ``systemd``,
``licenses``), ``nfpm`` (the tool that writes the package), the SBOM (``buildinfo``,
``sbom``) and the ``hub package`` request (``build``)."""
