// k8s_checks.mjs: what deploy/k8s must satisfy, checked offline.
//
//   checkManifests(manifests, ctx) -> ["problem", ...]
//
// manifests: loadManifests() of deploy/k8s; ctx: {flags (helpFlags of the
// real dbgd), version (the VERSION file), etcdVersion (Debian's etcd, the one
// the test runs), partials}. Every rule below says why it matters on a
// cluster; the start-up half (the real dbgd and etcd run with these flags)
// is in k8s_test.mjs.

import path from "node:path";
import { argEntries, checkEntries, flagValues, parseFlagfile, listenPort } from "./dbgd_flags.mjs";
import {
  WORKLOAD_KINDS, canRead, containersOf, describe, effectiveGroup, effectiveUser, podSpec,
  podTemplateLabels, schemaProblems, secretFile,
} from "./k8s_manifests.mjs";

export const DBGD_IMAGE = /^registry\.example\.com\/dbgd:(.+)$/;
export const ETCD_IMAGE = /^registry\.example\.com\/dbgd-etcd:(.+)$/;
export const IMAGE_USER = { uid: 10001, gid: 10001 };  // the dbgd image's USER
export const FLAGFILE = "/etc/dbgd/flags";             // what the entrypoint reads
const CLUSTER_DOMAIN = "svc.cluster.local";

// Health services answered on each listener (dbgctl health / a gRPC probe
// against a running dbgd shows them; k8s_test.mjs asks the real one).
export const HEALTH_SERVICES = {
  discovery: ["", "dbgd.v1.Discovery", "dbgd.registry"],
  control: ["", "dbgd.v1.Control", "dbgd.v1.Discovery", "dbgd.registry"],
};

const isDbgd = (c) => DBGD_IMAGE.test(c.image || "") && !c.command;

function envValue(container, name) {
  return (container.env || []).find((e) => e.name === name);
}

// $(VAR) references kubelet expands from the container's env; an unknown
// one stays literally "$(VAR)".
function varRefs(text) {
  return [...String(text).matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)].map((m) => m[1]);
}

function portOf(container, ref) {
  const ports = container.ports || [];
  return typeof ref === "number"
    ? ports.find((p) => p.containerPort === ref)
    : ports.find((p) => p.name === ref);
}

// The flagfile a dbgd container gets: the ConfigMap mounted at FLAGFILE.
export function flagfileOf(byKey, m, container) {
  const pod = podSpec(m.doc);
  const ns = m.doc.metadata?.namespace;
  for (const mount of container.volumeMounts || []) {
    const file = mount.subPath ? mount.mountPath : path.posix.join(mount.mountPath, "flags");
    if (file !== FLAGFILE) continue;
    const volume = (pod.volumes || []).find((v) => v.name === mount.name);
    if (!volume?.configMap) return { problem: `${FLAGFILE} is not a ConfigMap volume` };
    const item = (volume.configMap.items || []).find((i) => i.path === (mount.subPath || "flags"));
    const key = item ? item.key : mount.subPath || "flags";
    const cm = byKey.get(`ConfigMap/${ns}/${volume.configMap.name}`);
    if (!cm) return { problem: `ConfigMap ${ns}/${volume.configMap.name} (mounted at ${FLAGFILE}) is not defined` };
    if (cm.doc.data?.[key] === undefined) return { problem: `ConfigMap ${ns}/${volume.configMap.name} has no key ${key}` };
    return { text: cm.doc.data[key], source: `${cm.file} (ConfigMap ${volume.configMap.name}, key ${key})`, configMap: cm };
  }
  return { text: null };
}

// The dbgd flags of a container: flagfile entries, then the args.
export function dbgdEntries(byKey, m, container) {
  const ff = flagfileOf(byKey, m, container);
  const entries = [];
  if (ff.text) entries.push(...parseFlagfile(ff.text, { source: ff.source, commented: true }));
  entries.push(...argEntries(container.args || [], `${m.file} (${m.doc.kind} ${m.doc.metadata?.name}, container ${container.name} args)`));
  return { ff, entries };
}

