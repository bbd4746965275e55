#!/usr/bin/env node
// The control token of each dbgd pod in deploy/k8s, with real users and
// real file ownership: the secret volume laid out as kubelet writes it
// (owner root, the volume's defaultMode, with an fsGroup group fsGroup
// and group read added), the init containers' commands run as their
// users, then dbgd started as the container's user and capabilities
// (setpriv) with --control_token_file where the pod has it. It must
// start. As controls, the choices the manifests avoid must fail for the
// reason docs/kubernetes.md gives: the Deployment's dbgd reading the
// mounted Secret directly (0440: refused), and uid 10001 reading a
// root-owned 0400 secret without fsGroup (cannot read).
//
// It runs outside Bazel's sandbox (tags = ["local"]), as root: the sandbox
// maps one uid only, so it could not switch users.
//
// Usage: k8s_token_test.mjs DBGD DBGCTL K8S_DIR

import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { flagValues, helpFlags } from "./dbgd_flags.mjs";
import { IMAGE_USER, dbgdEntries, DBGD_IMAGE } from "./k8s_checks.mjs";
import { containersOf, effectiveGroup, effectiveUser, loadManifests, podSpec, secretFile } from "./k8s_manifests.mjs";

const [DBGD_BUILT, DBGCTL, K8S_DIR] = process.argv.slice(2).map((p) => path.resolve(p));
let failures = 0;
const fail = (m) => { failures++; console.log(`FAIL: ${m}`); };
const pass = (m) => console.log(`ok: ${m}`);

if (process.getuid() !== 0) {
  console.log("FAIL: this test needs root (to lay out root-owned secrets and switch users)");
  process.exit(1);
}
// Every user must reach the files: a world-traversable directory under /tmp.
const ROOT = fs.mkdtempSync("/tmp/dbgd-k8s-token-");
fs.chmodSync(ROOT, 0o755);
const DBGD = path.join(ROOT, "dbgd");
fs.copyFileSync(DBGD_BUILT, DBGD);
fs.chmodSync(DBGD, 0o755);
const TOKEN = "0123456789abcdef0123456789abcdef";

const flags = helpFlags(DBGD);
const manifests = loadManifests(K8S_DIR);
const byKey = new Map(manifests.filter((x) => x.doc?.kind).map((x) => [`${x.doc.kind}/${x.doc.metadata?.namespace ?? ""}/${x.doc.metadata?.name}`, x]));

async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

// setpriv arguments for a container: its uid, gid, the pod's fsGroup and
// supplemental groups, and its capabilities (none unless added).
function asContainer(pod, c) {
  const uid = effectiveUser(pod, c, IMAGE_USER.uid);
  const gid = effectiveGroup(pod, c, IMAGE_USER.gid);
  const groups = [gid, ...(pod.securityContext?.fsGroup !== undefined ? [pod.securityContext.fsGroup] : []), ...(pod.securityContext?.supplementalGroups || [])];
  const caps = (c.securityContext?.capabilities?.add || []).map((x) => `+${x.toLowerCase()}`);
  return ["setpriv", `--reuid=${uid}`, `--regid=${gid}`, `--groups=${groups.join(",")}`,
    `--bounding-set=-all${caps.length ? `,${caps.join(",")}` : ""}`, "--inh-caps=-all", "--"];
}

// Lays out the pod's volumes under dir, as kubelet would, and returns a
// function from a container path to the path under dir.
function layOut(pod, dir) {
  const fsGroup = pod.securityContext?.fsGroup;
  const volumes = new Map();
  for (const v of pod.volumes || []) {
    const vdir = path.join(dir, "volumes", v.name);
    if (v.secret) {
      const stamp = path.join(vdir, "..2024_01_01_00_00_00.000000001");
      fs.mkdirSync(stamp, { recursive: true });
      for (const item of v.secret.items || []) {
        const f = secretFile(pod, v, item.key);
        fs.writeFileSync(path.join(stamp, item.path), `${TOKEN}\n`);
        fs.chownSync(path.join(stamp, item.path), f.uid, f.gid);
        fs.chmodSync(path.join(stamp, item.path), f.mode);
        fs.symlinkSync(path.join("..data", item.path), path.join(vdir, item.path));
      }
      fs.symlinkSync(path.basename(stamp), path.join(vdir, "..data"));
      for (const d of [vdir, stamp]) {
        fs.chownSync(d, 0, fsGroup ?? 0);
        fs.chmodSync(d, fsGroup !== undefined ? 0o2755 : 0o755);
      }
    } else if (v.emptyDir) {
      fs.mkdirSync(vdir, { recursive: true });
      fs.chownSync(vdir, 0, fsGroup ?? 0);
      fs.chmodSync(vdir, fsGroup !== undefined ? 0o2777 : 0o777);
    }
    volumes.set(v.name, vdir);
  }
  return (container, p) => {
    const m = (container.volumeMounts || []).filter((vm) => !vm.subPath && (p === vm.mountPath || p.startsWith(`${vm.mountPath}/`)))
      .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
    return m ? path.join(volumes.get(m.name), p.slice(m.mountPath.length)) : null;
  };
}

