/**
 * The proxy program: `node proxy.js <config.json>`. Reads its configuration (src/schema/
 * ProxyConfig.ts), serves until SIGTERM/SIGINT, and writes one JSON line per request, DNS query
 * and failed handshake to stdout. Its own diagnostics go to stderr, so stdout stays parseable.
 */
import { FileSystem } from "@effect/platform"
// Subpath imports: the package index would bundle every Node module of the platform (HTTP
// client and server, workers, undici) into the sidecar's file.
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Effect, Layer, Logger, ParseResult } from "effect"
import { decodeProxyConfigJson } from "../../schema/ProxyConfig.js"
import { makeStdoutSink } from "./log.js"
import { serveProxy } from "./server.js"

const program = Effect.gen(function* () {
  const file = yield* Effect.sync(() => process.argv[2])
  if (file === undefined) return yield* Effect.fail("usage: node proxy.js <config.json>")
  const fs = yield* FileSystem.FileSystem
  const text = yield* fs
    .readFileString(file)
    .pipe(Effect.mapError((e) => `cannot read the proxy configuration ${file}: ${e.message}`))
  const config = yield* decodeProxyConfigJson(text).pipe(
    Effect.mapError(
      (e) => `the proxy configuration ${file} is invalid:\n${ParseResult.TreeFormatter.formatErrorSync(e)}`,
    ),
  )
  // The sink first: scopes close in reverse, so the listeners stop before the last lines flush.
  const sink = yield* makeStdoutSink
  yield* serveProxy(config, sink).pipe(Effect.mapError((e) => e.message))
  return yield* Effect.never
}).pipe(Effect.scoped)

// Logfmt lines on stderr; stdout carries only the JSON log channel.
const StderrLogger = Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger))

program.pipe(
  Effect.tapError((message) => Effect.logError(message)),
  Effect.provide(Layer.merge(NodeFileSystem.layer, StderrLogger)),
  NodeRuntime.runMain({ disableErrorReporting: true, disablePrettyLogger: true }),
)
