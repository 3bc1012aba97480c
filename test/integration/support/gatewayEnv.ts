/**
 * The end-to-end environment of the gateway: `airut run` as a real subprocess on real Podman,
 * real Dovecot (mail in) and an SMTP sink (mail out), the real Claude Code CLI in the sandbox
 * talking through the proxy to the scripted fake Anthropic API, and a git repository served from
 * a bare repo on disk.
 *
 * What the daemon sees is what an operator's machine has: a config file, a state dir, env vars.
 * Test-only wiring is all in the config (`network.upstream_overrides` and
 * `network.upstream_ca_file` to the fake API) or the environment (`NODE_EXTRA_CA_CERTS` for the
 * mail servers' test CA, `AIRUT_PROXY_BUNDLE` for the proxy bundled from source). The Claude Code
 * binary comes from the shared test cache, linked into the state dir, so nothing is downloaded.
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Command, type CommandExecutor } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { type Duration, Effect, Layer, Option, Queue, Ref, Schedule, type Scope, Stream } from "effect"
import { ContainerRuntime } from "../../../src/services/ContainerRuntime.js"
import { makeTestPki } from "../../proxy/support.js"
import { bash, type FakeAnthropicShape, makeFakeAnthropic, Turn } from "../../support/FakeAnthropic.js"
import { claudeApiAllowlist, claudeBinaryPath, claudeVersion, TestClaudeBinary } from "./claude.js"
import { type Dovecot, startDovecot } from "./dovecot.js"
import { mime, trustedAuthservId } from "./emailEnv.js"
import { baseImage, PodmanRuntime } from "./podman.js"
import { buildProxyBundle } from "./sandbox.js"
import { type ReceivedMail, type SmtpSink, startSmtpSink } from "./smtpSink.js"

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url))
const podmanSocketDefault = "/run/airut-test/podman.sock"

/** The sender every scenario writes as; the config authorizes exactly this address. */
export const sender = "alice@example.com"

/**
 * The task image of the fixture repository: the offline base plus git (the agent commits), with
 * an identity for commits and every directory trusted (the workspace is mounted from the host).
 */
export const fixtureDockerfile = `FROM ${baseImage}
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends git ca-certificates \\
 && rm -rf /var/lib/apt/lists/* \\
 && git config --system user.name "Airut Agent" \\
 && git config --system user.email agent@example.com \\
 && git config --system --add safe.directory '*'
`

/** The fixture repository's allowlist: what Claude Code needs, nothing more. */
export const fixtureAllowlist = claudeApiAllowlist

/**
 * The acceptance scenario's model script: run the Bash tool to create and commit hello.txt, then
 * answer with text. Two Messages calls: the tool call, and the answer after its result.
 */
export const helloCommitText = "Created hello.txt and committed it."
export const helloCommitScript: ReadonlyArray<Turn> = [
  bash("echo hi > hello.txt && git add hello.txt && git commit -m hello"),
  Turn.Text({ text: helloCommitText }),
]

const git = (cwd: string, ...args: ReadonlyArray<string>) =>
  Command.make("git", "-c", "user.name=Fixture", "-c", "user.email=fixture@example.com", ...args).pipe(
    Command.workingDirectory(cwd),
    Command.exitCode,
    Effect.orDie,
    Effect.filterOrDieMessage((code) => code === 0, `git ${args.join(" ")} failed in ${cwd}`),
  )

/**
 * A bare repository at `<dir>/app.git` (default branch main) with a README, the task image's
 * Dockerfile and the network allowlist. Returns its path, which is also its URL.
 */
