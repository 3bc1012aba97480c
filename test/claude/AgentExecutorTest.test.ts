import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Option, Stream, TestClock } from "effect"
import { AgentExecutorTest, answered, FakeAgent } from "../../src/layers/AgentExecutorTest.js"
import { parseAgentLine } from "../../src/schema/AgentEvent.js"
import type { AgentRequest } from "../../src/schema/AgentRequest.js"
import { ConversationId } from "../../src/schema/ConversationId.js"
import { TaskId } from "../../src/schema/TaskId.js"
import { AgentExecutor, TaskTimeout } from "../../src/services/AgentExecutor.js"

const request: AgentRequest = {
  taskId: TaskId.make("0123456789ab"),
  conversationId: ConversationId.make("01234567"),
  repoId: "r",
  image: "i",
  claudeVersion: "2.1.330",
  hostPaths: { workspace: "/w", inbox: "/i", outbox: "/o", storage: "/s", claudeState: "/c" },
  prompt: "p",
  model: "sonnet",
  env: {},
  limits: {},
}

describe("AgentExecutorTest", () => {
  it.scoped("emits the scripted events, ends as scripted, records the request", () =>
    Effect.gen(function* () {
      const executor = yield* AgentExecutor
      const run = yield* executor.start(request)
      const events = Chunk.toReadonlyArray(yield* Stream.runCollect(run.events))
      assert.deepStrictEqual(
        events.map((e) => e._tag),
        ["SystemInit"],
      )
      assert.strictEqual((yield* run.outcome).replyText, "Working on it.")
      assert.deepStrictEqual(yield* (yield* FakeAgent).requests, [request])
    }).pipe(
      Effect.provide(
        AgentExecutorTest({
          events: () => [parseAgentLine('{"type":"system","subtype":"init","session_id":"s"}')],
          respond: () => Effect.succeed(answered("Working on it.")),
        }),
      ),
    ),
  )

  it.effect("a scripted run can take time on the TestClock and fail", () =>
    Effect.gen(function* () {
      const fiber = yield* (yield* AgentExecutor).run(request).pipe(Effect.flip, Effect.fork)
      yield* TestClock.adjust("10 minutes")
      assert.strictEqual((yield* Fiber.join(fiber))._tag, "TaskTimeout")
    }).pipe(
      Effect.provide(
        AgentExecutorTest({
          respond: () =>
            Effect.sleep("10 minutes").pipe(
              Effect.zipRight(new TaskTimeout({ timeoutMs: 600_000, sessionId: Option.none() })),
            ),
        }),
      ),
    ),
  )
})
