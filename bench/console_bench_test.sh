#!/usr/bin/env bash
# console_bench_test: every figure of console_bench runs one small round for
# real (dbgd, socat, stunnel, a raw PTY) and prints each of its figures as a
# positive number; bad flags are refused with exit status 2.
set -uo pipefail
cd "${TEST_SRCDIR}/dbgd"
bench=bench/console_bench
passed=0
failed=0
check() {  # check NAME EXPECTED_KEYS... -- ARGS...
  local name=$1
  shift
  local keys=()
  while [[ $1 != -- ]]; do keys+=("$1"); shift; done
  shift
  local out
  out=$("$bench" "$@" 2>"$TEST_TMPDIR/err")
  local rc=$?
  local ok=1
  if [[ $rc -ne 0 ]]; then
    echo "FAIL $name: exit $rc: $(tail -n 3 "$TEST_TMPDIR/err")"
    ok=0
  fi
  for key in "${keys[@]}"; do
    if ! grep -Eq "^BENCH ${key//./\\.} [0-9.e+]+ " <<<"$out"; then
      echo "FAIL $name: no figure $key in: $out"
      ok=0
    elif [[ $key != *dropped && $key != *lag_ms && $key != *spread_ms ]] &&
      grep -Eq "^BENCH ${key//./\\.} 0 " <<<"$out"; then
      echo "FAIL $name: $key is 0"
      ok=0
    fi
  done
  if [[ $ok -eq 1 ]]; then
    echo "PASS $name"
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
  fi
}
refused() {  # refused NAME ARGS...: exit 2 and a message naming the problem
  local name=$1
  shift
  "$bench" "$@" >/dev/null 2>"$TEST_TMPDIR/err"
  local rc=$?
  if [[ $rc -eq 2 && -s $TEST_TMPDIR/err ]]; then
    echo "PASS $name"
    passed=$((passed + 1))
  else
    echo "FAIL $name: exit $rc, said: $(cat "$TEST_TMPDIR/err")"
    failed=$((failed + 1))
  fi
}

small=$((4 << 20))
for via in pty pty_cooked loopback socat socat_cooked tcp npipe stunnel stunnel_cooked ssl; do
  check "throughput via $via" "throughput.$via" -- --figure=throughput --via=$via --bytes=$small
done
for via in pty socat socat_cooked tcp; do
  check "round trip via $via" "roundtrip.$via.p50" "roundtrip.$via.p99" -- \
    --figure=roundtrip --via=$via --count=50
done
for via in stunnel ssl; do
  check "handshakes via $via" "handshakes.$via" -- --figure=handshakes --via=$via --seconds=0.3
done
check "fan-out to 20" fanout.20.delivered fanout.20.lag_ms fanout.20.join_s \
  fanout.20.idle_kib_per_client fanout.20.flow_kib_per_client fanout.20.dropped -- \
  --figure=fanout --clients=20 --bytes=65536 --rate=262144
refused "an unknown figure" --figure=speed
refused "an unknown throughput path" --figure=throughput --via=carrier-pigeon
refused "an unknown round-trip path" --figure=roundtrip --via=npipe
refused "no clients" --figure=fanout --clients=0

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
