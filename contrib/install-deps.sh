#!/bin/bash
# Installs everything needed to build and test ferry on Debian 12, non-interactively,
# or, given package names, those packages instead (contrib/install-bench-deps.sh).
# Runs as root, or as another user through sudo. Quick when everything is installed:
# apt is only asked when a package is missing.
set -euo pipefail

packages=(
	build-essential autoconf automake libtool pkg-config
	libpq-dev libmariadb-dev libinih-dev libzstd-dev liblz4-dev check
	postgresql postgresql-client mariadb-server mariadb-client
	jq procps iproute2 util-linux sysbench
)
(($# == 0)) || packages=("$@")

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[[ $status == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
	echo "install-deps: all ${#packages[@]} packages already installed"
	exit 0
fi

if ((EUID == 0)); then
	as_root=()
elif command -v sudo >/dev/null; then
	as_root=(sudo)
else
	echo "install-deps: missing ${missing[*]}; run this script as root or install sudo" >&2
	exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Packaged services must not start: the tests run their own throwaway servers.
policy_added=
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
	printf '#!/bin/sh\nexit 101\n' | "${as_root[@]}" tee /usr/sbin/policy-rc.d >/dev/null
	"${as_root[@]}" chmod 755 /usr/sbin/policy-rc.d
	policy_added=1
fi
remove_policy() { [[ -z $policy_added ]] || "${as_root[@]}" rm -f /usr/sbin/policy-rc.d; }
trap remove_policy EXIT

"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	--no-install-recommends -o Dpkg::Options::=--force-confdef \
	-o Dpkg::Options::=--force-confold "${missing[@]}"
echo "install-deps: done"
