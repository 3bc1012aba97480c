/**
 * The Slack Web API calls the channel makes, as Effects. The client rejects rate-limited calls
 * instead of sleeping inside the library, so waiting on `Retry-After` happens here on the
 * Effect clock (interruptible, visible to tests), and each caller decides whether a call is
 * worth waiting for (a reply is; a status update is skipped).
 */
import { ErrorCode, type WebClient } from "@slack/web-api"
import { Data, Duration, Effect, Option } from "effect"

/**
 * A Web API call failed. `rateLimited` carries Slack's `Retry-After`; `platform` is an
 * `ok: false` answer (`error` names it, e.g. `user_not_found`); `transport` the HTTP request.
 */
export class SlackApiError extends Data.TaggedError("SlackApiError")<{
  readonly method: string
  readonly kind: "rateLimited" | "platform" | "transport"
  readonly error: string
  readonly retryAfter: Option.Option<Duration.Duration>
  readonly cause?: unknown
}> {
  override get message(): string {
    return `Slack ${this.method}: ${this.error}`
  }
}

const fieldOf = (value: unknown, key: string): unknown =>
  typeof value === "object" && value !== null && key in value ? Reflect.get(value, key) : undefined

/** Classifies what the client threw; tokens never appear in its messages. */
const toApiError = (method: string, cause: unknown): SlackApiError => {
  const code = fieldOf(cause, "code")
  if (code === ErrorCode.RateLimitedError) {
    const seconds = fieldOf(cause, "retryAfter")
    return new SlackApiError({
      method,
      kind: "rateLimited",
      error: "rate limited",
      retryAfter: Option.some(Duration.seconds(typeof seconds === "number" ? seconds : 1)),
      cause,
    })
  }
  if (code === ErrorCode.PlatformError) {
    const error = fieldOf(fieldOf(cause, "data"), "error")
    return new SlackApiError({
      method,
      kind: "platform",
      error: typeof error === "string" ? error : "unknown error",
      retryAfter: Option.none(),
      cause,
    })
  }
  const message = cause instanceof Error ? cause.message : String(cause)
  return new SlackApiError({ method, kind: "transport", error: message, retryAfter: Option.none(), cause })
}

/** One call; fails with `SlackApiError`. */
export const call = <A>(method: string, run: () => Promise<A>): Effect.Effect<A, SlackApiError> =>
  Effect.tryPromise({ try: run, catch: (cause) => toApiError(method, cause) })

/**
 * A call retried while Slack rate-limits it (waiting what `Retry-After` says) or the request
 * fails in transit (waiting 0.5 s, 1 s, 2 s ...), at most `attempts` times in all; platform
 * errors (`ok: false`) are final.
 */
export const callPatiently = <A>(
  method: string,
  run: () => Promise<A>,
  attempts = 4,
): Effect.Effect<A, SlackApiError> => {
  const attempt = (n: number): Effect.Effect<A, SlackApiError> =>
    call(method, run).pipe(
      Effect.catchIf(
        (e) => e.kind !== "platform" && n < attempts,
        (e) =>
          Effect.sleep(Option.getOrElse(e.retryAfter, () => Duration.millis(500 * 2 ** (n - 1)))).pipe(
            Effect.zipRight(attempt(n + 1)),
          ),
      ),
    )
  return attempt(1)
}

/** The Web API base URL of a config; the client joins method names onto it, so it ends in `/`. */
export const apiUrlOf = (apiUrl: string): string => (apiUrl.endsWith("/") ? apiUrl : `${apiUrl}/`)

/** The client type the helpers share. */
export type SlackClient = WebClient
