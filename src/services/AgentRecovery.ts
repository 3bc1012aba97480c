import { Effect, Option } from "effect"
import type { AgentOutcome } from "../schema/AgentOutcome.js"
import type { AgentRequest } from "../schema/AgentRequest.js"
import type { AgentFailure, PromptTooLong, SessionCorrupted } from "./AgentExecutor.js"

/**
 * When a resumed session cannot go on (the API rejects it, or it no longer fits the context),
 * the conversation is not lost: the workspace still holds the work. The run is retried once in
 * a fresh session whose prompt says so and repeats the last reply, so the agent can pick up.
 * Model and effort stay as requested. A fresh session failing the same way is reported as is.
 */

/** The last reply is cut to this many characters in the recovery prompt. */
export const recoveryReplyCap = 3000

const reasonOf = (failure: PromptTooLong | SessionCorrupted) =>
  failure._tag === "PromptTooLong"
    ? "it no longer fits in the model's context window"
    : "the API would not accept it any more"

/** The prompt of the fresh session: what happened, the last reply, then the user's message. */
export const recoveryPrompt = (
  prompt: string,
  lastReply: Option.Option<string>,
  failure: PromptTooLong | SessionCorrupted,
): string => {
  const reply = Option.match(lastReply, {
    onNone: () => [],
    onSome: (text) => [
      "Your last reply in this conversation was:",
      "---",
      text.length > recoveryReplyCap ? `${text.slice(0, recoveryReplyCap)}\n[... cut here]` : text,
      "---",
      "",
    ],
  })
  return [
    `NOTE: The earlier session of this conversation could not be resumed (${reasonOf(failure)}). This is a new session without that history. The workspace still contains whatever was done before.`,
    "",
    ...reply,
    "Tell the user plainly that the earlier context was lost. Look at the workspace (git status, git log, recently changed files) to find ongoing work, and ask the user when their intent is unclear.",
    "",
    "The user's message follows.",
    "",
    prompt,
  ].join("\n")
}

/**
 * Runs `attempt`; when it resumed a session and failed with PromptTooLong or SessionCorrupted,
 * runs it once more in a fresh session with the recovery prompt.
 */
export const withRecovery =
  <R>(attempt: (request: AgentRequest) => Effect.Effect<Omit<AgentOutcome, "recovered">, AgentFailure, R>) =>
  (request: AgentRequest): Effect.Effect<AgentOutcome, AgentFailure, R> => {
    const first = attempt(request).pipe(
      Effect.map((outcome): AgentOutcome => ({ ...outcome, recovered: false })),
    )
    if (request.sessionId === undefined) return first
    const recover = (failure: PromptTooLong | SessionCorrupted) =>
      Effect.gen(function* () {
        yield* Effect.logWarning(
          `session ${request.sessionId} cannot be resumed (${failure._tag}); retrying in a fresh session`,
        )
        const { sessionId: _dropped, ...rest } = request
        const outcome = yield* attempt({
          ...rest,
          prompt: recoveryPrompt(request.prompt, Option.fromNullable(request.lastReply), failure),
        })
        return { ...outcome, recovered: true }
      })
    return first.pipe(Effect.catchTags({ PromptTooLong: recover, SessionCorrupted: recover }))
  }
