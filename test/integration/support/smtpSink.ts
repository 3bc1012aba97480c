/**
 * The receiving end of our SMTP: `smtp-server` in-process on a loopback port, STARTTLS with the
 * test CA's certificate, AUTH required (and refused before STARTTLS). Every accepted mail is
 * parsed with mailparser and queued for the test. `failNext` makes the next sends fail with a
 * given reply code, to test retries and permanent refusals.
 */
import { Effect, FiberSet, Queue, Ref } from "effect"
import { type ParsedMail, simpleParser } from "mailparser"
import { SMTPServer } from "smtp-server"
import type { TestTls } from "./testTls.js"

export interface ReceivedMail {
  readonly from: string
  readonly to: ReadonlyArray<string>
  readonly raw: string
  readonly parsed: ParsedMail
}

export interface SmtpSink {
  readonly port: number
  readonly user: string
  readonly password: string
  readonly received: Queue.Dequeue<ReceivedMail>
  /** DATA attempts seen, failed ones included. */
  readonly attempts: Effect.Effect<number>
  readonly failNext: (count: number, code: number) => Effect.Effect<void>
}

/**
 * `implicit`: TLS from the first byte (port 465 style) instead of STARTTLS. `cleartext`: a
 * server that offers no STARTTLS (and would take a password in clear).
 */
export const startSmtpSink = (tls: TestTls, mode: "starttls" | "implicit" | "cleartext" = "starttls") =>
  Effect.gen(function* () {
    const run = yield* FiberSet.makeRuntime<never>()
    const received = yield* Queue.unbounded<ReceivedMail>()
    const attempts = yield* Ref.make(0)
    const failures = yield* Ref.make<{ readonly count: number; readonly code: number }>({
      count: 0,
      code: 451,
    })
    const user = "airut"
    const password = "smtp-test-password"
    const server = new SMTPServer({
      secure: mode === "implicit",
      disabledCommands: mode === "cleartext" ? ["STARTTLS"] : [],
      allowInsecureAuth: mode === "cleartext",
      key: tls.keyPem,
      cert: tls.certPem,
      authMethods: ["PLAIN", "LOGIN"],
      logger: false,
      onAuth(auth, _session, callback) {
        if (auth.username === user && auth.password === password) callback(null, { user })
        else callback(new Error("Invalid username or password"))
      },
      onData(stream, session, callback) {
        const chunks: Array<Buffer> = []
        stream.on("data", (c: Buffer) => chunks.push(c))
        stream.on("end", () => {
          run(
            Effect.gen(function* () {
              yield* Ref.update(attempts, (n) => n + 1)
              const failure = yield* Ref.modify(failures, (f) =>
                f.count > 0 ? [f.code, { count: f.count - 1, code: f.code }] : [0, f],
              )
              if (failure !== 0) {
                const error = Object.assign(
                  new Error(failure >= 500 ? "Rejected for good" : "Try again later"),
                  {
                    responseCode: failure,
                  },
                )
                return callback(error)
              }
              const raw = Buffer.concat(chunks).toString("utf8")
              const parsed = yield* Effect.promise(() => simpleParser(raw))
              const from = session.envelope.mailFrom === false ? "" : session.envelope.mailFrom.address
              yield* Queue.offer(received, {
                from,
                to: session.envelope.rcptTo.map((r) => r.address),
                raw,
                parsed,
              })
              callback()
            }),
          )
        })
      },
    })
    const port = yield* Effect.acquireRelease(
      Effect.async<number>((resume) => {
        server.listen(0, "127.0.0.1", () => {
          const address = server.server.address()
          resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : 0))
        })
      }),
      () =>
        Effect.async<void>((resume) => {
          server.close(() => resume(Effect.void))
        }).pipe(Effect.timeout("5 seconds"), Effect.ignore),
    )
    return {
      port,
      user,
      password,
      received,
      attempts: Ref.get(attempts),
      failNext: (count: number, code: number) => Ref.set(failures, { count, code }),
    } satisfies SmtpSink
  })
