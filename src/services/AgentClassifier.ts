import { Either, Option } from "effect"
import { type AgentEvent, type ResultEvent, resultTextOf, textOf } from "../schema/AgentEvent.js"
import type { AgentOutcome, AgentUsage } from "../schema/AgentOutcome.js"
import { ContainerFailed, PromptTooLong, SessionCorrupted } from "./AgentExecutor.js"

/**
 * How a finished Claude Code run is judged. Pure: the executor folds each event into a
 * `RunSummary` as it arrives (so memory stays small however long the run) and calls `classify`
 * with the exit code once the container has stopped. Each rule is documented by a fixture
 * recorded from the real CLI (test/fixtures/claude).
 *
 * The structured result event decides first: its `is_error`, `terminal_reason` and
 * `api_error_status`. Text is consulted only when there is no result event (the process died),
 * and then only lines outside JSON events (so a tool's output that happens to contain "Prompt is
 * too long" decides nothing) matched at their start. The original matched substrings anywhere
 * and treated every 4xx as a corrupted session, throwing sessions away on a 401 or a 429.
 */

/** How many lines of the agent's last words a failure carries. */
export const lastLinesKept = 10
const tailKept = 40

export interface RunSummary {
  /** The session the CLI announced in `system/init`; a run cut short still has it. */
  readonly initSessionId: Option.Option<string>
  readonly results: ReadonlyArray<ResultEvent>
  /** Text of the latest assistant message that had any. */
  readonly lastAssistantText: Option.Option<string>
  /** The last lines of stdout that were not JSON events. */
  readonly rawTail: ReadonlyArray<string>
  readonly lines: number
}

export const emptySummary: RunSummary = {
  initSessionId: Option.none(),
  results: [],
  lastAssistantText: Option.none(),
  rawTail: [],
  lines: 0,
}

const keepTail = (lines: ReadonlyArray<string>, more: ReadonlyArray<string>, keep: number) =>
  [...lines, ...more].slice(-keep)

/** Folds one event into the summary. */
export const summarize = (summary: RunSummary, event: AgentEvent): RunSummary => {
  const next = { ...summary, lines: summary.lines + 1 }
  switch (event._tag) {
    case "SystemInit":
      return { ...next, initSessionId: Option.some(event.session_id) }
    case "AssistantEvent": {
      // Subagent text is the subagent's working, not the answer to the user.
      if (event.parent_tool_use_id) return next
      const text = textOf(event.message.content).join("\n").trim()
      return text === "" ? next : { ...next, lastAssistantText: Option.some(text) }
    }
    case "ResultEvent":
      return { ...next, results: [...summary.results, event] }
    case "RawLine":
      return event.line.trim() === ""
        ? next
        : { ...next, rawTail: keepTail(summary.rawTail, [event.line], tailKept) }
    default:
      return next
  }
}

/** What the container reported when it stopped. */
export interface RunExit {
  readonly exitCode: number
  /** The engine says the kernel killed it for memory (Podman on cgroup v1 never says so). */
  readonly oomKilled?: boolean
  /** The last lines of stderr. */
  readonly stderrTail: ReadonlyArray<string>
  /** The session the run was asked to resume. */
  readonly resumed: Option.Option<string>
}

/** Failures decided from a run's output (timeouts are decided by the clock, not here). */
export type RunFailure = PromptTooLong | SessionCorrupted | ContainerFailed

const sumUsage = (results: ReadonlyArray<ResultEvent>): AgentUsage =>
  results.reduce<AgentUsage>(
    (sum, r) => ({
      inputTokens: sum.inputTokens + (r.usage?.input_tokens ?? 0),
      outputTokens: sum.outputTokens + (r.usage?.output_tokens ?? 0),
      cacheCreationInputTokens: sum.cacheCreationInputTokens + (r.usage?.cache_creation_input_tokens ?? 0),
      cacheReadInputTokens: sum.cacheReadInputTokens + (r.usage?.cache_read_input_tokens ?? 0),
    }),
    { inputTokens: 0, outputTokens: 0, cacheCreationInputTokens: 0, cacheReadInputTokens: 0 },
  )

const lastLines = (text: string) =>
  text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .slice(-lastLinesKept)

const nonEmpty = (text: Option.Option<string>) => Option.filter(text, (t) => t.trim() !== "")

