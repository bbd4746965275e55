#!/bin/sh
# Generates the Python stubs of dbgd's control plane into OUT_DIR
# (default: gen/ beside this script), with Debian's protoc and
# grpc_python_plugin (protobuf-compiler-grpc).
#
#   examples/python/generate.sh [OUT_DIR]
#
# dbgd/v1/*.proto come from the repository's proto/ (override with
# DBGD_PROTO_ROOT=...); they import google/protobuf/*.proto, which protoc finds
# in /usr/include and whose Python modules python3-protobuf ships.
#
# grpc/health/v1/health.proto (Debian's grpc-proto) is generated as
# grpc_health/v1/health.proto, the module path grpcio-health-checking uses:
# generated under its own name it would make a package `grpc` that shadows
# grpcio's (see docs/clients.md).
set -eu
here=$(dirname "$0")
out=${1:-$here/gen}
proto_root=${DBGD_PROTO_ROOT:-$here/../../proto}
health=/usr/share/grpc-proto/grpc/health/v1/health.proto

mkdir -p "$out/grpc_health/v1"
cp "$health" "$out/grpc_health/v1/health.proto"

protoc -I"$proto_root" -I/usr/include \
  --python_out="$out" --grpc_python_out="$out" \
  --plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin \
  dbgd/v1/control.proto dbgd/v1/discovery.proto
protoc -I"$out" \
  --python_out="$out" --grpc_python_out="$out" \
  --plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin \
  grpc_health/v1/health.proto
rm "$out/grpc_health/v1/health.proto"
