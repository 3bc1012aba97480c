/**
 * Everything an email channel test needs: a real Dovecot, an SMTP sink, an in-memory store,
 * and a way to build the channel (again) in its own scope, as a restart would.
 */
import { NodeContext } from "@effect/platform-node"
import {
  type Duration,
  Effect,
  ExecutionStrategy,
  Exit,
  Option,
  Schedule,
  Schema,
  Scope,
  Stream,
} from "effect"
import { ConversationStoreMemory } from "../../../src/layers/ConversationStoreMemory.js"
import { type EmailChannelOptions, makeEmailChannel } from "../../../src/layers/EmailChannelLive.js"
import type { ChannelHealth } from "../../../src/schema/ChannelHealth.js"
import { type EmailConfig, ServerConfig } from "../../../src/schema/ServerConfig.js"
import type { ChannelShape } from "../../../src/services/Channel.js"
import { ConversationStore } from "../../../src/services/ConversationStore.js"
import { type Dovecot, startDovecot } from "./dovecot.js"
import { type SmtpSink, startSmtpSink } from "./smtpSink.js"

export const trustedAuthservId = "mx.example.com"

/** The repository's email section as a config file would give it, decoded by the real schema. */
export const emailConfig = (dovecot: Dovecot, smtp: SmtpSink, overrides: Record<string, unknown> = {}) => {
  const { imap, smtp: smtpOverrides, auth, ...rest } = overrides
  const config = Schema.decodeUnknownSync(ServerConfig)({
    repos: {
      app: {
        repo_url: "https://git.example.com/app.git",
        email: {
          account: { username: dovecot.user, from: "Airut <airut@example.com>", password: dovecot.password },
          imap: { server: "127.0.0.1", port: dovecot.port, ...(typeof imap === "object" ? imap : {}) },
          smtp: {
            server: "127.0.0.1",
            port: smtp.port,
            password: smtp.password,
            ...(typeof smtpOverrides === "object" ? smtpOverrides : {}),
          },
          auth: {
            authorized_senders: ["alice@example.com", "*@corp.example"],
            trusted_authserv_id: trustedAuthservId,
            ...(typeof auth === "object" ? auth : {}),
          },
          ...rest,
        },
      },
    },
  })
  const email = config.repos.app?.email
  if (email === undefined) throw new Error("no email config")
  return email
}

export interface EmailEnv {
  readonly dovecot: Dovecot
  readonly smtp: SmtpSink
  /** Builds a channel in a scope of its own; `close` is a crash or a stop. */
  readonly open: (
    config: EmailConfig,
    extra?: Partial<EmailChannelOptions>,
  ) => Effect.Effect<{ readonly channel: ChannelShape; readonly close: Effect.Effect<void> }>
}

/** Runs `test` with a fresh Dovecot, SMTP sink and store. */
export const withEmailEnv = <A, E>(
  test: (env: EmailEnv) => Effect.Effect<A, E, ConversationStore | Scope.Scope>,
) =>
  Effect.gen(function* () {
    const dovecot = yield* startDovecot
    const smtp = yield* startSmtpSink(dovecot.tls)
    const store = yield* ConversationStore
    const testScope = yield* Effect.scope
    const open = (config: EmailConfig, extra: Partial<EmailChannelOptions> = {}) =>
      Effect.gen(function* () {
        // A child of the test's scope: closed by `close`, or at the latest when the test ends.
        const scope = yield* Scope.fork(testScope, ExecutionStrategy.sequential)
        const channel = yield* makeEmailChannel({
          repoId: "app",
          config,
          trustedCa: dovecot.tls.caPem,
          reconnectBase: "200 millis",
          reconnectCap: "1 second",
          sendRetryBase: "100 millis",
          ...extra,
        }).pipe(Scope.extend(scope), Effect.provideService(ConversationStore, store))
        return { channel, close: Scope.close(scope, Exit.void) }
      })
    return yield* test({ dovecot, smtp, open })
  }).pipe(Effect.scoped, Effect.provide(ConversationStoreMemory), Effect.provide(NodeContext.layer))

/** Waits for a health state, failing the test after `within`. */
export const awaitHealth = (
  channel: ChannelShape,
  tag: ChannelHealth["_tag"],
  within: Duration.DurationInput = "10 seconds",
) =>
  channel.healthChanges.pipe(
    Stream.filter((h) => h._tag === tag),
    Stream.runHead,
    Effect.flatMap(
      Option.match({ onNone: () => Effect.dieMessage("health stream ended"), onSome: Effect.succeed }),
    ),
    Effect.timeoutFail({ duration: within, onTimeout: () => new Error(`health never became ${tag}`) }),
    Effect.orDie,
  )

/** The next inbound message, failing after `within`. */
export const nextMessage = (channel: ChannelShape, within: Duration.DurationInput = "5 seconds") =>
  channel.inbound.pipe(
    Stream.runHead,
    Effect.flatMap(
      Option.match({ onNone: () => Effect.dieMessage("inbound ended"), onSome: Effect.succeed }),
    ),
    Effect.timeoutFail({ duration: within, onTimeout: () => new Error("no message arrived") }),
    Effect.orDie,
  )

/** Asserts nothing arrives for `during`. */
export const noMessage = (channel: ChannelShape, during: Duration.DurationInput = "1500 millis") =>
  channel.inbound.pipe(
    Stream.runHead,
    Effect.timeout(during),
    Effect.option,
    Effect.flatMap((got) =>
      Option.isSome(got) && Option.isSome(got.value)
        ? Effect.dieMessage(`unexpected message ${got.value.value.channelMessageId}`)
        : Effect.void,
    ),
  )

/** Polls until `check` holds (IMAP state changes arrive asynchronously); returns the value. */
export const eventually = <A, E>(
  probe: Effect.Effect<A, E>,
  check: (a: A) => boolean,
  within: Duration.DurationInput = "10 seconds",
) =>
  probe.pipe(
    Effect.filterOrFail(check, () => new Error("not yet")),
    Effect.retry(Schedule.spaced("100 millis")),
    Effect.timeoutFail({ duration: within, onTimeout: () => new Error("condition never held") }),
    Effect.orDie,
  )

export interface MimeInput {
  readonly from?: string
  readonly to?: string
  readonly subject?: string
  readonly messageId: string
  readonly inReplyTo?: string
  readonly references?: string
  readonly dmarc?: "pass" | "fail" | "none"
  readonly headers?: ReadonlyArray<string>
  readonly body?: string
}

/** A plain-text mail as a receiving server would store it, with its Authentication-Results. */
export const mime = (m: MimeInput): string =>
  [
    ...(m.dmarc === "none"
      ? []
      : [
          `Authentication-Results: ${trustedAuthservId}; spf=pass smtp.mailfrom=example.com; dmarc=${m.dmarc ?? "pass"} header.from=example.com`,
        ]),
    ...(m.headers ?? []),
    `From: ${m.from ?? "Alice Example <alice@example.com>"}`,
    `To: ${m.to ?? "Airut <airut@example.com>"}`,
    `Subject: ${m.subject ?? "A task"}`,
    `Message-ID: ${m.messageId}`,
    ...(m.inReplyTo === undefined ? [] : [`In-Reply-To: ${m.inReplyTo}`]),
    ...(m.references === undefined ? [] : [`References: ${m.references}`]),
    "Date: Sun, 22 Nov 2026 10:00:00 +0000",
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "",
    m.body ?? "Please do the thing.",
    "",
  ].join("\n")
