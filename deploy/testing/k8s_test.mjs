#!/usr/bin/env node
// The Kubernetes manifests of deploy/k8s, checked offline (no cluster):
//   1. every YAML document parses (YAML 1.1, as kubectl reads it) and passes
//      its kind's schema (npm kubernetes-models) with no unknown field;
//   2. the rules of k8s_checks.mjs: every dbgd flag (ConfigMap flagfile and
//      container args) is one `dbgd --helpfull` lists, ports and probes
//      match the flags, the token file is readable and accepted, the
//      registry names the etcd StatefulSet, capabilities are exactly what
//      attaching needs, Services reach container ports;
//   3. dbgd's own flag parser reads each dbgd container's flags unchanged
//      (--only_check_args);
//   4. the real etcd and dbgd start with those flags and args: addresses
//      moved to loopback ports, paths into a temporary directory, $(VARS)
//      as the downward API would set them; then every probe is asked of
//      the running daemons, the control plane takes the token (and refuses
//      a call without it), metrics answer, and a server created on one
//      daemon is found through the other's discovery (dbgremote -QR);
//   5. the checks fail when the manifests are wrong: each mutation below
//      breaks one thing and must be reported.
//
// Usage: k8s_test.mjs DBGD DBGCTL DBGREMOTE VERSION_FILE K8S_DIR

