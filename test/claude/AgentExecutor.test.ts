import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Context, Duration, Effect, Exit, Fiber, Layer, Option, Ref, Stream, TestClock } from "effect"
import { AgentExecutorLive } from "../../src/layers/AgentExecutorLive.js"
import {
  ContainerRuntimeTest,
  type ContainerScript,
  FakeEngine,
} from "../../src/layers/ContainerRuntimeTest.js"
import { ConversationStoreMemory } from "../../src/layers/ConversationStoreMemory.js"
import { SecretRedactorLive } from "../../src/layers/SecretRedactorLive.js"
import type { AgentRequest } from "../../src/schema/AgentRequest.js"
import type { ContainerSpec } from "../../src/schema/ContainerSpec.js"
import { proxyCaTarget } from "../../src/schema/RunPolicy.js"
import { AgentExecutor, claudeArgs } from "../../src/services/AgentExecutor.js"
import { recoveryReplyCap } from "../../src/services/AgentRecovery.js"
import { ClaudeBinary, ClaudeBinaryUnavailable } from "../../src/services/ClaudeBinary.js"
import { ContainerRuntime } from "../../src/services/ContainerRuntime.js"
import { ConversationStore } from "../../src/services/ConversationStore.js"
import { SecretRedactor } from "../../src/services/SecretRedactor.js"
import { type FixtureName, loadFixture } from "../support/claudeFixtures.js"

/**
 * The live executor on the in-memory engine: containers "print" the stdout the real CLI printed
 * (the fixtures) and exit with its exit code. Time is the TestClock.
 */

const image = "localhost/airut-test-overlay:abc"

const fixtureScript = (name: FixtureName) =>
  Effect.map(
    loadFixture(name),
    (f): ContainerScript => ({ stdout: f.lines, stderr: f.exit.stderrTail, exitCode: f.exit.exitCode }),
  ).pipe(Effect.provide(NodeContext.layer))

/** Scripts by kind of run: a resumed one, a fresh one. */
interface Scripts {
  readonly fresh: ContainerScript
  readonly resumed?: ContainerScript
}

const isResume = (spec: ContainerSpec) => (spec.command ?? []).includes("--resume")

/** What the executor sent containers: signals, and what it wrote to stdin (per container). */
class Recorded extends Context.Tag("test/Recorded")<
  Recorded,
  { readonly signals: Ref.Ref<ReadonlyArray<string>>; readonly stdin: Ref.Ref<ReadonlyArray<string>> }
>() {}

const testLayer = (
  scripts: Scripts,
  options: { readonly binaryFails?: boolean; readonly binaryDelay?: Duration.DurationInput } = {},
) => {
  const engine = ContainerRuntimeTest({
    script: (spec) => (isResume(spec) ? (scripts.resumed ?? scripts.fresh) : scripts.fresh),
  })
  const recorded = Layer.effect(
    Recorded,
    Effect.all({ signals: Ref.make<ReadonlyArray<string>>([]), stdin: Ref.make<ReadonlyArray<string>>([]) }),
  )
  // Passes every call on to the fake engine, noting signals and stdin on the way.
  const recordingRuntime = Layer.effect(
    ContainerRuntime,
    Effect.gen(function* () {
      const inner = yield* ContainerRuntime
      const { signals, stdin } = yield* Recorded
      return ContainerRuntime.of({
        ...inner,
        killContainer: (id, signal) =>
          Ref.update(signals, (l) => [...l, signal ?? "SIGKILL"]).pipe(
            Effect.zipRight(inner.killContainer(id, signal)),
          ),
        attachContainer: (id, attach) =>
          Effect.map(inner.attachContainer(id, attach), (io) => ({
            ...io,
            writeStdin: (data: string | Uint8Array) =>
              Ref.update(stdin, (l) => [
                ...l,
                typeof data === "string" ? data : Buffer.from(data).toString(),
              ]).pipe(Effect.zipRight(io.writeStdin(data))),
          })),
      })
    }),
  ).pipe(Layer.provide(engine), Layer.provide(recorded))
  const binary = Layer.succeed(
    ClaudeBinary,
    ClaudeBinary.of({
      ensure: (version) =>
        options.binaryFails
          ? Effect.fail(new ClaudeBinaryUnavailable({ version, reason: "Download", detail: "registry down" }))
          : Effect.succeed({ path: `/state/claude/${version}/claude`, version, sha256: "0".repeat(64) }).pipe(
              Effect.delay(options.binaryDelay ?? Duration.zero),
            ),
    }),
  )
  const executor = AgentExecutorLive({ stopGrace: "5 seconds" }).pipe(
    Layer.provide(recordingRuntime),
    Layer.provide(binary),
  )
  return Layer.mergeAll(executor, engine, recorded).pipe(
    Layer.provideMerge(ConversationStoreMemory),
    Layer.provideMerge(SecretRedactorLive),
  )
}

