#!/usr/bin/env node
// deploy/systemd, checked without a running systemd (PID 1 here is not
// systemd, so the unit cannot be started):
//   1. `systemd-analyze verify` of the unit, its ExecStart pointed at the
//      dbgd built here, prints nothing (verify exits 0 even for an unknown
//      key or a bad value, only printing them, so any output fails);
//   2. every flag of the example flagfile (commented-out ones by name too)
//      is accepted by the real dbgd (dbgd_flags.mjs), and dbgd starts with
//      it (paths moved into a temporary directory), answers health on the
//      control socket and exits 0 on SIGTERM;
//   3. whatever the flags make dbgd write is in a directory the unit makes
//      writable (ProtectSystem=strict makes the rest read-only);
//   4. the sandbox keeps what a debugger needs: the system call groups the
//      unit denies (expanded by `systemd-analyze syscall-filter`) contain
//      none of the calls gdb and the debugged programs use, and none of the
//      options that would break them is set;
//   5. each of these checks fails on a unit or flagfile broken on purpose.
//
// Usage: systemd_test.mjs DBGD DBGCTL UNIT FLAGS

import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { checkEntries, dbgdParses, flagValues, helpFlags, parseFlagfile } from "./dbgd_flags.mjs";

const [DBGD, DBGCTL, UNIT, FLAGS] = process.argv.slice(2).map((p) => path.resolve(p));
const TMP = fs.mkdtempSync(path.join(process.env.TEST_TMPDIR || "/tmp", "systemd-"));
const INSTALLED_EXEC = "/usr/local/bin/dbgd --flagfile=/etc/dbgd/flags";

let failures = 0;
const fail = (m) => { failures++; console.log(`FAIL: ${m}`); };
const pass = (m) => console.log(`ok: ${m}`);
const run = (argv, options = {}) => {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8", timeout: 60000, ...options });
  return { code: r.status, out: `${r.stdout ?? ""}${r.stderr ?? ""}` };
};

// The unit's [Service] settings: name -> [values] (a setting may repeat).
function settings(text) {
  const out = new Map();
  let section = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith(";")) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s) { section = s[1]; continue; }
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (kv) out.set(`${section}.${kv[1]}`, [...(out.get(`${section}.${kv[1]}`) || []), kv[2]]);
  }
  return out;
}
const last = (set, key) => (set.get(key) || []).at(-1);

// --- 1: systemd-analyze verify ---------------------------------------------

function verify(unitText) {
  if (!unitText.includes(`ExecStart=${INSTALLED_EXEC}\n`)) return `ExecStart is not "${INSTALLED_EXEC}"`;
  const copy = path.join(TMP, "dbgd.service");
  fs.writeFileSync(copy, unitText.replace(`ExecStart=${INSTALLED_EXEC}`, `ExecStart=${DBGD} --flagfile=${FLAGS}`));
  const r = run(["systemd-analyze", "verify", "--man=no", copy]);
  return r.code === 0 && r.out.trim() === "" ? null : `systemd-analyze verify (exit ${r.code}):\n${r.out}`;
}

// --- 3, 4: the unit and the flags together -----------------------------------

// What gdb and the programs it debugs call that a filter must leave alone.
const DEBUGGER_CALLS = ["ptrace", "personality", "process_vm_readv", "process_vm_writev", "wait4", "waitid",
  "kill", "tgkill", "clone", "clone3", "fork", "vfork", "execve", "execveat", "setns", "unshare", "prctl",
  "kcmp", "pidfd_open", "pidfd_getfd", "pidfd_send_signal", "modify_ldt", "perf_event_open"];

function expandGroup(group, seen = new Set()) {
  if (seen.has(group)) return [];
  seen.add(group);
  const r = run(["systemd-analyze", "syscall-filter", group]);
  const calls = [];
  for (const line of r.out.split("\n")) {
    const w = line.trim();
    if (!w || w.startsWith("#") || w === group) continue;
    if (w.startsWith("@")) calls.push(...expandGroup(w, seen));
    else if (/^[a-z0-9_]+$/.test(w)) calls.push(w);
  }
  return calls;
}

// Options that would break debugging, and why (the unit's comment says more).
const BREAKS = {
  LockPersonality: ["yes", "gdb could not turn ASLR off (personality)"],
  MemoryDenyWriteExecute: ["yes", "programs with a JIT could not run"],
  SystemCallArchitectures: ["native", "32-bit programs could not run"],
  RestrictNamespaces: ["yes", "programs that unshare could not run; gdb could not enter a target's mount namespace"],
  PrivateUsers: ["yes", "CAP_SYS_PTRACE would not reach processes outside the service"],
  PrivateDevices: ["yes", "com: servers could not open serial devices"],
};