async function startDbgd(prefix, tokenFile, what) {
  const port = await freePort();
  const pipes = fs.mkdtempSync(path.join(ROOT, "pipes-"));
  fs.chmodSync(pipes, 0o777);
  const argv = [...prefix, DBGD, `--control_listen=127.0.0.1:${port}`, `--control_token_file=${tokenFile}`,
    "--registry=embedded", `--pipe_dir=${path.join(pipes, "p")}`, "--advertise_host=127.0.0.1"];
  let out = "";
  const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
  child.stdout.on("data", (d) => { out += d; });
  child.stderr.on("data", (d) => { out += d; });
  const exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
  for (let i = 0; i < 50 && child.exitCode === null; i++) {
    if (spawnSync(DBGCTL, [`--addr=127.0.0.1:${port}`, "health"]).status === 0) {
      child.kill("SIGTERM");
      const code = await exited;
      return { started: true, code, out };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  if (child.exitCode === null) child.kill("SIGKILL");
  return { started: false, code: await exited, out };
}

try {
  for (const m of manifests.filter((x) => x.doc && ["Deployment", "DaemonSet"].includes(x.doc.kind))) {
    const pod = podSpec(m.doc);
    const container = containersOf(m.doc).find(({ container: c, init }) => !init && DBGD_IMAGE.test(c.image || "")).container;
    const tokenPath = flagValues(dbgdEntries(byKey, m, container).entries, flags).get("control_token_file");
    if (!tokenPath) { fail(`${m.file}: no --control_token_file`); continue; }
    const dir = fs.mkdtempSync(path.join(ROOT, `${m.doc.kind}-`));
    fs.chmodSync(dir, 0o755);
    const at = layOut(pod, dir);
    for (const init of pod.initContainers || []) {
      const argv = [...init.command, ...(init.args || [])].map((a) => (a.startsWith("/") && at(init, a)) || a);
      const r = spawnSync(asContainer(pod, init)[0], [...asContainer(pod, init).slice(1), ...argv], { encoding: "utf8" });
      if (r.status === 0) pass(`${m.file}: init container ${init.name} ran as uid ${effectiveUser(pod, init, IMAGE_USER.uid)}`);
      else fail(`${m.file}: init container ${init.name}: ${r.stdout}${r.stderr}`);
    }
    const token = at(container, tokenPath);
    const st = fs.statSync(token);
    const r = await startDbgd(asContainer(pod, container), token, m.file);
    const who = `uid ${effectiveUser(pod, container, IMAGE_USER.uid)}, caps ${JSON.stringify(container.securityContext?.capabilities?.add || [])}`;
    const file = `${tokenPath} (uid ${st.uid}, gid ${st.gid}, mode ${(st.mode & 0o7777).toString(8)})`;
    if (r.started && r.code === 0) pass(`${m.file}: dbgd (${who}) reads and accepts ${file}`);
    else fail(`${m.file}: dbgd (${who}) with ${file}: ${r.out}`);

    if (m.doc.kind === "Deployment") {
      // Control 1: the mounted Secret itself, as this pod's kubelet leaves it.
      const secretVolume = pod.volumes.find((v) => v.secret);
      const item = secretVolume.secret.items[0];
      const direct = path.join(dir, "volumes", secretVolume.name, item.path);
      const c1 = await startDbgd(asContainer(pod, container), direct, m.file);
      if (!c1.started && c1.out.includes("readable by group or others")) pass(`${m.file}: control: the mounted Secret (mode ${(fs.statSync(direct).mode & 0o777).toString(8)}, fsGroup) is refused by dbgd`);
      else fail(`${m.file}: control: dbgd on the mounted Secret directly: started=${c1.started} ${c1.out}`);
      // Control 2: no fsGroup: a root-owned 0400 file uid 10001 cannot read.
      const noGroup = structuredClone(pod);
      delete noGroup.securityContext.fsGroup;
      const dir2 = fs.mkdtempSync(path.join(ROOT, "nofsgroup-"));
      fs.chmodSync(dir2, 0o755);
      layOut(noGroup, dir2);
      const c2 = await startDbgd(asContainer(noGroup, container), path.join(dir2, "volumes", secretVolume.name, item.path), m.file);
      if (!c2.started && /cannot read .*Permission denied/.test(c2.out)) pass(`${m.file}: control: without fsGroup, uid 10001 cannot read the root-owned 0400 Secret`);
      else fail(`${m.file}: control: without fsGroup: started=${c2.started} ${c2.out}`);
    }
  }
} finally {
  fs.rmSync(ROOT, { recursive: true, force: true });
}
console.log(failures ? `${failures} check(s) failed` : "all checks passed");
process.exitCode = failures ? 1 : 0;
