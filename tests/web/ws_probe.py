#!/usr/bin/python3
"""WebSocket-level probes of a web debugging server (python3-websocket).

usage: ws_probe.py PYTHONPATH_OF_WIRE_PB2 MODE URL [ARGS]

Modes (each prints what happened, one `key: value` per line):
  upgrade ORIGIN [SUBPROTOCOL]  try an upgrade; prints `status: N` (101 when taken)
  join IDENTITY PASSWORD LINE   handshake, send LINE, print the frames seen
                                for 3 s as `frame: KIND ...`
  garbage                       handshake, then send bytes that are no Frame
  oversized BYTES               handshake, then send one message of BYTES
  text                          handshake, then send a text message
Modes after `upgrade` end with `closed: CODE REASON` as the server closed.
"""

import hashlib
import hmac
import os
import sys
import time

sys.path.insert(0, sys.argv[1])
import websocket  # noqa: E402
from dbgd.v1 import wire_pb2 as w  # noqa: E402

mode, url = sys.argv[2], sys.argv[3]
args = sys.argv[4:]
origin = url.replace("ws://", "http://").replace("wss://", "https://").split("/ws")[0]


# wss: the CA that issued the server's certificate ($PROBE_CA).
sslopt = {"ca_certs": os.environ["PROBE_CA"]} if os.environ.get("PROBE_CA") else None


def connect(identity="probe@test", password=""):
    ws = websocket.create_connection(url, subprotocols=["dbgd.v1"], origin=origin, timeout=10,
                                     sslopt=sslopt)
    ws.send_binary(w.Frame(client_hello=w.ClientHello(protocol_version=1,
                                                      identity=identity)).SerializeToString())
    hello = receive(ws)
    print("session:", hello.server_hello.session)
    print("read_only:", hello.server_hello.read_only)
    if hello.server_hello.auth_required:
        mac = hmac.new(password.encode(), hello.server_hello.nonce, hashlib.sha256).digest()
        ws.send_binary(w.Frame(auth_response=w.AuthResponse(mac=mac)).SerializeToString())
    result = receive(ws)
    print("auth:", "ok" if result.auth_result.ok else result.auth_result.message)
    return ws


def receive(ws):
    opcode, data = ws.recv_data(control_frame=False)
    frame = w.Frame()
    frame.ParseFromString(data)
    return frame


def describe(frame):
    kind = frame.WhichOneof("body")
    if kind == "output":
        return f"output {frame.output.data!r}"
    if kind == "notice":
        return (f"notice {w.Notice.Kind.Name(frame.notice.kind)} "
                f"{frame.notice.identity!r} {frame.notice.text!r}")
    if kind == "bye":
        return f"bye {frame.bye.reason!r}"
    return kind


def drain(ws, seconds):
    """Prints frames until the server closes or `seconds` pass."""
    ws.settimeout(0.5)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            # The raw frame: recv_data would answer a close itself, and the
            # server may have hung up right after its close frame.
            frame = ws.recv_frame()
        except websocket.WebSocketTimeoutException:
            continue
        except (websocket.WebSocketConnectionClosedException, OSError):
            print("closed: connection dropped", flush=True)
            return
        opcode, data = frame.opcode, frame.data
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            code = int.from_bytes(data[:2], "big") if len(data) >= 2 else 0
            print(f"closed: {code} {data[2:].decode(errors='replace')}", flush=True)
            return
        if opcode == websocket.ABNF.OPCODE_BINARY:
            frame = w.Frame()
            frame.ParseFromString(data)
            print("frame:", describe(frame), flush=True)
    print("closed: no (still open)", flush=True)


if mode == "upgrade":
    protocols = [args[1]] if len(args) > 1 else ["dbgd.v1"]
    try:
        ws = websocket.create_connection(url, subprotocols=protocols, origin=args[0],
                                         timeout=10, sslopt=sslopt)
        print("status: 101")
        ws.close()
    except websocket.WebSocketBadStatusException as e:
        print(f"status: {e.status_code}")
elif mode == "join":
    ws = connect(args[0], args[1])
    ws.send_binary(w.Frame(input=w.Input(line=args[2])).SerializeToString())
    drain(ws, 3)
elif mode == "garbage":
    ws = connect(password=args[0] if args else "")
    ws.send_binary(b"\xff\xff\xff\xff not a frame")
    drain(ws, 5)
elif mode == "oversized":
    ws = connect(password=args[1] if len(args) > 1 else "")
    ws.send_binary(b"\x3a" + b"x" * (int(args[0]) - 1))
    drain(ws, 5)
elif mode == "text":
    ws = connect(password=args[0] if args else "")
    ws.send("a text message")
    drain(ws, 5)
else:
    print(__doc__, file=sys.stderr)
    sys.exit(2)
