import { Data } from "effect"

/**
 * The proxy refuses a request. The agent gets `status` with a JSON body naming the request and,
 * for allowlist misses, the exact lines to add to `.airut/network-allowlist.yaml`; the log gets
 * `reason`.
 */
export class Blocked extends Data.TaggedError("Blocked")<{
  readonly status: 400 | 403 | 413
  /** Machine-readable kind, the body's `error` field. */
  readonly code: string
  /** A sentence for the agent (and the human reading its transcript). */
  readonly explanation: string
  /** Short, for the log line. */
  readonly reason: string
  /** YAML lines that would allow the request, for allowlist misses. */
  readonly add?: string
}> {}

/** The upstream could not be reached or failed before answering. */
export class UpstreamFailed extends Data.TaggedError("UpstreamFailed")<{
  readonly detail: string
}> {}

/** The agent closed its connection before the request was complete. */
export class ClientGone extends Data.TaggedError("ClientGone")<{
  readonly detail: string
}> {}