export const makeRepoFixture = (dir: string) =>
  Effect.gen(function* () {
    const work = path.join(dir, "app-src")
    fs.mkdirSync(path.join(work, ".airut", "container"), { recursive: true })
    fs.writeFileSync(path.join(work, "README.md"), "# app\n\nThe gateway's end-to-end fixture.\n")
    fs.writeFileSync(path.join(work, ".airut", "container", "Dockerfile"), fixtureDockerfile)
    fs.writeFileSync(path.join(work, ".airut", "network-allowlist.yaml"), fixtureAllowlist)
    yield* git(work, "init", "--quiet", "--initial-branch=main")
    yield* git(work, "add", ".")
    yield* git(work, "commit", "--quiet", "-m", "initial")
    const bare = path.join(dir, "app.git")
    yield* git(dir, "clone", "--quiet", "--bare", work, bare)
    return bare
  })

/**
 * The proxies' egress network, made before the daemon starts so the fake API can listen on its
 * gateway (the one host address a sidecar reaches). The daemon finds it by name and uses it.
 * Deliberately without the `airut.managed` label: the daemon sweeps managed objects at start,
 * and this network (with the container keeping its bridge up) must outlive every restart.
 */
const acquireTestEgress = (name: string, run: string) =>
  Effect.gen(function* () {
    const runtime = yield* ContainerRuntime
    const labels = { "airut.test": run }
    const network = yield* Effect.acquireRelease(
      runtime.createNetwork({ name, internal: false, labels }),
      () => runtime.removeNetwork(name).pipe(Effect.timeout("30 seconds"), Effect.ignoreLogged),
    )
    const gateway = network.subnets[0]?.gateway
    if (gateway === undefined) return yield* Effect.dieMessage(`${name} has no gateway`)
    // Netavark brings the bridge (and the gateway address) up with its first container.
    const keeper = yield* Effect.acquireRelease(
      runtime.createContainer({ image: baseImage, command: ["sleep", "86400"], network: { name }, labels }),
      (id) => runtime.removeContainer(id).pipe(Effect.timeout("30 seconds"), Effect.ignoreLogged),
    )
    yield* runtime.startContainer(keeper)
    return gateway
  }).pipe(Effect.orDie)

/** Removes the images the daemon built under `prefix` (tags only: the base image stays). */
const removeImagesOf = (prefix: string) =>
  Effect.gen(function* () {
    const runtime = yield* ContainerRuntime
    const images = yield* runtime.listImages("airut.image")
    const ours = images
      .filter((image) => image.tags.some((tag) => tag.startsWith(`localhost/${prefix}-`)))
      .sort((a, b) => b.createdAt - a.createdAt)
    for (const image of ours) {
      for (const tag of image.tags.filter((t) => t.startsWith(`localhost/${prefix}-`))) {
        yield* runtime.removeImage(tag).pipe(Effect.ignoreLogged)
      }
    }
  }).pipe(Effect.timeout("2 minutes"), Effect.ignoreLogged)

export interface ServerConfigOptions {
  /** `execution.max_concurrent` (default 1). */
  readonly maxConcurrent?: number
  /** `execution.shutdown_timeout` in seconds (default 20). */
  readonly shutdownTimeout?: number
  /** The engine socket (default: the test Podman service). */
  readonly socket?: string
  /** Extra lines appended under `repos.app:` (indented by the caller by four spaces). */
  readonly repoExtra?: ReadonlyArray<string>
}

export interface MailInput {
  readonly from?: string
  readonly subject: string
  readonly body: string
  readonly inReplyTo?: string
  readonly references?: string
  /** Default: a fresh `<e2e-...@example.com>`. */
  readonly messageId?: string
  /** IMAP flags it arrives with (e.g. `$AirutTaken`, as a daemon that died after picking it up leaves it). */
  readonly flags?: ReadonlyArray<string>
}

export interface DaemonExit {
  /** The exit code, or none when a signal ended the process. */
  readonly code: Option.Option<number>
  readonly output: ReadonlyArray<string>
}

