import { isIP } from "node:net"
import type {
  IsolationReport,
  ProbeCheck,
  ProbeInput,
  ProbeOutput,
  ProbeTarget,
} from "../../schema/IsolationProbe.js"

/** An address of the host the engine runs on (from `os.networkInterfaces()`). */
export interface HostAddress {
  readonly address: string
  readonly family: "IPv4" | "IPv6"
  readonly interface: string
}

export interface ProbePlanInput {
  readonly hostAddresses: ReadonlyArray<HostAddress>
  /** Gateways of the engine's networks (the default bridge, the probed network if it has one). */
  readonly gateways: ReadonlyArray<{ readonly address: string; readonly network: string }>
  /** Port of the host-side listener (bound on every address) and the text it greets with. */
  readonly listenerPort: number
  readonly greeting: string
  /** Public addresses that must not be reachable. */
  readonly publicTcp: ReadonlyArray<{ readonly host: string; readonly port: number }>
  readonly publicDns: ReadonlyArray<string>
  /** A name outside that must not resolve. */
  readonly outsideName: string
  readonly timeoutMs: number
}

/** Names Podman and Docker put in a container's /etc/hosts for the host. */
const hostNames = ["host.containers.internal", "host.docker.internal"]

const isLinkLocal = (address: string) => /^fe[89ab][0-9a-f]:/i.test(address)
const isLoopback = (address: string) => address === "::1" || address.startsWith("127.")

/**
 * Everything the probe tries, in a stable order. Every host address gets a TCP connection to
 * the listener and a DNS query (a resolver on the host forwards names out); loopback is tried
 * as well, in case the container shares the host's network namespace.
 */
export const planProbe = (plan: ProbePlanInput): ProbeInput => {
  const targets: Array<ProbeTarget> = []
  const add = (target: ProbeTarget) => targets.push(target)
  let n = 0
  const id = () => `t${++n}`
  const port = plan.listenerPort
  const greeting = plan.greeting
  add({ kind: "control", id: id(), description: "a listener inside the probe container (control)" })
  add({
    kind: "tcp",
    id: id(),
    description: `host loopback 127.0.0.1, port ${port}`,
    host: "127.0.0.1",
    port,
    greeting,
    local: true,
  })
  add({
    kind: "tcp",
    id: id(),
    description: `host loopback ::1, port ${port}`,
    host: "::1",
    port,
    greeting,
    local: true,
  })

  const seen = new Set<string>()
  const hostTargets = (address: string, family: "IPv4" | "IPv6", where: string) => {
    if (isLoopback(address) || seen.has(address) || isIP(address) === 0) return
    seen.add(address)
    if (family === "IPv6" && isLinkLocal(address)) {
      add({
        kind: "tcp-link-local",
        id: id(),
        description: `host IPv6 link-local ${address} (${where}), port ${port}`,
        address,
        port,
        greeting,
      })
      return
    }
    add({
      kind: "tcp",
      id: id(),
      description: `host address ${address} (${where}), port ${port}`,
      host: address,
      port,
      greeting,
      local: false,
    })
    add({
      kind: "dns",
      id: id(),
      description: `DNS server on host address ${address} (${where})`,
      server: address,
      port: 53,
      name: plan.outsideName,
    })
  }
  for (const gateway of plan.gateways) {
    hostTargets(
      gateway.address,
      isIP(gateway.address) === 6 ? "IPv6" : "IPv4",
      `gateway of ${gateway.network}`,
    )
  }
  for (const a of plan.hostAddresses) hostTargets(a.address, a.family, a.interface)

  for (const name of hostNames) {
    add({ kind: "tcp-name", id: id(), description: `${name}, port ${port}`, name, port, greeting })
  }
  add({ kind: "ipv6-addresses", id: id(), description: "IPv6 addresses in the container" })
  for (const p of plan.publicTcp) {
    add({
      kind: "tcp",
      id: id(),
      description: `public address ${p.host}, port ${p.port}`,
      host: p.host,
      port: p.port,
      local: false,
    })
  }
  for (const server of plan.publicDns) {
    add({
      kind: "dns",
      id: id(),
      description: `public DNS server ${server}`,
      server,
      port: 53,
      name: plan.outsideName,
    })
  }
  add({
    kind: "dns-resolv-conf",
    id: id(),
    description: "DNS servers in the container's /etc/resolv.conf",
    name: plan.outsideName,
  })
  add({
    kind: "resolve",
    id: id(),
    description: `resolving ${plan.outsideName}`,
    name: plan.outsideName,
  })
  return { timeoutMs: plan.timeoutMs, targets }
}

export type ProbeVerdict =
  | { readonly _tag: "Report"; readonly report: IsolationReport }
  /** The control or a target has no result: the probe proves nothing. */
  | { readonly _tag: "Broken"; readonly detail: string }

/**
 * Joins the probe's results to its targets. Every target must have a result and the control
 * must have been reached, else the probe is broken (and isolation unproven). Connections the
 * host-side listener accepted are a leak even if the container did not notice them.
 */
export const assembleReport = (options: {
  readonly input: ProbeInput
  readonly output: ProbeOutput
  readonly listenerConnections: number
  readonly network: string
  readonly engine: string
  readonly durationMs: number
}): ProbeVerdict => {
  const byId = new Map(options.output.results.map((r) => [r.id, r]))
  const checks: Array<ProbeCheck> = []
  for (const target of options.input.targets) {
    const result = byId.get(target.id)
    if (result === undefined) return { _tag: "Broken", detail: `no result for ${target.description}` }
    if (target.kind === "control") {
      if (!result.reached) {
        return {
          _tag: "Broken",
          detail: `the probe could not reach its own listener (${result.outcome}), so its other results mean nothing`,
        }
      }
      continue
    }
    checks.push({
      description: target.description,
      reached: result.reached,
      outcome: result.outcome,
      ms: result.ms,
    })
  }
  const leaks = checks.filter((c) => c.reached)
  if (
    options.listenerConnections > 0 &&
    !leaks.some((l) => l.outcome === "connected to the probe listener")
  ) {
    leaks.push({
      description: "the probe's listener on the host",
      reached: true,
      outcome: `accepted ${options.listenerConnections} connection(s)`,
      ms: 0,
    })
  }
  return {
    _tag: "Report",
    report: {
      network: options.network,
      engine: options.engine,
      checks,
      leaks,
      durationMs: options.durationMs,
    },
  }
}
