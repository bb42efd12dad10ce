#!/bin/bash
# Installs the tools ferry's side-by-side benchmarks (t/bench/*.sh) compare against, on
# Debian 12, non-interactively: pgcopydb, pgloader, mydumper (with myloader) and sysbench.
# Optional: building and testing ferry needs none of them (contrib/install-deps.sh), and
# the benchmarks are never run by make check. Runs as root, or as another user through
# sudo; apt is only asked when a package is missing.
set -euo pipefail

packages=(pgcopydb pgloader mydumper sysbench)

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[[ $status == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
	echo "install-bench-deps: all ${#packages[@]} packages already installed"
	exit 0
fi

if ((EUID == 0)); then
	as_root=()
elif command -v sudo >/dev/null; then
	as_root=(sudo)
else
	echo "install-bench-deps: missing ${missing[*]}; run this script as root or install sudo" >&2
	exit 1
fi

echo "install-bench-deps: installing ${missing[*]}"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	--no-install-recommends -o Dpkg::Options::=--force-confdef \
	-o Dpkg::Options::=--force-confold "${missing[@]}"
echo "install-bench-deps: done"
