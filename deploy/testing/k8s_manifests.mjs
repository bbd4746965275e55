// k8s_manifests.mjs: load Kubernetes manifests and check them offline.
//
//   loadManifests(dir)  -> [{file, index, doc}] for every YAML document of
//                          every .yaml file under dir, parsed as kubectl
//                          parses them (YAML 1.1: `0400` is octal)
//   schemaProblems(m)   -> ["problem", ...]: the JSON schema of its kind
//                          (npm kubernetes-models, the OpenAPI schema of the
//                          Kubernetes API) and, as `kubectl apply
//                          --validate=strict` would, no field the schema
//                          does not know (kubernetes-models' own validation
//                          lets unknown fields through)
//   podSpec(doc), podTemplateLabels(doc), containersOf(doc): workload helpers
//   secretFile(pod, volume, item) -> {uid, gid, mode}: the file kubelet
//                          writes for a secret volume item
//
// The packages come from NODE_PATH (default /usr/local/lib/dbgd-node/node_modules).

import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

export const NODE_MODULES = (process.env.NODE_PATH || "/usr/local/lib/dbgd-node/node_modules").split(":")[0];

async function importPackage(rel) {
  return import(pathToFileURL(path.join(NODE_MODULES, rel)).href);
}

const YAML = (await importPackage("yaml/dist/index.js")).default;

export function loadManifests(dir) {
  const out = [];
  const walk = (d) => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name);
      if (fs.statSync(p).isDirectory()) walk(p);
      else if (name.endsWith(".yaml") || name.endsWith(".yml")) {
        const text = fs.readFileSync(p, "utf8");
        const docs = YAML.parseAllDocuments(text, { version: "1.1", uniqueKeys: true });
        docs.forEach((d, index) => {
          const rel = path.relative(dir, p);
          if (d.errors.length) {
            out.push({ file: rel, index, doc: null, errors: d.errors.map((e) => e.message) });
            return;
          }
          const doc = d.toJS();
          if (doc !== null) out.push({ file: rel, index, doc, errors: [] });
        });
      }
    }
  };
  walk(dir);
  return out;
}

export function describe(m) {
  const d = m.doc || {};
  const name = d.metadata?.name ? ` ${d.metadata.name}` : "";
  return `${m.file}#${m.index} (${d.kind || "?"}${name})`;
}

// --- the JSON schema (ajv, compiled into kubernetes-models) -------------

function modelPath(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : [null, apiVersion];
  return path.join("kubernetes-models", ...(group ? [group, version] : [version]), `${kind}.js`);
}

export async function validateAs(doc, apiVersion, kind) {
  const rel = modelPath(apiVersion, kind);
  if (!fs.existsSync(path.join(NODE_MODULES, rel))) return [`no schema for ${apiVersion} ${kind}`];
  const mod = await importPackage(rel);
  const Model = mod[kind];
  const problems = [];
  try {
    new Model(doc).validate();
  } catch (e) {
    problems.push(`schema: ${e.message}`);
  }
  const dts = path.join(NODE_MODULES, rel.replace(/\.js$/, ".d.ts"));
  strictFields(doc, typeOfFile(dts), "", problems);
  return problems;
}

// --- unknown fields, from the TypeScript declarations --------------------

const fileCache = new Map();

function resolveImport(fromFile, spec) {
  if (spec.startsWith(".")) return path.resolve(path.dirname(fromFile), spec.replace(/\.js$/, ".d.ts"));
  return path.join(NODE_MODULES, `${spec.replace(/\.js$/, "")}.d.ts`);
}

// Parses one declaration file: its imports and its interfaces' fields.
function parseDts(file) {
  if (fileCache.has(file)) return fileCache.get(file);
  const text = fs.readFileSync(file, "utf8").replace(/\/\*\*[\s\S]*?\*\//g, "");
  const imports = new Map();
  for (const m of text.matchAll(/^import \{ ([^}]+) \} from "([^"]+)";/gm)) {
    for (const name of m[1].split(",").map((s) => s.trim())) imports.set(name, m[2]);
  }
  const interfaces = new Map();
  for (const m of text.matchAll(/^export interface (\w+)(?: extends [^{]+)? \{\n([\s\S]*?)^\}/gm)) {
    const fields = new Map();
    const lines = m[2].split("\n");
    for (let i = 0; i < lines.length; i++) {
      const f = /^ {4}"([^"]+)"\??: (.*)$/.exec(lines[i]);
      if (!f) continue;
      let type = f[2];
      if (type === "{") {
        // A map: { [key: string]: T; }
        const inner = [];
        for (i++; i < lines.length && !/^ {4}\};/.test(lines[i]); i++) inner.push(lines[i].trim());
        const v = /^\[key: string\]: (.*);$/.exec(inner.join(" "));
        fields.set(f[1], { map: v ? v[1] : "unknown" });
      } else {
        fields.set(f[1], { type: type.replace(/;$/, "") });
      }
    }
    interfaces.set(m[1], fields);
  }
  const aliases = new Map();
  for (const m of text.matchAll(/^export type \{ (\w+) as (\w+)/gm)) aliases.set(m[2], m[1]);
  const parsed = { file, imports, interfaces, aliases };
  fileCache.set(file, parsed);
  return parsed;
}

