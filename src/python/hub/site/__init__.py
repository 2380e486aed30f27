"""The site layer: the unsigned site, its portal, and the signed, atomic publish.

``assemble`` (packages, catalog, repositories, portal in one tree), ``portal`` and ``markdown``
(the static HTML), ``publish`` (the order of signing, indexing and switching) over
``snapshots``, ``publish_keyring``, ``carry``, ``rewrite``, ``check`` and ``crash_points``."""
