#!/bin/bash
# Runs ferry's benchmarks and prints their results. Each program repeats its
# measurements and prints medians itself; with RUNS=N (default 1) this script runs each
# program N times and prints its lines once, every number replaced by the median of
# that number over the runs (absolute numbers drift between runs and machines).
#
#   t/bench/run.sh [BUILD_DIR]      (default: $top_builddir, else the source tree)
#
# The programs are built with `make bench` in the build dir and never run by make check.
set -euo pipefail

srcdir=$(cd "$(dirname "$0")/../.." && pwd)
builddir=${1:-${top_builddir:-$srcdir}}
runs=${RUNS:-1}
programs=(t/bench/bench_ring t/bench/bench_spill)

[[ -f $builddir/Makefile ]] || { echo "run.sh: $builddir is not a configured build dir" >&2; exit 2; }
make -s -C "$builddir" bench >/dev/null

out=$(mktemp -d "${TMPDIR:-/tmp}/ferry-bench.XXXXXX")
trap 'rm -rf "$out"' EXIT

# median_lines FILE...: the first file's lines, each number replaced by the median of
# the numbers at the same place (line, position) in all files. Lines must correspond.
median_lines() {
	awk '
		FNR == 1 { file++ }
		{
			n = 0; rest = $0
			text = ""  # text before the next number, carried over words like "sse4.2"
			while (match(rest, /-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?/)) {
				before = substr(rest, 1, RSTART - 1)
				num = substr(rest, RSTART, RLENGTH)
				rest = substr(rest, RSTART + RLENGTH)
				if (before ~ /[A-Za-z0-9_.]$/) {  # part of a word, not a measurement
					text = text before num
					continue
				}
				n++
				v[FNR, n, file] = num + 0
				if (file == 1) {
					pre[FNR, n] = text before
					dec[FNR, n] = index(num, ".") ? length(num) - index(num, ".") : 0
				}
				text = ""
			}
			rest = text rest
			if (file == 1) { count[FNR] = n; tail[FNR] = rest; lines = FNR }
		}
		function median(line, k,    i, j, m, t, a) {
			m = 0
			for (i = 1; i <= file; i++) if ((line, k, i) in v) a[++m] = v[line, k, i]
			for (i = 2; i <= m; i++)  # insertion sort: a handful of runs
				for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
			return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
		}
		END {
			for (l = 1; l <= lines; l++) {
				s = ""
				for (k = 1; k <= count[l]; k++) {
					x = median(l, k)
					s = s pre[l, k] sprintf("%." dec[l, k] "f", x)
				}
				print s tail[l]
			}
		}' "$@"
}

echo "ferry benchmarks: median of $runs runs on $(nproc) cores, $(uname -srm)"
for prog in "${programs[@]}"; do
	echo
	echo "== ${prog##*/}"
	results=()
	for ((i = 1; i <= runs; i++)); do
		result=$out/${prog##*/}.$i
		(cd "$out" && "$builddir/$prog") >"$result" 2>"$result.err" || {
			echo "run.sh: $prog failed (run $i):" >&2
			cat "$result.err" >&2
			exit 1
		}
		results+=("$result")
	done
	median_lines "${results[@]}"
done
