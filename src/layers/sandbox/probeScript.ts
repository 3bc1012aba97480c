/**
 * The program the probe container runs: `node -e <probeScript> <ProbeInput as JSON>`. Plain
 * CommonJS for the image's Debian Node (18), no dependencies. It tries every target at once,
 * each bounded by `timeoutMs`, and writes one line `{"results":[...]}` (ProbeOutput) to stdout.
 * It never decides whether the network is isolated; it only says what got through.
 */
export const probeScript = String.raw`"use strict";
const net = require("net");
const dgram = require("dgram");
const dns = require("dns");
const fs = require("fs");
const os = require("os");

const input = JSON.parse(process.argv[1]);
const timeoutMs = input.timeoutMs;

const clock = () => process.hrtime.bigint();
const since = (t) => Number((clock() - t) / 1000000n);

// Every probe resolves exactly once; the first outcome wins.
function once(resolve, start, id, cleanup) {
  let done = false;
  return (reached, outcome) => {
    if (done) return;
    done = true;
    cleanup();
    resolve({ id, reached, outcome, ms: since(start) });
  };
}

function connect(id, host, port, greeting, local) {
  return new Promise((resolve) => {
    const start = clock();
    let connected = false;
    let text = "";
    const socket = net.connect({ host, port });
    const finish = once(resolve, start, id, () => { clearTimeout(timer); socket.destroy(); });
    // A connection without our greeting reached something else; on a local address that is the
    // container itself, anywhere else it is still a way out.
    const timer = setTimeout(() => connected
      ? finish(!local, "connected, no greeting from the probe listener")
      : finish(false, "timeout"), timeoutMs);
    socket.on("connect", () => {
      connected = true;
      if (greeting === undefined) finish(true, "connected");
    });
    socket.on("data", (chunk) => {
      text += chunk.toString("utf8");
      if (greeting !== undefined && text.includes(greeting)) finish(true, "connected to the probe listener");
    });
    socket.on("end", () => finish(connected && !local, "connected, closed without the greeting"));
    socket.on("error", (e) => {
      // A refusal is an answer from the far side, unless the address is the container's own.
      if (e.code === "ECONNREFUSED") finish(!local, "ECONNREFUSED");
      else finish(false, e.code || String(e.message));
    });
  });
}

function any(id, probes, nothing) {
  const start = clock();
  return Promise.all(probes).then((results) => {
    const hit = results.find((r) => r.reached);
    const outcome = results.length === 0 ? nothing : results.map((r) => r.outcome).join(", ");
    return { id, reached: hit !== undefined, outcome: hit ? hit.outcome : outcome, ms: since(start) };
  });
}

// Names are looked up in /etc/hosts, then with c-ares against the container's resolv.conf,
// never with getaddrinfo: a getaddrinfo stuck on an unreachable server holds a libuv thread
// that process.exit waits for (seconds per name).
function hostsFile(name) {
  try {
    return fs.readFileSync("/etc/hosts", "utf8").split("\n")
      .map((line) => line.replace(/#.*/, "").trim().split(/\s+/))
      .filter((words) => words.length > 1 && words.slice(1).includes(name))
      .map((words) => words[0]);
  } catch (e) {
    return [];
  }
}

function lookupAll(name) {
  const fromHosts = hostsFile(name);
  if (fromHosts.length > 0) return Promise.resolve({ addresses: fromHosts });
  return new Promise((resolve) => {
    const resolver = new dns.Resolver({ timeout: timeoutMs, tries: 1 });
    let done = false;
    const timer = setTimeout(() => { if (!done) { done = true; resolver.cancel(); resolve({ error: "no answer" }); } }, timeoutMs);
    resolver.resolve4(name, (err, addresses) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(err ? { error: err.code || String(err.message) } : { addresses });
    });
  });
}

function query(name) {
  const header = Buffer.from([Math.floor(Math.random() * 256), Math.floor(Math.random() * 256), 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
  const labels = name.split(".").filter((l) => l.length > 0).map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, "ascii")]));
  return Buffer.concat([header, ...labels, Buffer.from([0, 0, 1, 0, 1])]);
}

function dnsQuery(id, server, port, name) {
  return new Promise((resolve) => {
    const start = clock();
    let socket;
    try {
      socket = dgram.createSocket(net.isIPv6(server) ? "udp6" : "udp4");
    } catch (e) {
      resolve({ id, reached: false, outcome: e.code || String(e.message), ms: since(start) });
      return;
    }
    const finish = once(resolve, start, id, () => { clearTimeout(timer); try { socket.close(); } catch (e) {} });
    const timer = setTimeout(() => finish(false, "no answer"), timeoutMs);
    socket.on("message", (msg) => finish(true, "answered (" + msg.length + " bytes, rcode " + (msg.length > 3 ? msg[3] & 15 : "?") + ")"));
    socket.on("error", (e) => finish(false, e.code || String(e.message)));
    socket.send(query(name), port, server, (err) => { if (err) finish(false, err.code || String(err.message)); });
  });
}

function resolvConfServers() {
  try {
    return fs.readFileSync("/etc/resolv.conf", "utf8").split("\n")
      .map((line) => line.trim().split(/\s+/))
      .filter((words) => words[0] === "nameserver" && words[1] !== undefined)
      .map((words) => words[1]);
  } catch (e) {
    return [];
  }
}

function ipv6Addresses() {
  try {
    return fs.readFileSync("/proc/net/if_inet6", "utf8").split("\n")
      .map((line) => line.trim().split(/\s+/))
      .filter((words) => words.length >= 6 && words[5] !== "lo")
      .map((words) => words[0] + "%" + words[5]);
  } catch (e) {
    return [];
  }
}

function control(id) {
  return new Promise((resolve) => {
    const greeting = "airut-probe-control-" + process.pid;
    const server = net.createServer((s) => s.end(greeting));
    server.on("error", (e) => resolve({ id, reached: false, outcome: e.code || String(e.message), ms: 0 }));
    server.listen(0, "127.0.0.1", () => {
      connect(id, "127.0.0.1", server.address().port, greeting, true).then((r) => { server.close(); resolve(r); });
    });
  });
}

function run(target) {
  switch (target.kind) {
    case "tcp":
      return connect(target.id, target.host, target.port, target.greeting, target.local);
    case "tcp-name": {
      const start = clock();
      return lookupAll(target.name).then((found) => found.error !== undefined
        ? { id: target.id, reached: false, outcome: "not resolved: " + found.error, ms: since(start) }
        : any(target.id, found.addresses.map((a) => connect(target.id, a, target.port, target.greeting, false)), "no addresses"));
    }
    case "tcp-link-local": {
      const names = Object.keys(os.networkInterfaces()).filter((n) => n !== "lo");
      return any(target.id, names.map((n) => connect(target.id, target.address + "%" + n, target.port, target.greeting, false)), "no interfaces");
    }
    case "dns":
      return dnsQuery(target.id, target.server, target.port, target.name);
    case "dns-resolv-conf": {
      const servers = resolvConfServers();
      return any(target.id, servers.map((s) => dnsQuery(target.id, s, 53, target.name)), "no nameservers");
    }
    case "resolve": {
      const start = clock();
      return lookupAll(target.name).then((found) => ({
        id: target.id,
        reached: found.addresses !== undefined && found.addresses.length > 0,
        outcome: found.error !== undefined ? found.error : "resolved to " + found.addresses.join(" "),
        ms: since(start),
      }));
    }
    case "ipv6-addresses": {
      const found = ipv6Addresses();
      return Promise.resolve({ id: target.id, reached: found.length > 0, outcome: found.length > 0 ? "IPv6 is on: " + found.join(" ") : "no IPv6 addresses", ms: 0 });
    }
    case "control":
      return control(target.id);
    default:
      return Promise.resolve({ id: target.id, reached: false, outcome: "unknown target kind", ms: 0 });
  }
}

Promise.all(input.targets.map(run)).then((results) => {
  process.stdout.write(JSON.stringify({ results }) + "\n", () => process.exit(0));
});
`
