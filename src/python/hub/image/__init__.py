"""The image layer: a multi-arch OCI image, built without a daemon, deterministically.

``layout`` and ``layers`` (the OCI format), ``base``, ``accounts`` and ``config`` (what goes in
an image), ``build`` (platform images and the index), ``request`` (``hub image``),
``docker_archive``, ``artifact`` (``docker.json``, SBOMs), ``registry`` (push), ``validate``."""