import { spawn, spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { dbgdParses, flagValues, helpFlags, listenPort } from "./dbgd_flags.mjs";
import { DBGD_IMAGE, FLAGFILE, checkManifests, dbgdEntries, flagfileOf } from "./k8s_checks.mjs";
import { containersOf, loadManifests, podSpec, secretFile } from "./k8s_manifests.mjs";

const [DBGD, DBGCTL, DBGREMOTE, VERSION_FILE, K8S_DIR] = process.argv.slice(2).map((p) => path.resolve(p));
const TMP = fs.mkdtempSync(path.join(process.env.TEST_TMPDIR || "/tmp", "k8s-"));
const ETCD = "/usr/bin/etcd";

let failures = 0;
function fail(message) {
  failures++;
  console.log(`FAIL: ${message}`);
}
function pass(message) {
  console.log(`ok: ${message}`);
}

const etcdVersion = /etcd Version: (\S+)/.exec(spawnSync(ETCD, ["--version"], { encoding: "utf8" }).stdout)?.[1];
const ctx = {
  flags: helpFlags(DBGD),
  version: fs.readFileSync(VERSION_FILE, "utf8").trim(),
  etcdVersion,
  partials: { "examples/debug-container.yaml": { apiVersion: "v1", kind: "Container" } },
};
const manifests = loadManifests(K8S_DIR);
const workloads = manifests.filter((m) => m.doc && ["Deployment", "DaemonSet", "StatefulSet", "Pod"].includes(m.doc.kind));
const find = (kind, name) => manifests.find((m) => m.doc?.kind === kind && m.doc.metadata?.name === name);

// --- 1, 2: schema and rules ------------------------------------------------

const problems = await checkManifests(manifests, ctx);
for (const p of problems) fail(p);
if (!problems.length) pass(`${manifests.length} documents in ${new Set(manifests.map((m) => m.file)).size} files: schema, flags, ports, probes, token, registry, capabilities, Services`);
for (const kind of ["Namespace", "ConfigMap", "Deployment", "DaemonSet", "Service", "StatefulSet", "Secret"]) {
  if (!manifests.some((m) => m.doc?.kind === kind)) fail(`no ${kind} in ${K8S_DIR}`);
}

// --- 5: the checks catch what is wrong ---------------------------------------

const mutations = [
  ["a misspelt flag in the ConfigMap", "unknown flag --discovery_listn",
    (ms) => { const cm = ms.find((m) => m.file === "configmap.yaml").doc; cm.data.flags = cm.data.flags.replace("--discovery_listen=", "--discovery_listn="); }],
  ["a misspelt flag in the container args", "unknown flag --advertise_hots",
    (ms) => { podSpec(ms.find((m) => m.doc?.kind === "DaemonSet").doc).containers[0].args[0] = "--advertise_hots=$(POD_IP)"; }],
  ["a --noFLAG for a flag that is not a bool", "is not a bool flag",
    (ms) => { const cm = ms.find((m) => m.file === "configmap.yaml").doc; cm.data.flags += "--nolog_level\n"; }],
  ["a discovery containerPort that is not the --discovery_listen port", "containerPort discovery is 7702",
    (ms) => { podSpec(ms.find((m) => m.doc?.kind === "Deployment").doc).containers[0].ports.find((p) => p.name === "discovery").containerPort = 7702; }],
  ["a probe on a port nothing serves health on", "grpc port 9464 is neither",
    (ms) => { podSpec(ms.find((m) => m.doc?.kind === "Deployment").doc).containers[0].readinessProbe.grpc.port = 9464; }],
  ["a probe service the discovery listener does not answer", "dbgd.v1.Control",
    (ms) => { podSpec(ms.find((m) => m.doc?.kind === "DaemonSet").doc).containers[0].readinessProbe.grpc.service = "dbgd.v1.Control"; }],
  ["a misspelt schema field", "unknown field /spec/template/spec/containers/0/readynessProbe",
    (ms) => { const c = podSpec(ms.find((m) => m.doc?.kind === "Deployment").doc).containers[0]; c.readynessProbe = c.readinessProbe; delete c.readinessProbe; }],
  ["a port given as a string", "must be integer",
    (ms) => { podSpec(ms.find((m) => m.doc?.kind === "Deployment").doc).containers[0].ports[0].containerPort = "7700"; }],
  ["fsGroup on the DaemonSet (its token becomes 0440)", "readable by group or others",
    (ms) => { podSpec(ms.find((m) => m.doc?.kind === "DaemonSet").doc).securityContext.fsGroup = 0; }],
  ["the Deployment reading the Secret directly", "readable by group or others",
    (ms) => { const pod = podSpec(ms.find((m) => m.doc?.kind === "Deployment").doc); pod.containers[0].volumeMounts.find((v) => v.name === "control-token").name = "control-token-secret"; }],
  ["the Deployment without fsGroup (uid 10001 cannot read the root-owned Secret)", "cannot read",
    (ms) => { delete podSpec(ms.find((m) => m.doc?.kind === "Deployment").doc).securityContext.fsGroup; }],
  ["a token copied with mode 0440", "readable by group or others",
    (ms) => { podSpec(ms.find((m) => m.doc?.kind === "Deployment").doc).initContainers[0].command[2] = "0440"; }],
  ["SYS_PTRACE in the restricted namespace", "restricted refuses capability SYS_PTRACE",
    (ms) => { podSpec(ms.find((m) => m.doc?.kind === "Deployment").doc).containers[0].securityContext.capabilities.add = ["SYS_PTRACE"]; }],
  ["SYS_PTRACE for a non-root DaemonSet", "SYS_PTRACE for uid 10001",
    (ms) => { podSpec(ms.find((m) => m.doc?.kind === "DaemonSet").doc).securityContext.runAsUser = 10001; }],
  ["a DaemonSet without SYS_PTRACE", "lacks SYS_PTRACE",
    (ms) => { delete podSpec(ms.find((m) => m.doc?.kind === "DaemonSet").doc).containers[0].securityContext.capabilities.add; }],
  ["capabilities not dropped", "must drop ALL",
    (ms) => { podSpec(ms.find((m) => m.doc?.kind === "DaemonSet").doc).containers[0].securityContext.capabilities.drop = []; }],
  ["a Service targetPort no container has", "targetPort dbg-5010",
    (ms) => { ms.find((m) => m.file === "service.yaml").doc.spec.ports.at(-1).targetPort = "dbg-5010"; }],
  ["a registry host the StatefulSet does not make", "no pod etcd-1",
    (ms) => { const cm = ms.find((m) => m.file === "configmap.yaml").doc; cm.data.flags = cm.data.flags.replace("etcd://etcd-0.", "etcd://etcd-1."); }],
  ["a registry port etcd does not listen on", "--registry port 2380 reaches container port 2380",
    (ms) => { const cm = ms.find((m) => m.file === "node/configmap.yaml").doc; cm.data.flags = cm.data.flags.replace("cluster.local:2379", "cluster.local:2380"); }],
  ["an env var the container does not have", "$(POD_IPP)",
    (ms) => { podSpec(ms.find((m) => m.doc?.kind === "Deployment").doc).containers[0].args[0] = "--advertise_host=$(POD_IPP)"; }],
  ["a ConfigMap key that does not exist", "has no key flag",
    (ms) => { podSpec(ms.find((m) => m.doc?.kind === "Deployment").doc).volumes.find((v) => v.name === "flags").configMap.items[0].key = "flag"; }],
  ["an image that is not this release", "is not this release",
    (ms) => { podSpec(ms.find((m) => m.doc?.kind === "DaemonSet").doc).containers[0].image = "registry.example.com/dbgd:0.11.0"; }],
  ["no --advertise_host", "no --advertise_host",
    (ms) => { podSpec(ms.find((m) => m.doc?.kind === "DaemonSet").doc).containers[0].args = []; }],
  ["an etcd member list that is not the StatefulSet's", "--initial-cluster",
    (ms) => { ms.find((m) => m.doc?.kind === "StatefulSet").doc.spec.replicas = 3; }],
  ["a Service selecting nothing", "selects no pod",
    (ms) => { ms.find((m) => m.file === "service.yaml").doc.spec.selector["app.kubernetes.io/component"] = "demon"; }],
];
for (const [what, expect, mutate] of mutations) {
  const copy = structuredClone(manifests);
  mutate(copy);
  const found = await checkManifests(copy, ctx);
  if (found.some((p) => p.includes(expect))) pass(`caught: ${what}`);
  else fail(`not caught: ${what} (expected a problem with "${expect}", got ${JSON.stringify(found)})`);
}

// --- 3: dbgd's own parser, flags unchanged ---------------------------------

const SAMPLE_ENV = { POD_IP: "10.244.1.7", NODE_NAME: "node-1", POD_NAME: "etcd-0" };
const expand = (s, env) => s.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (all, v) => env[v] ?? all);
const dbgdContainers = [];
for (const m of workloads) {
  for (const { container } of containersOf(m.doc)) {
    if (!DBGD_IMAGE.test(container.image || "") || container.command) continue;
    dbgdContainers.push({ m, container });
    const ff = flagfileOf(new Map(manifests.filter((x) => x.doc?.kind).map((x) => [`${x.doc.kind}/${x.doc.metadata?.namespace ?? ""}/${x.doc.metadata?.name}`, x])), m, container);
    const r = dbgdParses(DBGD, ff.text ?? null, (container.args || []).map((a) => expand(a, SAMPLE_ENV)));
    if (r.ok) pass(`dbgd --only_check_args reads ${m.file} container ${container.name}${ff.text ? " with its flagfile" : ""}`);
    else fail(`dbgd refused the flags of ${m.file} container ${container.name}:\n${r.output}`);
  }
}
{
  const bad = dbgdParses(DBGD, "--registry_ttl=10 seconds\n", []);
  if (!bad.ok && bad.output.includes("registry_ttl")) pass("caught: a value dbgd cannot parse (--registry_ttl=10 seconds)");
  else fail(`--only_check_args accepted --registry_ttl=10 seconds:\n${bad.output}`);
}

