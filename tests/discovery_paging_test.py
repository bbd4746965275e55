"""SearchServers from a stock Python gRPC client, page by page.

Run by tests/discovery_paging_test.cc, which fills a real etcd with COUNT
servers (through dbgd's own etcd registry) and starts a real dbgd on it;
this script is the client: Debian's python3-grpcio and python3-protobuf,
a channel with default options (so a 4 MiB receive limit), message classes
generated here with protoc, and methods called through the generic
channel.unary_unary, so nothing beyond the stock packages is needed.

  discovery_paging_test.py ADDRESS PROTO_ROOT COUNT HOSTS OUT_DIR

Exits 0 when every check holds; prints what failed otherwise.
"""

import os
import subprocess
import sys

ADDRESS, PROTO_ROOT, COUNT, HOSTS, OUT_DIR = sys.argv[1:6]
COUNT = int(COUNT)
HOSTS = int(HOSTS)
DEFAULT_LIMIT = 4 * 1024 * 1024  # grpc's default max receive message size

subprocess.run(
    ["protoc", "-I" + PROTO_ROOT, "-I/usr/include", "--python_out=" + OUT_DIR,
     "dbgd/v1/discovery.proto"],
    check=True)
sys.path.insert(0, OUT_DIR)

import grpc  # noqa: E402
from dbgd.v1 import discovery_pb2  # noqa: E402

channel = grpc.insecure_channel(ADDRESS)  # default options: 4 MiB limit
sizes = []  # the wire size of every response


def parse(data):
    sizes.append(len(data))
    return discovery_pb2.SearchServersResponse.FromString(data)


search = channel.unary_unary(
    "/dbgd.v1.Discovery/SearchServers",
    request_serializer=discovery_pb2.SearchServersRequest.SerializeToString,
    response_deserializer=parse)

failures = []


def check(condition, what):
    if not condition:
        failures.append(what)
        print("FAILED:", what, flush=True)


def expect_invalid(request, field, what):
    try:
        search(request, timeout=30)
        check(False, what + ": expected INVALID_ARGUMENT, got OK")
    except grpc.RpcError as error:
        check(error.code() == grpc.StatusCode.INVALID_ARGUMENT,
              "%s: got %s" % (what, error.code()))
        check(field in error.details(),
              "%s: %r does not name %s" % (what, error.details(), field))


# The unpaged request of an old client: a first page, not RESOURCE_EXHAUSTED.
first = search(discovery_pb2.SearchServersRequest(), timeout=30)
check(len(first.servers) == 100,
      "the default page holds 100 servers, not %d" % len(first.servers))
check(first.next_page_token != "", "the first page says more follow")

# Follow next_page_token to the end, at the default page size.
seen = set()
returned = 0
pages = 0
response = first
while True:
    pages += 1
    for server in response.servers:
        seen.add((server.host, server.endpoint))
        returned += 1
    if not response.next_page_token:
        break
    response = search(
        discovery_pb2.SearchServersRequest(page_token=response.next_page_token),
        timeout=30)
check(returned == COUNT, "%d servers returned, not %d" % (returned, COUNT))
check(len(seen) == COUNT, "%d distinct servers, not %d" % (len(seen), COUNT))
expected = {("host%d" % (i % HOSTS), "tcp:Port=%d" % (1024 + i // HOSTS))
            for i in range(COUNT)}
check(seen == expected, "the servers are exactly those registered")
check(pages == COUNT // 100, "%d pages of 100, not %d" % (COUNT // 100, pages))
check(max(sizes) < DEFAULT_LIMIT, "largest response %d bytes" % max(sizes))
# Without pages the same listing would not fit the default limit.
check(sum(sizes) > DEFAULT_LIMIT,
      "the whole listing (%d bytes) is over 4 MiB" % sum(sizes))

largest = max(sizes)

# Larger pages are clamped to the maximum, 1000.
sizes.clear()
big = search(discovery_pb2.SearchServersRequest(page_size=5000), timeout=30)
check(len(big.servers) == 1000, "page_size 5000 gave %d" % len(big.servers))
check(sizes[0] < DEFAULT_LIMIT, "a page of 1000 is %d bytes" % sizes[0])

# One host's 1000 servers are exactly one full page: no token after it.
per_host = COUNT // HOSTS
one = search(discovery_pb2.SearchServersRequest(host="\\\\HOST42",
                                                page_size=per_host), timeout=30)
check(len(one.servers) == per_host and not one.next_page_token,
      "host42: %d servers, token %r" % (len(one.servers), one.next_page_token))
check(list(one.hosts) == ["host42"], "host42's page names host42 only")

expect_invalid(discovery_pb2.SearchServersRequest(page_size=-1), "page_size",
               "negative page_size")
expect_invalid(discovery_pb2.SearchServersRequest(page_token="bogus!"),
               "page_token", "malformed page_token")
expect_invalid(
    discovery_pb2.SearchServersRequest(host="host1",
                                       page_token=first.next_page_token),
    "page_token", "a token of another query")

print("%d servers in %d pages of 100 (largest %d bytes), a page of 1000 is "
      "%d bytes; %d failures" % (returned, pages, largest, max(sizes),
                                 len(failures)), flush=True)
sys.exit(1 if failures else 0)
