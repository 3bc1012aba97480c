import { Args, Command, Options } from "@effect/cli"
import { FileSystem, Path } from "@effect/platform"
import { NodeSink } from "@effect/platform-node"
import { Config, Console, Duration, Effect, Either, Exit, Fiber, Option, Schema, Scope, Stream } from "effect"
import { NetworkLogLine } from "../../schema/NetworkLogLine.js"
import type { SandboxFile } from "../../schema/SandboxFile.js"
import { ContainerError } from "../../services/ContainerRuntime.js"
import { type CommandExit, Sandbox, type TaskNetwork } from "../../services/Sandbox.js"
import { SecretRedactor } from "../../services/SecretRedactor.js"
import { pingEngine, resolveSocket, resolveStateDir, sandboxLayerFor, upstreamSettings } from "./engine.js"
import {
  CommandExited,
  commandExitCode,
  describeSetupError,
  exitCodes,
  oomHint,
  SetupFailed,
  asSetupFailed as setup,
} from "./exitCodes.js"
import { liveLogLine } from "./liveLog.js"
import { parseMount } from "./mounts.js"
import { engineOptions } from "./options.js"
import { containerLimits, loadAllowlist, loadSandboxFile, readBuildContext } from "./repoFiles.js"
import { withVerbosity } from "./verbosity.js"

/**
 * `airut-sandbox run [options] -- CMD...`: the command in the gateway's sandbox, with the current
 * directory at /workspace. Its stdout and stderr pass through as bytes; the exit code is its own
 * (see exitCodes.ts for the sandbox's). Interrupted (SIGINT, SIGTERM), the scope stops the
 * container (SIGTERM, then kill after 5 s) and removes everything the run made.
 */

const options = {
  ...engineOptions,
  config: Options.file("config").pipe(
    Options.withDescription("The sandbox settings (default .airut/sandbox.yaml; absent: defaults)."),
    Options.optional,
  ),
  allowlist: Options.file("allowlist").pipe(
    Options.withDescription("The network allowlist (default .airut/network-allowlist.yaml)."),
    Options.optional,
  ),
  timeout: Options.integer("timeout").pipe(
    Options.withDescription(
      "Kill the command after this many seconds and exit 124 (default: resource_limits.timeout; 0: none).",
    ),
    Options.optional,
  ),
  mount: Options.text("mount").pipe(
    Options.withDescription("Also mount SRC at DST in the container, read-only with :ro (repeatable)."),
    Options.repeated,
  ),
  networkLog: Options.file("network-log").pipe(
    Options.withDescription("Append every request the proxy saw to FILE, one JSON object per line."),
    Options.optional,
  ),
  networkLogLive: Options.boolean("network-log-live").pipe(
    Options.withDescription("Print each allowed and blocked request on stderr as it happens."),
  ),
}

const command = Args.text({ name: "command" }).pipe(
  Args.atLeast(1),
  Args.withDescription("The command and its arguments (after --); no shell unless you run one."),
)

export type RunOptions = Command.Command.ParseConfig<typeof options> & {
  readonly command: ReadonlyArray<string>
}

/** The container's environment: `env`, then the `pass_env` variables that are set here. */
const plainEnv = (file: SandboxFile) =>
  Effect.gen(function* () {
    const passed: Record<string, string> = {}
    for (const name of file.pass_env) {
      const value = yield* Config.option(Config.string(name))
      if (Option.isSome(value)) passed[name] = value.value
    }
    return { ...file.env, ...passed }
  })

/** Copies one output stream to ours, byte for byte. */
const passThrough = (bytes: Stream.Stream<Uint8Array, ContainerError>, fd: "stdout" | "stderr") =>
  bytes.pipe(
    Stream.run(
      NodeSink.fromWritable(
        () => (fd === "stdout" ? process.stdout : process.stderr),
        (cause) =>
          new ContainerError({ operation: `write ${fd}`, reason: "Protocol", detail: String(cause) }),
        { endOnDone: false },
      ),
    ),
  )