/** The session a failed run leaves behind: the result's, else the one init announced. */
const sessionOf = (summary: RunSummary, result: Option.Option<ResultEvent>) =>
  Option.orElse(
    Option.map(result, (r) => r.session_id),
    () => summary.initSessionId,
  )

const describeExit = (exitCode: number, oomKilled: boolean) =>
  oomKilled
    ? "the agent ran out of memory (the container's memory limit)"
    : exitCode === 137
      ? "the agent was killed (exit 137: out of memory, or stopped)"
      : exitCode === 0
        ? "the agent ended without a result"
        : `the agent exited with ${exitCode} without a result`

/** Judges a finished run. */
export const classify = (
  summary: RunSummary,
  exit: RunExit,
): Either.Either<Omit<AgentOutcome, "recovered">, RunFailure> => {
  const result = Option.fromNullable(summary.results.at(-1))

  if (Option.isSome(result)) {
    const r = result.value
    const text = nonEmpty(resultTextOf(r))
    if (!r.is_error) {
      // Success stands on the result even if the process then exited non-zero (killed while
      // shutting down): the answer was complete.
      return Either.right({
        replyText: Option.getOrElse(
          Option.orElse(text, () => summary.lastAssistantText),
          () => "",
        ),
        sessionId: r.session_id,
        costUsd: r.total_cost_usd ?? 0,
        turns: summary.results.reduce((n, x) => n + (x.num_turns ?? 0), 0),
        durationMs: Math.round(summary.results.reduce((n, x) => n + (x.duration_ms ?? 0), 0)),
        usage: sumUsage(summary.results),
      })
    }
    const detail = Option.getOrElse(
      Option.orElse(text, () => nonEmpty(Option.some((r.errors ?? []).join("\n")))),
      () => `the agent reported an error (${r.subtype})`,
    )
    // Fixtures prompt-too-long, resume-prompt-too-long.
    if (r.terminal_reason === "prompt_too_long") {
      return Either.left(new PromptTooLong({ sessionId: Option.some(r.session_id), detail }))
    }
    if (Option.isSome(exit.resumed)) {
      // Fixture resume-rejected: the API refused the resumed conversation itself.
      if (r.api_error_status === 400 && r.terminal_reason === "api_error") {
        return Either.left(new SessionCorrupted({ sessionId: exit.resumed.value, detail }))
      }
      // Fixture resume-missing: the CLI could not load the session (no transcript), so it never
      // started (no init, no turn) and never called the API.
      if (Option.isNone(summary.initSessionId) && (r.num_turns ?? 0) === 0 && r.api_error_status == null) {
        return Either.left(new SessionCorrupted({ sessionId: exit.resumed.value, detail }))
      }
    }
    // Fixture api-error (401) and every other error result: the session is kept.
    const words = Option.getOrElse(
      Option.orElse(text, () => summary.lastAssistantText),
      () => exit.stderrTail.join("\n"),
    )
    return Either.left(
      new ContainerFailed({
        exitCode: exit.exitCode,
        detail: lastLines(detail).at(-1) ?? detail,
        lastLines: lastLines(words),
        sessionId: sessionOf(summary, result),
      }),
    )
  }

  // No result event: the process died or was killed. Only lines outside the JSON stream count.
  const loose = [...summary.rawTail, ...exit.stderrTail].map((l) => l.trim())
  const startingWith = (prefix: RegExp) => Option.fromNullable(loose.find((l) => prefix.test(l)))
  const tooLong = startingWith(/^Prompt is too long\b/)
  if (Option.isSome(tooLong)) {
    return Either.left(new PromptTooLong({ sessionId: summary.initSessionId, detail: tooLong.value }))
  }
  if (Option.isSome(exit.resumed)) {
    const rejected = Option.orElse(startingWith(/^API Error: 400\b/), () =>
      startingWith(/^No conversation found with session ID\b/),
    )
    if (Option.isSome(rejected)) {
      return Either.left(new SessionCorrupted({ sessionId: exit.resumed.value, detail: rejected.value }))
    }
  }
  const words = [
    ...Option.match(summary.lastAssistantText, { onNone: () => [], onSome: lastLines }),
    ...summary.rawTail,
    ...exit.stderrTail,
  ]
  return Either.left(
    new ContainerFailed({
      exitCode: exit.exitCode,
      detail: describeExit(exit.exitCode, exit.oomKilled === true),
      lastLines: words.filter((l) => l.trim() !== "").slice(-lastLinesKept),
      sessionId: summary.initSessionId,
    }),
  )
}
