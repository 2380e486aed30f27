from __future__ import annotations

import json
from typing import Any

import pytest

from hub_plugin.engine import HubProcess
from hub_plugin.testutil import Capture, digest, fallible_result, never, process_result
from hub_plugin.upstream import (
    ArchiveFetcher,
    ExporterInputs,
    ExporterInputsRequest,
    UpstreamBinaries,
    UpstreamBinariesRequest,
    UpstreamError,
    download_error,
    exporter_inputs,
    fetch_process,
    parse_lock,
    read_binaries,
    upstream_binaries,
)
from hub_plugin.subsystems import HubSubsystem
from pants.backend.python.util_rules.pex import VenvPexProcess
from pants.engine.env_vars import EnvironmentVars, EnvironmentVarsRequest
from pants.engine.fs import (
    Digest,
    DigestContents,
    DigestEntries,
    FileContent,
    FileDigest,
    FileEntry,
    GlobMatchErrorBehavior,
    PathGlobs,
)
from pants.engine.process import FallibleProcessResult, ProcessResult
from pants.testutil.option_util import create_subsystem
from pants.testutil.rule_runner import MockGet, run_rule_with_mocks

SPEC_PATH = "exporters/node_exporter"
URL = "https://github.com/prometheus/node_exporter/releases/download/v1.11.0/node_exporter-1.11.0.linux-amd64.tar.gz"
INPUTS = ExporterInputs(
    digest=digest(1),
    manifest_path=f"{SPEC_PATH}/manifest.yaml",
    lock_path=f"{SPEC_PATH}/upstream.lock.json",
    binaries=("node_exporter", "node_exporter_helper"),
    pins=(("amd64", URL, "a" * 64, 1234),),
    lock_version="v1.11.0",
)


FETCHER = ArchiveFetcher(pex="fetch_archive.pex")  # type: ignore[arg-type]  # only passed through
ARCHIVE = "node_exporter-1.11.0.linux-amd64.tar.gz"
PINNED = FileDigest("a" * 64, 1234)
ENV = {"SSL_CERT_FILE": "/etc/ssl/certs/ca.pem"}
PINNED_ENTRIES = (FileEntry(ARCHIVE, PINNED),)


def fetch(
    arch: str = "amd64",
    fetched: Any = None,
    entries: Any = PINNED_ENTRIES,
    **options: Any,
):
    downloads = Capture[VenvPexProcess]()
    processes = Capture[HubProcess]()
    listed = Capture[Digest]()
    result = run_rule_with_mocks(
        upstream_binaries,
        rule_args=[UpstreamBinariesRequest(SPEC_PATH, arch), create_subsystem(HubSubsystem, **options), FETCHER],
        mock_gets=[
            MockGet(ExporterInputs, (ExporterInputsRequest,), lambda _: INPUTS),
            MockGet(EnvironmentVars, (EnvironmentVarsRequest,), lambda _: EnvironmentVars(ENV)),
            MockGet(
                FallibleProcessResult,
                (VenvPexProcess,),
                downloads.returning(fetched or fallible_result(output=digest(2))),
            ),
            MockGet(DigestEntries, (Digest,), listed.returning(DigestEntries(entries))),
            MockGet(ProcessResult, (HubProcess,), processes.returning(process_result(output=digest(3)))),
        ],
    )
    return result, downloads, processes


def test_binaries_come_from_the_pinned_archive_through_hub_extract() -> None:
    result, downloads, processes = fetch(upstream_mirror=None)
    assert result == UpstreamBinaries(digest(3), "binaries/amd64")
    # The download is a cached process, checked against the lock's sha256 and size.
    assert downloads.only == fetch_process(FETCHER, URL, ARCHIVE, PINNED, ENV)
    assert downloads.only.argv == (URL, "a" * 64, "1234", ARCHIVE)
    assert downloads.only.output_files == (ARCHIVE,)
    assert dict(downloads.only.extra_env) == ENV
    assert processes.only == HubProcess(
        argv=(
            "extract",
            "--archive",
            ARCHIVE,
            "--out",
            "binaries/amd64",
            "--arch",
            "amd64",
            "--binary",
            "node_exporter",
            "--binary",
            "node_exporter_helper",
        ),
        description=f"Extract node_exporter, node_exporter_helper (amd64) from {ARCHIVE}",
        input_digest=digest(2),
        output_directories=("binaries/amd64",),
    )


