import { FileSystem, Path } from "@effect/platform"
import { Config, Duration, Effect, Option } from "effect"
import { ContainerRuntime } from "../../services/ContainerRuntime.js"
import { SandboxLayer } from "../SandboxLayer.js"
import { SetupFailed } from "./exitCodes.js"

/**
 * Where the engine and the state are, and the Sandbox layer over them. Every name the CLI makes
 * starts with its prefix (default `airut-sandbox`), so a CI run never touches the gateway's
 * egress network or images.
 */

export interface EngineSettings {
  readonly socket: Option.Option<string>
  readonly stateDir: Option.Option<string>
  readonly prefix: string
  readonly maxImageAge: number
}

const uid = Effect.sync(() => process.getuid?.() ?? 0)

/** Podman's rootless socket, its rootful one, then Docker's: the first that exists is used. */
export const candidateSockets = Effect.gen(function* () {
  const runtimeDir = yield* Config.option(Config.nonEmptyString("XDG_RUNTIME_DIR"))
  const id = yield* uid
  const rootless = Option.getOrElse(runtimeDir, () => `/run/user/${id}`)
  return [`${rootless}/podman/podman.sock`, "/run/podman/podman.sock", "/var/run/docker.sock"]
})

/** The socket to use: the one given, else the first candidate that exists (125 when none). */
export const resolveSocket = (given: Option.Option<string>) =>
  Effect.gen(function* () {
    if (Option.isSome(given)) return given.value
    const fs = yield* FileSystem.FileSystem
    const candidates = yield* candidateSockets
    for (const candidate of candidates) {
      // A socket we may not even stat is one we could not use: try the next.
      if (yield* fs.exists(candidate).pipe(Effect.orElseSucceed(() => false))) return candidate
    }
    return yield* new SetupFailed({
      what: "container engine",
      detail: `no engine socket found (tried ${candidates.join(", ")}); start \`podman system service\` or pass --socket`,
    })
  })

/** `--state-dir`, else $XDG_CACHE_HOME/airut-sandbox, else ~/.cache/airut-sandbox. */
export const resolveStateDir = (given: Option.Option<string>) =>
  Effect.gen(function* () {
    const path = yield* Path.Path
    if (Option.isSome(given)) return path.resolve(given.value)
    const xdg = yield* Config.option(Config.nonEmptyString("XDG_CACHE_HOME"))
    if (Option.isSome(xdg)) return path.join(xdg.value, "airut-sandbox")
    const home = yield* Config.string("HOME").pipe(Config.withDefault("/root"))
    return path.join(home, ".cache", "airut-sandbox")
  })

/**
 * Host → `addr:port` reroutes for the proxy (AIRUT_SANDBOX_UPSTREAM_OVERRIDES, `host=addr:port`
 * separated by commas) and a PEM file of extra upstream CAs (AIRUT_SANDBOX_UPSTREAM_CA). For
 * testing against local upstreams; set by whoever runs the CLI, never read from the repository.
 */
export const upstreamSettings = Effect.gen(function* () {
  const raw = yield* Config.string("AIRUT_SANDBOX_UPSTREAM_OVERRIDES").pipe(Config.withDefault(""))
  const overrides: Record<string, string> = {}
  for (const entry of raw.split(",").map((e) => e.trim())) {
    if (entry === "") continue
    const [host, address] = entry.split("=")
    if (host === undefined || address === undefined || host === "" || !/^[^:]+:\d+$/.test(address)) {
      return yield* new SetupFailed({
        what: "AIRUT_SANDBOX_UPSTREAM_OVERRIDES",
        detail: `expected host=addr:port, got ${entry}`,
      })
    }
    overrides[host.toLowerCase()] = address
  }
  const caFile = yield* Config.option(Config.nonEmptyString("AIRUT_SANDBOX_UPSTREAM_CA"))
  const fs = yield* FileSystem.FileSystem
  const caPem = yield* Option.match(caFile, {
    onNone: () => Effect.succeed(Option.none<string>()),
    onSome: (file) =>
      fs.readFileString(file).pipe(
        Effect.map(Option.some),
        Effect.mapError((e) => new SetupFailed({ what: "AIRUT_SANDBOX_UPSTREAM_CA", detail: e.message })),
      ),
  })
  return { overrides, caPem }
})

/** The Sandbox layer (with the runtime and sidecar images) for these settings. */
export const sandboxLayerFor = (settings: EngineSettings, socketPath: string, stateDir: string) =>
  SandboxLayer({
    socketPath,
    stateDir,
    imagePrefix: `localhost/${settings.prefix}`,
    maxImageAge: Duration.hours(settings.maxImageAge),
    // What the original gave a command after SIGTERM before it killed it.
    stopGrace: Duration.seconds(5),
  })

/** Fails with the socket's name when the engine does not answer, before anything is built. */
export const pingEngine = Effect.flatMap(ContainerRuntime, (runtime) => runtime.ping)