// The mount that holds an absolute path in a container, and the path inside it.
function mountFor(container, file) {
  let best = null;
  for (const mount of container.volumeMounts || []) {
    if (mount.subPath) {
      if (file === mount.mountPath) return { mount, rel: mount.subPath };
      continue;
    }
    const prefix = mount.mountPath.replace(/\/$/, "") + "/";
    if (file.startsWith(prefix) && (!best || prefix.length > best.mount.mountPath.length)) {
      best = { mount, rel: file.slice(prefix.length) };
    }
  }
  return best;
}

function groupsOf(pod, container, gid) {
  return [gid, ...(pod.securityContext?.fsGroup !== undefined ? [pod.securityContext.fsGroup] : []),
    ...(pod.securityContext?.supplementalGroups || [])];
}

// Follows --control_token_file to the file dbgd will open, as kubelet and
// an init container leave it. Returns problems.
function tokenProblems(m, container, tokenPath, where) {
  const pod = podSpec(m.doc);
  const problems = [];
  const uid = effectiveUser(pod, container, IMAGE_USER.uid);
  const gid = effectiveGroup(pod, container, IMAGE_USER.gid);
  const held = mountFor(container, tokenPath);
  if (!held) return [`${where}: --control_token_file=${tokenPath} is on no volume of the container`];
  const volume = (pod.volumes || []).find((v) => v.name === held.mount.name);
  if (!volume) return [`${where}: volume ${held.mount.name} is not defined`];
  let file;
  if (volume.secret) {
    const item = (volume.secret.items || []).find((i) => i.path === held.rel);
    file = secretFile(pod, volume, item ? item.key : held.rel);
    file.how = `Secret ${volume.secret.secretName} as kubelet writes it`;
  } else if (volume.emptyDir) {
    // Written by an init container: install -m MODE SRC DST.
    const writer = (pod.initContainers || []).find((c) =>
      (c.volumeMounts || []).some((v) => v.name === volume.name));
    if (!writer) return [`${where}: ${tokenPath} is an emptyDir no init container writes`];
    const cmd = [...(writer.command || []), ...(writer.args || [])];
    if (cmd[0] !== "install" || cmd[1] !== "-m" || cmd.length !== 5) {
      return [`${where}: init container ${writer.name} must be "install -m MODE SRC DST", not ${JSON.stringify(cmd)}`];
    }
    const [, , mode, src, dst] = cmd;
    const dstMount = mountFor(writer, dst);
    if (!dstMount || dstMount.mount.name !== volume.name || dstMount.rel !== held.rel) {
      problems.push(`${where}: init container ${writer.name} writes ${dst}, not the volume file dbgd reads as ${tokenPath}`);
    }
    const srcMount = mountFor(writer, src);
    const srcVolume = srcMount && (pod.volumes || []).find((v) => v.name === srcMount.mount.name);
    if (!srcVolume?.secret) return [...problems, `${where}: init container ${writer.name} copies ${src}, which is no Secret volume`];
    const srcItem = (srcVolume.secret.items || []).find((i) => i.path === srcMount.rel);
    const secret = secretFile(pod, srcVolume, srcItem ? srcItem.key : srcMount.rel);
    const wuid = effectiveUser(pod, writer, IMAGE_USER.uid);
    const wgid = effectiveGroup(pod, writer, IMAGE_USER.gid);
    if (!canRead(secret, wuid, groupsOf(pod, writer, wgid))) {
      problems.push(`${where}: init container ${writer.name} (uid ${wuid}) cannot read ${src} (uid ${secret.uid}, gid ${secret.gid}, mode ${secret.mode.toString(8)})`);
    }
    // A new file in an fsGroup volume takes the volume's group (setgid).
    file = { uid: wuid, gid: pod.securityContext?.fsGroup ?? wgid, mode: parseInt(mode, 8), how: `the copy init container ${writer.name} makes` };
  } else {
    return [`${where}: ${tokenPath} is on a ${Object.keys(volume).filter((k) => k !== "name")[0]} volume; use a Secret`];
  }
  const desc = `${tokenPath} (${file.how}: uid ${file.uid}, gid ${file.gid}, mode ${file.mode.toString(8).padStart(4, "0")})`;
  if (!canRead(file, uid, groupsOf(pod, container, gid))) problems.push(`${where}: dbgd (uid ${uid}, no capabilities) cannot read ${desc}`);
  if (file.mode & 0o077) problems.push(`${where}: dbgd refuses ${desc}: readable by group or others`);
  return problems;
}

