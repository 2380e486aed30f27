"""The manifest layer: ``exporters/<name>/manifest.yaml`` in, a typed, validated model out.

``model`` (the frozen model), ``load`` (reading, defaults, building), ``explain`` (schema errors
in words), ``checks`` (what the schema cannot express), and the generated reference docs."""
