"""What every layer shares, once: errors, the dist × arch matrix, atomic writes, source dates,
the ELF reader, the JSON Schemas, the bounded HTTP GET and semantic versions.

Nothing here knows about exporters; every other layer may import it."""
