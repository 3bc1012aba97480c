import { Schema } from "effect"
import { ConversationId } from "./ConversationId.js"
import { ResourceLimits } from "./RunPolicy.js"
import { TaskId } from "./TaskId.js"

/**
 * One request to run Claude Code for a task: what to run (image, binary version, model, prompt,
 * session to resume), where (the conversation's host directories) and inside which sandbox.
 */

const AbsolutePath = Schema.String.pipe(
  Schema.filter((p) => p.startsWith("/") && !p.split("/").includes(".."), {
    message: () => "an absolute path without '..'",
  }),
)

/** The conversation's host directories, mounted read-write. */
export const AgentHostPaths = Schema.Struct({
  workspace: AbsolutePath,
  inbox: AbsolutePath,
  outbox: AbsolutePath,
  storage: AbsolutePath,
  /** Claude's state (`/root/.claude`): the session transcripts `--resume` reads. */
  claudeState: AbsolutePath,
})
export type AgentHostPaths = typeof AgentHostPaths.Type

/** The task's network sandbox as the proxy set it up: the internal network, DNS, CA. */
export const AgentSandbox = Schema.Struct({
  network: Schema.String,
  /** The proxy's address on that network: the container's only DNS server. */
  proxyIp: Schema.String,
  /** Host path of the proxy CA certificate, mounted read-only and trusted by every TLS stack. */
  caCertPath: AbsolutePath,
})
export type AgentSandbox = typeof AgentSandbox.Type

/** Claude Code 2.1.330 accepts these for `--effort`. */
export const Effort = Schema.Literal("low", "medium", "high", "xhigh", "max")
export type Effort = typeof Effort.Type

export const AgentRequest = Schema.Struct({
  taskId: TaskId,
  conversationId: ConversationId,
  repoId: Schema.String,
  /** The overlay image (ImageCache) whose entrypoint runs the mounted Claude binary. */
  image: Schema.String,
  /** Exact Claude Code version (`repos.<id>.claude_version`). */
  claudeVersion: Schema.String,
  hostPaths: AgentHostPaths,
  /** Written to the agent's stdin. */
  prompt: Schema.String,
  model: Schema.String,
  effort: Schema.optionalWith(Effort, { exact: true }),
  /** The session to resume; a fresh session when absent. */
  sessionId: Schema.optionalWith(Schema.String, { exact: true }),
  /**
   * The last reply this conversation got, for the recovery prompt when a resumed session cannot
   * be continued.
   */
  lastReply: Schema.optionalWith(Schema.String, { exact: true }),
  /** Container environment: plain secrets and surrogates. Never a masked secret's real value. */
  env: Schema.Record({ key: Schema.String, value: Schema.String }),
  limits: ResourceLimits,
  /** Longest the run may take; no limit when absent. */
  timeout: Schema.optionalWith(Schema.DurationFromMillis, { exact: true }),
  /** Absent only when the repository turned the sandbox off (`network.sandbox_enabled: false`). */
  sandbox: Schema.optionalWith(AgentSandbox, { exact: true }),
}).annotations({ identifier: "AgentRequest" })
export type AgentRequest = typeof AgentRequest.Type