function capabilityProblems(m, container, where, { isDbgdContainer }) {
  const pod = podSpec(m.doc);
  const problems = [];
  const sc = container.securityContext || {};
  const caps = sc.capabilities || {};
  if (!(caps.drop || []).includes("ALL")) problems.push(`${where}: capabilities must drop ALL`);
  if (sc.allowPrivilegeEscalation !== false) problems.push(`${where}: allowPrivilegeEscalation must be false`);
  const seccomp = sc.seccompProfile?.type ?? pod.securityContext?.seccompProfile?.type;
  if (!["RuntimeDefault", "Localhost"].includes(seccomp)) problems.push(`${where}: seccompProfile must be RuntimeDefault or Localhost, not ${seccomp}`);
  const add = caps.add || [];
  for (const cap of add) {
    if (cap !== "SYS_PTRACE") problems.push(`${where}: adds capability ${cap}; dbgd needs none but SYS_PTRACE (to attach)`);
  }
  const attaches = pod.hostPID === true || pod.shareProcessNamespace === true;
  if (isDbgdContainer && attaches && !add.includes("SYS_PTRACE")) {
    problems.push(`${where}: sees other processes (hostPID/shareProcessNamespace) but lacks SYS_PTRACE to attach to them`);
  }
  if (add.includes("SYS_PTRACE")) {
    if (!attaches) problems.push(`${where}: SYS_PTRACE without hostPID or shareProcessNamespace: there is nothing else to attach to`);
    const uid = effectiveUser(pod, container, IMAGE_USER.uid);
    if (uid !== 0) problems.push(`${where}: SYS_PTRACE for uid ${uid}: the runtime leaves an added capability of a non-root user out of its effective set`);
  }
  return problems;
}

// The "restricted" Pod Security Standard, as far as these manifests use it.
function restrictedProblems(m) {
  const pod = podSpec(m.doc);
  const where = describe(m);
  const problems = [];
  for (const k of ["hostPID", "hostNetwork", "hostIPC"]) if (pod[k]) problems.push(`${where}: ${k} in a restricted namespace`);
  for (const v of pod.volumes || []) {
    const type = Object.keys(v).find((k) => k !== "name");
    if (!["configMap", "secret", "emptyDir", "projected", "downwardAPI", "persistentVolumeClaim", "ephemeral", "csi"].includes(type)) {
      problems.push(`${where}: volume ${v.name} (${type}) in a restricted namespace`);
    }
  }
  for (const { container } of containersOf(m.doc)) {
    const sc = container.securityContext || {};
    const w = `${where} container ${container.name}`;
    if ((sc.runAsNonRoot ?? pod.securityContext?.runAsNonRoot) !== true) problems.push(`${w}: restricted needs runAsNonRoot`);
    if ((sc.runAsUser ?? pod.securityContext?.runAsUser) === 0) problems.push(`${w}: restricted refuses runAsUser 0`);
    for (const cap of sc.capabilities?.add || []) {
      if (cap !== "NET_BIND_SERVICE") problems.push(`${w}: restricted refuses capability ${cap}`);
    }
  }
  return problems;
}

