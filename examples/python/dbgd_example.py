#!/usr/bin/python3
"""dbgd's control plane from Python: a session, a server, a search, a command.

Creates a gdb session on PROGRAM and a debugging server SPEC for it, lists
sessions and servers, searches for servers, runs debugger commands with
Execute, then ends the server and the session.

  examples/python/generate.sh
  PYTHONPATH=examples/python/gen examples/python/dbgd_example.py \\
      --program=/usr/bin/sleep --server=tcp:port=5005 -- 60

Options: --addr (default $DBGD_ADDR, else dbgd's default socket),
--token_file and --tls_ca as dbgctl takes them, --exec (repeatable).
Exit status 0 when every call succeeded, 1 otherwise.
"""

import argparse
import os
import socket
import sys

import grpc
from dbgd.v1 import control_pb2, control_pb2_grpc
from dbgd.v1 import discovery_pb2, discovery_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def default_address():
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return "unix:" + (runtime + "/dbgd" if runtime else "/run/dbgd") + "/control.sock"


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--addr", default=os.environ.get("DBGD_ADDR", default_address()),
                    help="unix:PATH or HOST:PORT")
parser.add_argument("--token_file", help="file holding the bearer token")
parser.add_argument("--tls_ca", help="PEM roots: connect with TLS")
parser.add_argument("--program", required=True, help="program to launch under gdb")
parser.add_argument("--server", required=True, help="a .server string, e.g. tcp:port=5005")
parser.add_argument("--exec", action="append", dest="commands",
                    help="a debugger command for Execute (default: print 6*7)")
parser.add_argument("args", nargs="*", help="the program's arguments")
options = parser.parse_args()

# Every call carries who we are (shown to the session's clients) and, when
# the daemon wants one, the bearer token.
metadata = [("x-dbgd-identity", socket.gethostname() + "\\python-example")]
if options.token_file:
    with open(options.token_file) as token:
        metadata.append(("authorization", "Bearer " + token.read().strip()))

if options.tls_ca:
    with open(options.tls_ca, "rb") as roots:
        channel = grpc.secure_channel(
            options.addr, grpc.ssl_channel_credentials(root_certificates=roots.read()))
else:
    channel = grpc.insecure_channel(options.addr)  # also for unix:PATH
control = control_pb2_grpc.ControlStub(channel)
discovery = discovery_pb2_grpc.DiscoveryStub(channel)
health = health_pb2_grpc.HealthStub(channel)


def call(method, request, timeout=10):
    return method(request, metadata=metadata, timeout=timeout)


def every_page(method, request, field):
    """Follows next_page_token until the last page (AIP-158)."""
    while True:
        response = call(method, request)
        yield from getattr(response, field)
        if not response.next_page_token:
            return
        request.page_token = response.next_page_token


def main():
    status = call(health.Check, health_pb2.HealthCheckRequest(service="dbgd.v1.Control"))
    print("health dbgd.v1.Control:",
          health_pb2.HealthCheckResponse.ServingStatus.Name(status.status))

    session = call(control.CreateSession, control_pb2.CreateSessionRequest(
        engine="gdb",
        target=control_pb2.Target(launch=control_pb2.LaunchTarget(
            program=options.program, args=options.args))), timeout=60)
    print(f"created {session.name}: {session.engine}, engine pid {session.engine_pid}")
    server = None
    try:
        server = call(control.CreateServer, control_pb2.CreateServerRequest(
            session=session.name, spec=options.server))
        print(f"created {server.name}: {server.actual_endpoint}, "
              f"connect with -remote {server.connect_string}")

        print("sessions:")
        for s in every_page(control.ListSessions, control_pb2.ListSessionsRequest(), "sessions"):
            print(f"  {s.name} {control_pb2.Session.State.Name(s.state)} "
                  f"servers {s.server_count} {s.target.launch.program}")
        print("servers:")
        for s in every_page(control.ListServers, control_pb2.ListServersRequest(), "servers"):
            print(f"  {s.name} {s.session} {s.actual_endpoint} "
                  f"{control_pb2.Server.State.Name(s.state)}")
        print("search:")
        for s in every_page(discovery.SearchServers,
                            discovery_pb2.SearchServersRequest(), "servers"):
            print(f"  \\\\{s.host} {s.kind} - {s.endpoint} ({s.connect_string})")

        for command in options.commands or ["print 6*7"]:
            result = call(control.Execute, control_pb2.ExecuteRequest(
                session=session.name, command=command), timeout=60)
            print(f"execute {command!r}:")
            sys.stdout.write(result.output)
            if result.error:
                print(f"error: {result.error}")
    finally:
        # Whatever failed above, end what this script made.
        if server is not None:
            call(control.DeleteServer, control_pb2.DeleteServerRequest(name=server.name))
            print(f"ended {server.name}")
        call(control.DeleteSession,
             control_pb2.DeleteSessionRequest(name=session.name, kill_target=True))
        print(f"ended {session.name}")


try:
    main()
except grpc.RpcError as error:
    # dbgd's errors are gRPC status codes with a message naming the cause,
    # e.g. INVALID_ARGUMENT: spec: port: 70000 is above 65535.
    print(f"dbgd_example.py: {error.code().name}: {error.details()}", file=sys.stderr)
    sys.exit(1)
