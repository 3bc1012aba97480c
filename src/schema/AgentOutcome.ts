import { Schema } from "effect"

/** Tokens a run used, summed over its results. */
export const AgentUsage = Schema.Struct({
  inputTokens: Schema.NonNegativeInt,
  outputTokens: Schema.NonNegativeInt,
  cacheCreationInputTokens: Schema.NonNegativeInt,
  cacheReadInputTokens: Schema.NonNegativeInt,
}).annotations({ identifier: "AgentUsage" })
export type AgentUsage = typeof AgentUsage.Type

/** A run that ended with an answer. Failures are the tagged errors of AgentExecutor. */
export const AgentOutcome = Schema.Struct({
  /** What to send back: the final result text, else the last assistant text. */
  replyText: Schema.String,
  /** The session a follow-up resumes. */
  sessionId: Schema.String,
  /** Cumulative cost the CLI reports, in US dollars. */
  costUsd: Schema.Number,
  turns: Schema.NonNegativeInt,
  durationMs: Schema.NonNegativeInt,
  usage: AgentUsage,
  /**
   * The requested session could not be resumed and this answer comes from a fresh session
   * started with a recovery prompt.
   */
  recovered: Schema.Boolean,
}).annotations({ identifier: "AgentOutcome" })
export type AgentOutcome = typeof AgentOutcome.Type