// --- 4: start them -------------------------------------------------------

const children = [];
process.on("exit", () => { for (const c of children) if (c.exitCode === null) c.kill("SIGKILL"); });

async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function start(name, argv, options) {
  const log = fs.openSync(path.join(TMP, `${name}.log`), "w");
  const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", log, log], ...options });
  child.logFile = path.join(TMP, `${name}.log`);
  child.exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  children.push(child);
  return child;
}
const logOf = (child) => fs.readFileSync(child.logFile, "utf8");

async function stop(child, what) {
  if (child.exitCode !== null) return fail(`${what} had already exited (${child.exitCode}):\n${logOf(child)}`);
  child.kill("SIGTERM");
  const r = await Promise.race([child.exited, sleep(20000).then(() => null)]);
  if (r && r.code === 0) pass(`${what} exits 0 on SIGTERM`);
  else fail(`${what} on SIGTERM: ${JSON.stringify(r)}\n${logOf(child)}`);
}

function httpGet(port, p) {
  return new Promise((resolve) => {
    http.get({ host: "127.0.0.1", port, path: p, timeout: 3000 }, (res) => {
      let body = "";
      res.on("data", (d) => { body += d; });
      res.on("end", () => resolve({ status: res.statusCode, body }));
    }).on("error", (e) => resolve({ status: 0, body: String(e) }));
  });
}

