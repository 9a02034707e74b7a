#!/usr/bin/env bash
# Prepares this machine for cordon's integration tests. Safe to run any number of times.
#
# - Creates the unprivileged account `cordon-test`, which the tests use to run cordon as a
#   caller without root (the tests also create it on demand, under the same lock).
# - Checks that the tools the tests drive are present, so a missing one fails here, by name,
#   rather than as a confusing test failure later.
set -euo pipefail

TEST_USER=cordon-test
LOCK=/tmp/cordon-test-useradd.lock

if [[ $(id -u) -ne 0 ]]; then
    echo "test-setup: must run as root (creates the $TEST_USER account)" >&2
    exit 1
fi

# The lock keeps this from racing a test binary that creates the account at the same time.
flock "$LOCK" bash -c "
    id -u $TEST_USER >/dev/null 2>&1 ||
        useradd --system --no-create-home --shell /usr/sbin/nologin $TEST_USER
"

missing=()
for tool in /usr/bin/python3 ruby gcc make setpriv script flock unshare bash sh seq sort tail pgrep fallocate; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]})); then
    echo "test-setup: missing tools: ${missing[*]}" >&2
    exit 1
fi

echo "test-setup: $TEST_USER is uid $(id -u "$TEST_USER"); tools present"