function typeOfFile(file) {
  const parsed = parseDts(file);
  const first = parsed.interfaces.keys().next().value;
  return first ? { file, name: first } : null;
}

// Resolves a type expression from `file` to an interface, an array or map
// of one, or null (a leaf: string, number, a union of literals...).
function resolveType(file, expr) {
  expr = expr.trim();
  const arr = /^Array<(.*)>$/.exec(expr);
  if (arr) return { array: resolveType(file, arr[1]) };
  if (!/^\w+$/.test(expr)) return null;
  const parsed = parseDts(file);
  if (parsed.interfaces.has(expr)) return { file, name: expr };
  const spec = parsed.imports.get(expr);
  if (!spec) return null;
  const target = resolveImport(file, spec);
  if (!fs.existsSync(target)) return null;
  const other = parseDts(target);
  const name = other.aliases.get(expr) || other.interfaces.keys().next().value;
  return other.interfaces.has(name) ? { file: target, name } : null;
}

function strictFields(value, type, at, problems) {
  if (!type || value === null || value === undefined) return;
  if (type.array) {
    if (Array.isArray(value)) value.forEach((v, i) => strictFields(v, type.array, `${at}/${i}`, problems));
    return;
  }
  if (type.map) {
    if (typeof value === "object") for (const [k, v] of Object.entries(value)) strictFields(v, type.map, `${at}/${k}`, problems);
    return;
  }
  if (typeof value !== "object" || Array.isArray(value)) return;
  const fields = parseDts(type.file).interfaces.get(type.name);
  for (const [key, v] of Object.entries(value)) {
    const field = fields.get(key);
    if (!field) {
      problems.push(`unknown field ${at}/${key} (${type.name.replace(/^I/, "")} has ${[...fields.keys()].join(", ")})`);
      continue;
    }
    if (field.map !== undefined) {
      const inner = resolveType(type.file, field.map);
      if (inner) strictFields(v, { map: inner }, `${at}/${key}`, problems);
    } else {
      strictFields(v, resolveType(type.file, field.type), `${at}/${key}`, problems);
    }
  }
}

// A document without apiVersion/kind is a partial object; `partials` maps
// its file to the apiVersion and kind it is part of (checked for unknown
// fields only: a partial lacks required fields by design).
export async function schemaProblems(m, partials = {}) {
  if (m.errors.length) return m.errors.map((e) => `YAML: ${e}`);
  const doc = m.doc;
  if (typeof doc !== "object" || Array.isArray(doc)) return ["not a mapping"];
  if (!doc.apiVersion || !doc.kind) {
    const partial = partials[m.file];
    if (!partial) return ["no apiVersion/kind (and not a known partial spec)"];
    const rel = modelPath(partial.apiVersion, partial.kind);
    const problems = [];
    strictFields(doc, typeOfFile(path.join(NODE_MODULES, rel.replace(/\.js$/, ".d.ts"))), "", problems);
    return problems;
  }
  return validateAs(doc, doc.apiVersion, doc.kind);
}

// --- workloads ------------------------------------------------------------

export const WORKLOAD_KINDS = new Set(["Deployment", "DaemonSet", "StatefulSet", "ReplicaSet", "Job", "Pod"]);

export function podSpec(doc) {
  if (doc.kind === "Pod") return doc.spec;
  return doc.spec?.template?.spec;
}

export function podTemplateLabels(doc) {
  if (doc.kind === "Pod") return doc.metadata?.labels || {};
  return doc.spec?.template?.metadata?.labels || {};
}

export function containersOf(doc) {
  const spec = podSpec(doc) || {};
  return [
    ...(spec.initContainers || []).map((c) => ({ container: c, init: true })),
    ...(spec.containers || []).map((c) => ({ container: c, init: false })),
  ];
}

// The user a container's processes run as: the container's runAsUser, the
// pod's, else the image's (`imageUser`).
export function effectiveUser(pod, container, imageUser) {
  return container.securityContext?.runAsUser ?? pod.securityContext?.runAsUser ?? imageUser;
}

export function effectiveGroup(pod, container, imageGroup) {
  return container.securityContext?.runAsGroup ?? pod.securityContext?.runAsGroup ?? imageGroup;
}

// Kubelet writes a secret volume's files as root, with the item's mode or
// the volume's defaultMode (0644 if neither); with a pod fsGroup it then
// makes them group fsGroup and ORs in group read (0440: secret volumes are
// read-only), as its volume ownership code does.
export function secretFile(pod, volume, key) {
  const item = (volume.secret.items || []).find((i) => i.key === key);
  let mode = item?.mode ?? volume.secret.defaultMode ?? 0o644;
  const fsGroup = pod.securityContext?.fsGroup;
  let gid = 0;
  if (fsGroup !== undefined && fsGroup !== null) {
    gid = fsGroup;
    mode |= 0o440;
  }
  return { uid: 0, gid, mode };
}

// What kernel DAC lets a process with (uid, groups) and no capabilities do:
// read a file of (uid, gid, mode)?
export function canRead(file, uid, groups) {
  if (file.uid === uid) return (file.mode & 0o400) !== 0;
  if (groups.includes(file.gid)) return (file.mode & 0o040) !== 0;
  return (file.mode & 0o004) !== 0;
}
