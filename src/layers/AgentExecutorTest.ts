import { Context, Effect, Layer, Ref } from "effect"
import type { AgentEvent } from "../schema/AgentEvent.js"
import type { AgentOutcome } from "../schema/AgentOutcome.js"
import type { AgentRequest } from "../schema/AgentRequest.js"
import { AgentExecutor, type AgentFailure, startRun } from "../services/AgentExecutor.js"

/**
 * A scripted AgentExecutor for the tests of its callers (task supervisor, channels, embedders):
 * no container, no CLI. Each run emits the scripted events and ends as `respond` says, which may
 * sleep on the Clock (TestClock drives it), fail with any AgentFailure, or never end (to test a
 * stop). `FakeAgent` shows the requests it got.
 */

export interface AgentExecutorTestOptions {
  /** How a run ends (default: a one-turn answer "Done." in session "session-1"). */
  readonly respond?: (request: AgentRequest) => Effect.Effect<AgentOutcome, AgentFailure>
  /** The events a run emits before it ends (default: none). */
  readonly events?: (request: AgentRequest) => ReadonlyArray<AgentEvent>
}

export interface FakeAgentShape {
  /** Every request, in the order the runs started. */
  readonly requests: Effect.Effect<ReadonlyArray<AgentRequest>>
}

export class FakeAgent extends Context.Tag("airut/FakeAgent")<FakeAgent, FakeAgentShape>() {}

export const answered = (replyText: string, sessionId = "session-1"): AgentOutcome => ({
  replyText,
  sessionId,
  costUsd: 0.01,
  turns: 1,
  durationMs: 1000,
  usage: { inputTokens: 100, outputTokens: 20, cacheCreationInputTokens: 0, cacheReadInputTokens: 0 },
  recovered: false,
})

export const makeAgentExecutorTest = (options: AgentExecutorTestOptions = {}) =>
  Effect.gen(function* () {
    const requests = yield* Ref.make<ReadonlyArray<AgentRequest>>([])
    const respond = options.respond ?? (() => Effect.succeed(answered("Done.")))

    const runWith = (request: AgentRequest, emit: (event: AgentEvent) => Effect.Effect<void>) =>
      Ref.update(requests, (all) => [...all, request]).pipe(
        Effect.zipRight(Effect.forEach(options.events?.(request) ?? [], emit, { discard: true })),
        Effect.zipRight(respond(request)),
      )

    const start = (request: AgentRequest) => startRun((emit) => runWith(request, emit))

    const executor = AgentExecutor.of({ run: (request) => runWith(request, () => Effect.void), start })
    return Context.make(AgentExecutor, executor).pipe(
      Context.add(FakeAgent, FakeAgent.of({ requests: Ref.get(requests) })),
    )
  })

/** The scripted executor, with `FakeAgent` to inspect it. */
export const AgentExecutorTest = (
  options: AgentExecutorTestOptions = {},
): Layer.Layer<AgentExecutor | FakeAgent> => Layer.effectContext(makeAgentExecutorTest(options))
