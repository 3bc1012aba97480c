import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Option, Schedule } from "effect"
import { takenFlag } from "../../src/layers/EmailChannelLive.js"
import { SqliteStoreLive } from "../../src/layers/SqliteStoreLive.js"
import type { Task } from "../../src/schema/Task.js"
import { ContainerRuntime } from "../../src/services/ContainerRuntime.js"
import { ConversationStore } from "../../src/services/ConversationStore.js"
import { bash, Turn } from "../support/FakeAnthropic.js"
import { GatewayTestLayer, helloCommitScript, helloCommitText, makeGatewayEnv } from "./support/gatewayEnv.js"
import type { ReceivedMail } from "./support/smtpSink.js"

/**
 * The product's acceptance test: `airut run` as a subprocess on real Podman, Dovecot, an SMTP
 * sink, the real Claude Code CLI in the sandbox talking through the proxy to the scripted fake
 * Anthropic API, and a git repository on disk. One environment, several daemon lives, so the
 * task image is built once.
 */

const textOf = (mail: ReceivedMail) => mail.parsed.text ?? ""
const conversationOf = (mail: ReceivedMail) => {
  const match = /\[ID:([0-9a-f]{8})\]/.exec(mail.parsed.subject ?? "")
  if (match?.[1] === undefined)
    throw new Error(`no conversation tag in ${JSON.stringify(mail.parsed.subject)}`)
  return match[1]
}
const inReplyTo = (mail: ReceivedMail, messageId: string) => mail.parsed.inReplyTo === messageId
const isStarted = (mail: ReceivedMail) => textOf(mail).includes("I've started working on this")

/** The daemon's own store, opened beside it (WAL lets both read and write). */
const withStore = <A, E>(file: string, body: Effect.Effect<A, E, ConversationStore>) =>
  body.pipe(Effect.provide(SqliteStoreLive({ filename: file })))

const tasksOf = (file: string, conversationId: string) =>
  withStore(
    file,
    Effect.flatMap(ConversationStore, (store) =>
      store
        .listTasks({ limit: 100 })
        .pipe(Effect.map((tasks) => tasks.filter((t) => t.conversationId === conversationId).reverse())),
    ),
  ).pipe(Effect.orDie)

const millis = (t: Task, field: "startedAt" | "completedAt") =>
  Option.match(t[field], { onNone: () => Number.NaN, onSome: (d) => d.epochMillis })

const containersOf = (conversationId: string) =>
  Effect.flatMap(ContainerRuntime, (runtime) =>
    runtime.listContainers({ "airut.conversation": conversationId }),
  ).pipe(Effect.orDie)

const git = (cwd: string, ...args: Array<string>) =>
  execFileSync("git", args, { cwd, encoding: "utf8" }).trim()

