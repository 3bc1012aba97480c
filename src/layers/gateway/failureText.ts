import { Duration } from "effect"
import type { CompletionReason } from "../../schema/Task.js"
import type { AgentFailure } from "../../services/AgentExecutor.js"

/** What a failed run tells the person, and how the task is recorded. */
export interface FailureReport {
  readonly reason: CompletionReason
  /** Markdown for the error reply. */
  readonly text: string
  /** One line for the task record and the log. */
  readonly detail: string
}

const fence = (lines: ReadonlyArray<string>) =>
  lines.length === 0 ? "" : `\n\nThe last lines it printed:\n\n\`\`\`\n${lines.join("\n")}\n\`\`\``

/** The agent's own failures: each says what happened and what the person can do next. */
export const agentFailureReport = (failure: AgentFailure): FailureReport => {
  switch (failure._tag) {
    case "TaskTimeout":
      return {
        reason: "timeout",
        detail: failure.message,
        text: `The task was stopped: it did not finish within ${Duration.format(Duration.millis(failure.timeoutMs))}. Its work so far is kept in the workspace; reply to this message to let it continue.`,
      }
    case "PromptTooLong":
      return {
        reason: "error",
        detail: failure.message,
        text: "This conversation no longer fits in the model's context window, so the task could not run. Start a new conversation (a new message, not a reply) and summarise what is needed.",
      }
    case "SessionCorrupted":
      return {
        reason: "error",
        detail: failure.message,
        text: "The earlier session of this conversation could not be resumed, and a fresh start failed too. Start a new conversation (a new message, not a reply).",
      }
    case "ContainerFailed":
      return {
        reason: "error",
        detail: failure.message,
        text: `The agent stopped with an error: ${failure.detail}.${fence(failure.lastLines)}\n\nYou can reply to try again.`,
      }
    case "ExecutorFailed":
      return {
        reason: "internal_error",
        detail: failure.message,
        text: `The task could not be run: ${failure.detail}. This is a problem on the gateway's side; the operator has been told in the logs. You can reply to try again later.`,
      }
  }
}

/**
 * A failure before the agent ran (mirror, repository files, image, sandbox). The sandbox ones
 * fail closed: the task does not run without a proven network, and the person is told why.
 */
export const setupFailureReport = (stage: string, detail: string): FailureReport => ({
  reason: "internal_error",
  detail: `${stage}: ${detail}`,
  text: `The task did not run: ${stage} failed.\n\n${detail}\n\nNothing was executed. You can reply to try again once this is fixed.`,
})
