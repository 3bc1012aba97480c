import { Command, FileSystem } from "@effect/platform"
import { Clock, Config, Console, Context, Effect, Layer, Option, Schedule, Schema } from "effect"
import { SqliteStoreLive } from "../src/layers/SqliteStoreLive.js"
import { ConversationId } from "../src/schema/ConversationId.js"
import type { Task } from "../src/schema/Task.js"
import { ContainerRuntime } from "../src/services/ContainerRuntime.js"
import { ConversationStore } from "../src/services/ConversationStore.js"
import { type GatewayEnv, GatewayTestLayer, makeGatewayEnv } from "../test/integration/support/gatewayEnv.js"
import type { ReceivedMail } from "../test/integration/support/smtpSink.js"
import { Turn } from "../test/support/FakeAnthropic.js"
import { type BenchModule, type BenchResult, median } from "./Bench.js"

/**
 * The gateway daemon end to end (`airut run` as a subprocess on the environment of
 * test/integration/support/gatewayEnv.ts: Dovecot in, an SMTP sink out, real Podman, the proxy
 * sidecar, the real Claude Code CLI against the fake Anthropic API, which answers every call at
 * once with one text turn):
 * - mail to container start: from the moment the IMAP APPEND of a mail completed to the store
 *   time of the first stream-json line of its task (Claude Code's `system/init`), over N
 *   sequential one-turn tasks with the image already built; direct: `podman run --rm` of the
 *   same task image running `true` (an engine's container start, run and removal);
 * - the task's own time in the store (queued to completed) against the agent's own time (the
 *   `duration_ms` Claude Code reports, as stored with the reply), and their difference, the
 *   daemon's overhead per task;
 * - throughput: Q (default 20) new conversations appended at once with `max_concurrent` 2, 4, 8,
 *   from the first APPEND to the last answer received by the SMTP sink; the daemon restarts
 *   between settings. Rows give the wall time; their names give tasks per minute.
 * Store times are the daemon's wall clock, in milliseconds, as is the APPEND time taken here.
 */

const settings = Effect.all({
  n: Config.integer("AIRUT_BENCH_GATEWAY_N").pipe(Config.withDefault(5)),
  queued: Config.integer("AIRUT_BENCH_GATEWAY_QUEUED").pipe(Config.withDefault(20)),
  socketPath: Config.string("AIRUT_TEST_PODMAN_SOCKET").pipe(
    Config.withDefault("/run/airut-test/podman.sock"),
  ),
})

const concurrencies = [2, 4, 8] as const
const answer = "Hello from the gateway bench."

const textOf = (mail: ReceivedMail) => mail.parsed.text ?? ""
const isAnswerTo = (messageId: string) => (mail: ReceivedMail) =>
  mail.parsed.inReplyTo === messageId && textOf(mail).includes(answer)

/** The conversation an answer belongs to, from the `[ID:...]` tag of its subject. */
const conversationOf = (mail: ReceivedMail) =>
  Schema.decodeUnknown(ConversationId)(/\[ID:([^\]]*)\]/.exec(mail.parsed.subject ?? "")?.[1]).pipe(
    Effect.orDieWith(() => new Error(`no conversation tag in ${JSON.stringify(mail.parsed.subject)}`)),
  )

const millisOf = (task: Task, field: "startedAt" | "completedAt") =>
  Option.match(task[field], { onNone: () => Number.NaN, onSome: (d) => d.epochMillis })

/** What the store says about the one task of a conversation, once it completed. */
interface TaskFigures {
  readonly queuedAt: number
  readonly startedAt: number
  readonly firstEventAt: number
  readonly completedAt: number
  readonly agentMs: number
}

const figuresOf = (store: Context.Tag.Service<ConversationStore>, conversationId: ConversationId) =>
  Effect.gen(function* () {
    // The answer is mailed before the task is marked completed: wait for the mark.
    const task = yield* store.listTasks({ conversationId, limit: 10 }).pipe(
      Effect.flatMap((tasks) => Effect.fromNullable(tasks.find((t) => t.state === "completed"))),
      Effect.retry({
        schedule: Schedule.spaced("100 millis"),
        while: (e) => e._tag === "NoSuchElementException",
      }),
      Effect.timeout("60 seconds"),
    )
    if (Option.getOrNull(task.completionReason) !== "success") {
      return yield* Effect.dieMessage(
        `task ${task.id} completed as ${Option.getOrNull(task.completionReason)}`,
      )
    }
    const { events } = yield* store.readEvents({ taskId: task.id }, 0, 1)
    const [reply] = yield* store.listReplies(conversationId)
    const [first] = events
    if (first === undefined || reply === undefined) {
      return yield* Effect.dieMessage(`task ${task.id} has no stored events or reply`)
    }
    const figures: TaskFigures = {
      queuedAt: task.queuedAt.epochMillis,
      startedAt: millisOf(task, "startedAt"),
      firstEventAt: first.at.epochMillis,
      completedAt: millisOf(task, "completedAt"),
      agentMs: reply.durationMs,
    }
    return figures
  })

