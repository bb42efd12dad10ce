#!/bin/bash
# Installs the tools ferry's side-by-side benchmarks (t/bench/*.sh) compare against, on
# Debian 12, non-interactively: pgcopydb, pgloader, mydumper (with myloader) and sysbench.
# Optional: building and testing ferry needs none of them (contrib/install-deps.sh), and
# the benchmarks are never run by make check. Runs as root, or as another user through
# sudo; apt is only asked when a package is missing.
set -euo pipefail
exec "$(dirname "$0")/install-deps.sh" pgcopydb pgloader mydumper sysbench
