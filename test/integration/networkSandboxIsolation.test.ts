import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeContext } from "@effect/platform-node"
import { assert, layer, it as plain } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { NetworkIsolationLive } from "../../src/layers/NetworkIsolationLive.js"
import { SidecarImagesLive } from "../../src/layers/SidecarImagesLive.js"
import { NetworkIsolation } from "../../src/services/NetworkIsolation.js"
import { runAirut } from "../cli/support.js"
import { PodmanRuntime, uniqueRunId } from "./support/podman.js"
import { leakyInternalNetwork, podmanSocket } from "./support/sandbox.js"

const Isolation = NetworkIsolationLive().pipe(
  Layer.provideMerge(SidecarImagesLive({ proxyBundle: "/nonexistent/proxy.js" })),
  Layer.provideMerge(PodmanRuntime),
  Layer.provideMerge(NodeContext.layer),
)

layer(Isolation, { excludeTestServices: true, timeout: "300 seconds" })(
  "network isolation probe on Podman",
  (it) => {
    it.effect("passes on a network made the isolating way, having tried every way out", () =>
      Effect.gen(function* () {
        const isolation = yield* NetworkIsolation
        const report = yield* isolation.ensureIsolated
        assert.deepStrictEqual(report.leaks, [])
        const tried = report.checks.map((c) => c.description).join("\n")
        for (const expected of [
          "host loopback 127.0.0.1",
          "host address 192.0.2.2",
          "host.containers.internal",
          "IPv6 addresses in the container",
          "public address 1.1.1.1, port 443",
          "public DNS server 8.8.8.8",
          "DNS servers in the container's /etc/resolv.conf",
          "resolving example.com",
        ]) {
          assert.include(tried, expected)
        }
        // The second call reuses the proof.
        const again = yield* isolation.ensureIsolated
        assert.strictEqual(again, report)
      }),
    )

    it.scoped("reports the leaks of a plain internal network (compat API)", () =>
      Effect.gen(function* () {
        const isolation = yield* NetworkIsolation
        const name = yield* leakyInternalNetwork(`airut-leaky-${yield* uniqueRunId}`)
        const report = yield* isolation.probeNetwork(name)
        const leaked = report.leaks.map((l) => `${l.description}: ${l.outcome}`).join("\n")
        assert.match(leaked, /gateway of airut-leaky-\S+, port \d+: connected to the probe listener/)
        assert.match(leaked, /host\.containers\.internal, port \d+: connected to the probe listener/)
        assert.match(leaked, /DNS server on host address \S+ \(gateway of airut-leaky-\S+\): answered/)
      }),
    )
  },
)

plain.live(
  "airut check proves isolation on the engine and prints the isolation line",
  () =>
    Effect.gen(function* () {
      const home = mkdtempSync(join(tmpdir(), "airut-check-"))
      const env = { HOME: home }
      yield* runAirut(["init"], env)
      const socket = yield* podmanSocket
      writeFileSync(join(home, ".config", "airut", "airut.yaml"), `container:\n  socket: ${socket}\n`)
      const run = yield* runAirut(["check"], env)
      assert.match(run.out, /^ok {4}engine {5}podman /m)
      assert.match(
        run.out,
        /^ok {4}isolation {2}podman [\d.]+: \d+ ways out tried from a fresh internal network, none got through/m,
      )
      assert.isUndefined(run.failure, run.out)
    }),
  300_000,
)
