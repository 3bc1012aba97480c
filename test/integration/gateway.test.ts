import * as path from "node:path"
import { assert, layer } from "@effect/vitest"
import { Effect, Option, Schedule } from "effect"
import { GatewayTestLayer, makeGatewayEnv } from "./support/gatewayEnv.js"

/**
 * The gateway end to end: `airut run` as a subprocess on the environment of support/gatewayEnv.ts
 * (real Dovecot and SMTP sink, the fixture repository, the fake Anthropic API on the egress
 * network, the real Claude Code binary).
 */
layer(GatewayTestLayer, { excludeTestServices: true, timeout: "900 seconds" })(
  "airut run end to end",
  (it) => {
    it.scoped(
      "starts, names its repositories, and stops cleanly on SIGTERM within the shutdown timeout",
      () =>
        Effect.gen(function* () {
          const env = yield* makeGatewayEnv
          // An engine that does not answer: the daemon still starts (the dashboard must be able to
          // say what is wrong), logs in to the mailbox, and says tasks cannot run.
          const shutdownTimeout = 20
          yield* env.writeConfig({ shutdownTimeout, socket: path.join(env.root, "no-engine.sock") })
          const daemon = yield* env.startDaemon
          yield* daemon.waitForLine((l) => l.includes("repositories: app"))
          yield* daemon.waitForLine((l) => l.includes("airut started: config"))
          yield* daemon.waitForLine((l) => l.includes("the container engine is not reachable"))
          // The mailbox is open: the daemon logged in to Dovecot over TLS with the test CA.
          yield* env.dovecot.loginsOf("airut").pipe(
            Effect.repeat({ schedule: Schedule.spaced("200 millis"), until: (n) => n > 0 }),
            Effect.timeoutFail({
              duration: "30 seconds",
              onTimeout: () => new Error("the daemon never logged in to IMAP"),
            }),
          )

          const exit = yield* daemon.stop("SIGTERM", `${shutdownTimeout} seconds`)
          assert.deepStrictEqual(exit.code, Option.some(0), exit.output.join("\n"))
          assert.isTrue(
            exit.output.some((l) => l.includes("airut stopped")),
            exit.output.join("\n"),
          )
          // No mail came in, so none went out; the real key never reached a log line.
          assert.deepStrictEqual(yield* env.sent, [])
          assert.isFalse(exit.output.some((l) => l.includes(env.realKey)))
          assert.isFalse(
            exit.output.some((l) => l.includes("email channel:")),
            exit.output.join("\n"),
          )
        }),
    )
  },
)
