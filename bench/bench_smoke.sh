#!/bin/bash
# bench_smoke.sh BINARY [FLAG…] -- [--json] KEY…
# Runs a benchmark binary once and checks that it printed every KEY with a
# positive value: as `BENCH KEY VALUE UNIT` lines, or with --json as a
# Google Benchmark JSON report whose benchmark KEY has a positive real_time.
set -u
command=()
while (($#)) && [[ $1 != -- ]]; do
  command+=("$1")
  shift
done
shift
json=0
if [[ ${1:-} == --json ]]; then
  json=1
  shift
fi
out=$(mktemp "${TEST_TMPDIR:-/tmp}/bench_smoke.XXXXXX")
trap 'rm -f "$out"' EXIT
"${command[@]}" >"$out"
status=$?
if ((status != 0)); then
  echo "FAIL: ${command[*]} exited with status $status" >&2
  cat "$out" >&2
  exit 1
fi
cat "$out"
missing=0
for key in "$@"; do
  if ((json)); then
    ok=$(/usr/bin/python3 -c '
import json, sys
report = json.load(open(sys.argv[1]))
print(any(b["name"] == sys.argv[2] and b.get("error_occurred") is not True
          and b["real_time"] > 0 for b in report["benchmarks"]))' "$out" "$key")
    [[ $ok == True ]] && continue
  elif awk -v key="$key" '$1 == "BENCH" && $2 == key && $3 + 0 > 0 { found = 1 }
                          END { exit !found }' "$out"; then
    continue
  fi
  echo "FAIL: no positive figure for $key" >&2
  missing=1
done
if ((missing)); then exit 1; fi
echo "PASS: $# figures"
