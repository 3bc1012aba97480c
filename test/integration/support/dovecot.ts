/**
 * A real Dovecot (Debian `dovecot-imapd`) for one test file: its own config, directories and
 * log under a temp dir, IMAPS on a free loopback port with a throwaway CA, one mailbox user.
 * Started as a scoped resource; `restart` stops and starts the same server (same port, same
 * mail). Fails, never skips, when Dovecot is not installed.
 */
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { Command, type CommandExecutor } from "@effect/platform"
import { Effect, Exit, Option, Ref, Schedule, Scope } from "effect"
import { ImapFlow } from "imapflow"
import { makeTestTls, type TestTls } from "./testTls.js"

export interface StoredMail {
  readonly uid: number
  readonly flags: ReadonlySet<string>
  readonly messageId: string | undefined
}

export interface Dovecot {
  readonly host: "127.0.0.1"
  readonly port: number
  readonly user: string
  readonly password: string
  readonly tls: TestTls
  readonly logFile: string
  /** How many times a client that calls itself `name` (IMAP ID) has logged in so far. */
  readonly loginsOf: (name: string) => Effect.Effect<number>
  /** Stores a raw MIME message (LF or CRLF) in `mailbox` (default INBOX), with IMAP flags if given. */
  readonly append: (raw: string, mailbox?: string, flags?: ReadonlyArray<string>) => Effect.Effect<void>
  /** The messages of `mailbox` not flagged deleted. */
  readonly list: (mailbox?: string) => Effect.Effect<ReadonlyArray<StoredMail>>
  readonly stop: Effect.Effect<void>
  readonly start: Effect.Effect<void>
}

const mailOwner = "airut-testmail"

const run = (...args: ReadonlyArray<[string, ...Array<string>]>) =>
  Effect.forEach(args, ([cmd, ...rest]) => Command.make(cmd, ...rest).pipe(Command.exitCode))