function run(argv, options = {}) {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8", timeout: 30000, ...options });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

// Moves a value off the cluster: HOST:PORT on every interface to loopback
// and this instance's port; a host of `remote` to that instance; a path
// under one of the container's mounts into the instance's directory.
function relocate(value, inst) {
  let v = value.replace(/(\b(?:\d{1,3}(?:\.\d{1,3}){3})|\[[0-9a-fA-F:]*\]|\b[a-z0-9][a-z0-9.-]*[a-z0-9])\:(\d+)\b/g, (all, host, port) => {
    // A port that is no containerPort (a problem reported above) still
    // stays off the machine's real interfaces.
    if (host === "0.0.0.0" || host === "[::]") return `127.0.0.1:${inst.ports.get(Number(port)) ?? 0}`;
    const remote = inst.remote.get(host);
    if (remote && remote.ports.has(Number(port))) return `127.0.0.1:${remote.ports.get(Number(port))}`;
    return all;
  });
  // One pass, longest mount first, so /run/dbgd-token is not also taken
  // for /run/dbgd.
  if (inst.mounts.length) {
    const alt = inst.mounts.map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|");
    v = v.replace(new RegExp(`(^|[=,])(${alt})(?=/|$|,)`, "g"), (all, pre, mount) => `${pre}${path.join(inst.root, mount)}`);
  }
  return v;
}

async function instance(name, container, env, remote) {
  const ports = new Map();
  for (const p of container.ports || []) ports.set(p.containerPort, await freePort());
  const root = path.join(TMP, name);
  fs.mkdirSync(root, { recursive: true });
  const mounts = (container.volumeMounts || []).map((v) => v.mountPath).sort((a, b) => b.length - a.length);
  return { name, container, env, remote, ports, root, mounts };
}

// A secret volume as kubelet lays it out: the files in a timestamped
// directory, ..data pointing at it, and each key a symlink through ..data.
function writeSecretVolume(dir, files) {
  const stamp = "..2024_01_01_00_00_00.000000001";
  fs.mkdirSync(path.join(dir, stamp), { recursive: true });
  for (const [key, { content, mode }] of Object.entries(files)) {
    fs.writeFileSync(path.join(dir, stamp, key), content);
    fs.chmodSync(path.join(dir, stamp, key), mode);
    fs.symlinkSync(path.join("..data", key), path.join(dir, key));
  }
  fs.symlinkSync(stamp, path.join(dir, "..data"));
}

const TOKEN = crypto.randomBytes(32).toString("hex");

// Lays out one dbgd pod's volumes and runs its init containers.
function preparePod(m, inst) {
  const pod = podSpec(m.doc);
  const byKey = new Map(manifests.filter((x) => x.doc?.kind).map((x) => [`${x.doc.kind}/${x.doc.metadata?.namespace ?? ""}/${x.doc.metadata?.name}`, x]));
  const lay = (container, instRoot) => {
    for (const vm of container.volumeMounts || []) {
      const volume = pod.volumes.find((v) => v.name === vm.name);
      const target = path.join(instRoot, vm.mountPath);
      if (volume.configMap) {
        const cm = byKey.get(`ConfigMap/${m.doc.metadata.namespace}/${volume.configMap.name}`).doc;
        const item = volume.configMap.items.find((i) => i.path === (vm.subPath || "flags"));
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.writeFileSync(target, relocate(cm.data[item.key], inst));
      } else if (volume.secret) {
        if (fs.existsSync(target)) continue;
        const files = {};
        for (const item of volume.secret.items || []) files[item.path] = { content: `${TOKEN}\n`, mode: secretFile(pod, volume, item.key).mode };
        writeSecretVolume(target, files);
      } else if (volume.emptyDir) {
        // One directory per volume, shared by the containers that mount it.
        const shared = path.join(inst.root, "volumes", volume.name);
        fs.mkdirSync(shared, { recursive: true });
        fs.mkdirSync(path.dirname(target), { recursive: true });
        if (!fs.existsSync(target)) fs.symlinkSync(shared, target);
      }
    }
  };
  lay(inst.container, inst.root);
  for (const init of pod.initContainers || []) {
    lay(init, inst.root);
    const initInst = { ...inst, mounts: (init.volumeMounts || []).map((v) => v.mountPath).sort((a, b) => b.length - a.length) };
    const argv = [...init.command, ...(init.args || [])].map((a) => relocate(a, initInst));
    const r = run(argv);
    if (r.code === 0) pass(`${m.file}: init container ${init.name} ran: ${argv.join(" ").split(TMP).join("$TMP")}`);
    else fail(`${m.file}: init container ${init.name}: ${argv.join(" ")}: ${r.out}`);
  }
}

async function waitFor(what, f, ms = 20000, gone = () => false) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await f()) return true;
    if (gone()) break;
    await sleep(200);
  }
  fail(gone() ? `gave up waiting for ${what}: the process exited` : `timed out waiting for ${what}`);
  return false;
}