/**
 * The environment's config with `max_concurrent` set and the per-address reply cap raised: the
 * bench has the daemon mail one sender some 130 times within the hour (an acknowledgement and an
 * answer per task), far over the default cap of 30 that guards against mail loops.
 */
const configure = (env: GatewayEnv, maxConcurrent: number) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const text = yield* env.writeConfig({ maxConcurrent, shutdownTimeout: 10 })
    const raised = text.replace(/^( +)auth: /m, "$1max_replies_per_hour: 10000\n$1auth: ")
    if (raised === text) return yield* Effect.dieMessage("the gateway config has no email auth line")
    yield* fs.writeFileString(env.configFile, raised, { mode: 0o600 })
  })

/** The daemon, started on the current config and ready when it has logged in to the mailbox. */
const startReady = (env: GatewayEnv) =>
  Effect.gen(function* () {
    const before = yield* env.dovecot.loginsOf("airut")
    const daemon = yield* env.startDaemon
    yield* env.dovecot
      .loginsOf("airut")
      .pipe(
        Effect.repeat({ schedule: Schedule.spaced("100 millis"), until: (n) => n > before }),
        Effect.timeout("90 seconds"),
      )
    return daemon
  })

/** One mail, its answer and the store's figures for its task; `appendedAt` is when the APPEND completed. */
const oneTask = (env: GatewayEnv, store: Context.Tag.Service<ConversationStore>, label: string) =>
  Effect.gen(function* () {
    const messageId = yield* env.sendMail({ subject: `Bench ${label}`, body: "Say hello." })
    const appendedAt = yield* Clock.currentTimeMillis
    const reply = yield* env.waitForReply(isAnswerTo(messageId), "5 minutes")
    const conversationId = yield* conversationOf(reply)
    const figures = yield* figuresOf(store, conversationId)
    return { appendedAt, ...figures }
  })

/**
 * Q conversations appended back to back; milliseconds from before the first APPEND until the
 * sink holds an answer to every one of them (polled every 50 ms).
 */
const burst = (env: GatewayEnv, queued: number, label: string) =>
  Effect.gen(function* () {
    const started = yield* Clock.currentTimeMillis
    const ids: Array<string> = []
    for (let i = 0; i < queued; i++) {
      ids.push(yield* env.sendMail({ subject: `Bench ${label} #${i + 1}`, body: "Say hello." }))
    }
    yield* env.sent.pipe(
      Effect.map((sent) => ids.every((id) => sent.some(isAnswerTo(id)))),
      Effect.repeat({ schedule: Schedule.spaced("50 millis"), until: (all) => all }),
      Effect.timeoutFail({
        duration: "5 minutes",
        onTimeout: () => new Error(`${label}: not every conversation was answered within 5 minutes`),
      }),
    )
    return (yield* Clock.currentTimeMillis) - started
  })