layer(Layer.mergeAll(GatewayTestLayer), { excludeTestServices: true, timeout: "1200 seconds" })(
  "airut run: the acceptance scenario",
  (it) => {
    it.scoped(
      "mail to commit and threaded reply, resume, parallel tasks, coalescing, SIGTERM, crash recovery, exactly-once intake",
      () =>
        Effect.gen(function* () {
          const env = yield* makeGatewayEnv
          const db = path.join(env.stateDir, "airut.db")
          yield* env.writeConfig({ maxConcurrent: 2, shutdownTimeout: 5 })

          // --- 1. A mail becomes a commit and a reply in the same thread, with the cost line.
          yield* env.fake.script(helloCommitScript)
          const first = yield* env.sendMail({
            subject: "Greeting file",
            body: "create hello.txt and commit it",
          })
          let daemon = yield* env.startDaemon
          const started = yield* env.waitForReply((m) => inReplyTo(m, first) && isStarted(m))
          const answer = yield* env.waitForReply(
            (m) => inReplyTo(m, first) && textOf(m).includes(helloCommitText),
          )
          assert.match(textOf(answer), /Cost \$\d+\.\d{4} · \d+ turns?/)
          const conversation = conversationOf(answer)
          assert.strictEqual(conversationOf(started), conversation)
          const workspace = env.workspaceOf(conversation)
          assert.strictEqual(fs.readFileSync(path.join(workspace, "hello.txt"), "utf8"), "hi\n")
          assert.strictEqual(git(workspace, "log", "-1", "--format=%s"), "hello")
          assert.strictEqual(git(workspace, "remote", "get-url", "origin"), env.repoUrl)
          assert.deepStrictEqual(yield* containersOf(conversation), [], "the task's containers are gone")

          // --- 2. A reply resumes the same Claude session: the model sees the earlier exchange.
          yield* env.fake.clearRequests
          yield* env.fake.script([Turn.Text({ text: "Nothing else is needed." })])
          const followUp = yield* env.sendMail({
            subject: answer.parsed.subject ?? "Re: Greeting file",
            body: "Anything else to do?",
            inReplyTo: answer.parsed.messageId ?? "",
            references: `${first} ${answer.parsed.messageId ?? ""}`,
          })
          const resumed = yield* env.waitForReply(
            (m) => inReplyTo(m, followUp) && textOf(m).includes("Nothing else"),
          )
          assert.strictEqual(conversationOf(resumed), conversation)
          const [resumeRequest] = yield* env.fake.messageRequests
          assert.include(resumeRequest?.body ?? "", "create hello.txt and commit it")
          assert.include(resumeRequest?.body ?? "", "Anything else to do?")

          // --- 3. max_concurrent 2: two conversations run at once while a third waits; two
          // messages into a busy conversation coalesce into one follow-up run.
          yield* env.fake.clearRequests
          yield* env.fake.script([
            bash("sleep 8"),
            bash("sleep 8"),
            ...Array.from({ length: 4 }, () => Turn.Text({ text: "Done." })),
          ])
          const a = yield* env.sendMail({ subject: "Task A", body: "do A" })
          const b = yield* env.sendMail({ subject: "Task B", body: "do B" })
          const startedA = yield* env.waitForReply((m) => inReplyTo(m, a) && isStarted(m))
          yield* env.waitForReply((m) => inReplyTo(m, b) && isStarted(m))
          const c = yield* env.sendMail({ subject: "Task C", body: "do C" })
          // Into A's thread while A sleeps: both join one follow-up.
          const a2 = yield* env.sendMail({
            subject: `Re: ${startedA.parsed.subject ?? ""}`,
            body: "also A2",
            inReplyTo: startedA.parsed.messageId ?? "",
          })
          const a3 = yield* env.sendMail({
            subject: `Re: ${startedA.parsed.subject ?? ""}`,
            body: "and A3",
            inReplyTo: startedA.parsed.messageId ?? "",
          })
          yield* env.waitForReply((m) => inReplyTo(m, a) && textOf(m).includes("Done."))
          yield* env.waitForReply((m) => inReplyTo(m, b) && textOf(m).includes("Done."))
          yield* env.waitForReply((m) => inReplyTo(m, c) && textOf(m).includes("Done."))
          const coalescedReply = yield* env.waitForReply(
            (m) => inReplyTo(m, a3) && textOf(m).includes("Done."),
          )
          assert.strictEqual(conversationOf(coalescedReply), conversationOf(startedA))
          assert.isFalse((yield* env.sent).some((m) => inReplyTo(m, a2) && textOf(m).includes("Done.")))
          const coalescedPrompt = (yield* env.fake.messageRequests).find((r) => r.body.includes("also A2"))
          assert.include(coalescedPrompt?.body ?? "", "and A3")
          assert.include(coalescedPrompt?.body ?? "", "2 messages arrived while you were busy")

          const [taskA, taskA2, taskA3] = yield* tasksOf(db, conversationOf(startedA))
          const [taskB] = yield* tasksOf(db, conversationOf(yield* env.waitForReply((m) => inReplyTo(m, b))))
          const [taskC] = yield* tasksOf(db, conversationOf(yield* env.waitForReply((m) => inReplyTo(m, c))))
          if (!taskA || !taskA2 || !taskA3 || !taskB || !taskC)
            throw new Error("tasks missing from the store")
          // A and B overlapped; C started only after one of them ended.
          assert.isBelow(millis(taskA, "startedAt"), millis(taskB, "completedAt"))
          assert.isBelow(millis(taskB, "startedAt"), millis(taskA, "completedAt"))
          assert.isAtLeast(
            millis(taskC, "startedAt"),
            Math.min(millis(taskA, "completedAt"), millis(taskB, "completedAt")),
          )
          assert.deepStrictEqual(taskA2.completionReason, Option.some("success"))
          assert.deepStrictEqual(taskA3.completionReason, Option.some("coalesced"))

          // --- 4. SIGTERM mid-task: the daemon waits shutdown_timeout, then stops the task,
          // removes its containers, tells the sender, and exits 0.
          yield* env.fake.script([bash("sleep 300")])
          const long = yield* env.sendMail({ subject: "Long task", body: "take your time" })
          const longStarted = yield* env.waitForReply((m) => inReplyTo(m, long) && isStarted(m))
          const longConversation = conversationOf(longStarted)
          yield* containersOf(longConversation).pipe(
            Effect.repeat({ schedule: Schedule.spaced("500 millis"), until: (list) => list.length > 0 }),
            Effect.timeout("3 minutes"),
            Effect.orDie,
          )
          yield* Effect.sleep("3 seconds")
          const terminated = yield* daemon.stop("SIGTERM", "60 seconds")
          assert.deepStrictEqual(terminated.code, Option.some(0), terminated.output.join("\n"))
          assert.deepStrictEqual(yield* containersOf(longConversation), [])
          const told = yield* env.waitForReply((m) => inReplyTo(m, long) && textOf(m).includes("restarted"))
          assert.strictEqual(conversationOf(told), longConversation)
          assert.isFalse(
            terminated.output.some((l) => l.includes(env.realKey)),
            "the real key was logged",
          )

          // --- 5. SIGKILL mid-task: the next start removes the orphaned containers and tells the
          // sender the task was cut off.
          daemon = yield* env.startDaemon
          yield* env.fake.script([bash("sleep 300")])
          const killed = yield* env.sendMail({ subject: "Killed task", body: "this one dies" })
          const killedConversation = conversationOf(
            yield* env.waitForReply((m) => inReplyTo(m, killed) && isStarted(m)),
          )
          yield* containersOf(killedConversation).pipe(
            Effect.repeat({ schedule: Schedule.spaced("500 millis"), until: (list) => list.length > 0 }),
            Effect.timeout("3 minutes"),
            Effect.orDie,
          )
          yield* daemon.stop("SIGKILL")
          assert.isNotEmpty(yield* containersOf(killedConversation), "SIGKILL leaves the agent container")
          const sidecars = path.join(env.stateDir, "sidecars")
          assert.isNotEmpty(fs.readdirSync(sidecars), "SIGKILL leaves the sidecar's secrets file")
          daemon = yield* env.startDaemon
          // Told in the conversation's thread (the task's own message is not kept, so the notice
          // answers the latest message of the thread: the acknowledgement).
          yield* env.waitForReply(
            (m) =>
              (m.parsed.subject ?? "").includes(`[ID:${killedConversation}]`) &&
              textOf(m).includes("stopped unexpectedly"),
          )
          assert.deepStrictEqual(yield* containersOf(killedConversation), [])
          assert.deepStrictEqual(fs.readdirSync(sidecars), [], "the restart removed the leftover secrets")

          // --- 6. Killed between pick-up and recording: a mail flagged taken but never recorded
          // runs once after the restart; one already recorded is settled without running again.
          yield* env.fake.script([Turn.Text({ text: "Picked up after the crash." })])
          const orphan = yield* env.sendMail({ subject: "Orphan", body: "run me once", flags: [takenFlag] })
          yield* env.sendMail({
            subject: "Greeting file",
            body: "create hello.txt",
            messageId: first,
            flags: [takenFlag],
          })
          yield* env.waitForReply(
            (m) => inReplyTo(m, orphan) && textOf(m).includes("Picked up after the crash."),
          )
          yield* env.dovecot.list().pipe(
            Effect.repeat({
              schedule: Schedule.spaced("500 millis"),
              until: (inbox) => inbox.length === 0,
            }),
            Effect.timeout("60 seconds"),
            Effect.orDie,
          )
          const stopped = yield* daemon.stop("SIGTERM")
          assert.deepStrictEqual(stopped.code, Option.some(0), stopped.output.join("\n"))
          const sent = yield* env.sent
          assert.strictEqual(sent.filter((m) => inReplyTo(m, orphan) && !isStarted(m)).length, 1)
          assert.strictEqual(
            sent.filter((m) => inReplyTo(m, first) && textOf(m).includes(helloCommitText)).length,
            1,
            "the redelivered first mail ran again",
          )
          assert.strictEqual(yield* env.fake.remaining, 0)
        }),
    )
  },
)
