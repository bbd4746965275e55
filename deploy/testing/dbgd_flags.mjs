#!/usr/bin/env node
// dbgd_flags.mjs: are these dbgd flags ones the real dbgd accepts?
//
// The deployment files (a Kubernetes ConfigMap and container args, the
// systemd example flagfile, a compose file) pass flags to dbgd. This
// module checks them against the dbgd binary itself, two ways:
//   1. by name, against what `dbgd --helpfull` lists: an unknown flag, a
//      --noNAME on a flag that is not a bool, a flag that needs a value and
//      has none, or a flag given twice is a problem, reported with where it
//      came from (file and line);
//   2. by value, by running `dbgd --flagfile=F ARGS... --only_check_args`:
//      dbgd's own flag parser reads everything (durations, numbers, bools)
//      and exits without starting. What is only checked when the daemon
//      starts (addresses, files, the registry URL) is not covered by this.
//
// Command line:
//   node dbgd_flags.mjs --dbgd=PATH [--flagfile=FILE]... [--commented]
//                       [--allow_repeats] [-- DBGD_ARG...]
// checks every FILE (one flag a line, `#` comments, as dbgd reads a
// flagfile) and then DBGD_ARGs; with --commented, commented-out flag lines
// (`# --NAME=VALUE`) are checked by name too, since operators uncomment
// them. Prints one line per problem and exits 1, or prints
// "N flags accepted by dbgd" and exits 0. Exit 2: usage.
//
// Module (import it from another test):
//   helpFlags(dbgdPath)                  -> Map name -> {name, bool, default}
//   parseFlagfile(text, {source, commented}) -> [{arg, source, line, commented}]
//   argEntries(args, source)             -> the same entries for an argv list
//   checkEntries(entries, flags, {allowRepeats}) -> ["problem", ...]
//   flagValues(entries, flags)           -> Map name -> value (bools "true"/"false")
//   dbgdParses(dbgdPath, flagfileText, args) -> {ok, output}
//   listenPort(address)                  -> the port of HOST:PORT / [V6]:PORT, else null

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

// Abseil's own flags, which --helpfull lists but which do not name dbgd
// settings, and the usage flags Abseil answers without listing them.
const ABSEIL_USAGE = new Set([
  "help", "helpfull", "helpshort", "helppackage", "helpon", "helpmatch",
  "only_check_args", "version",
]);

export function helpFlags(dbgdPath) {
  // Abseil's --helpfull prints to stdout and exits 1.
  const run = spawnSync(dbgdPath, ["--helpfull"], { encoding: "utf8", timeout: 30000 });
  if (run.error) throw run.error;
  const text = run.stdout;
  const flags = new Map();
  // Each flag starts a line: "    --NAME (help...); default: VALUE;" and
  // its help may wrap over several lines.
  const starts = [...text.matchAll(/^ {4}--([A-Za-z0-9_]+) \(/gm)];
  starts.forEach((match, i) => {
    const end = i + 1 < starts.length ? starts[i + 1].index : text.length;
    const entry = text.slice(match.index, end);
    const dflt = [...entry.matchAll(/default: (.*?);\s*$/gm)].pop();
    const value = dflt ? dflt[1] : "";
    flags.set(match[1], {
      name: match[1],
      bool: value === "true" || value === "false",
      default: value,
    });
  });
  if (!flags.has("control_listen") || !flags.has("flagfile")) {
    throw new Error(`${dbgdPath} --helpfull did not list dbgd's flags (exit ${run.status}):\n${text.slice(0, 2000)}${run.stderr}`);
  }
  return flags;
}

// One entry per flag argument; "--" ends the flags (what follows is a
// launched program's arguments) and other words are positional.
export function argEntries(args, source) {
  const entries = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--") break;
    entries.push({ arg: args[i], next: args[i + 1], source, line: i + 1, commented: false });
  }
  return entries;
}

export function parseFlagfile(text, { source = "flagfile", commented = false } = {}) {
  const entries = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "") return;
    if (line.startsWith("#")) {
      // "# --NAME=VALUE" is a flag an operator may turn on.
      const body = line.replace(/^#+\s*/, "");
      if (commented && /^--[A-Za-z]/.test(body) && !/\s/.test(body.split("=")[0])) {
        entries.push({ arg: body.split(/\s+#/)[0].trim(), source, line: i + 1, commented: true });
      }
      return;
    }
    // Abseil reads the whole line as one argument, "--NAME=VALUE".
    entries.push({ arg: line, source, line: i + 1, commented: false });
  });
  return entries;
}

export function splitArg(arg) {
  const m = /^(--?)([^=]*)(?:=(.*))?$/s.exec(arg);
  if (!m) return null;
  return { dashes: m[1], name: m[2], value: m[3] === undefined ? null : m[3] };
}

function where(entry) {
  return `${entry.source}:${entry.line}${entry.commented ? " (commented out)" : ""}`;
}

// Resolves an entry to [flag name, value] or a problem string.
function resolve(entry, flags, { fromFlagfile }) {
  if (!entry.arg.startsWith("-")) return { positional: true };
  const split = splitArg(entry.arg);
  const name = split.name;
  if (ABSEIL_USAGE.has(name)) {
    return { problem: `${where(entry)}: ${entry.arg} is a usage flag, not a setting` };
  }
  let flag = flags.get(name);
  if (flag) {
    if (split.value !== null) return { name, value: split.value };
    if (flag.bool) return { name, value: "true" };
    // In a flagfile a value must be on the same line; on a command line
    // it may be the next argument.
    if (!fromFlagfile && entry.next !== undefined) return { name, value: entry.next, consumesNext: true };
    return { problem: `${where(entry)}: --${name} needs a value (--${name}=VALUE)` };
  }
  if (name.startsWith("no") && (flag = flags.get(name.slice(2))) && flag.bool) {
    if (split.value !== null) return { problem: `${where(entry)}: --${name} takes no value` };
    return { name: name.slice(2), value: "false" };
  }
  if (name.startsWith("no") && flags.get(name.slice(2))) {
    return { problem: `${where(entry)}: --${name}: --${name.slice(2)} is not a bool flag` };
  }
  return { problem: `${where(entry)}: unknown flag --${name} (not in dbgd --helpfull)` };
}

function walk(entries, flags, visit) {
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i];
    // Entries from an argv list carry the argument after them.
    const fromFlagfile = !("next" in entry);
    const r = resolve(entry, flags, { fromFlagfile });
    visit(entry, r);
    if (r.consumesNext) i++;
  }
}

