#!/usr/bin/env bash
# The test command of the README: installs what the tests need, then lints and tests everything.
#   build-support/ci/test.sh [extra ./pants test args]
set -euo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=/dev/null
source "$(build-support/ci/install-tools.sh | tail -n 1)"

./pants --version >/dev/null  # bootstrap once, before the timed work
./pants lint ::       # black, flake8 (pycodestyle errors, pyflakes, bugbear), the manifests
./pants check ::      # mypy over the engine and the plugin
status=0
rm -rf dist/test-reports dist/coverage  # the summary reports this run only
# Everything, the end-to-end suite included (tests/e2e: all 34 exporters' full matrix from a
# local mirror, installed with dnf and apt from the signed repositories), with line and branch
# coverage of the engine and the plugin: below 90 % the run fails ([coverage-py] in pants.toml).
./pants test --use-coverage --test-report --test-report-dir=dist/test-reports :: "$@" || status=$?
python3 build-support/ci/summarize_reports.py dist/test-reports dist/coverage/python/coverage.json
exit "$status"
