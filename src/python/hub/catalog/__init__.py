"""The catalog layer: one artifact JSON per artifact, aggregated per exporter and indexed.

``artifact`` (format 3.0), ``aggregate`` (``metadata.json``, ``index.json``), ``state``
(what a deployed catalog lacks, by semantic version)."""
