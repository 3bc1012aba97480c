import { ValidationError } from "@effect/cli"
import { assert, describe, it } from "@effect/vitest"
import { Cause, DateTime, Effect, Either, Exit, FiberId, Option } from "effect"
import {
  CommandExited,
  commandExitCode,
  describeSetupError,
  exitCodeOf,
  oomHint,
  SetupFailed,
} from "../../src/programs/sandboxCli/exitCodes.js"
import { liveLogLine } from "../../src/programs/sandboxCli/liveLog.js"
import { parseMount } from "../../src/programs/sandboxCli/mounts.js"
import { SandboxCliLive, sandboxCli } from "../../src/programs/sandboxCli/SandboxCli.js"
import { ConfigInvalid } from "../../src/schema/ConfigIssue.js"
import { EngineUnreachable, ImageBuildFailed } from "../../src/services/ContainerRuntime.js"
import { ProxyFailed } from "../../src/services/NetworkProxy.js"

describe("airut-sandbox exit codes", () => {
  it("passes the command's code through, 124/125 for the sandbox's own outcomes, 130 on interruption", () => {
    assert.strictEqual(exitCodeOf(Exit.void), 0)
    assert.strictEqual(exitCodeOf(Exit.fail(new CommandExited({ code: 3 }))), 3)
    assert.strictEqual(exitCodeOf(Exit.fail(new CommandExited({ code: 124 }))), 124)
    assert.strictEqual(exitCodeOf(Exit.fail(new SetupFailed({ what: "image build", detail: "x" }))), 125)
    assert.strictEqual(exitCodeOf(Exit.die(new Error("bug"))), 125)
    assert.strictEqual(exitCodeOf(Exit.interrupt(FiberId.none)), 130)
  })

  it("an OOM kill is 137 with a hint; a bare 137 is called likely only under a memory limit", () => {
    assert.strictEqual(commandExitCode({ exitCode: 1, oomKilled: true }), 137)
    assert.strictEqual(commandExitCode({ exitCode: 3, oomKilled: false }), 3)
    assert.isTrue(Option.isSome(oomHint({ exitCode: 137, oomKilled: true }, false)))
    assert.isTrue(Option.isSome(oomHint({ exitCode: 137, oomKilled: false }, true)))
    assert.isTrue(Option.isNone(oomHint({ exitCode: 137, oomKilled: false }, false)))
    assert.isTrue(Option.isNone(oomHint({ exitCode: 0, oomKilled: false }, true)))
  })

  it("says in one line which part of the sandbox failed", () => {
    const lines = [
      describeSetupError(new EngineUnreachable({ socketPath: "/run/x.sock", detail: "connect ENOENT" })),
      describeSetupError(
        new ImageBuildFailed({ tag: "t", detail: "RUN failed\nexit 1", lastLines: ["boom"] }),
      ),
      describeSetupError(new ProxyFailed({ reason: "unhealthy", detail: "no answer on 443" })),
      describeSetupError(
        new ConfigInvalid({
          file: ".airut/sandbox.yaml",
          issues: [{ path: "masked_secrets.TOKEN.value", message: "environment variable TOKEN is not set" }],
        }),
      ),
    ].map((e) => e.message)
    assert.strictEqual(lines[0], "container engine: no answer on /run/x.sock: connect ENOENT")
    assert.match(lines[1] ?? "", /^image build: t: RUN failed; exit 1 \(last output: boom\)$/)
    assert.match(lines[2] ?? "", /^network proxy: /)
    assert.strictEqual(
      lines[3],
      ".airut/sandbox.yaml: masked_secrets.TOKEN.value: environment variable TOKEN is not set",
    )
    for (const line of lines) assert.notInclude(line, "\n")
  })
})

describe("airut-sandbox arguments", () => {
  it("--mount SRC:DST[:ro] resolves SRC and refuses /workspace and relative targets", () => {
    assert.deepStrictEqual(
      parseMount("cache:/cache:ro", "/repo"),
      Either.right({ source: "/repo/cache", target: "/cache", readOnly: true }),
    )
    assert.deepStrictEqual(
      parseMount("/a:/b", "/repo"),
      Either.right({ source: "/a", target: "/b", readOnly: false }),
    )
    assert.isTrue(Either.isLeft(parseMount("a:b", "/repo")))
    assert.isTrue(Either.isLeft(parseMount("a:/workspace", "/repo")))
    assert.isTrue(Either.isLeft(parseMount("a:/b:rx", "/repo")))
    assert.isTrue(Either.isLeft(parseMount("a", "/repo")))
  })

  it.effect("a malformed option is a command-line error (exit 125) before anything runs", () =>
    Effect.gen(function* () {
      const exit = yield* sandboxCli([
        "node",
        "airut-sandbox",
        "run",
        "--timeout",
        "soon",
        "--",
        "true",
      ]).pipe(Effect.exit)
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) {
        const failure = Cause.failureOption(exit.cause)
        assert.isTrue(Option.isSome(failure) && ValidationError.isValidationError(failure.value))
      }
      assert.strictEqual(exitCodeOf(exit), 125)
    }).pipe(Effect.provide(SandboxCliLive)),
  )

  it.effect("a missing command is a command-line error", () =>
    Effect.gen(function* () {
      const exit = yield* sandboxCli(["node", "airut-sandbox", "run", "--verbose"]).pipe(Effect.exit)
      assert.strictEqual(exitCodeOf(exit), 125)
    }).pipe(Effect.provide(SandboxCliLive)),
  )
})

describe("--network-log-live", () => {
  it("prints requests (blocked with why) and TLS failures, not DNS answers", () => {
    const time = DateTime.unsafeMake(0)
    assert.deepStrictEqual(
      liveLogLine({
        kind: "request",
        time,
        action: "blocked",
        method: "GET",
        host: "evil.example",
        path: "/x?y=1",
        status: 403,
        durationMs: 1,
        swapped: 0,
        reason: "host not allowed",
      }),
      Option.some("[net] BLOCKED GET evil.example/x?y=1 -> 403 (host not allowed)"),
    )
    assert.deepStrictEqual(
      liveLogLine({
        kind: "request",
        time,
        action: "allowed",
        method: "POST",
        host: "api.example",
        path: "/v1",
        status: 200,
        durationMs: 1,
        swapped: 1,
      }),
      Option.some("[net] ALLOWED POST api.example/v1 -> 200 [masked: 1]"),
    )
    assert.isTrue(Option.isNone(liveLogLine({ kind: "dns", time, name: "a", type: "A", answer: "10.0.0.2" })))
  })
})
