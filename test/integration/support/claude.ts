import { NodeContext } from "@effect/platform-node"
import { Config, Effect, Layer } from "effect"
import { ClaudeBinaryLive } from "../../../src/layers/ClaudeBinaryLive.js"
import { AirutPaths } from "../../../src/services/AirutPaths.js"
import { ClaudeBinary } from "../../../src/services/ClaudeBinary.js"

/** The Claude Code release the tests run (DESIGN.md "Real components in tests"). */
export const claudeVersion = "2.1.330"

/**
 * The allowlist Claude Code needs on api.anthropic.com: the Messages API, and its settings,
 * policy and telemetry calls (allowed so their requests show in the log; the fake answers them).
 */
export const claudeApiAllowlist = `url_prefixes:
  - host: api.anthropic.com
    path: /v1/messages?*
    methods: [POST]
  - host: api.anthropic.com
    path: /api/*
    methods: [GET, POST]
`

/**
 * The binary cache on a directory shared by every test run on this machine
 * (`AIRUT_TEST_CACHE_DIR`, default /var/cache/airut-test), so CI downloads the ~175 MB package
 * once and later runs only verify it.
 */
export const TestClaudeBinary = Layer.unwrapEffect(
  Config.string("AIRUT_TEST_CACHE_DIR").pipe(
    Config.withDefault("/var/cache/airut-test"),
    Effect.map((stateDir) =>
      ClaudeBinaryLive().pipe(
        Layer.provide(Layer.succeed(AirutPaths, { configFile: "/nonexistent", stateDir })),
        Layer.provide(NodeContext.layer),
      ),
    ),
  ),
)

/** The path of the verified test binary. */
export const claudeBinaryPath = Effect.flatMap(ClaudeBinary, (c) => c.ensure(claudeVersion))