export interface DaemonProcess {
  readonly pid: number
  /** Every line written to stdout or stderr so far, in arrival order. */
  readonly output: Effect.Effect<ReadonlyArray<string>>
  /** Waits for an output line matching `predicate`; dies with the output after `within`. */
  readonly waitForLine: (
    predicate: (line: string) => boolean,
    within?: Duration.DurationInput,
  ) => Effect.Effect<string>
  /** Sends `signal` and waits (at most `within`) for the process to end. */
  readonly stop: (
    signal: "SIGTERM" | "SIGINT" | "SIGKILL",
    within?: Duration.DurationInput,
  ) => Effect.Effect<DaemonExit>
}

export interface GatewayEnv {
  readonly run: string
  /** `container.image_prefix` of the daemon: its images, containers and networks are named by it. */
  readonly prefix: string
  readonly root: string
  readonly stateDir: string
  readonly configFile: string
  readonly repoUrl: string
  readonly dovecot: Dovecot
  readonly smtp: SmtpSink
  readonly fake: FakeAnthropicShape
  /** The real API key, masked in the container; the fake API receives it from the proxy. */
  readonly realKey: string
  /** Writes the daemon's config file (again); returns its text. */
  readonly writeConfig: (options?: ServerConfigOptions) => Effect.Effect<string>
  /** Starts `airut run --config <configFile>`; SIGKILLed at the latest when the scope closes. */
  readonly startDaemon: Effect.Effect<DaemonProcess, never, Scope.Scope>
  /** Delivers a mail into the INBOX as the receiving server would (Authentication-Results, dmarc=pass). Returns its Message-ID. */
  readonly sendMail: (mail: MailInput) => Effect.Effect<string>
  /** The first mail the gateway sent that matches `predicate`, waiting up to `within`. */
  readonly waitForReply: (
    predicate: (mail: ReceivedMail) => boolean,
    within?: Duration.DurationInput,
  ) => Effect.Effect<ReceivedMail>
  /** Every mail the gateway sent so far. */
  readonly sent: Effect.Effect<ReadonlyArray<ReceivedMail>>
  /** A conversation's workspace (the agent's checkout). */
  readonly workspaceOf: (conversationId: string) => string
}

/**
 * Builds the whole environment in the scope: temp dirs, repository, mail servers, egress
 * network, fake API, proxy bundle, Claude binary. Everything is removed when the scope closes,
 * the images the daemon built under this run's prefix included.
 */
export const makeGatewayEnv: Effect.Effect<
  GatewayEnv,
  never,
  Scope.Scope | CommandExecutor.CommandExecutor | ContainerRuntime