export const runSandboxed = (args: RunOptions) =>
  Effect.gen(function* () {
    const path = yield* Path.Path
    const fs = yield* FileSystem.FileSystem
    const cwd = path.resolve(".")
    const say = (line: string) => (args.verbose ? Console.error(`airut-sandbox: ${line}`) : Effect.void)

    // Everything from the repository first: a bad file or a missing `!env` variable stops the
    // run before the engine is asked for anything.
    const file = yield* setup(loadSandboxFile(cwd, args.config))
    const redactor = yield* SecretRedactor
    yield* redactor.register([
      ...Object.values(file.masked_secrets).map((s) => s.value),
      ...Object.values(file.signing_credentials).flatMap((c) =>
        [c.access_key_id, c.secret_access_key, c.session_token].flatMap((s) =>
          s === undefined ? [] : [s.value],
        ),
      ),
    ])
    const allowlist = file.network_sandbox
      ? Option.some(yield* setup(loadAllowlist(cwd, args.allowlist)))
      : Option.none()
    const context = yield* setup(readBuildContext(path.resolve(cwd, args.contextDir)))
    const limits = yield* containerLimits(file)
    const mounts = yield* Effect.forEach(args.mount, (spec) =>
      Either.match(parseMount(spec, cwd), {
        onLeft: (detail) => Effect.fail(new SetupFailed({ what: "--mount", detail })),
        onRight: Effect.succeed,
      }),
    )
    const timeoutSeconds = Option.getOrElse(args.timeout, () => file.resource_limits.timeout ?? 0)
    const env = yield* plainEnv(file)
    const upstream = yield* upstreamSettings
    const socketPath = yield* resolveSocket(args.socket)
    const stateDir = yield* resolveStateDir(args.stateDir)
    yield* fs
      .makeDirectory(stateDir, { recursive: true, mode: 0o700 })
      .pipe(Effect.mapError((e) => new SetupFailed({ what: "state directory", detail: e.message })))

    const network: TaskNetwork = Option.match(allowlist, {
      onNone: () => ({ kind: "open" }),
      onSome: (list) => ({
        kind: "sandboxed",
        allowlist: list,
        maskedSecrets: file.masked_secrets,
        signingCredentials: file.signing_credentials,
        upstreamOverrides: upstream.overrides,
        ...Option.match(upstream.caPem, {
          onNone: () => ({}),
          onSome: (upstreamCaPem) => ({ upstreamCaPem }),
        }),
      }),
    })
    if (network.kind === "open") {
      const masked = Object.keys(file.masked_secrets).length + Object.keys(file.signing_credentials).length
      yield* Console.error(
        `airut-sandbox: network_sandbox is false: the command has open network access${masked > 0 ? "; its masked credentials are surrogates that no proxy swaps, so calls using them will fail" : ""}`,
      )
    }

    const program = Effect.gen(function* () {
      yield* setup(pingEngine)
      yield* say(`engine at ${socketPath}`)
      const sandbox = yield* Sandbox
      const image = yield* setup(sandbox.ensureImage(context))
      yield* say(
        `image ${image.commandTag}: ${image.repo === "cached" ? "repo layer cached, no build" : `repo layer ${image.repo}`}`,
      )

      // The task lives in its own scope, closed before the network log is flushed: the log
      // stream ends when the task does.
      const taskScope = yield* Scope.make()
      yield* Effect.addFinalizer((exit) => Scope.close(taskScope, exit))
      const task = yield* setup(
        sandbox.task({ image, workspace: cwd, network, env, limits, mounts, name: "airut-sandbox" }),
      ).pipe(Scope.extend(taskScope))
      yield* say(task.sandboxed ? "sandbox ready (isolation proven, proxy up)" : "task ready (open network)")

      const logFile = yield* Option.match(args.networkLog, {
        onNone: () => Effect.succeed(Option.none<FileSystem.File>()),
        onSome: (name) =>
          fs.open(path.resolve(cwd, name), { flag: "a" }).pipe(
            Effect.map(Option.some),
            Effect.mapError((e) => new SetupFailed({ what: "--network-log", detail: e.message })),
          ),
      })
      const encodeLine = Schema.encode(Schema.parseJson(NetworkLogLine))
      const logFiber = yield* task.networkLog.pipe(
        Stream.runForEach((line) =>
          Effect.gen(function* () {
            if (Option.isSome(logFile)) {
              const json = yield* encodeLine(line).pipe(Effect.orDie)
              yield* logFile.value.writeAll(new TextEncoder().encode(`${json}\n`))
            }
            if (args.networkLogLive) {
              yield* Option.match(liveLogLine(line), { onNone: () => Effect.void, onSome: Console.error })
            }
          }),
        ),
        Effect.catchAllCause((cause) => Console.error(`airut-sandbox: network log: ${cause}`)),
        Effect.forkScoped,
      )

      const ran = yield* Effect.gen(function* () {
        const run = yield* setup(
          task.run(args.command, timeoutSeconds > 0 ? { timeout: Duration.seconds(timeoutSeconds) } : {}),
        )
        const [, , exit] = yield* Effect.all(
          [
            passThrough(run.stdoutBytes, "stdout"),
            passThrough(run.stderrBytes, "stderr"),
            Effect.either(run.exit),
          ],
          { concurrency: "unbounded" },
        )
        return exit
      }).pipe(Scope.extend(taskScope))

      yield* Scope.close(taskScope, Exit.void)
      yield* Fiber.join(logFiber)
      return ran
    }).pipe(Effect.scoped, Effect.provide(sandboxLayerFor(args, socketPath, stateDir)))

    const ended = yield* program
    const exit: CommandExit = yield* Either.match(ended, {
      onRight: Effect.succeed,
      onLeft: (e) =>
        e._tag === "CommandTimeout"
          ? Console.error(`airut-sandbox: ${e.message}`).pipe(
              Effect.zipRight(Effect.fail(new CommandExited({ code: exitCodes.timeout }))),
            )
          : Effect.fail(describeSetupError(e)),
    })
    yield* Option.match(oomHint(exit, limits.memoryBytes !== undefined), {
      onNone: () => Effect.void,
      onSome: Console.error,
    })
    const code = commandExitCode(exit)
    if (code !== 0) return yield* new CommandExited({ code })
  }).pipe(withVerbosity(args.verbose))

export const runCommand = Command.make("run", { ...options, command }, runSandboxed).pipe(
  Command.withDescription(
    "Run a command in the sandbox: the current directory at /workspace, the image from .airut/container, network only through the allowlisting proxy.",
  ),
)