export function checkEntries(entries, flags, { allowRepeats = false } = {}) {
  const problems = [];
  const seen = new Map();
  walk(entries, flags, (entry, r) => {
    if (r.problem) problems.push(r.problem);
    if (!r.name || entry.commented) return;
    if (!allowRepeats && seen.has(r.name) && r.name !== "flagfile") {
      problems.push(`${where(entry)}: --${r.name} given again (first at ${where(seen.get(r.name))}); the last one wins`);
    }
    seen.set(r.name, entry);
  });
  return problems;
}

export function flagValues(entries, flags) {
  const values = new Map();
  walk(entries, flags, (entry, r) => {
    if (r.name && !entry.commented) values.set(r.name, r.value);
  });
  return values;
}

export function dbgdParses(dbgdPath, flagfileText, args) {
  const dir = fs.mkdtempSync(path.join(process.env.TEST_TMPDIR || os.tmpdir(), "dbgd-flags-"));
  try {
    const argv = [];
    if (flagfileText !== null && flagfileText !== undefined) {
      const file = path.join(dir, "flags");
      fs.writeFileSync(file, flagfileText);
      argv.push(`--flagfile=${file}`);
    }
    // --only_check_args goes before any "--": after it, arguments belong
    // to the launched program.
    const dash = args.indexOf("--");
    const before = dash < 0 ? args : args.slice(0, dash);
    const after = dash < 0 ? [] : args.slice(dash);
    argv.push(...before, "--only_check_args", ...after);
    const run = spawnSync(dbgdPath, argv, { encoding: "utf8", timeout: 30000 });
    return {
      ok: run.status === 0,
      output: `dbgd ${argv.join(" ")}\nexit ${run.status}${run.signal ? ` (${run.signal})` : ""}\n${run.stdout}${run.stderr}`,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function listenPort(address) {
  if (address === undefined || address === null || address.startsWith("unix:")) return null;
  const m = /^(?:\[[^\]]*\]|[^:\[\]]*):(\d+)$/.exec(address);
  return m ? Number(m[1]) : null;
}

function main(argv) {
  let dbgd = null;
  const files = [];
  let commented = false;
  let allowRepeats = false;
  let i = 0;
  for (; i < argv.length && argv[i] !== "--"; i++) {
    const a = argv[i];
    if (a.startsWith("--dbgd=")) dbgd = a.slice(7);
    else if (a.startsWith("--flagfile=")) files.push(a.slice(11));
    else if (a === "--commented") commented = true;
    else if (a === "--allow_repeats") allowRepeats = true;
    else {
      console.error(`dbgd_flags: unknown option ${a}\nusage: dbgd_flags.mjs --dbgd=PATH [--flagfile=FILE]... [--commented] [--allow_repeats] [-- DBGD_ARG...]`);
      return 2;
    }
  }
  const args = argv.slice(i + 1);
  if (!dbgd) {
    console.error("dbgd_flags: --dbgd=PATH is required");
    return 2;
  }
  const flags = helpFlags(dbgd);
  let entries = [];
  let text = "";
  for (const file of files) {
    const content = fs.readFileSync(file, "utf8");
    text += content.endsWith("\n") || content === "" ? content : `${content}\n`;
    entries = entries.concat(parseFlagfile(content, { source: file, commented }));
  }
  entries = entries.concat(argEntries(args, "args"));
  const problems = checkEntries(entries, flags, { allowRepeats });
  const parsed = dbgdParses(dbgd, files.length ? text : null, args);
  if (!parsed.ok) problems.push(`dbgd's own flag parser refused them:\n${parsed.output}`);
  for (const p of problems) console.log(p);
  if (problems.length) return 1;
  console.log(`${entries.filter((e) => e.arg.startsWith("-")).length} flags accepted by dbgd`);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === fs.realpathSync(process.argv[1])) {
  process.exitCode = main(process.argv.slice(2));
}
