import { assert, describe, it } from "@effect/vitest"
import { Option } from "effect"
import { proxyAddressIn } from "../../src/layers/sandbox/addresses.js"
import { assembleReport, planProbe } from "../../src/layers/sandbox/probePlan.js"
import type { ProbeInput, ProbeResult } from "../../src/schema/IsolationProbe.js"

const plan = planProbe({
  hostAddresses: [
    { address: "127.0.0.1", family: "IPv4", interface: "lo" },
    { address: "::1", family: "IPv6", interface: "lo" },
    { address: "192.0.2.2", family: "IPv4", interface: "eth0" },
    { address: "fe80::1", family: "IPv6", interface: "eth0" },
    { address: "fd00::2", family: "IPv6", interface: "eth0" },
    { address: "10.88.0.1", family: "IPv4", interface: "podman0" },
  ],
  gateways: [
    { address: "10.88.0.1", network: "podman" },
    { address: "<nil>", network: "broken" },
  ],
  listenerPort: 4000,
  greeting: "hello-probe",
  publicTcp: [{ host: "1.1.1.1", port: 443 }],
  publicDns: ["8.8.8.8"],
  outsideName: "example.com",
  timeoutMs: 2000,
})

const describeAll = (input: ProbeInput) => input.targets.map((t) => `${t.kind} ${t.description}`)

const results = (input: ProbeInput, reached: (id: string) => boolean): Array<ProbeResult> =>
  input.targets.map((t) => ({
    id: t.id,
    reached: t.kind === "control" || reached(t.id),
    outcome: reached(t.id) ? "connected to the probe listener" : "ENETUNREACH",
    ms: 3,
  }))

describe("isolation probe plan", () => {
  it("tries every host address once, the gateways, host names, IPv6, public addresses and DNS", () => {
    const tried = describeAll(plan)
    assert.deepStrictEqual(tried, [
      "control a listener inside the probe container (control)",
      "tcp host loopback 127.0.0.1, port 4000",
      "tcp host loopback ::1, port 4000",
      "tcp host address 10.88.0.1 (gateway of podman), port 4000",
      "dns DNS server on host address 10.88.0.1 (gateway of podman)",
      "tcp host address 192.0.2.2 (eth0), port 4000",
      "dns DNS server on host address 192.0.2.2 (eth0)",
      "tcp-link-local host IPv6 link-local fe80::1 (eth0), port 4000",
      "tcp host address fd00::2 (eth0), port 4000",
      "dns DNS server on host address fd00::2 (eth0)",
      "tcp-name host.containers.internal, port 4000",
      "tcp-name host.docker.internal, port 4000",
      "ipv6-addresses IPv6 addresses in the container",
      "tcp public address 1.1.1.1, port 443",
      "dns public DNS server 8.8.8.8",
      "dns-resolv-conf DNS servers in the container's /etc/resolv.conf",
      "resolve resolving example.com",
    ])
    assert.strictEqual(new Set(plan.targets.map((t) => t.id)).size, plan.targets.length)
  })

  it("marks only loopback as local, and expects the greeting from host-side targets", () => {
    for (const t of plan.targets) {
      if (t.kind !== "tcp") continue
      assert.strictEqual(t.local, t.host === "127.0.0.1" || t.host === "::1", t.description)
      assert.strictEqual(t.greeting, t.description.startsWith("public") ? undefined : "hello-probe")
    }
  })
})

describe("isolation report", () => {
  const base = { listenerConnections: 0, network: "n", engine: "podman 4.3.1", durationMs: 10 }

  it("has no leaks when nothing got through, and leaves the control out", () => {
    const verdict = assembleReport({ ...base, input: plan, output: { results: results(plan, () => false) } })
    assert.strictEqual(verdict._tag, "Report")
    if (verdict._tag !== "Report") return
    assert.deepStrictEqual(verdict.report.leaks, [])
    assert.strictEqual(verdict.report.checks.length, plan.targets.length - 1)
  })

  it("lists what got through", () => {
    const gateway = plan.targets.find((t) => t.kind === "tcp" && t.description.includes("gateway"))
    const id = gateway?.id ?? ""
    const verdict = assembleReport({
      ...base,
      input: plan,
      output: { results: results(plan, (i) => i === id) },
    })
    assert.strictEqual(verdict._tag, "Report")
    if (verdict._tag !== "Report") return
    assert.deepStrictEqual(
      verdict.report.leaks.map((l) => l.description),
      [gateway?.description],
    )
  })

  it("counts connections the host listener saw even when the container reported none", () => {
    const verdict = assembleReport({
      ...base,
      listenerConnections: 2,
      input: plan,
      output: { results: results(plan, () => false) },
    })
    assert.strictEqual(verdict._tag, "Report")
    if (verdict._tag !== "Report") return
    assert.deepStrictEqual(
      verdict.report.leaks.map((l) => `${l.description}: ${l.outcome}`),
      ["the probe's listener on the host: accepted 2 connection(s)"],
    )
  })

  it("is broken when the control failed or a result is missing: nothing is proven", () => {
    const noControl = results(plan, () => false).map((r) => (r.id === "t1" ? { ...r, reached: false } : r))
    const a = assembleReport({ ...base, input: plan, output: { results: noControl } })
    assert.strictEqual(a._tag, "Broken")
    const missing = results(plan, () => false).slice(0, -1)
    const b = assembleReport({ ...base, input: plan, output: { results: missing } })
    assert.deepStrictEqual(b, { _tag: "Broken", detail: "no result for resolving example.com" })
  })
})

describe("proxy address", () => {
  it("is the second host address of an IPv4 subnet, none for anything else", () => {
    assert.deepStrictEqual(proxyAddressIn("10.89.3.0/24"), Option.some("10.89.3.2"))
    assert.deepStrictEqual(proxyAddressIn("10.89.3.77/24"), Option.some("10.89.3.2"))
    assert.deepStrictEqual(proxyAddressIn("172.16.0.0/12"), Option.some("172.16.0.2"))
    assert.deepStrictEqual(proxyAddressIn("10.0.0.8/29"), Option.some("10.0.0.10"))
    assert.deepStrictEqual(proxyAddressIn("10.0.0.0/30"), Option.none())
    assert.deepStrictEqual(proxyAddressIn("fd00::/64"), Option.none())
    assert.deepStrictEqual(proxyAddressIn("10.89.3.0"), Option.none())
  })
})