function unitProblems(unitText, flagsText, flags) {
  const problems = [];
  const set = settings(unitText);
  const flagEntries = parseFlagfile(flagsText, { source: "flags" });
  const values = flagValues(flagEntries, flags);
  for (const [key, [bad, why]] of Object.entries(BREAKS)) {
    const v = last(set, `Service.${key}`);
    if (v !== undefined && (v === bad || v === "true" || v === "1" || v === "on")) problems.push(`${key}=${v}: ${why}`);
  }
  for (const filter of set.get("Service.SystemCallFilter") || []) {
    if (!filter.startsWith("~")) { problems.push(`SystemCallFilter=${filter} is an allow-list: the debugged programs would be held to it`); continue; }
    for (const group of filter.slice(1).trim().split(/\s+/)) {
      const calls = group.startsWith("@") ? expandGroup(group) : [group];
      if (!calls.length) problems.push(`SystemCallFilter: ${group} is no group systemd-analyze knows`);
      for (const c of calls) if (DEBUGGER_CALLS.includes(c)) problems.push(`SystemCallFilter=~${group} denies ${c}, which debugging needs`);
    }
  }
  if (last(set, "Service.ProtectProc") && !["ptraceable", "default", "invisible"].includes(last(set, "Service.ProtectProc"))) {
    problems.push(`ProtectProc=${last(set, "Service.ProtectProc")} hides processes dbgd may attach to`);
  }
  if (last(set, "Service.Restart") !== "on-failure") problems.push("Restart= is not on-failure");
  if (last(set, "Service.KillMode") !== "mixed") problems.push("KillMode= is not mixed: SIGTERM would reach gdb and the debugged programs before dbgd ends its sessions");
  // The writable places under ProtectSystem=strict.
  const writable = [
    ...(set.get("Service.RuntimeDirectory") || []).flatMap((v) => v.split(/\s+/)).map((d) => `/run/${d}`),
    ...(set.get("Service.LogsDirectory") || []).flatMap((v) => v.split(/\s+/)).map((d) => `/var/log/${d}`),
    ...(set.get("Service.StateDirectory") || []).flatMap((v) => v.split(/\s+/)).map((d) => `/var/lib/${d}`),
    ...(set.get("Service.ReadWritePaths") || []).flatMap((v) => v.split(/\s+/)),
    "/tmp",
  ];
  const inWritable = (p) => writable.some((w) => p === w || p.startsWith(`${w}/`));
  const control = values.get("control_listen") ?? JSON.parse(flags.get("control_listen").default);
  const written = {
    control_listen: control.startsWith("unix:") ? control.slice(5) : null,
    pipe_dir: values.get("pipe_dir") ?? null,
    audit_log: values.get("audit_log") ?? null,
  };
  if (!values.has("pipe_dir")) problems.push("the flags leave --pipe_dir to its default, which depends on XDG_RUNTIME_DIR: give it");
  for (const [flag, p] of Object.entries(written)) {
    if (p && !inWritable(p)) problems.push(`--${flag}=${p} is outside the unit's writable directories (${writable.join(", ")})`);
  }
  if (!written.control_listen?.startsWith("/run/dbgd/")) problems.push(`the control socket ${control} is not in RuntimeDirectory /run/dbgd`);
  return problems;
}

// --- 2: the flags against the real dbgd ------------------------------------

function flagProblems(flagsText, flags) {
  const problems = checkEntries(parseFlagfile(flagsText, { source: FLAGS, commented: true }), flags);
  const parsed = dbgdParses(DBGD, flagsText, []);
  if (!parsed.ok) problems.push(`dbgd's flag parser: ${parsed.output}`);
  return problems;
}

async function startWith(flagsText) {
  // /run/dbgd, /var/log/dbgd and /var/lib/dbgd move into a directory
  // short enough for a Unix socket path (108 bytes).
  const root = fs.mkdtempSync("/tmp/dbgd-systemd-");
  for (const d of ["run/dbgd", "var/log/dbgd", "var/lib/dbgd"]) fs.mkdirSync(path.join(root, d), { recursive: true, mode: 0o750 });
  const moved = flagsText.replace(/(=|unix:)\/(run|var\/log|var\/lib)\/dbgd/g, (all, pre, dir) => `${pre}${root}/${dir}/dbgd`);
  const file = path.join(TMP, "flags");
  fs.writeFileSync(file, moved);
  const log = path.join(TMP, "dbgd.log");
  const child = spawn(DBGD, [`--flagfile=${file}`], { stdio: ["ignore", fs.openSync(log, "w"), fs.openSync(log, "a")], cwd: path.join(root, "var/lib/dbgd") });
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  const socket = `unix:${root}/run/dbgd/control.sock`;
  let up = false;
  for (let i = 0; i < 100 && child.exitCode === null && !up; i++) {
    up = run([DBGCTL, `--addr=${socket}`, "health"]).code === 0;
    if (!up) await new Promise((r) => setTimeout(r, 200));
  }
  if (!up) {
    child.kill("SIGKILL");
    fail(`dbgd did not serve health on ${socket} with the example flags:\n${fs.readFileSync(log, "utf8")}`);
    fs.rmSync(root, { recursive: true, force: true });
    return;
  }
  const audit = fs.existsSync(`${root}/var/log/dbgd/audit.jsonl`);
  pass(`dbgd started with the example flags (paths under ${root}), serves health on its control socket${audit ? ", writes its audit log" : ""}`);
  child.kill("SIGTERM");
  const r = await Promise.race([exited, new Promise((res) => setTimeout(() => res(null), 20000))]);
  if (r?.code === 0) pass("dbgd exits 0 on SIGTERM");
  else fail(`dbgd on SIGTERM: ${JSON.stringify(r)}\n${fs.readFileSync(log, "utf8")}`);
  fs.rmSync(root, { recursive: true, force: true });
}