> = Effect.gen(function* () {
  const run = randomBytes(4).toString("hex")
  const prefix = `airut-e2e${run}`
  const root = yield* Effect.acquireRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "airut-e2e-"))),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })),
  )
  yield* Effect.addFinalizer(() => removeImagesOf(prefix))
  const stateDir = path.join(root, "state")
  const configFile = path.join(root, "airut.yaml")
  fs.mkdirSync(stateDir, { mode: 0o700 })

  const repoUrl = yield* makeRepoFixture(root)
  const dovecot = yield* startDovecot
  const smtp = yield* startSmtpSink(dovecot.tls)
  const mailCa = path.join(root, "mail-ca.pem")
  fs.writeFileSync(mailCa, dovecot.tls.caPem)

  const gateway = yield* acquireTestEgress(`${prefix}-egress`, run)
  const pki = yield* makeTestPki(["api.anthropic.com"])
  const fake = yield* makeFakeAnthropic({ host: gateway, tls: pki }).pipe(Effect.orDie)
  const upstreamCa = path.join(root, "upstream-ca.pem")
  fs.writeFileSync(upstreamCa, pki.caPem)
  const realKey = `sk-ant-api03-${randomBytes(32).toString("hex")}`

  const proxyBundle = yield* buildProxyBundle.pipe(Effect.orDie)
  // The verified binary of the shared test cache, where the daemon's ClaudeBinaryLive looks.
  const binary = yield* claudeBinaryPath.pipe(Effect.provide(TestClaudeBinary), Effect.orDie)
  fs.mkdirSync(path.join(stateDir, "claude"), { recursive: true })
  fs.symlinkSync(path.dirname(binary.path), path.join(stateDir, "claude", claudeVersion))

  const writeConfig = (options: ServerConfigOptions = {}) =>
    Effect.sync(() => {
      const text = [
        `state_dir: ${stateDir}`,
        "execution:",
        `  max_concurrent: ${options.maxConcurrent ?? 1}`,
        `  shutdown_timeout: ${options.shutdownTimeout ?? 20}`,
        "dashboard:",
        "  enabled: false",
        "network:",
        "  upstream_overrides:",
        `    api.anthropic.com: "${fake.host}:${fake.port}"`,
        `  upstream_ca_file: ${upstreamCa}`,
        "container:",
        `  socket: ${options.socket ?? podmanSocketDefault}`,
        `  image_prefix: ${prefix}`,
        "repos:",
        "  app:",
        `    repo_url: ${repoUrl}`,
        "    model: sonnet",
        `    claude_version: ${claudeVersion}`,
        "    email:",
        `      account: { username: ${dovecot.user}, from: "Airut <airut@example.com>", password: !env AIRUT_E2E_IMAP_PASSWORD }`,
        `      imap: { server: 127.0.0.1, port: ${dovecot.port}, poll_interval: 1 }`,
        `      smtp: { server: 127.0.0.1, port: ${smtp.port}, password: !env AIRUT_E2E_SMTP_PASSWORD }`,
        `      auth: { authorized_senders: [${sender}], trusted_authserv_id: ${trustedAuthservId} }`,
        "    masked_secrets:",
        "      ANTHROPIC_API_KEY:",
        "        value: !env AIRUT_E2E_ANTHROPIC_KEY",
        "        scopes: [api.anthropic.com]",
        "        headers: [x-api-key]",
        ...(options.repoExtra ?? []),
        "",
      ].join("\n")
      fs.writeFileSync(configFile, text, { mode: 0o600 })
      return text
    })
  yield* writeConfig()

  const daemonEnv = {
    HOME: root,
    AIRUT_E2E_IMAP_PASSWORD: dovecot.password,
    AIRUT_E2E_SMTP_PASSWORD: smtp.password,
    AIRUT_E2E_ANTHROPIC_KEY: realKey,
    AIRUT_PROXY_BUNDLE: proxyBundle,
    NODE_EXTRA_CA_CERTS: mailCa,
  }

  const executor = yield* Effect.context<CommandExecutor.CommandExecutor>()
  const startDaemon = Effect.gen(function* () {
    const lines = yield* Ref.make<ReadonlyArray<string>>([])
    // One node process (no npx in between), so a signal reaches the daemon itself.
    const proc = yield* Command.make(
      process.execPath,
      "--import",
      "tsx",
      path.join(repoRoot, "src", "bin", "airut.ts"),
      "run",
      "--config",
      configFile,
    ).pipe(Command.workingDirectory(repoRoot), Command.env(daemonEnv), Command.start, Effect.orDie)
    // Registered after the process's own release, so it runs first: never wait on a hung daemon.
    yield* Effect.addFinalizer(() =>
      proc.isRunning.pipe(
        Effect.flatMap((running) => (running ? proc.kill("SIGKILL") : Effect.void)),
        Effect.timeout("10 seconds"),
        Effect.ignoreLogged,
      ),
    )
    const collect = (stream: Stream.Stream<Uint8Array, unknown>) =>
      stream.pipe(
        Stream.decodeText(),
        Stream.splitLines,
        Stream.runForEach((line) => Ref.update(lines, (all) => [...all, line])),
        Effect.ignore,
        Effect.forkScoped,
      )
    yield* collect(proc.stdout)
    yield* collect(proc.stderr)
    const output = Ref.get(lines)

    const waitForLine = (
      predicate: (line: string) => boolean,
      within: Duration.DurationInput = "90 seconds",
    ) =>
      output.pipe(
        Effect.map((all) => all.find(predicate)),
        Effect.filterOrFail(
          (line): line is string => line !== undefined,
          () => "not yet",
        ),
        Effect.retry(Schedule.spaced("100 millis")),
        Effect.timeout(within),
        Effect.catchAll(() =>
          Effect.flatMap(output, (all) =>
            Effect.dieMessage(`no matching daemon line within ${String(within)}; output:\n${all.join("\n")}`),
          ),
        ),
      )

    const stop = (signal: "SIGTERM" | "SIGINT" | "SIGKILL", within: Duration.DurationInput = "60 seconds") =>
      Effect.gen(function* () {
        // The exit code after kill: a signal death is a failure of `exitCode`, hence none.
        const code = yield* proc.kill(signal).pipe(
          Effect.zipRight(proc.exitCode),
          Effect.map((c) => Option.some(Number(c))),
          Effect.catchAll(() => Effect.succeed(Option.none<number>())),
          Effect.timeout(within),
          Effect.catchAll(() =>
            Effect.flatMap(output, (all) =>
              Effect.dieMessage(
                `the daemon did not end within ${String(within)} of ${signal}; output:\n${all.join("\n")}`,
              ),
            ),
          ),
        )
        // Let the output readers take the last lines.
        yield* Effect.sleep("100 millis")
        const exit: DaemonExit = { code, output: yield* output }
        return exit
      })

    const daemon: DaemonProcess = { pid: proc.pid, output, waitForLine, stop }
    return daemon
  }).pipe(Effect.provide(executor))

  const received = yield* Ref.make<ReadonlyArray<ReceivedMail>>([])
  yield* Queue.take(smtp.received).pipe(
    Effect.flatMap((mail) => Ref.update(received, (all) => [...all, mail])),
    Effect.forever,
    Effect.forkScoped,
  )

  const sendMail = (mail: MailInput) =>
    Effect.gen(function* () {
      const messageId = mail.messageId ?? `<e2e-${randomBytes(6).toString("hex")}@example.com>`
      yield* dovecot.append(
        mime({
          from: mail.from ?? `Alice Example <${sender}>`,
          subject: mail.subject,
          body: mail.body,
          messageId,
          ...(mail.inReplyTo === undefined ? {} : { inReplyTo: mail.inReplyTo }),
          ...(mail.references === undefined ? {} : { references: mail.references }),
        }),
        "INBOX",
        mail.flags ?? [],
      )
      return messageId
    })

  const waitForReply = (
    predicate: (mail: ReceivedMail) => boolean,
    within: Duration.DurationInput = "3 minutes",
  ) =>
    Ref.get(received).pipe(
      Effect.map((all) => all.find(predicate)),
      Effect.filterOrFail(
        (mail): mail is ReceivedMail => mail !== undefined,
        () => "not yet",
      ),
      Effect.retry(Schedule.spaced("200 millis")),
      Effect.timeout(within),
      Effect.catchAll(() =>
        Effect.flatMap(Ref.get(received), (all) =>
          Effect.dieMessage(
            `no matching reply within ${String(within)}; sent so far: ${all.map((m) => JSON.stringify(m.parsed.subject)).join(", ") || "none"}`,
          ),
        ),
      ),
    )

  const env: GatewayEnv = {
    run,
    prefix,
    root,
    stateDir,
    configFile,
    repoUrl,
    dovecot,
    smtp,
    fake,
    realKey,
    writeConfig,
    startDaemon,
    sendMail,
    waitForReply,
    sent: Ref.get(received),
    workspaceOf: (conversationId) => path.join(stateDir, "conversations", conversationId, "workspace"),
  }
  return env
})

/** What a gateway test runs on: the Podman runtime (fails when the engine is missing) and Node. */
export const GatewayTestLayer = Layer.mergeAll(PodmanRuntime, NodeContext.layer)
