/**
 * airut as a library: the network sandbox for any Effect program. Build an image from a
 * Dockerfile context, open a task whose only way out is an allowlisting proxy, and run Claude
 * Code or any command in it. See README.md "Library" and examples/.
 */

export { SandboxLayer, type SandboxLayerOptions } from "./programs/SandboxLayer.js"
export type { AgentEvent } from "./schema/AgentEvent.js"
export { parseAgentLine } from "./schema/AgentEvent.js"
export { AgentOutcome, AgentUsage } from "./schema/AgentOutcome.js"
export { Effort } from "./schema/AgentRequest.js"
export type { BindMount } from "./schema/ContainerSpec.js"
export { MaskedSecret, SigningCredential } from "./schema/Credentials.js"
export { decodeNetworkAllowlist, NetworkAllowlist } from "./schema/NetworkAllowlist.js"
export { NetworkLogLine } from "./schema/NetworkLogLine.js"
export { ResourceLimits } from "./schema/RunPolicy.js"
export { decodeSandboxFile, SandboxFile } from "./schema/SandboxFile.js"
export {
  type AgentFailure,
  type AgentRun,
  ContainerFailed,
  ExecutorFailed,
  PromptTooLong,
  SessionCorrupted,
  TaskTimeout,
} from "./services/AgentExecutor.js"
export {
  ContainerError,
  type EngineError,
  EngineUnreachable,
  ImageBuildFailed,
} from "./services/ContainerRuntime.js"
export { IsolationUnsupported, NetworkNotIsolated, ProbeFailed } from "./services/NetworkIsolation.js"
export { ProxyFailed } from "./services/NetworkProxy.js"
export {
  type CommandExit,
  CommandFailed,
  type CommandOptions,
  type CommandRun,
  CommandTimeout,
  type ImageSource,
  ImageSourceUnreadable,
  type PromptRequest,
  Sandbox,
  type SandboxImage,
  type SandboxShape,
  type SandboxTask,
  type TaskError,
  type TaskNetwork,
  type TaskOptions,
  TaskSetupFailed,
} from "./services/Sandbox.js"