// --- run -------------------------------------------------------------------

const flags = helpFlags(DBGD);
const unitText = fs.readFileSync(UNIT, "utf8");
const flagsText = fs.readFileSync(FLAGS, "utf8");

const v = verify(unitText);
if (v) fail(v); else pass("systemd-analyze verify: no warning");
const fp = flagProblems(flagsText, flags);
for (const p of fp) fail(`flags: ${p}`);
if (!fp.length) pass(`the ${parseFlagfile(flagsText, { commented: true }).length} flags of the example flagfile (commented ones included) are dbgd's`);
const up = unitProblems(unitText, flagsText, flags);
for (const p of up) fail(`unit: ${p}`);
if (!up.length) pass("the sandbox leaves ptrace, personality and the debugged programs alone; the flags write only where the unit allows");
await startWith(flagsText);
const security = run(["systemd-analyze", "security", "--offline=true", "--no-pager", path.join(TMP, "dbgd.service")]);
const level = /Overall exposure level for \S+: (.*)/.exec(security.out)?.[1];
if (level) console.log(`info: systemd-analyze security --offline: ${level}`);

const mutations = [
  ["a misspelt unit key", "Unknown key", () => verify(unitText.replace("ProtectSystem=strict", "ProtectSytem=strict"))],
  ["a bad unit value", "Failed to parse", () => verify(unitText.replace("Type=exec", "Type=exe"))],
  ["ExecStart changed", "ExecStart is not", () => verify(unitText.replace("--flagfile=/etc/dbgd/flags", "--flagfile=/etc/dbgd.flags"))],
  ["a misspelt flag", "unknown flag --metrics_listn", () => flagProblems(flagsText.replace("--metrics_listen", "--metrics_listn"), flags).join("\n")],
  ["a misspelt commented-out flag", "unknown flag --discovery_lsten", () => flagProblems(flagsText.replace("# --discovery_listen", "# --discovery_lsten"), flags).join("\n")],
  ["a value dbgd cannot parse", "shutdown_grace", () => flagProblems(flagsText.replace("--shutdown_grace=10s", "--shutdown_grace=ten"), flags).join("\n")],
  ["LockPersonality=yes", "LockPersonality", () => unitProblems(unitText.replace("[Install]", "[Service]\nLockPersonality=yes\n[Install]"), flagsText, flags).join("\n")],
  ["a filter denying @debug", "denies ptrace", () => unitProblems(unitText.replace("~@clock", "~@debug @clock"), flagsText, flags).join("\n")],
  ["an allow-list filter", "allow-list", () => unitProblems(unitText.replace("SystemCallFilter=~@clock", "SystemCallFilter=@system-service\nSystemCallFilter=~@clock"), flagsText, flags).join("\n")],
  ["the audit log outside LogsDirectory", "outside the unit's writable", () => unitProblems(unitText, flagsText.replace("/var/log/dbgd/audit.jsonl", "/var/log/dbgd-audit.jsonl"), flags).join("\n")],
  ["no RuntimeDirectory", "control_listen=/run/dbgd/control.sock is outside", () => unitProblems(unitText.replace("RuntimeDirectory=dbgd\n", ""), flagsText, flags).join("\n")],
  ["Restart=always", "Restart=", () => unitProblems(unitText.replace("Restart=on-failure", "Restart=always"), flagsText, flags).join("\n")],
];
for (const [what, expect, f] of mutations) {
  const out = f() || "";
  if (out.includes(expect)) pass(`caught: ${what}`);
  else fail(`not caught: ${what} (expected "${expect}" in ${JSON.stringify(out)})`);
}

fs.rmSync(TMP, { recursive: true, force: true });
console.log(failures ? `${failures} check(s) failed` : "all checks passed");
process.exitCode = failures ? 1 : 0;
