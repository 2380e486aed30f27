"""The repositories layer: YUM and APT metadata from per-package entries, and signing.

``yum`` and ``apt`` (with their version orders and the .deb control reader), ``common`` (the
entries), ``user_files`` (``.repo`` and ``.sources``), ``merge`` (the cumulative pool), and
``signing_key``, ``keyring``, ``signer``, ``sign`` (the publish key, RPM and metadata signatures)."""
