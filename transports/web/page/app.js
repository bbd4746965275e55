// The dbgd console page: the session's shared console in a terminal
// emulator, a command line, and a panel of who is connected and what they
// did. It speaks the remote protocol (docs/protocol.md) over a WebSocket:
// one serialized dbgd.v1.wire.Frame per binary message.
//
// WIRE_DESCRIPTOR is defined at build time: the base64 FileDescriptorSet of
// proto/dbgd/v1/wire.proto, so the page and the daemon share one schema.

import { Terminal } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";
import { create, createFileRegistry, fromBinary, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { base64Decode } from "@bufbuild/protobuf/wire";

const PROTOCOL_VERSION = 1;
const SUBPROTOCOL = "dbgd.v1";

// --- The schema ------------------------------------------------------------

const registry = createFileRegistry(
  fromBinary(FileDescriptorSetSchema, base64Decode(WIRE_DESCRIPTOR)));
const schema = (name) => registry.getMessage(`dbgd.v1.wire.${name}`);
const Frame = schema("Frame");
const Kind = Object.fromEntries(
  registry.getEnum("dbgd.v1.wire.Notice.Kind").values.map((v) => [v.name, v.number]));
// The oneof's JavaScript names, by proto field name ("break_" and friends).
const CASE = Object.fromEntries(Frame.oneofs[0].fields.map((f) => [f.name, f.localName]));

function encode(caseName, messageName, value) {
  const body = { case: CASE[caseName], value: create(schema(messageName), value) };
  return toBinary(Frame, create(Frame, { body }));
}

// --- The page --------------------------------------------------------------

const $ = (id) => document.getElementById(id);
const ui = {
  session: $("session"), status: $("status"), command: $("command"),
  commandForm: $("command-form"), breakButton: $("break"), leave: $("leave"),
  clients: $("clients"), notices: $("notices"), join: $("join"),
  joinForm: $("join-form"), joinSession: $("join-session"), joinDetail: $("join-detail"),
  name: $("name"), password: $("password"), passwordRow: $("password-row"),
  joinError: $("join-error"), joinButton: $("join-button"),
};

const term = new Terminal({
  allowProposedApi: false,
  convertEol: false,
  cursorBlink: false,
  fontFamily: "'DejaVu Sans Mono', 'Liberation Mono', ui-monospace, monospace",
  fontSize: 14,
  // Room below the baseline, or some fonts' underscores are cut off.
  lineHeight: 1.15,
  scrollback: 20000,
  theme: { background: "#000000" },
});
const fit = new FitAddon();
term.loadAddon(fit);
term.open($("terminal"));
fit.fit();
new ResizeObserver(() => fit.fit()).observe($("terminal"));
// Tests and curious users read the terminal through this.
window.dbgdTerminal = term;

// Other people's text reaches this terminal only through here: control
// characters are shown, never obeyed, so no one can forge a line or move
// the cursor in someone else's console.
function printable(text) {
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x20 ? "^" + String.fromCharCode(code + 0x40)
                       : "\\x" + code.toString(16).padStart(2, "0");
  });
}

let atLineStart = true;
function writeOutput(bytes) {
  if (bytes.length === 0) return;
  term.write(bytes);
  atLineStart = bytes[bytes.length - 1] === 0x0a;
}
// writeOwnLine prints one of the page's lines (a notice) on a line of its
// own, in cyan: what dbgremote prints as `*** …`.
function writeOwnLine(text) {
  term.write((atLineStart ? "" : "\r\n") + "\x1b[36m*** " + printable(text) + "\x1b[0m\r\n");
  atLineStart = true;
}

// --- Who is here, and what happened -----------------------------------------

const present = new Map();  // identity → count of connections
let myIdentity = "";

function renderClients() {
  ui.clients.replaceChildren(...[...present.keys()].sort().map((identity) => {
    const li = document.createElement("li");
    li.textContent = printable(identity);
    if (identity === myIdentity) li.className = "me";
    return li;
  }));
}
function addClient(identity) {
  present.set(identity, (present.get(identity) || 0) + 1);
  renderClients();
}
function removeClient(identity) {
  const n = (present.get(identity) || 0) - 1;
  if (n > 0) present.set(identity, n); else present.delete(identity);
  renderClients();
}
function logNotice(who, text) {
  const li = document.createElement("li");
  const time = document.createElement("time");
  time.textContent = new Date().toLocaleTimeString();
  const whoSpan = document.createElement("span");
  whoSpan.className = "who";
  whoSpan.textContent = printable(who);
  li.append(time, whoSpan, document.createTextNode(" " + printable(text)));
  ui.notices.prepend(li);
  while (ui.notices.childElementCount > 500) ui.notices.lastElementChild.remove();
}

