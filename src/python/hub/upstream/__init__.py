"""The upstream layer: the pinned release archive of each exporter, and new releases.

The lock (``lock``), verified downloads (``download``), pinning (``pin``), source dates,
hostile-archive-safe extraction (``archive``), the GitHub releases API and manifest bumps
(``github``, ``bump``), and the offline mirror made of Debian's builds (``mirror``)."""