/** `podman run --rm` of the daemon's task image (its overlay tag), the command `true`. */
const podmanRunTrue = (env: GatewayEnv, socketPath: string, n: number) =>
  Effect.gen(function* () {
    const runtime = yield* ContainerRuntime
    const images = yield* runtime.listImages("airut.image")
    const tag = images
      .flatMap((image) => image.tags)
      .find((t) => t.replace(/^localhost\//, "").startsWith(`${env.prefix}-overlay:`))
    if (tag === undefined) return yield* Effect.dieMessage(`no task image under ${env.prefix}`)
    const once = Effect.gen(function* () {
      const start = yield* Clock.currentTimeMillis
      const code = yield* Command.exitCode(
        Command.make("podman", "--url", `unix://${socketPath}`, "run", "--rm", "--entrypoint", "true", tag),
      )
      if (code !== 0) return yield* Effect.dieMessage(`podman run --rm ${tag} exited ${code}`)
      return (yield* Clock.currentTimeMillis) - start
    })
    yield* once
    return yield* Effect.forEach(Array.from({ length: n }), () => once)
  })

const fixed = (ms: ReadonlyArray<number>) => ms.map((x) => x.toFixed(0)).join(", ")

const run = Effect.gen(function* () {
  const { n, queued, socketPath } = yield* settings
  const env = yield* makeGatewayEnv
  // Every Messages call is answered at once with the same text, however many tasks ask.
  yield* env.fake.answerWhen(() => true, Turn.Text({ text: answer }))

  // --- Sequential tasks at max_concurrent 1, after a warm-up that builds the task image.
  yield* configure(env, 1)
  const sequential = yield* Effect.scoped(
    Effect.gen(function* () {
      const daemon = yield* startReady(env)
      // The daemon made and migrated the store; this reader opens it beside the daemon (WAL).
      const store = Context.get(
        yield* Layer.build(SqliteStoreLive({ filename: `${env.stateDir}/airut.db` })),
        ConversationStore,
      )
      const warm = yield* oneTask(env, store, "warm-up")
      yield* Console.error(
        `bench: gateway: warm-up (image build) APPEND to first event ${(warm.firstEventAt - warm.appendedAt).toFixed(0)} ms`,
      )
      const samples = yield* Effect.forEach(
        Array.from({ length: n }, (_, i) => i),
        (i) => oneTask(env, store, `sequential ${i + 1}`),
      )
      const stopped = yield* daemon.stop("SIGTERM")
      if (Option.getOrNull(stopped.code) !== 0) {
        return yield* Effect.dieMessage(`the daemon exited ${Option.getOrNull(stopped.code)}`)
      }
      return samples
    }),
  )
  const direct = yield* podmanRunTrue(env, socketPath, n)

  const latency = sequential.map((s) => s.firstEventAt - s.appendedAt)
  const intake = sequential.map((s) => s.queuedAt - s.appendedAt)
  const setup = sequential.map((s) => s.firstEventAt - s.queuedAt)
  const waiting = sequential.map((s) => s.startedAt - s.queuedAt)
  const total = sequential.map((s) => s.completedAt - s.queuedAt)
  const agent = sequential.map((s) => s.agentMs)
  const overhead = sequential.map((s) => s.completedAt - s.queuedAt - s.agentMs)
  const afterAgent = sequential.map((s) => s.completedAt - s.firstEventAt - s.agentMs)
  yield* Console.error(
    [
      `bench: gateway: APPEND to first event ${fixed(latency)} ms`,
      `  APPEND to task queued ${fixed(intake)} ms; queued to executing ${fixed(waiting)} ms; queued to first event ${fixed(setup)} ms`,
      `  queued to completed ${fixed(total)} ms; agent's own time ${fixed(agent)} ms; overhead ${fixed(overhead)} ms`,
      `  first event to completed, minus the agent's own time ${fixed(afterAgent)} ms`,
      `  podman run --rm <task image> true ${fixed(direct)} ms`,
    ].join("\n"),
  )

  // --- Throughput: Q conversations at once, one daemon life per max_concurrent.
  const throughput: Array<BenchResult> = []
  for (const maxConcurrent of concurrencies) {
    yield* configure(env, maxConcurrent)
    const wallMs = yield* Effect.scoped(
      Effect.gen(function* () {
        const daemon = yield* startReady(env)
        const ms = yield* burst(env, queued, `max_concurrent ${maxConcurrent}`)
        yield* daemon.stop("SIGTERM")
        return ms
      }),
    )
    const perMinute = (queued * 60_000) / wallMs
    yield* Console.error(
      `bench: gateway: ${queued} conversations at max_concurrent ${maxConcurrent}: ${wallMs.toFixed(0)} ms, ${perMinute.toFixed(1)} tasks/min`,
    )
    throughput.push({
      name: `${queued} queued conversations, max_concurrent ${maxConcurrent}: ${perMinute.toFixed(1)} tasks/min (wall ms)`,
      ours: wallMs,
      samples: 1,
    })
  }

  const results: ReadonlyArray<BenchResult> = [
    {
      name: "mail to container start (APPEND to first stream-json event)",
      ours: median(latency),
      samples: latency.length,
      baseline: { name: "podman run --rm <task image> true", ms: median(direct) },
    },
    {
      name: "of which: task queued to first event (mirror, workspace, proxy, container, CLI start)",
      ours: median(setup),
      samples: setup.length,
    },
    {
      name: "task queued to completed (one text turn)",
      ours: median(total),
      samples: total.length,
      baseline: { name: "the agent's own time (Claude Code duration_ms)", ms: median(agent) },
    },
    {
      name: "daemon overhead per task (queued to completed minus agent time)",
      ours: median(overhead),
      samples: overhead.length,
    },
    ...throughput,
  ]
  return results
}).pipe(Effect.scoped, Effect.provide(GatewayTestLayer))

const gateway: BenchModule = { name: "gateway", run }
export default gateway
