/**
 * Sending mail over SMTP with nodemailer: STARTTLS (required, never in clear) or implicit TLS,
 * retried with backoff on temporary failures, typed `ChannelSendFailed` otherwise.
 */
import { type Duration, Effect, Redacted, Schedule, Schema } from "effect"
import nodemailer from "nodemailer"
import type Mail from "nodemailer/lib/mailer/index.js"
import type { EmailConfig } from "../../schema/ServerConfig.js"
import { ChannelSendFailed } from "../../services/Channel.js"

export interface SmtpSettings {
  readonly repoId: string
  readonly config: EmailConfig
  /** Extra CA certificates (PEM) trusted besides the system's. */
  readonly trustedCa: string | undefined
  /** First retry delay of a temporary failure; doubles up to three retries. */
  readonly retryBase: Duration.DurationInput
}

export interface SmtpSender {
  /** Sends one mail; resolves with the server's response line. */
  readonly send: (mail: Mail.Options) => Effect.Effect<string, ChannelSendFailed>
}

// nodemailer's error fields, read without trusting their presence.
const SmtpErrorFields = Schema.Struct({
  code: Schema.optional(Schema.String),
  responseCode: Schema.optional(Schema.Number),
  response: Schema.optional(Schema.String),
  message: Schema.optional(Schema.String),
})

const permanentCodes = new Set(["EAUTH", "EENVELOPE", "EMESSAGE", "ETLS", "ENOAUTH"])

/** Temporary (`unreachable`: retry) or permanent (`refused`) from nodemailer's error. */
export const classifySendError = (repoId: string, cause: unknown): ChannelSendFailed => {
  const fields = Schema.decodeUnknownOption(SmtpErrorFields)(cause)
  const { code, responseCode, response, message } =
    fields._tag === "Some"
      ? fields.value
      : { code: undefined, responseCode: undefined, response: undefined, message: undefined }
  const permanent =
    (responseCode !== undefined && responseCode >= 500) ||
    (code !== undefined && permanentCodes.has(code) && (responseCode === undefined || responseCode >= 500))
  const detail = [code, responseCode, response ?? message].filter((x) => x !== undefined).join(" ")
  return new ChannelSendFailed({
    channel: "email",
    repoId,
    reason: permanent ? "refused" : "unreachable",
    detail: detail.length > 0 ? detail.slice(0, 300) : "SMTP send failed",
    cause,
  })
}

/**
 * A sender for one repository. A transport keeps no connection between mails (nodemailer
 * opens one per send unless pooled), so there is nothing to release beyond `close`.
 */
export const makeSmtpSender = (settings: SmtpSettings) =>
  Effect.gen(function* () {
    const { config, repoId } = settings
    const password = config.smtp.password ?? config.account.password
    const transport = yield* Effect.acquireRelease(
      Effect.sync(() =>
        nodemailer.createTransport({
          host: config.smtp.server,
          port: config.smtp.port,
          secure: config.smtp.tls === "implicit",
          requireTLS: config.smtp.tls === "starttls",
          ...(config.smtp.require_auth
            ? {
                auth: {
                  user: config.account.username,
                  pass: password === undefined ? "" : Redacted.value(password),
                },
              }
            : {}),
          tls: {
            minVersion: "TLSv1.2",
            ...(settings.trustedCa === undefined ? {} : { ca: [settings.trustedCa] }),
          },
          connectionTimeout: 30_000,
          greetingTimeout: 30_000,
          socketTimeout: 60_000,
          // Mail content is built from buffers only: never let a field name a host file or URL.
          disableFileAccess: true,
          disableUrlAccess: true,
        }),
      ),
      (t) => Effect.sync(() => t.close()),
    )
    const retry = Schedule.exponential(settings.retryBase, 2).pipe(
      Schedule.jittered,
      Schedule.intersect(Schedule.recurs(3)),
    )
    const send = (mail: Mail.Options) =>
      Effect.tryPromise({
        try: () => transport.sendMail(mail),
        catch: (cause) => classifySendError(repoId, cause),
      }).pipe(
        Effect.map((info) => info.response),
        Effect.tapError((e) =>
          Effect.logWarning(`SMTP send to ${config.smtp.server} failed (${e.reason}): ${e.detail}`),
        ),
        Effect.retry({ schedule: retry, while: (e) => e.reason === "unreachable" }),
        Effect.withSpan("EmailChannel.smtpSend"),
      )
    return { send } satisfies SmtpSender
  })