function registryProblems(byKey, manifests, registry, where) {
  const problems = [];
  if (!registry.startsWith("etcd://")) return problems;
  for (const hp of registry.slice(7).split(",")) {
    const m = /^(.+):(\d+)$/.exec(hp);
    if (!m) { problems.push(`${where}: --registry member ${hp} is not HOST:PORT`); continue; }
    const [, host, port] = m;
    if (!host.endsWith(`.${CLUSTER_DOMAIN}`)) continue;  // an etcd of your own
    const parts = host.slice(0, -CLUSTER_DOMAIN.length - 1).split(".");
    if (parts.length !== 3) { problems.push(`${where}: --registry host ${host} is not POD.SERVICE.NAMESPACE.${CLUSTER_DOMAIN}`); continue; }
    const [podName, svcName, ns] = parts;
    const svc = byKey.get(`Service/${ns}/${svcName}`);
    if (!svc) { problems.push(`${where}: --registry host ${host}: no Service ${ns}/${svcName}`); continue; }
    if (svc.doc.spec.clusterIP !== "None") problems.push(`${where}: --registry host ${host}: Service ${svcName} is not headless, so ${podName}.${svcName} has no DNS name`);
    const sts = manifests.find((x) => x.doc?.kind === "StatefulSet" && x.doc.metadata.namespace === ns && x.doc.spec.serviceName === svcName);
    const ordinal = sts && podName.startsWith(`${sts.doc.metadata.name}-`) ? Number(podName.slice(sts.doc.metadata.name.length + 1)) : NaN;
    if (!sts || !(ordinal >= 0 && ordinal < (sts.doc.spec.replicas ?? 1))) {
      problems.push(`${where}: --registry host ${host}: no pod ${podName} of a StatefulSet with serviceName ${svcName} in ${ns}`);
      continue;
    }
    const sp = (svc.doc.spec.ports || []).find((p) => p.port === Number(port));
    if (!sp) { problems.push(`${where}: --registry port ${port}: Service ${svcName} has no such port`); continue; }
    const etcd = podSpec(sts.doc).containers[0];
    const cp = portOf(etcd, sp.targetPort ?? sp.port);
    const listen = (etcd.args || []).find((a) => a.startsWith("--listen-client-urls="));
    const listenPorts = listen ? listen.split("=")[1].split(",").map((u) => Number(new URL(u).port)) : [];
    if (!cp || !listenPorts.includes(cp.containerPort)) {
      problems.push(`${where}: --registry port ${port} reaches container port ${cp?.containerPort}, where etcd does not listen (--listen-client-urls ${listenPorts.join(",")})`);
    }
  }
  return problems;
}

function etcdProblems(byKey, m, ctx) {
  const problems = [];
  const where = describe(m);
  const sts = m.doc;
  const ns = sts.metadata.namespace;
  const svc = byKey.get(`Service/${ns}/${sts.spec.serviceName}`);
  if (!svc || svc.doc.spec.clusterIP !== "None") problems.push(`${where}: serviceName ${sts.spec.serviceName} must be a headless Service`);
  const c = podSpec(sts).containers[0];
  const image = ETCD_IMAGE.exec(c.image || "");
  if (!image) problems.push(`${where}: image ${c.image} is not registry.example.com/dbgd-etcd:VERSION`);
  else if (image[1] !== ctx.etcdVersion) problems.push(`${where}: image tag ${image[1]} is not the etcd of deploy/k8s/etcd/Containerfile as tested here (${ctx.etcdVersion})`);
  const arg = (name) => (c.args || []).find((a) => a.startsWith(`--${name}=`))?.split("=").slice(1).join("=");
  const peerHost = `$(POD_NAME).${sts.spec.serviceName}.${ns}.${CLUSTER_DOMAIN}`;
  for (const name of ["advertise-client-urls", "initial-advertise-peer-urls"]) {
    const v = arg(name);
    if (!v || new URL(v.replace("$(POD_NAME)", "x")).hostname !== peerHost.replace("$(POD_NAME)", "x")) {
      problems.push(`${where}: --${name}=${v} must name ${peerHost}`);
    }
  }
  const members = (arg("initial-cluster") || "").split(",").filter(Boolean).map((kv) => kv.split("=")[0]).sort();
  const want = Array.from({ length: sts.spec.replicas ?? 1 }, (_, i) => `${sts.metadata.name}-${i}`).sort();
  if (JSON.stringify(members) !== JSON.stringify(want)) problems.push(`${where}: --initial-cluster has ${members.join(",")}, the StatefulSet makes ${want.join(",")}`);
  if (arg("name") !== "$(POD_NAME)") problems.push(`${where}: --name must be $(POD_NAME)`);
  const podName = envValue(c, "POD_NAME");
  if (podName?.valueFrom?.fieldRef?.fieldPath !== "metadata.name") problems.push(`${where}: POD_NAME must come from metadata.name`);
  const client = Number(new URL(arg("listen-client-urls") || "http://x:0").port);
  for (const probe of [c.readinessProbe, c.livenessProbe]) {
    if (probe?.httpGet && portOf(c, probe.httpGet.port)?.containerPort !== client) {
      problems.push(`${where}: etcd probe port ${probe.httpGet.port} is not the client port ${client}`);
    }
  }
  return problems;
}