function onNotice(notice) {
  const { kind, identity, text } = notice;
  switch (kind) {
    case Kind.CLIENT_PRESENT:
      addClient(identity);
      return;
    case Kind.CLIENT_JOINED:
      addClient(identity);
      logNotice(identity, "joined");
      writeOwnLine(`${identity} connected`);
      return;
    case Kind.CLIENT_LEFT:
      removeClient(identity);
      logNotice(identity, text ? `left: ${text}` : "left");
      writeOwnLine(text ? `${identity} left: ${text}` : `${identity} left`);
      return;
    case Kind.COMMAND:
      logNotice(identity, text);
      writeOwnLine(`${identity}: ${text}`);
      return;
    case Kind.DROPPED:
      logNotice("dropped", text);
      writeOwnLine(`dropped: ${text}`);
      return;
    case Kind.SESSION_ENDED:
      logNotice("session ended", text);
      writeOwnLine(`session ended: ${text}`);
      return;
    case Kind.INPUT_REFUSED:
      logNotice("refused", text);
      writeOwnLine(text);
      return;
    case Kind.HISTORY_END:
      return;
    default:
      if (text) logNotice(identity, text);
  }
}

// --- The connection ----------------------------------------------------------

let socket = null;
let joined = false;
let readOnly = false;
const history = [];
let historyAt = 0;

function setStatus(text, online) {
  ui.status.textContent = text;
  ui.status.className = "status " + (online ? "online" : "offline");
}
function setLive(live) {
  const canType = live && !readOnly;
  ui.command.disabled = !canType;
  ui.breakButton.disabled = !canType;
  ui.leave.disabled = !live;
  if (canType) ui.command.focus();
}
function showJoin(error) {
  ui.joinError.textContent = error || "";
  ui.join.hidden = false;
  ui.joinButton.disabled = false;
  (ui.passwordRow.hidden ? ui.name : ui.password).focus();
}
function send(caseName, messageName, value) {
  if (socket && socket.readyState === WebSocket.OPEN) {
    socket.send(encode(caseName, messageName, value));
  }
}

async function mac(password, nonce) {
  if (!window.crypto || !window.crypto.subtle) {
    throw new Error("this page is not a secure context (plain http to another host), " +
      "so the browser offers no HMAC to answer the password with: open it over https " +
      "(a server with proto=) or through localhost");
  }
  const key = await crypto.subtle.importKey(
    "raw", new TextEncoder().encode(password), { name: "HMAC", hash: "SHA-256" },
    false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, nonce));
}

