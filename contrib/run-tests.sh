#!/bin/bash
# The whole test suite on a fresh Debian 12 machine (as root, or a user with sudo):
# installs the packages needed, builds in the source tree, runs the unit tests and the
# integration tests against throwaway PostgreSQL and MariaDB servers, then make distcheck
# (which builds and tests the release tarball out of tree).
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}

contrib/install-deps.sh
autoreconf -fi
./configure
make -j"$jobs"
make -j"$jobs" check
make -j"$jobs" distcheck
echo "run-tests: all tests passed"
