import type { Duplex, Readable } from "node:stream"
import * as consumers from "node:stream/consumers"
import type Docker from "dockerode"
import { Duration, Effect, Option, Schema } from "effect"
import { EngineErrorBody } from "../../schema/EngineJson.js"
import { ContainerError, type EngineError, EngineUnreachable } from "../../services/ContainerRuntime.js"

/**
 * One HTTP call to the engine through dockerode's modem, as an Effect: interruption aborts the
 * request, connection failures become `EngineUnreachable`, non-2xx answers `ContainerError`
 * with the engine's own message.
 */

export type Query = Readonly<Record<string, string | number | boolean | object>>

export interface EngineRequest {
  readonly operation: string
  readonly method: "GET" | "POST" | "DELETE"
  /** Path without query string, e.g. `/containers/abc/json` or `/v4.0.0/libpod/...`. */
  readonly path: string
  readonly query?: Query
  /** JSON request body (POST only). */
  readonly body?: object
  /** Status codes that mean success. */
  readonly ok: ReadonlyArray<number>
}

// Answers of plain calls come back within milliseconds; a minute means the engine is stuck.
const callTimeout = Duration.minutes(1)

const SystemError = Schema.Struct({ code: Schema.String, message: Schema.String })
const HttpError = Schema.Struct({
  statusCode: Schema.Number,
  message: Schema.String,
  json: Schema.optional(Schema.Unknown),
})

// Socket-level failures: the engine is down, the path is wrong, or we may not open it.
const unreachableCodes = new Set(["ECONNREFUSED", "ENOENT", "EACCES", "ECONNRESET", "EPIPE", "ENOTSOCK"])

export const makeEngineCall = (modem: Docker["modem"], socketPath: string) => {
  const toError = (operation: string) => (cause: unknown) =>
    Option.match(Schema.decodeUnknownOption(HttpError)(cause), {
      onSome: ({ statusCode, message, json }): EngineError => {
        const body = Schema.decodeUnknownOption(EngineErrorBody)(json)
        const detail = Option.match(body, {
          onNone: () => message,
          onSome: (b) => b.message ?? b.cause ?? message,
        })
        const reason = statusCode === 404 ? "NotFound" : statusCode === 409 ? "Conflict" : "Rejected"
        return new ContainerError({ operation, reason, detail: `${statusCode} ${detail.trim()}` })
      },
      onNone: (): EngineError =>
        Option.match(Schema.decodeUnknownOption(SystemError)(cause), {
          onSome: ({ code, message }) =>
            unreachableCodes.has(code)
              ? new EngineUnreachable({ socketPath, detail: message })
              : new ContainerError({ operation, reason: "Protocol", detail: message }),
          onNone: () => new ContainerError({ operation, reason: "Protocol", detail: String(cause) }),
        }),
    })

  const dial = (
    request: EngineRequest,
    extra: { readonly isStream?: boolean; readonly hijack?: boolean; readonly file?: Buffer | string },
  ) =>
    Effect.tryPromise({
      try: (signal) =>
        new Promise<unknown>((resolve, reject) =>
          modem.dial(
            {
              // The modem appends the query string only to paths ending in "?".
              path: `${request.path}?`,
              method: request.method,
              // `_query` keeps the body out of the URL; `_body: {}` sends no body at all.
              options: { _query: request.query ?? {}, _body: request.body ?? {} },
              statusCodes: Object.fromEntries(request.ok.map((code) => [code, true])),
              abortSignal: signal,
              ...extra,
            },
            (err, result) => (err ? reject(err) : resolve(result)),
          ),
        ),
      catch: toError(request.operation),
    })

  const timeoutError = (operation: string) => () =>
    new ContainerError({
      operation,
      reason: "Timeout",
      detail: `no answer within ${Duration.format(callTimeout)}`,
    })

  /** A call whose answer is read whole (JSON, parsed by the modem when it is JSON). */
  const json = (request: EngineRequest): Effect.Effect<unknown, EngineError> =>
    dial(request, {}).pipe(
      Effect.timeoutFail({ duration: callTimeout, onTimeout: timeoutError(request.operation) }),
    )

  /**
   * A call whose answer is streamed (build output); `file` is the request body, bytes or the
   * path of a file the modem streams.
   */
  const stream = (request: EngineRequest, file?: Buffer | string): Effect.Effect<Readable, EngineError> =>
    dial(request, { isStream: true, ...(file === undefined ? {} : { file }) }).pipe(
      Effect.flatMap((result) => narrowStream(request.operation, result)),
    )

  /** A call whose answer is read whole as text, with no time bound (waits, image loads). */
  const text = (request: EngineRequest, file?: Buffer | string): Effect.Effect<string, EngineError> =>
    stream(request, file).pipe(
      Effect.flatMap((body) =>
        Effect.tryPromise({
          try: () => consumers.text(body),
          catch: (e) =>
            new ContainerError({ operation: request.operation, reason: "Protocol", detail: String(e) }),
        }),
      ),
    )

  /**
   * An upgraded connection (attach): the socket carries the multiplexed output one way and
   * stdin the other. The empty body makes the modem send `Content-Length: 0` and end the
   * request, so the engine sees the whole request before it upgrades; with no body the modem
   * would hold the headers back, and with its default body the options JSON lands on stdin.
   */
  const hijack = (request: EngineRequest): Effect.Effect<Duplex, EngineError> =>
    dial(request, { isStream: true, hijack: true, file: Buffer.alloc(0) }).pipe(
      Effect.timeoutFail({ duration: callTimeout, onTimeout: timeoutError(request.operation) }),
      Effect.flatMap((result) => narrowDuplex(request.operation, result)),
    )

  return { json, stream, text, hijack }
}

export type EngineCall = ReturnType<typeof makeEngineCall>

const isReadable = (value: unknown): value is Readable =>
  typeof value === "object" && value !== null && "pipe" in value && "on" in value && "read" in value

const isDuplex = (value: unknown): value is Duplex => isReadable(value) && "write" in value && "end" in value

const narrowStream = (operation: string, result: unknown): Effect.Effect<Readable, ContainerError> =>
  isReadable(result)
    ? Effect.succeed(result)
    : Effect.fail(
        new ContainerError({ operation, reason: "Protocol", detail: "the engine did not stream its answer" }),
      )

const narrowDuplex = (operation: string, result: unknown): Effect.Effect<Duplex, ContainerError> =>
  isDuplex(result)
    ? Effect.succeed(result)
    : Effect.fail(
        new ContainerError({
          operation,
          reason: "Protocol",
          detail: "the engine did not upgrade the connection",
        }),
      )

/**
 * An image, network or container name as a path segment. Names never need more than this; the
 * slashes and colons of image references stay as they are, as the engines' own clients send them.
 */
export const pathPart = (name: string): string =>
  encodeURIComponent(name).replace(/%2F/gi, "/").replace(/%3A/gi, ":").replace(/%40/gi, "@")
