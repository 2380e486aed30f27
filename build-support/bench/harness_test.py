import sys

import pytest

from bench.harness import median, replace_section, run_timed, span, table

DOC = """\
# Benchmarks

Intro.

## Images

old images
## Packaging

old packaging

```sh
# a shell comment, not a heading
```

### Notes written by hand

kept

## Metadata

intro

### 2048 KiB payload: 10 RPMs

old 2048
"""


def test_replaces_a_section_up_to_the_next_heading_and_keeps_the_rest():
    out = replace_section(DOC, "## Packaging\n\nnew packaging\n")
    assert "old packaging" not in out
    assert "## Images\n\nold images\n\n## Packaging\n\nnew packaging\n\n### Notes written by hand\n\nkept\n" in out
    assert out.endswith("### 2048 KiB payload: 10 RPMs\n\nold 2048\n")


def test_a_hash_line_in_fenced_code_is_not_a_heading():
    out = replace_section(DOC, "## Images\n\nnew images")
    assert "## Images\n\nnew images\n\n## Packaging\n\nold packaging\n\n```sh\n# a shell comment" in out


def test_the_last_section_is_replaced_to_the_end():
    out = replace_section(DOC, "### 2048 KiB payload: 12 RPMs\n\nnew 2048\n", key="### 2048 KiB payload:")
    assert out.endswith("intro\n\n### 2048 KiB payload: 12 RPMs\n\nnew 2048\n")
    assert "old 2048" not in out and "10 RPMs" not in out


def test_a_new_section_goes_at_the_end_of_its_parent_or_of_the_document():
    nested = replace_section(DOC, "### 1024 KiB payload: 10 RPMs\n\nnew 1024", parent="## Packaging")
    assert "### Notes written by hand\n\nkept\n\n### 1024 KiB payload: 10 RPMs\n\nnew 1024\n\n## Metadata" in nested
    appended = replace_section(DOC, "## Portal\n\nportal")
    assert appended.endswith("old 2048\n\n## Portal\n\nportal\n")


def test_a_missing_parent_is_added_first():
    out = replace_section("# Benchmarks\n", "### 2048 KiB payload: 1 RPM\n\nrows", parent="## Metadata\n\nintro\n")
    assert out == "# Benchmarks\n\n## Metadata\n\nintro\n\n### 2048 KiB payload: 1 RPM\n\nrows\n"


def test_a_section_has_exactly_one_heading_first():
    with pytest.raises(ValueError):
        replace_section(DOC, "no heading")
    with pytest.raises(ValueError):  # the next rewrite would stop at the second heading
        replace_section(DOC, "## Packaging\n\n### Sub\n")


def test_table_aligns_each_column():
    assert table(("step", "wall"), [("a", "1.0 s"), ("b", "")], "lr") == [
        "| step | wall |",
        "|---|---:|",
        "| a | 1.0 s |",
        "| b |  |",
    ]
    with pytest.raises(ValueError):
        table(("step", "wall"), [], "l")


def test_median_and_span_leave_out_missing_values():
    assert median([3.0, None, 1.0, 2.0]) == 2.0
    assert median([None]) is None
    assert span([2.0, None, 1.25], 2) == "1.25–2.00 s"
    assert span([]) == "–"


def test_run_timed_returns_output_and_status():
    ok = run_timed([sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr)"])
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "out\n", "err\n")
    assert ok.wall > 0 and ok.cpu >= 0
    failed = run_timed([sys.executable, "-c", "raise SystemExit(3)"], check=False)
    assert failed.returncode == 3
    with pytest.raises(SystemExit):
        run_timed([sys.executable, "-c", "raise SystemExit(3)"])