const freePort = Effect.async<number>((resume) => {
  const server = net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

const portOpen = (port: number) =>
  Effect.async<boolean>((resume) => {
    const socket = net.connect({ host: "127.0.0.1", port })
    socket.once("connect", () => {
      socket.destroy()
      resume(Effect.succeed(true))
    })
    socket.once("error", () => resume(Effect.succeed(false)))
  })

const idOf = (flag: "-u" | "-g", user: string) =>
  Command.make("id", flag, user).pipe(
    Command.string,
    Effect.map((s) => Number(s.trim())),
  )

export const startDovecot: Effect.Effect<Dovecot, never, Scope.Scope | CommandExecutor.CommandExecutor> =
  Effect.gen(function* () {
    if (!fs.existsSync("/usr/sbin/dovecot")) {
      return yield* Effect.dieMessage(
        "Dovecot is not installed: apt-get install dovecot-imapd (see .ci/apt-packages)",
      )
    }
    // Dovecot refuses to deliver mail as root: the mail belongs to a dedicated system user.
    const known = yield* Command.make("id", "-u", mailOwner).pipe(Command.exitCode)
    if (known !== 0) {
      yield* run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", mailOwner])
    }
    const uid = yield* idOf("-u", mailOwner)
    const gid = yield* idOf("-g", mailOwner)
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "airut-dovecot-"))),
      (d) => Effect.sync(() => fs.rmSync(d, { recursive: true, force: true })),
    )
    fs.chmodSync(dir, 0o755)
    const tls = yield* makeTestTls(dir)
    const port = yield* freePort
    const user = "airut"
    const password = "imap-test-password"
    const mailDir = path.join(dir, "mail")
    fs.mkdirSync(mailDir)
    fs.chownSync(mailDir, uid, gid)
    fs.writeFileSync(path.join(dir, "users"), `${user}:{PLAIN}${password}\n`, { mode: 0o644 })
    const logFile = path.join(dir, "dovecot.log")
    const conf = path.join(dir, "dovecot.conf")
    fs.writeFileSync(
      conf,
      [
        "protocols = imap",
        "listen = 127.0.0.1",
        `base_dir = ${dir}/run`,
        `state_dir = ${dir}/state`,
        `log_path = ${logFile}`,
        `info_log_path = ${logFile}`,
        "ssl = required",
        `ssl_cert = <${tls.certFile}`,
        `ssl_key = <${tls.keyFile}`,
        ...(fs.existsSync("/usr/share/dovecot/dh.pem") ? ["ssl_dh = </usr/share/dovecot/dh.pem"] : []),
        "ssl_min_protocol = TLSv1.2",
        "disable_plaintext_auth = no",
        "auth_mechanisms = plain login",
        "default_login_user = dovenull",
        "default_internal_user = dovecot",
        `mail_uid = ${uid}`,
        `mail_gid = ${gid}`,
        `first_valid_uid = ${uid}`,
        `last_valid_uid = ${uid}`,
        `first_valid_gid = ${gid}`,
        `mail_location = maildir:${mailDir}/%u`,
        `passdb {\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u ${dir}/users\n}`,
        `userdb {\n  driver = static\n  args = uid=${uid} gid=${gid} home=${mailDir}/%u\n}`,
        `service imap-login {\n  inet_listener imap {\n    port = 0\n  }\n  inet_listener imaps {\n    port = ${port}\n    ssl = yes\n  }\n}`,
        // Logs the client's ID, so a test can count the channel's own logins.
        "protocol imap {\n  mail_max_userip_connections = 100\n  imap_id_log = *\n}",
        "",
      ].join("\n"),
    )

    /** The running server's scope; closing it stops Dovecot. */
    const current = yield* Ref.make(Option.none<Scope.CloseableScope>())
    const executor = yield* Effect.context<CommandExecutor.CommandExecutor>()

    const stop = Effect.gen(function* () {
      const scope = yield* Ref.getAndSet(current, Option.none())
      if (Option.isNone(scope)) return
      yield* Scope.close(scope.value, Exit.void)
      // Wait until the port is really closed, so a restart can bind it again.
      yield* portOpen(port).pipe(
        Effect.repeat({ schedule: Schedule.spaced("50 millis"), while: (open) => open }),
        Effect.timeout("10 seconds"),
        Effect.orDie,
      )
    })

    const start = Effect.gen(function* () {
      const scope = yield* Scope.make()
      yield* Ref.set(current, Option.some(scope))
      const proc = yield* Command.make("dovecot", "-F", "-c", conf).pipe(
        Command.start,
        Scope.extend(scope),
        Effect.orDie,
      )
      const up = yield* portOpen(port).pipe(
        Effect.repeat({ schedule: Schedule.spaced("50 millis"), until: (open) => open || false }),
        Effect.timeout("15 seconds"),
        Effect.option,
      )
      if (Option.isNone(up)) {
        const running = yield* proc.isRunning.pipe(Effect.orDie)
        const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8") : "(no log)"
        return yield* Effect.dieMessage(`Dovecot did not open port ${port} (running: ${running}):\n${log}`)
      }
    }).pipe(Effect.provide(executor))

    yield* Effect.acquireRelease(start, () => stop)

    const withClient = <A>(f: (client: ImapFlow) => Promise<A>): Effect.Effect<A> =>
      Effect.acquireUseRelease(
        Effect.tryPromise(async () => {
          const client = new ImapFlow({
            host: "127.0.0.1",
            port,
            secure: true,
            auth: { user, pass: password },
            logger: false,
            tls: { ca: [tls.caPem], servername: "localhost" },
          })
          client.on("error", () => undefined)
          await client.connect()
          return client
        }),
        (client) => Effect.tryPromise(() => f(client)),
        (client) => Effect.promise(() => client.logout().catch(() => undefined)),
      ).pipe(Effect.orDie)

    const append = (raw: string, mailbox = "INBOX", flags: ReadonlyArray<string> = []) =>
      withClient(async (client) => {
        await client.append(mailbox, Buffer.from(raw.replace(/\r?\n/g, "\r\n")), [...flags])
      })

    const list = (mailbox = "INBOX") =>
      withClient(async (client) => {
        const lock = await client.getMailboxLock(mailbox)
        try {
          const out: Array<StoredMail> = []
          for await (const m of client.fetch(
            "1:*",
            { uid: true, flags: true, envelope: true },
            { uid: false },
          )) {
            const flags = m.flags ?? new Set<string>()
            if (!flags.has("\\Deleted")) out.push({ uid: m.uid, flags, messageId: m.envelope?.messageId })
          }
          return out
        } finally {
          lock.release()
        }
      })

    return {
      host: "127.0.0.1",
      port,
      user,
      password,
      tls,
      logFile,
      loginsOf: (name) =>
        Effect.sync(() =>
          fs.existsSync(logFile)
            ? fs
                .readFileSync(logFile, "utf8")
                .split("\n")
                // Dovecot logs the ID before login (imap-login) and again after; count the first.
                .filter((l) => l.includes("imap-login:") && l.includes(`ID sent: name=${name},`)).length
            : 0,
        ),
      append,
      list,
      stop,
      start,
    } satisfies Dovecot
  }).pipe(Effect.orDie)