/** A conversation, a task and a built image in the fakes; the request to run. */
const setup = (overrides: Partial<AgentRequest> = {}) =>
  Effect.gen(function* () {
    const store = yield* ConversationStore
    const runtime = yield* ContainerRuntime
    yield* runtime.buildImage({ tag: image, context: new Map([["Dockerfile", new Uint8Array()]]) })
    const conversation = yield* store.createConversation({
      repoId: "website",
      channel: "email",
      threadKeys: ["<m1@example.com>"],
      model: "sonnet",
    })
    const task = yield* store.createTask({
      conversationId: conversation.id,
      sender: "a@example.com",
      title: "t",
    })
    const request: AgentRequest = {
      taskId: task.id,
      conversationId: conversation.id,
      repoId: "website",
      image,
      claudeVersion: "2.1.330",
      hostPaths: {
        workspace: "/state/c/workspace",
        inbox: "/state/c/inbox",
        outbox: "/state/c/outbox",
        storage: "/state/c/storage",
        claudeState: "/state/c/claude",
      },
      prompt: "Say hello.",
      model: "claude-sonnet-4-5",
      env: { ANTHROPIC_API_KEY: "sk-ant-surrogate" },
      limits: {},
      ...overrides,
    }
    return request
  })

const storedLines = (request: AgentRequest) =>
  Effect.flatMap(ConversationStore, (store) =>
    store
      .readEvents({ taskId: request.taskId }, 0, 1000)
      .pipe(Effect.map((p) => p.events.map((e) => e.line))),
  )

/** Lets forked fibers run until `done` holds (the fakes never wait on real time). */
const settle = <A, E, R>(probe: Effect.Effect<A, E, R>, done: (a: A) => boolean) =>
  Effect.gen(function* () {
    for (let i = 0; i < 1000; i++) {
      if (done(yield* probe)) return
      yield* Effect.yieldNow()
    }
    return yield* Effect.dieMessage("the run never got there")
  })