function connect(name, password) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${scheme}//${location.host}/ws`, SUBPROTOCOL);
  ws.binaryType = "arraybuffer";
  socket = ws;
  myIdentity = `${name}@web`;
  let refusal = "";
  let inHandshake = true;
  setStatus("connecting…", false);

  ws.onopen = () => {
    send("client_hello", "ClientHello", { protocolVersion: PROTOCOL_VERSION, identity: myIdentity });
  };
  ws.onmessage = async (event) => {
    let frame;
    try {
      frame = fromBinary(Frame, new Uint8Array(event.data));
    } catch (e) {
      refusal = "the server sent an unreadable frame";
      ws.close();
      return;
    }
    const { case: kind, value } = frame.body;
    switch (kind) {
      case CASE.server_hello: {
        ui.session.textContent = value.session;
        ui.joinSession.textContent = value.session;
        document.title = `${value.session} — dbgd`;
        readOnly = value.readOnly === true;
        if (value.protocolVersion !== PROTOCOL_VERSION) {
          refusal = `the server speaks protocol version ${value.protocolVersion}, this page ${PROTOCOL_VERSION}`;
          send("bye", "Bye", { reason: "protocol version mismatch" });
          ws.close();
          return;
        }
        if (!value.authRequired) return;
        ui.passwordRow.hidden = false;
        if (!password) {
          refusal = "This server requires a password.";
          send("bye", "Bye", { reason: "no password given" });
          ws.close();
          return;
        }
        try {
          send("auth_response", "AuthResponse", { mac: await mac(password, value.nonce) });
        } catch (e) {
          refusal = e.message;
          send("bye", "Bye", { reason: "cannot compute the password's MAC" });
          ws.close();
        }
        return;
      }
      case CASE.auth_result:
        if (!value.ok) {
          refusal = value.message === "authentication failed"
            ? "Wrong password." : value.message;
          return;
        }
        inHandshake = false;
        joined = true;
        ui.join.hidden = true;
        present.clear();
        addClient(myIdentity);
        setStatus(readOnly ? "connected (observer: read-only)" : "connected", true);
        setLive(true);
        return;
      case CASE.output:
        writeOutput(value.data);
        return;
      case CASE.notice:
        onNotice(value);
        return;
      case CASE.bye:
        refusal = value.reason;
        if (!inHandshake) writeOwnLine(`disconnected: ${value.reason}`);
        return;
      default:
        return;
    }
  };
  ws.onclose = (event) => {
    if (socket === ws) socket = null;
    setLive(false);
    setStatus("offline", false);
    if (inHandshake) {
      showJoin(refusal || (event.code === 1006
        ? "Cannot reach the server." : `Refused (${event.code} ${event.reason}).`));
      return;
    }
    joined = false;
    logNotice("you", refusal ? `disconnected: ${refusal}` : "disconnected");
    showJoin(refusal ? `Disconnected: ${refusal}` : "Disconnected.");
  };
}

ui.joinForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const name = ui.name.value.trim();
  if (!name) {
    ui.joinError.textContent = "Give a name: the others see it beside your commands.";
    return;
  }
  try { localStorage.setItem("dbgd.name", name); } catch (e) { /* private mode */ }
  ui.joinError.textContent = "";
  ui.joinButton.disabled = true;
  connect(name, ui.password.value);
});

ui.commandForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const line = ui.command.value;
  sendLine(line);
  if (line && history[history.length - 1] !== line) history.push(line);
  historyAt = history.length;
  ui.command.value = "";
  // The debugger's terminal echoes the line; the output shows it.
  atLineStart = true;
});

// The others see our commands as notices; the panel shows them here too.
function sendLine(line) {
  send("input", "Input", { line });
  logNotice(`${myIdentity} (you)`, line);
}
function sendBreak() {
  if (readOnly || !joined) return;
  send("break_", "Break", {});
  logNotice(`${myIdentity} (you)`, "<Break>");
}
ui.breakButton.addEventListener("click", sendBreak);
ui.leave.addEventListener("click", () => {
  send("bye", "Bye", { reason: "left" });
  if (socket) socket.close(1000, "left");
});

ui.command.addEventListener("keydown", (event) => {
  if (event.key === "c" && event.ctrlKey && !event.altKey &&
      ui.command.selectionStart === ui.command.selectionEnd) {
    event.preventDefault();
    sendBreak();
  } else if (event.key === "ArrowUp" && historyAt > 0) {
    event.preventDefault();
    ui.command.value = history[--historyAt];
  } else if (event.key === "ArrowDown" && historyAt < history.length) {
    event.preventDefault();
    historyAt++;
    ui.command.value = historyAt < history.length ? history[historyAt] : "";
  }
});

// Typing in the terminal goes to the command line; Ctrl+C copies a
// selection, and without one breaks.
term.attachCustomKeyEventHandler((event) => {
  if (event.type === "keydown" && event.ctrlKey && event.key === "c" && term.hasSelection()) {
    return false;  // the browser copies the selection
  }
  return true;
});
term.onData((data) => {
  if (data === "\x03") {
    sendBreak();
    return;
  }
  if (ui.command.disabled) return;
  // Typed or pasted: each line ending sends the line so far.
  const lines = data.split(/\r\n|\r|\n/);
  let line = ui.command.value + lines[0];
  for (const next of lines.slice(1)) {
    sendLine(line);
    line = next;
  }
  ui.command.value = line;
  ui.command.focus();
});

try { ui.name.value = localStorage.getItem("dbgd.name") || ""; } catch (e) { /* private mode */ }
setStatus("offline", false);
showJoin("");