def test_a_mirror_changes_where_the_bytes_come_from_not_what_they_are() -> None:
    _, downloads, processes = fetch(upstream_mirror="http://127.0.0.1:8000/")
    mirrored = f"http://127.0.0.1:8000/prometheus/node_exporter/releases/download/v1.11.0/{ARCHIVE}"
    assert downloads.only.argv == (mirrored, "a" * 64, "1234", ARCHIVE)
    assert processes.only.argv[:3] == ("extract", "--archive", ARCHIVE)


def test_an_arch_without_a_pin_is_an_error() -> None:
    with pytest.raises(UpstreamError, match="upstream.lock.json: no pinned archive for arm64"):
        fetch("arm64", fetched=never, upstream_mirror=None)


def test_a_failed_download_names_the_url_the_mirror_and_the_expected_digest() -> None:
    failed = fallible_result(exit_code=1, stderr=b"sha256 mismatch for http://m/a: expected aaa, got bbb\n")
    with pytest.raises(UpstreamError) as error:
        fetch(fetched=failed, upstream_mirror="http://127.0.0.1:8000/")
    mirror = f"http://127.0.0.1:8000/prometheus/node_exporter/releases/download/v1.11.0/{ARCHIVE}"
    assert str(error.value) == (
        f"{SPEC_PATH}/upstream.lock.json: download of {URL} (from {mirror}) failed; "
        f"expected sha256 {'a' * 64} (1234 bytes): sha256 mismatch for http://m/a: expected aaa, got bbb"
    )
    assert "(from" not in str(download_error("l", URL, URL, "a" * 64, 1, "x"))


@pytest.mark.parametrize(
    "entries",
    [
        (FileEntry(ARCHIVE, FileDigest("b" * 64, 1234)),),  # other bytes (a poisoned cache entry)
        (FileEntry("other.tar.gz", PINNED),),
        (FileEntry(ARCHIVE, PINNED), FileEntry("extra", PINNED)),
        (),
    ],
)
def test_what_the_download_returned_must_be_the_pinned_file(entries: Any) -> None:
    with pytest.raises(UpstreamError, match="not the pinned file"):
        fetch(entries=entries, upstream_mirror=None)


def test_exporter_inputs_read_the_manifest_and_the_lock() -> None:
    lock = {"version": "v1.11.0", "archives": {"arm64": {"url": URL, "sha256": "b" * 64, "size": 5}}}
    globs = Capture[PathGlobs]()
    inputs = run_rule_with_mocks(
        exporter_inputs,
        rule_args=[ExporterInputsRequest(SPEC_PATH)],
        mock_gets=[
            MockGet(Digest, (PathGlobs,), globs.returning(digest(1))),
            MockGet(
                DigestContents,
                (Digest,),
                lambda _: DigestContents(
                    [
                        FileContent(f"{SPEC_PATH}/manifest.yaml", b"build: {binary_name: node_exporter}\n"),
                        FileContent(f"{SPEC_PATH}/upstream.lock.json", json.dumps(lock).encode()),
                    ]
                ),
            ),
        ],
    )
    assert set(globs.only.globs) == {
        f"{SPEC_PATH}/manifest.yaml",
        f"{SPEC_PATH}/upstream.lock.json",
        f"{SPEC_PATH}/assets/**",
    }
    # No lock (unpinned) and no assets are normal: never an "unmatched glob" warning.
    assert globs.only.glob_match_error_behavior == GlobMatchErrorBehavior.ignore
    assert inputs == ExporterInputs(
        digest(1),
        f"{SPEC_PATH}/manifest.yaml",
        f"{SPEC_PATH}/upstream.lock.json",
        ("node_exporter",),
        (("arm64", URL, "b" * 64, 5),),
        "v1.11.0",
    )


def test_a_broken_lock_says_how_to_regenerate_it() -> None:
    with pytest.raises(UpstreamError, match=r"not a valid upstream lock .*`./pants update-lock exporters/x::`"):
        parse_lock('{"archives": {"amd64": {"url": "u"}}}', "exporters/x/upstream.lock.json")
    assert parse_lock("{}", "exporters/x/upstream.lock.json") == (None, ())


def test_a_manifest_without_binary_name_points_to_lint() -> None:
    with pytest.raises(UpstreamError, match="cannot read build.binary_name .*; run `./pants lint`"):
        read_binaries("build: {}\n", "exporters/x/manifest.yaml")
    assert read_binaries("build: {binary_name: a, extra_binaries: [b]}\n", "m") == ("a", "b")