function dbgdContainerProblems(byKey, manifests, m, container, ctx) {
  const pod = podSpec(m.doc);
  const where = `${describe(m)} container ${container.name}`;
  const problems = [];
  const { ff, entries } = dbgdEntries(byKey, m, container);
  if (ff.problem) problems.push(`${where}: ${ff.problem}`);
  problems.push(...checkEntries(entries, ctx.flags));
  const values = flagValues(entries, ctx.flags);
  const listeners = {
    control: values.get("control_listen") ?? JSON.parse(ctx.flags.get("control_listen").default),
    discovery: values.get("discovery_listen"),
    metrics: values.get("metrics_listen"),
  };
  // Named container ports and the listeners the flags configure.
  for (const [name, address] of Object.entries(listeners)) {
    const port = listenPort(address);
    const cp = portOf(container, name);
    if (port !== null && !cp) problems.push(`${where}: --${name}_listen=${address} but no containerPort named ${name}`);
    if (cp && cp.containerPort !== port) problems.push(`${where}: containerPort ${name} is ${cp.containerPort}, --${name}_listen is ${address ?? "off"}`);
  }
  if (listenPort(listeners.control) !== null && !values.get("control_token_file") && !values.get("control_tls_cert")) {
    problems.push(`${where}: a TCP control plane needs --control_token_file or --control_tls_cert`);
  }
  // Probes: a gRPC probe is plaintext, so it must reach a plaintext
  // listener and name a service that listener answers.
  for (const [kind, probe] of [["readinessProbe", container.readinessProbe], ["livenessProbe", container.livenessProbe], ["startupProbe", container.startupProbe]]) {
    if (!probe) continue;
    if (probe.grpc) {
      const service = probe.grpc.service ?? "";
      const listener = Object.entries({ discovery: listeners.discovery, control: listeners.control })
        .find(([, a]) => listenPort(a) === probe.grpc.port);
      if (!listener) { problems.push(`${where}: ${kind} grpc port ${probe.grpc.port} is neither --discovery_listen (${listeners.discovery}) nor --control_listen (${listeners.control})`); continue; }
      if (values.get(`${listener[0]}_tls_cert`)) problems.push(`${where}: ${kind} is a plaintext gRPC probe on the TLS ${listener[0]} listener`);
      if (!HEALTH_SERVICES[listener[0]].includes(service)) problems.push(`${where}: ${kind} asks for health service "${service}", which the ${listener[0]} listener does not answer (${HEALTH_SERVICES[listener[0]].map((s) => `"${s}"`).join(", ")})`);
      if (service === "dbgd.registry") problems.push(`${where}: ${kind} on dbgd.registry: the pod would restart or leave the Service whenever etcd is away`);
    } else if (probe.exec) {
      const cmd = probe.exec.command || [];
      if (cmd[0] !== "dbgctl" || cmd[1] !== "health") { problems.push(`${where}: ${kind} exec must be "dbgctl health [SERVICE]", not ${JSON.stringify(cmd)}`); continue; }
      // dbgctl's default --addr is dbgd's default control socket.
      if (!cmd.some((a) => a.startsWith("--addr")) && listeners.control !== JSON.parse(ctx.flags.get("control_listen").default)) {
        problems.push(`${where}: ${kind} runs dbgctl with its default --addr, but --control_listen is ${listeners.control}`);
      }
    } else {
      problems.push(`${where}: ${kind} must be a grpc probe or dbgctl health`);
    }
  }
  if (!container.readinessProbe && listeners.discovery) problems.push(`${where}: no readinessProbe`);
  if (!container.livenessProbe) problems.push(`${where}: no livenessProbe`);
  // --advertise_host: in a container the host name is the pod's, which
  // other pods cannot resolve.
  const adv = values.get("advertise_host");
  if (!adv) problems.push(`${where}: no --advertise_host (connect strings would carry the pod's host name)`);
  for (const v of varRefs(adv || "")) {
    const fp = envValue(container, v)?.valueFrom?.fieldRef?.fieldPath;
    if (!["status.podIP", "spec.nodeName", "status.hostIP"].includes(fp)) problems.push(`${where}: --advertise_host uses $(${v}), which is not the pod IP, node name or host IP from the downward API`);
  }
  if (values.get("control_token_file")) problems.push(...tokenProblems(m, container, values.get("control_token_file"), where));
  if (values.get("registry")) problems.push(...registryProblems(byKey, manifests, values.get("registry"), where));
  problems.push(...capabilityProblems(m, container, where, { isDbgdContainer: true }));
  return problems;
}

