"""No trace of the signing key anywhere Pants, the remote cache or the publish wrote to.

A real signed build and publish through Pants, in a copy of the repository, against a real
BuildGrid remote cache (read and write), then a scan of everything they wrote for the secret
key (integration.keyscan: 32-byte slices of the secret RSA values, their hex, the base64 lines
of the armored export, the armor header; raw bytes and every gzip/xz/zstd stream in them).

1. node_exporter from the offline mirror, cut down in the copy to amd64, el9 and Debian 12 (an
   RPM, a DEB and the image: every kind of build step, in little time), pinned with
   `update-lock`;
2. `./pants package //:site` with the remote cache (BuildGrid, disk CAS) read and written, its
   own local store, named caches and execution root (PANTS_LOCAL_STORE_DIR,
   PANTS_NAMED_CACHES_DIR, PANTS_LOCAL_EXECUTION_ROOT_DIR, TMPDIR, all in the test's
   directories) and `--keep-sandboxes=always`;
3. `./pants publish //:site` with an ephemeral RSA-3072 key in HUB_SIGNING_KEY and
   HUB_PUBLISH_DIR in the test's directory, through the same pantsd (as the release workflow
   runs it: pantsd is started by an earlier step, without the key).

Scanned: the local store (every lmdb file, raw, and the large-file directory
`immutable/files`), the named caches, every kept sandbox and everything else in the private
TMPDIR, BuildGrid's CAS directory and log, BuildGrid's action cache (every entry read back over
REAPI, with every blob it names read back over ByteStream), the whole copy of the repository
(dist/, .pants.d/ with pants.log and the workdir, .pids/ with pantsd's files, .git), the
published DEST, the stdout and stderr of every ./pants run, and any `hub-publish-key-*` or
`hub-sign-*` keyring left in the temporary directories.

Positive controls: the matcher finds every needle in files that hold the key (raw, hex, armored,
gzip, xz and zstd compressed, the last one only in the decompressed stream); the scan opened
the zstd payloads of the packages; the store and the CAS hold the bytes of every package of
dist/site (by sha256) and a small artifact JSON verbatim; the read-back found as many
action-cache entries as the build wrote; the published site holds the public key; many
sandboxes were kept.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import lzma
import os
from pathlib import Path

import yaml

from hub.repos.keyring import PUBLISH_KEYRING_PREFIX
from hub.upstream.mirror import serve
from integration.buildgrid import buildgrid, counters
from integration.keyscan import Scan, ephemeral_key, for_code_trees, read_back_action_cache, zstd_compress
from integration.offline import build_offline_mirror
from integration.publishing import processes_mentioning, short_tmpdir
from integration.workspace import copy_workspace, git, run_pants, stop_pantsd


def cut_down(repo: Path) -> None:
    """node_exporter for amd64, el9 and Debian 12 only; committed."""
    path = repo / "exporters/node_exporter/manifest.yaml"
    data = yaml.safe_load(path.read_text())
    data["build"]["archs"] = ["amd64"]
    data["artifacts"]["rpm"] = {**data["artifacts"]["rpm"], "targets": ["el9"]}
    data["artifacts"]["deb"] = {**data["artifacts"]["deb"], "targets": ["debian-12"]}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    git(repo, "commit", "-qam", "node_exporter: one RPM, one DEB, one image")


def json_report(stdout: str) -> dict:
    """The JSON report `hub publish` prints, from the ./pants publish output."""
    at = stdout.index("{\n")
    return json.JSONDecoder().raw_decode(stdout[at:])[0]


def test_no_key_material_after_a_signed_build_and_publish_through_pants(tmp_path: Path) -> None:
    with short_tmpdir() as private, ephemeral_key(tmp_path / "gpg", "key-scan@monitoring-hub.example") as key:
        mirror = build_offline_mirror(tmp_path / "mirror", ["node_exporter"])
        repo = copy_workspace(tmp_path / "repo")
        cut_down(repo)
        logs, dest = tmp_path / "logs", tmp_path / "published"
        logs.mkdir()
        store, caches, sandboxes = tmp_path / "store", tmp_path / "named-caches", private / "sandboxes"
        sandboxes.mkdir()
        with serve(mirror) as mirror_url, buildgrid(tmp_path / "bgd") as address:
            env = {
                "PANTS_HUB_UPSTREAM_MIRROR": mirror_url,
                "PANTS_LOCAL_STORE_DIR": str(store),
                "PANTS_NAMED_CACHES_DIR": str(caches),
                "PANTS_LOCAL_EXECUTION_ROOT_DIR": str(sandboxes),
                "TMPDIR": str(private),
                "PANTS_KEEP_SANDBOXES": "always",
            }
            remote = [
                f"--remote-store-address={address}",
                "--remote-instance-name=",
                "--remote-cache-read",
                "--remote-cache-write",
                "--stats-log",
            ]

            def pants(name: str, *args: str, **extra: str):
                result = run_pants(repo, *remote, *args, env={**env, **extra}, pantsd=True)
                (logs / f"{name}.out").write_text(result.stdout)
                (logs / f"{name}.err").write_text(result.stderr)
                assert (
                    result.returncode == 0
                ), f"./pants {' '.join(args)}: {result.stdout[-4000:]}\n{result.stderr[-8000:]}"
                return result

            try:
                pants("update-lock", "update-lock", "exporters/node_exporter::")
                git(repo, "add", "-A")
                git(repo, "commit", "-qm", "pin")
                built = counters(pants("package", "package", "//:site").stderr)
                published = pants(
                    "publish", "publish", "//:site", HUB_SIGNING_KEY=key.secret, HUB_PUBLISH_DIR=str(dest)
                )
                pantsd = [int(p.read_text().strip()) for p in repo.glob(".pids/*/pantsd/pid")]
                assert pantsd, "expected a running pantsd"
                for pid in pantsd:
                    assert b"HUB_SIGNING_KEY" not in Path(f"/proc/{pid}/environ").read_bytes()
            finally:
                stop_pantsd(repo)
            cache = read_back_action_cache(
                os.environ["HUB_BGD"], address, tmp_path / "bgd/cas/cas/objects", tmp_path / "action-cache"
            )

        # The publish really signed, and its temporary keyring is gone with its gpg-agent.
        report = json_report(published.stdout)
        assert report["fingerprint"] == key.fingerprint and report["rpms_signed"] >= 1, report
        keyring = Path(report["temporary_keyring"]["path"])
        assert not keyring.exists() and not processes_mentioning(str(keyring))
        site = dest / "current"
        assert key.public.strip() in (site / "monitoring-hub.asc").read_bytes()

        # Positive controls of the matcher: each needle is found in what holds the key.
        control = tmp_path / "control"
        control.mkdir()
        (control / "secret.asc").write_text(key.secret)
        (control / "secret.gpg").write_bytes(b"lmdb page" + key.binary + b"next value")
        (control / "secret.hex").write_bytes(key.binary.hex().encode() + b"\n" + key.binary.hex().upper().encode())
        (control / "secret.asc.gz").write_bytes(b"junk" + gzip.compress(key.secret.encode()) + b"junk")
        (control / "secret.gpg.xz").write_bytes(lzma.compress(key.binary))
        (control / "secret.asc.zst").write_bytes(b"rpm header" + zstd_compress(key.secret.encode()) + b"junk")
        needles = for_code_trees(key.needles)
        for path in sorted(control.iterdir()):
            check = Scan(needles)
            check.tree("control", path)
            assert check.found, f"the matcher misses the key in {path.name}"
            if path.suffix == ".zst":  # zstd encodes the armored text: only the decompressed stream holds it
                assert all("(stream at" in f for f in check.found), check.found
        everywhere = Scan(needles)
        everywhere.tree("control", control)
        assert {i for _, _, i in everywhere.hits} == set(range(len(needles)))

        # The scan. Trees that hold code too (the engine's hub/repos/signing_key.py names the armor
        # header, so do rpm's library and nfpm) are searched for an armored private key block
        # instead of the bare header; what only the build and the publish wrote, for the bare
        # header too.
        packages = sorted((repo / "dist/site").rglob("*.rpm")) + sorted((repo / "dist/site").rglob("*.deb"))
        small = min((p for p in (repo / "dist/site/catalog").rglob("*.json")), key=lambda p: p.stat().st_size)
        probes = {
            "artifact json": small.read_bytes(),
            "public key": key.public.strip(),
            "engine's signing_key.py": (repo / "src/python/hub/repos/signing_key.py").read_bytes(),
        }
        scan = Scan(needles, probes=probes)
        scan.tree("local store", store)
        scan.tree("named caches", caches)
        scan.tree("private TMPDIR (sandboxes)", private)
        scan.tree("BuildGrid CAS and log", tmp_path / "bgd")
        scan.tree("action cache (REAPI)", tmp_path / "action-cache")
        scan.tree("workspace", repo)
        outputs = Scan(key.needles, probes=probes)
        for name in ("dist", ".pants.d", ".pids"):
            outputs.tree(f"workspace {name}/", repo / name)
        outputs.tree("published", dest)
        outputs.tree("./pants stdout and stderr", logs)
        others = [
            p
            for base in {"/tmp", os.environ.get("TMPDIR") or "/tmp", str(private)}
            for p in Path(base).glob("*hub-*")
            if p.name.lstrip(".").startswith((PUBLISH_KEYRING_PREFIX, "hub-sign-"))
        ]
        for other in others:
            outputs.tree("other keyrings", other)
        total = scan.files + outputs.files
        print(
            f"key scan: {sum(total.values())} files/blobs, {sum((scan.bytes + outputs.bytes).values()) / 1e6:.0f} MB, "
            f"{sum((scan.streams + outputs.streams).values())} compressed streams opened, {len(key.needles)} needles; "
            f"{scan.summary()}; {outputs.summary()}; action cache read back: {cache}; "
            f"remote cache writes: {built.get('remote_cache_write_successes')}; kept sandboxes: "
            f"{sum(1 for p in sandboxes.iterdir() if p.is_dir())}"
        )
        assert not scan.found + outputs.found, "key material found:\n" + "\n".join(scan.found + outputs.found)

        # Positive controls of the scan: it read what it claims.
        assert len(packages) >= 2, packages
        # el9 RPM payloads and DEB members are zstd: the scan read them rather than skipping them.
        assert outputs.stream_kinds["zstd"] >= len(packages), outputs.summary()
        for package in packages:
            digest = hashlib.sha256(package.read_bytes()).hexdigest()
            assert digest in scan.digests["local store"], f"{package.name} not in the local store"
            assert digest in scan.digests["BuildGrid CAS and log"], f"{package.name} not in BuildGrid's CAS"
        assert {"local store", "BuildGrid CAS and log"} <= scan.seen.get("artifact json", set()), scan.seen
        assert "local store" in scan.seen.get("engine's signing_key.py", set()), scan.seen
        assert "published" in outputs.seen.get("public key", set()), outputs.seen
        assert built["remote_cache_write_errors"] == 0 and built["remote_cache_write_successes"] >= 5, built
        assert cache["action_results"] >= built["remote_cache_write_successes"], (cache, built)
        kept = [p for p in sandboxes.iterdir() if p.is_dir()]
        assert len(kept) >= built["remote_cache_write_successes"], len(kept)
        assert scan.files["local store"] >= 10 and scan.files["private TMPDIR (sandboxes)"] >= 100, scan.summary()