describe("AgentExecutorLive", () => {
  it.effect("runs Claude headless with the prompt on stdin and returns the classified answer", () =>
    Effect.gen(function* () {
      const fixture = yield* loadFixture("one-turn").pipe(Effect.provide(NodeContext.layer))
      const outcome = yield* Effect.gen(function* () {
        const request = yield* setup({ effort: "high" })
        const outcome = yield* (yield* AgentExecutor).run(request)
        const [spec] = yield* (yield* FakeEngine).created
        assert.deepStrictEqual(spec?.command, claudeArgs({ model: "claude-sonnet-4-5", effort: "high" }))
        assert.deepStrictEqual(spec?.command, [
          "--model",
          "claude-sonnet-4-5",
          "--effort",
          "high",
          "-p",
          "-",
          "--dangerously-skip-permissions",
          "--output-format",
          "stream-json",
          "--verbose",
        ])
        assert.deepInclude(spec?.mounts ?? [], {
          source: "/state/claude/2.1.330/claude",
          target: "/opt/claude/claude",
          readOnly: true,
        })
        assert.deepInclude(spec?.mounts ?? [], {
          source: "/state/c/claude",
          target: "/root/.claude",
          readOnly: false,
        })
        assert.strictEqual(spec?.env?.IS_SANDBOX, "1")
        assert.strictEqual(spec?.env?.CLAUDE_CODE_DISABLE_BACKGROUND_TASKS, "1")
        assert.strictEqual(spec?.env?.CLAUDE_CONFIG_DIR, "/root/.claude")
        assert.strictEqual(spec?.env?.ANTHROPIC_API_KEY, "sk-ant-surrogate")
        assert.strictEqual(spec?.labels?.["airut.task"], request.taskId)
        // No sandbox asked for: no network settings (the repository turned it off).
        assert.isUndefined(spec?.network)
        const runtime = yield* ContainerRuntime
        assert.deepStrictEqual(yield* runtime.listContainers({ "airut.task": request.taskId }), [])
        // Every line stored, in order, as it came.
        assert.deepStrictEqual(yield* storedLines(request), fixture.lines)
        return outcome
      }).pipe(Effect.provide(testLayer({ fresh: yield* fixtureScript("one-turn") })))
      assert.strictEqual(outcome.replyText, "Hello! How can I help with this repository?")
      assert.strictEqual(outcome.sessionId, Option.getOrThrow(fixture.summary.initSessionId))
      assert.isFalse(outcome.recovered)
      assert.strictEqual(outcome.turns, 1)
    }),
  )

  it.effect("the prompt is written to the container's stdin, and nothing else", () =>
    Effect.gen(function* () {
      const stdin = yield* Effect.gen(function* () {
        const request = yield* setup({ prompt: "Fix the build, please." })
        yield* (yield* AgentExecutor).run(request)
        return yield* Ref.get((yield* Recorded).stdin)
      }).pipe(Effect.provide(testLayer({ fresh: yield* fixtureScript("one-turn") })))
      assert.deepStrictEqual(stdin, ["Fix the build, please."])
    }),
  )

  it.effect("start: the events stream in order and end with the run; the outcome follows", () =>
    Effect.gen(function* () {
      const fixture = yield* loadFixture("multi-turn-write").pipe(Effect.provide(NodeContext.layer))
      yield* Effect.scoped(
        Effect.gen(function* () {
          const request = yield* setup()
          const run = yield* (yield* AgentExecutor).start(request)
          const events = Chunk.toReadonlyArray(yield* Stream.runCollect(run.events))
          assert.deepStrictEqual(
            events.map((e) => e._tag),
            fixture.events.map((e) => e._tag),
          )
          const outcome = yield* run.outcome
          assert.strictEqual(outcome.turns, 4)
        }),
      ).pipe(Effect.provide(testLayer({ fresh: yield* fixtureScript("multi-turn-write") })))
    }),
  )

  it.effect("a resumed run passes --resume; an API error ends in ContainerFailed without a retry", () =>
    Effect.gen(function* () {
      const error = yield* Effect.gen(function* () {
        const request = yield* setup({ sessionId: "0f0f0f0f-0000-4000-8000-000000000001" })
        const error = yield* (yield* AgentExecutor).run(request).pipe(Effect.flip)
        const created = yield* (yield* FakeEngine).created
        assert.strictEqual(created.length, 1)
        assert.deepStrictEqual(created[0]?.command?.slice(0, 2), [
          "--resume",
          "0f0f0f0f-0000-4000-8000-000000000001",
        ])
        return error
      }).pipe(Effect.provide(testLayer({ fresh: yield* fixtureScript("api-error") })))
      assert.strictEqual(error._tag, "ContainerFailed")
      if (error._tag === "ContainerFailed") {
        assert.strictEqual(error.exitCode, 1)
        assert.include(error.detail, "Invalid API key")
      }
    }),
  )

  for (const rejected of ["resume-rejected", "resume-prompt-too-long", "resume-missing"] as const) {
    it.effect(
      `${rejected}: one retry in a fresh session with the recovery prompt, same model and effort`,
      () =>
        Effect.gen(function* () {
          const scripts = { resumed: yield* fixtureScript(rejected), fresh: yield* fixtureScript("one-turn") }
          const fresh = yield* loadFixture("one-turn").pipe(Effect.provide(NodeContext.layer))
          const lastReply = `${"x".repeat(recoveryReplyCap)}TAIL-NOT-SENT`
          yield* Effect.gen(function* () {
            const request = yield* setup({
              sessionId: "0f0f0f0f-0000-4000-8000-000000000001",
              lastReply,
              effort: "max",
              prompt: "And the tests?",
            })
            const outcome = yield* (yield* AgentExecutor).run(request)
            assert.isTrue(outcome.recovered)
            assert.strictEqual(outcome.sessionId, Option.getOrThrow(fresh.summary.initSessionId))
            const engine = yield* FakeEngine
            const created = yield* engine.created
            assert.strictEqual(created.length, 2)
            assert.notInclude(created[1]?.command ?? [], "--resume")
            assert.deepStrictEqual(
              created[1]?.command,
              claudeArgs({ model: "claude-sonnet-4-5", effort: "max" }),
            )
            // Both runs' lines are in the task's log.
            const stored = yield* storedLines(request)
            assert.strictEqual(stored.length, (scripts.resumed.stdout?.length ?? 0) + fresh.lines.length)
          }).pipe(Effect.provide(testLayer(scripts)))
        }),
    )
  }

  it.effect("the retry's stdin is the recovery prompt: what happened, the last reply cut, the message", () =>
    Effect.gen(function* () {
      const scripts = {
        resumed: yield* fixtureScript("resume-rejected"),
        fresh: yield* fixtureScript("one-turn"),
      }
      const stdin = yield* Effect.gen(function* () {
        const request = yield* setup({
          sessionId: "0f0f0f0f-0000-4000-8000-000000000001",
          lastReply: `${"x".repeat(recoveryReplyCap)}TAIL-NOT-SENT`,
          prompt: "And the tests?",
        })
        yield* (yield* AgentExecutor).run(request)
        return yield* Ref.get((yield* Recorded).stdin)
      }).pipe(Effect.provide(testLayer(scripts)))
      assert.strictEqual(stdin.length, 2)
      assert.strictEqual(stdin[0], "And the tests?")
      const retry = stdin[1] ?? ""
      assert.include(retry, "could not be resumed")
      assert.include(retry, "x".repeat(recoveryReplyCap))
      assert.notInclude(retry, "TAIL-NOT-SENT")
      assert.isTrue(retry.endsWith("\n\nAnd the tests?"))
    }),
  )

  it.effect("without a last reply the recovery prompt still explains and carries the message", () =>
    Effect.gen(function* () {
      const scripts = {
        resumed: yield* fixtureScript("resume-missing"),
        fresh: yield* fixtureScript("one-turn"),
      }
      const stdin = yield* Effect.gen(function* () {
        const request = yield* setup({ sessionId: "0f0f0f0f-0000-4000-8000-000000000001", prompt: "Go on." })
        yield* (yield* AgentExecutor).run(request)
        return yield* Ref.get((yield* Recorded).stdin)
      }).pipe(Effect.provide(testLayer(scripts)))
      assert.notInclude(stdin[1] ?? "", "Your last reply")
      assert.include(stdin[1] ?? "", "could not be resumed")
      assert.isTrue((stdin[1] ?? "").endsWith("Go on."))
    }),
  )

  it.effect("a fresh session that is too long is not retried", () =>
    Effect.gen(function* () {
      const error = yield* Effect.gen(function* () {
        const request = yield* setup()
        const error = yield* (yield* AgentExecutor).run(request).pipe(Effect.flip)
        assert.strictEqual((yield* (yield* FakeEngine).created).length, 1)
        return error
      }).pipe(Effect.provide(testLayer({ fresh: yield* fixtureScript("prompt-too-long") })))
      assert.strictEqual(error._tag, "PromptTooLong")
    }),
  )

  it.effect("a recovery that fails too reports the second failure", () =>
    Effect.gen(function* () {
      const scripts = {
        resumed: yield* fixtureScript("resume-rejected"),
        fresh: yield* fixtureScript("api-error"),
      }
      const error = yield* Effect.gen(function* () {
        const request = yield* setup({ sessionId: "0f0f0f0f-0000-4000-8000-000000000001" })
        return yield* (yield* AgentExecutor).run(request).pipe(Effect.flip)
      }).pipe(Effect.provide(testLayer(scripts)))
      assert.strictEqual(error._tag, "ContainerFailed")
    }),
  )

  it.effect("a run past its timeout: TaskTimeout, the container stopped and removed, the session kept", () =>
    Effect.gen(function* () {
      const fixture = yield* loadFixture("one-turn").pipe(Effect.provide(NodeContext.layer))
      const initLine = fixture.lines[0] ?? ""
      const hanging: ContainerScript = { stdout: [initLine], runsUntilKilled: true }
      yield* Effect.gen(function* () {
        const request = yield* setup({ timeout: Duration.minutes(30) })
        const fiber = yield* (yield* AgentExecutor).run(request).pipe(Effect.flip, Effect.fork)
        yield* settle(storedLines(request), (lines) => lines.length === 1)
        yield* TestClock.adjust("29 minutes")
        assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
        yield* TestClock.adjust("1 minute")
        const error = yield* Fiber.join(fiber)
        assert.strictEqual(error._tag, "TaskTimeout")
        if (error._tag !== "TaskTimeout") return
        const session = Option.getOrThrow(fixture.summary.initSessionId)
        assert.deepStrictEqual(error.sessionId, Option.some(session))
        assert.strictEqual(error.timeoutMs, 30 * 60 * 1000)
        const conversation = yield* (yield* ConversationStore).getConversation(request.conversationId)
        assert.deepStrictEqual(conversation.sessionId, Option.some(session))
        assert.deepStrictEqual(yield* (yield* ContainerRuntime).listContainers({}), [])
        // Asked to stop first, then killed by the container's release.
        assert.deepStrictEqual((yield* Ref.get((yield* Recorded).signals)).slice(0, 1), ["SIGTERM"])
      }).pipe(Effect.provide(testLayer({ fresh: hanging })))
    }),
  )

  it.effect("the time limit covers the recovery retry; the fresh session is the one kept", () =>
    Effect.gen(function* () {
      const fresh = yield* loadFixture("one-turn").pipe(Effect.provide(NodeContext.layer))
      const scripts = {
        resumed: yield* fixtureScript("resume-rejected"),
        fresh: { stdout: [fresh.lines[0] ?? ""], runsUntilKilled: true },
      }
      yield* Effect.gen(function* () {
        const request = yield* setup({
          sessionId: "0f0f0f0f-0000-4000-8000-000000000001",
          timeout: Duration.minutes(10),
        })
        const fiber = yield* (yield* AgentExecutor).run(request).pipe(Effect.flip, Effect.fork)
        yield* settle(
          Effect.map((yield* FakeEngine).created, (c) => c.length),
          (n) => n === 2,
        )
        yield* TestClock.adjust("10 minutes")
        const error = yield* Fiber.join(fiber)
        assert.strictEqual(error._tag, "TaskTimeout")
        const session = Option.getOrThrow(fresh.summary.initSessionId)
        if (error._tag === "TaskTimeout") assert.deepStrictEqual(error.sessionId, Option.some(session))
        const conversation = yield* (yield* ConversationStore).getConversation(request.conversationId)
        assert.deepStrictEqual(conversation.sessionId, Option.some(session))
      }).pipe(Effect.provide(testLayer(scripts)))
    }),
  )

  it.effect("fetching the binary is not the agent's time", () =>
    Effect.gen(function* () {
      yield* Effect.gen(function* () {
        const request = yield* setup({ timeout: Duration.minutes(30) })
        const fiber = yield* (yield* AgentExecutor).run(request).pipe(Effect.fork)
        yield* TestClock.adjust("40 minutes")
        const outcome = yield* Fiber.join(fiber)
        assert.strictEqual(outcome.replyText, "Hello! How can I help with this repository?")
      }).pipe(
        Effect.provide(testLayer({ fresh: yield* fixtureScript("one-turn") }, { binaryDelay: "40 minutes" })),
      )
    }),
  )

  it.effect("interrupting a run sends SIGTERM and removes the container", () =>
    Effect.gen(function* () {
      const hanging: ContainerScript = { stdout: [], runsUntilKilled: true }
      yield* Effect.gen(function* () {
        const request = yield* setup()
        const fiber = yield* (yield* AgentExecutor).run(request).pipe(Effect.fork)
        const runtime = yield* ContainerRuntime
        yield* settle(runtime.listContainers({}), (l) => l.length === 1)
        const exit = yield* Fiber.interrupt(fiber)
        assert.isTrue(Exit.isInterrupted(exit))
        assert.deepStrictEqual(yield* runtime.listContainers({}), [])
        assert.deepStrictEqual((yield* Ref.get((yield* Recorded).signals))[0], "SIGTERM")
        const task = yield* (yield* ConversationStore).getTask(request.taskId)
        assert.strictEqual(task.state, "completed")
        assert.deepStrictEqual(task.completionReason, Option.some("stopped"))
      }).pipe(Effect.provide(testLayer({ fresh: hanging })))
    }),
  )

  it.effect("an interruption after the task was completed otherwise (shutdown) keeps that completion", () =>
    Effect.gen(function* () {
      const hanging: ContainerScript = { stdout: [], runsUntilKilled: true }
      yield* Effect.gen(function* () {
        const request = yield* setup()
        const store = yield* ConversationStore
        const fiber = yield* (yield* AgentExecutor).run(request).pipe(Effect.fork)
        yield* settle((yield* ContainerRuntime).listContainers({}), (l) => l.length === 1)
        yield* store.updateTaskState(request.taskId, { state: "completed", reason: "interrupted" })
        yield* Fiber.interrupt(fiber)
        const task = yield* store.getTask(request.taskId)
        assert.deepStrictEqual(task.completionReason, Option.some("interrupted"))
      }).pipe(Effect.provide(testLayer({ fresh: hanging })))
    }),
  )

  it.effect("plain secrets the agent prints are masked in the stored lines, the events and the failure", () =>
    Effect.gen(function* () {
      const secret = "plain-secret-4f2a9c"
      const leaky: ContainerScript = {
        stdout: [
          JSON.stringify({ type: "system", subtype: "init", session_id: "s-1" }),
          JSON.stringify({
            type: "assistant",
            message: { content: [{ type: "text", text: `token=${secret}` }] },
          }),
          `crash: ${secret}`,
        ],
        stderr: [`env dump ${secret}`],
        exitCode: 3,
      }
      yield* Effect.scoped(
        Effect.gen(function* () {
          yield* (yield* SecretRedactor).register([secret])
          const request = yield* setup({ env: { PLAIN_TOKEN: secret } })
          const run = yield* (yield* AgentExecutor).start(request)
          const events = Chunk.toReadonlyArray(yield* Stream.runCollect(run.events))
          const error = yield* Effect.flip(run.outcome)
          const stored = yield* storedLines(request)
          assert.strictEqual(stored.length, 3)
          for (const text of [...stored, JSON.stringify(events), JSON.stringify(error)]) {
            assert.notInclude(text, secret)
          }
          assert.include(stored[2] ?? "", "<redacted>")
          assert.strictEqual(error._tag, "ContainerFailed")
        }),
      ).pipe(Effect.provide(testLayer({ fresh: leaky })))
    }),
  )

  it.effect("a missing binary is ExecutorFailed (binary), and no container is made", () =>
    Effect.gen(function* () {
      yield* Effect.gen(function* () {
        const request = yield* setup()
        const error = yield* (yield* AgentExecutor).run(request).pipe(Effect.flip)
        assert.strictEqual(error._tag, "ExecutorFailed")
        if (error._tag === "ExecutorFailed") assert.strictEqual(error.stage, "binary")
        assert.deepStrictEqual(yield* (yield* FakeEngine).created, [])
      }).pipe(Effect.provide(testLayer({ fresh: {} }, { binaryFails: true })))
    }),
  )

  it.effect("with a sandbox: the internal network, the proxy as DNS, the CA mounted and trusted", () =>
    Effect.gen(function* () {
      yield* Effect.gen(function* () {
        const runtime = yield* ContainerRuntime
        yield* runtime.createNetwork({ name: "airut-task-net", internal: true })
        const request = yield* setup({
          sandbox: { network: "airut-task-net", proxyIp: "10.199.1.100", caCertPath: "/state/ca/ca.crt" },
        })
        yield* (yield* AgentExecutor).run(request)
        const [spec] = yield* (yield* FakeEngine).created
        assert.strictEqual(spec?.network?.name, "airut-task-net")
        assert.deepStrictEqual(spec?.dns, ["10.199.1.100"])
        assert.deepInclude(spec?.mounts ?? [], {
          source: "/state/ca/ca.crt",
          target: proxyCaTarget,
          readOnly: true,
        })
        assert.strictEqual(spec?.env?.NODE_EXTRA_CA_CERTS, proxyCaTarget)
      }).pipe(Effect.provide(testLayer({ fresh: yield* fixtureScript("one-turn") })))
    }),
  )
})