export async function checkManifests(manifests, ctx) {
  const problems = [];
  const byKey = new Map();
  const namespaces = new Set();
  for (const m of manifests) {
    for (const p of await schemaProblems(m, ctx.partials)) problems.push(`${describe(m)}: ${p}`);
    if (!m.doc?.kind) continue;
    const key = `${m.doc.kind}/${m.doc.metadata?.namespace ?? ""}/${m.doc.metadata?.name}`;
    if (byKey.has(key)) problems.push(`${describe(m)}: ${key} is also defined in ${describe(byKey.get(key))}`);
    byKey.set(key, m);
    if (m.doc.kind === "Namespace") namespaces.add(m.doc.metadata.name);
  }
  const docs = manifests.filter((m) => m.doc?.kind);
  for (const m of docs) {
    const d = m.doc;
    const where = describe(m);
    if (d.kind !== "Namespace" && !namespaces.has(d.metadata?.namespace)) {
      if (d.kind !== "Pod") problems.push(`${where}: namespace ${d.metadata?.namespace} is not among the manifests' Namespaces`);
    }
    if (!WORKLOAD_KINDS.has(d.kind)) continue;
    const pod = podSpec(d);
    const labels = podTemplateLabels(d);
    if (d.kind !== "Pod") {
      for (const [k, v] of Object.entries(d.spec.selector?.matchLabels || {})) {
        if (labels[k] !== v) problems.push(`${where}: selector ${k}=${v} does not match the pod template's labels`);
      }
    }
    const ns = byKey.get(`Namespace//${d.metadata?.namespace}`);
    if (ns?.doc.metadata.labels?.["pod-security.kubernetes.io/enforce"] === "restricted") problems.push(...restrictedProblems(m));
    for (const v of pod.volumes || []) {
      if (v.configMap) {
        const cm = byKey.get(`ConfigMap/${d.metadata.namespace}/${v.configMap.name}`);
        if (!cm) problems.push(`${where}: volume ${v.name}: no ConfigMap ${v.configMap.name} in ${d.metadata.namespace}`);
        for (const item of v.configMap.items || []) if (cm && cm.doc.data?.[item.key] === undefined) problems.push(`${where}: volume ${v.name}: ConfigMap ${v.configMap.name} has no key ${item.key}`);
      }
      if (v.secret) {
        const s = byKey.get(`Secret/${d.metadata.namespace}/${v.secret.secretName}`);
        if (!s) problems.push(`${where}: volume ${v.name}: no Secret ${v.secret.secretName} in ${d.metadata.namespace} (not even the example)`);
        for (const item of v.secret.items || []) if (s && (s.doc.stringData || s.doc.data || {})[item.key] === undefined) problems.push(`${where}: volume ${v.name}: Secret ${v.secret.secretName} has no key ${item.key}`);
      }
    }
    for (const { container, init } of containersOf(d)) {
      const w = `${where} container ${container.name}`;
      const names = (container.ports || []).map((p) => p.name).filter(Boolean);
      if (new Set(names).size !== names.length) problems.push(`${w}: containerPort names repeat`);
      for (const vm of container.volumeMounts || []) {
        if (!(pod.volumes || []).some((v) => v.name === vm.name)) problems.push(`${w}: volumeMount ${vm.name} has no volume`);
      }
      for (const text of [...(container.command || []), ...(container.args || [])]) {
        for (const v of varRefs(text)) if (!envValue(container, v)) problems.push(`${w}: $(${v}) in ${text} is no env var of the container (it would stay literal)`);
      }
      for (const probe of [container.readinessProbe, container.livenessProbe, container.startupProbe]) {
        const port = probe?.grpc?.port ?? probe?.httpGet?.port ?? probe?.tcpSocket?.port;
        if (port !== undefined && !portOf(container, port)) problems.push(`${w}: probe port ${port} is not a containerPort`);
      }
      const image = DBGD_IMAGE.exec(container.image || "");
      if (image && image[1] !== ctx.version) problems.push(`${w}: image tag ${image[1]} is not this release (${ctx.version})`);
      if (isDbgd(container)) problems.push(...dbgdContainerProblems(byKey, manifests, m, container, ctx));
      else if (!init || image) problems.push(...capabilityProblems(m, container, w, { isDbgdContainer: false }));
    }
    if (d.kind === "StatefulSet" && ETCD_IMAGE.test(podSpec(d).containers[0].image || "")) problems.push(...etcdProblems(byKey, m, ctx));
  }
  // Services: they select pods, and every targetPort is one of theirs.
  for (const m of docs.filter((x) => x.doc.kind === "Service")) {
    const s = m.doc;
    const where = describe(m);
    const selected = docs.filter((x) => WORKLOAD_KINDS.has(x.doc.kind) && x.doc.metadata.namespace === s.metadata.namespace &&
      Object.entries(s.spec.selector || {}).every(([k, v]) => podTemplateLabels(x.doc)[k] === v));
    if (!selected.length) problems.push(`${where}: selects no pod of the manifests`);
    const names = (s.spec.ports || []).map((p) => p.name);
    if (new Set(names).size !== names.length) problems.push(`${where}: port names repeat`);
    for (const p of s.spec.ports || []) {
      for (const x of selected) {
        const target = p.targetPort ?? p.port;
        if (!podSpec(x.doc).containers.some((c) => portOf(c, target))) problems.push(`${where}: port ${p.name} targetPort ${target} is no containerPort of ${describe(x)}`);
      }
    }
  }
  // Partial container specs (kubectl debug --custom) follow the same
  // capability rules as a dbgd container that attaches.
  for (const m of manifests.filter((x) => x.doc && !x.doc.kind && ctx.partials[x.file]?.kind === "Container")) {
    const c = m.doc;
    const caps = c.securityContext?.capabilities || {};
    if (!(caps.drop || []).includes("ALL") || JSON.stringify(caps.add) !== JSON.stringify(["SYS_PTRACE"]) || c.securityContext?.runAsUser !== 0) {
      problems.push(`${describe(m)}: a debug container needs runAsUser 0, drop ALL and add exactly SYS_PTRACE`);
    }
  }
  return problems;
}