async function startStage() {
  // etcd, from the StatefulSet's args.
  const sts = manifests.find((m) => m.doc?.kind === "StatefulSet");
  const etcdC = podSpec(sts.doc).containers[0];
  const etcdEnv = { POD_NAME: `${sts.doc.metadata.name}-0` };
  const etcdInst = await instance("etcd", etcdC, etcdEnv, new Map());
  // Each etcd DNS name the manifests use reaches this instance.
  const svcHost = `${etcdEnv.POD_NAME}.${sts.doc.spec.serviceName}.${sts.doc.metadata.namespace}.svc.cluster.local`;
  etcdInst.remote.set(svcHost, etcdInst);
  const etcdArgv = [ETCD, ...etcdC.args.map((a) => relocate(expand(a, etcdEnv), etcdInst))];
  const etcd = start("etcd", etcdArgv, {});
  const probe = etcdC.readinessProbe.httpGet;
  const etcdUp = await waitFor("etcd's readiness probe", async () => {
    const r = await httpGet(etcdInst.ports.get(probe.port), probe.path);
    return r.status === 200 && r.body.includes('"health":"true"');
  }, 20000, () => etcd.exitCode !== null);
  if (!etcdUp) { fail(`etcd: ${etcdArgv.join(" ")}\n${logOf(etcd)}`); etcd.kill("SIGKILL"); return; }
  pass(`etcd started with the StatefulSet's args; its readiness probe GET ${probe.path} answers`);

  const remote = new Map([[svcHost, etcdInst]]);
  const running = [];
  const hosts = ["127.0.0.1", "127.0.0.2"];
  for (const { m, container } of dbgdContainers) {
    if (m.doc.kind === "Pod") continue;  // the example sidecar: no flagfile, started by hand
    const env = { POD_IP: hosts[running.length], NODE_NAME: "node-1" };
    const inst = await instance(`${m.doc.kind}-${m.doc.metadata.name}`.toLowerCase(), container, env, remote);
    preparePod(m, inst);
    // The image's entrypoint: --flagfile=/etc/dbgd/flags when it exists,
    // then the container's args.
    const flagfile = path.join(inst.root, FLAGFILE);
    const argv = [DBGD, ...(fs.existsSync(flagfile) ? [`--flagfile=${flagfile}`] : []),
      ...(container.args || []).map((a) => relocate(expand(a, env), inst))];
    // /run/dbgd (the npipe directory's default) is where the pod mounts it.
    const child = start(inst.name, argv, { cwd: inst.root, env: { ...process.env, XDG_RUNTIME_DIR: path.join(inst.root, "run") } });
    const values = flagValues(dbgdEntries(new Map(manifests.filter((x) => x.doc?.kind).map((x) => [`${x.doc.kind}/${x.doc.metadata?.namespace ?? ""}/${x.doc.metadata?.name}`, x])), m, container).entries, ctx.flags);
    const disc = inst.ports.get(listenPort(values.get("discovery_listen")));
    const up = await waitFor(`${inst.name} to serve health`, async () =>
      child.exitCode === null && run([DBGCTL, `--addr=127.0.0.1:${disc}`, "health"]).code === 0,
    20000, () => child.exitCode !== null);
    if (!up) { fail(`${inst.name}: ${argv.join(" ")}\n${logOf(child)}`); continue; }
    pass(`${m.file}: dbgd started with the ConfigMap's flagfile and the container's args`);
    running.push({ m, container, inst, child, values, host: env.POD_IP });
  }

  for (const r of running) {
    const c = r.container;
    // Every probe, asked of the running daemon.
    for (const [kind, p] of [["readinessProbe", c.readinessProbe], ["livenessProbe", c.livenessProbe]]) {
      const service = p.grpc.service ?? "";
      const res = run([DBGCTL, `--addr=127.0.0.1:${r.inst.ports.get(p.grpc.port)}`, "health", ...(service ? [service] : [])]);
      if (res.code === 0 && res.out.includes("SERVING")) pass(`${r.m.file}: ${kind} (grpc port ${p.grpc.port}, service "${service}") answers SERVING`);
      else fail(`${r.m.file}: ${kind} grpc port ${p.grpc.port} service "${service}": ${res.out}`);
    }
    // The control plane takes the token from the Secret and refuses a call without it.
    const control = `127.0.0.1:${r.inst.ports.get(listenPort(r.values.get("control_listen")))}`;
    const tokenFile = path.join(TMP, "operator-token");
    fs.writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    const withToken = run([DBGCTL, `--addr=${control}`, `--token_file=${tokenFile}`, "sessions"]);
    const without = run([DBGCTL, `--addr=${control}`, "sessions"]);
    if (withToken.code === 0 && without.code === 1 && /UNAUTHENTICATED/.test(without.out)) pass(`${r.m.file}: control port takes the Secret's token and refuses a call without it`);
    else fail(`${r.m.file}: control with token: ${withToken.code} ${withToken.out}; without: ${without.code} ${without.out}`);
    const metrics = await httpGet(r.inst.ports.get(listenPort(r.values.get("metrics_listen"))), "/metrics");
    if (metrics.status === 200 && metrics.body.includes("dbgd_build_info")) pass(`${r.m.file}: metrics port answers /metrics`);
    else fail(`${r.m.file}: metrics: ${metrics.status} ${metrics.body.slice(0, 200)}`);
  }

  // A server on the first daemon, found through the second's discovery:
  // both registered in the etcd the StatefulSet runs.
  if (running.length === 2) {
    const [a, b] = running;
    const tokenFile = path.join(TMP, "operator-token");
    const control = `127.0.0.1:${a.inst.ports.get(listenPort(a.values.get("control_listen")))}`;
    const port = await freePort();
    const s = run([DBGCTL, `--addr=${control}`, `--token_file=${tokenFile}`, "create-session", "--launch=/bin/sleep", "--", "60"]);
    const v = run([DBGCTL, `--addr=${control}`, `--token_file=${tokenFile}`, "create-server", `tcp:port=${port}`]);
    const discB = `127.0.0.1:${b.inst.ports.get(listenPort(b.values.get("discovery_listen")))}`;
    let qr;
    await waitFor("the server in the other daemon's search", async () => {
      qr = run([DBGREMOTE, `--discovery=${discB}`, "-QR", a.host]);
      return qr.code === 0 && qr.out.includes(`tcp:Port=${port}`);
    }, 15000);
    if (qr.code === 0 && qr.out.includes(`Servers on \\\\${a.host}`) && qr.out.includes(`tcp:Port=${port}`)) {
      pass(`dbgremote -QR ${a.host} through ${b.m.file}'s discovery lists ${a.m.file}'s server:\n${qr.out.trim()}`);
    } else {
      fail(`discovery across daemons: session ${s.out} server ${v.out} -QR ${qr.code} ${qr.out}`);
    }
  } else {
    fail(`expected two dbgd workloads to start (Deployment and DaemonSet), got ${running.length}`);
  }

  // The example Secret's placeholder is refused, as its comment says.
  {
    const secret = manifests.find((m) => m.doc?.kind === "Secret").doc;
    const placeholder = path.join(TMP, "placeholder-token");
    fs.writeFileSync(placeholder, secret.stringData.token, { mode: 0o400 });
    const r = run([DBGD, `--control_listen=127.0.0.1:${await freePort()}`, `--control_token_file=${placeholder}`, "--registry=embedded", `--pipe_dir=${path.join(TMP, "pipes")}`], { timeout: 10000 });
    if (r.code !== 0 && r.out.includes("shorter than 16 characters")) pass("the example Secret's placeholder token is refused by dbgd");
    else fail(`the placeholder token ${JSON.stringify(secret.stringData.token)} was not refused: ${r.code} ${r.out}`);
  }

  for (const r of running) await stop(r.child, `${r.m.file} dbgd`);
  etcd.kill("SIGTERM");
  await Promise.race([etcd.exited, sleep(10000)]);
}

try {
  await startStage();
} catch (e) {
  fail(`starting etcd and dbgd from the manifests: ${e.stack}`);
}
fs.rmSync(TMP, { recursive: true, force: true });
console.log(failures ? `${failures} check(s) failed` : "all checks passed");
process.exitCode = failures ? 1 : 0;
