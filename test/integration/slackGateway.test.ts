import { execFileSync } from "node:child_process"
import * as path from "node:path"
import { assert, layer } from "@effect/vitest"
import { Effect, Option, Schedule } from "effect"
import { SqliteStoreLive } from "../../src/layers/SqliteStoreLive.js"
import { ConversationStore } from "../../src/services/ConversationStore.js"
import { Turn } from "../support/FakeAnthropic.js"
import { appToken, botToken, botUserId, type FakeSlackShape, makeFakeSlack } from "../support/FakeSlack.js"
import { GatewayTestLayer, helloCommitScript, helloCommitText, makeGatewayEnv } from "./support/gatewayEnv.js"

/**
 * `airut run` with a Slack channel: the daemon as a subprocess on real Podman, the real
 * Claude Code CLI in the sandbox against the fake Anthropic API, and the fake Slack (Web API +
 * Socket Mode) that the real Slack clients of the daemon connect to.
 */

const alice = { id: "UALICE01", name: "Alice" }
const guest = { id: "UGUEST01", name: "Gus", restricted: true }
const dmChannel = "D0DM0001"

const postsIn = (slack: FakeSlackShape, channel: string, threadTs: string) =>
  Effect.map(slack.callsOf("chat.postMessage"), (calls) =>
    calls.filter((c) => c.params.channel === channel && c.params.thread_ts === threadTs),
  )

/** The first post in the thread whose text includes `text`, waiting up to three minutes. */
const waitForPost = (slack: FakeSlackShape, channel: string, threadTs: string, text: string) =>
  postsIn(slack, channel, threadTs).pipe(
    Effect.map((posts) => posts.find((p) => (p.params.text ?? "").includes(text))),
    Effect.filterOrFail(
      (post) => post !== undefined,
      () => "not yet",
    ),
    Effect.retry(Schedule.spaced("200 millis")),
    Effect.timeout("3 minutes"),
    Effect.catchAll(() =>
      Effect.flatMap(slack.callsOf("chat.postMessage"), (all) =>
        Effect.dieMessage(
          `no post with ${JSON.stringify(text)} in ${channel}/${threadTs}; posts: ${JSON.stringify(all.map((c) => c.params))}`,
        ),
      ),
    ),
  )

const withStore = <A, E>(file: string, body: Effect.Effect<A, E, ConversationStore>) =>
  body.pipe(Effect.provide(SqliteStoreLive({ filename: file })), Effect.orDie)

layer(GatewayTestLayer, { excludeTestServices: true, timeout: "900 seconds" })(
  "airut run over Slack",
  (it) => {
    it.scoped(
      "a DM and a channel mention end to end: plan and status live, answer in the thread, continuation resumes, a guest is refused",
      () =>
        Effect.gen(function* () {
          const env = yield* makeGatewayEnv
          const slack = yield* makeFakeSlack().pipe(Effect.orDie)
          yield* slack.addUser(alice)
          yield* slack.addUser(guest)
          yield* env.writeConfig({
            repoExtra: [
              "    slack:",
              `      bot_token: ${botToken}`,
              `      app_token: ${appToken}`,
              "      authorized: [{ workspace_members: true }]",
              `      api_url: ${slack.apiUrl}`,
            ],
          })
          const db = path.join(env.stateDir, "airut.db")
          const daemon = yield* env.startDaemon
          yield* daemon.waitForLine((l) => l.includes(`bot ${botUserId}`))
          yield* slack.connections.pipe(
            Effect.filterOrFail((c) => c.open === 1),
            Effect.retry(Schedule.spaced("100 millis")),
            Effect.timeout("30 seconds"),
          )

          // --- 1. A DM becomes a conversation: started notice, status, plan, commit, answer.
          yield* env.fake.script([
            Turn.ToolUse({
              name: "TodoWrite",
              input: {
                todos: [
                  { content: "Create hello.txt", status: "in_progress", activeForm: "Creating hello.txt" },
                  { content: "Commit it", status: "pending", activeForm: "Committing" },
                ],
              },
            }),
            ...helloCommitScript,
          ])
          const dmRoot = "1700000100.000100"
          const envelope = yield* slack.pushEvent({
            type: "message",
            channel: dmChannel,
            channel_type: "im",
            user: alice.id,
            text: "create hello.txt and commit it",
            ts: dmRoot,
          })
          const answer = yield* waitForPost(slack, dmChannel, dmRoot, helloCommitText)
          assert.match(answer.params.text ?? "", /Cost \$\d+\.\d{4} · \d+ turns?/)
          const dmPosts = yield* postsIn(slack, dmChannel, dmRoot)
          assert.include(dmPosts[0]?.params.text ?? "", "I've started working on this")
          const plan = dmPosts.find((p) => (p.params.text ?? "").startsWith("*Plan*"))
          assert.include(plan?.params.text ?? "", "Creating hello.txt")
          const statuses = yield* slack.callsOf("assistant.threads.setStatus")
          assert.deepStrictEqual(
            statuses.filter((s) => s.params.thread_ts === dmRoot).map((s) => s.params.status),
            ["is working on this...", ""],
          )
          assert.include(yield* slack.acks, envelope)
          const [conversation] = yield* withStore(
            db,
            Effect.flatMap(ConversationStore, (s) =>
              s.findByThreadKey({
                channel: "slack",
                repoId: "app",
                keys: [`${dmChannel}:${dmRoot}:${dmRoot}`],
              }),
            ),
          ).pipe(Effect.map(Option.toArray))
          assert.isDefined(conversation)
          if (conversation === undefined) return
          assert.strictEqual(
            execFileSync("git", ["log", "-1", "--format=%s"], {
              cwd: env.workspaceOf(conversation.id),
              encoding: "utf8",
            }).trim(),
            "hello",
          )

          // --- 2. A reply in the thread continues the conversation and its Claude session.
          yield* env.fake.clearRequests
          yield* env.fake.script([Turn.Text({ text: "It is still there." })])
          yield* slack.pushEvent({
            type: "message",
            channel: dmChannel,
            channel_type: "im",
            user: alice.id,
            text: "is hello.txt still there?",
            ts: "1700000100.000200",
            thread_ts: dmRoot,
          })
          yield* waitForPost(slack, dmChannel, dmRoot, "It is still there.")
          const resumed = yield* env.fake.messageRequests
          // The resumed session carries the first task's answer back to the model.
          assert.isTrue(resumed.some((r) => r.body.includes(helloCommitText)))
          const tasks = yield* withStore(
            db,
            Effect.flatMap(ConversationStore, (s) => s.listTasks({ limit: 50 })),
          )
          assert.strictEqual(tasks.filter((t) => t.conversationId === conversation.id).length, 2)

          // --- 3. A mention in a channel, delivered twice (message + app_mention), runs once.
          yield* env.fake.script([Turn.Text({ text: "Hello, channel." })])
          const post = {
            channel: "C0GENERAL",
            channel_type: "channel",
            user: alice.id,
            text: `<@${botUserId}> say hello`,
            ts: "1700000300.000300",
          }
          yield* slack.pushEvent({ type: "message", ...post })
          yield* slack.pushEvent({ type: "app_mention", ...post })
          yield* waitForPost(slack, "C0GENERAL", post.ts, "Hello, channel.")
          // A guest's DM is refused and recorded, never answered.
          yield* slack.pushEvent({
            type: "message",
            channel: "D0DM0002",
            channel_type: "im",
            user: guest.id,
            text: "let me in",
            ts: "1700000400.000400",
          })
          const rejections = yield* withStore(
            db,
            Effect.flatMap(ConversationStore, (s) => s.listRejections()),
          ).pipe(
            Effect.filterOrFail((all) => all.some((r) => r.sender === guest.id)),
            Effect.retry(Schedule.spaced("200 millis")),
            Effect.timeout("20 seconds"),
            Effect.orDie,
          )
          assert.include(rejections.find((r) => r.sender === guest.id)?.detail ?? "", "guest")
          yield* Effect.sleep("1 second")
          assert.deepStrictEqual(yield* postsIn(slack, "D0DM0002", "1700000400.000400"), [])
          const channelAnswers = (yield* postsIn(slack, "C0GENERAL", post.ts)).filter((p) =>
            (p.params.text ?? "").includes("Hello, channel."),
          )
          assert.strictEqual(channelAnswers.length, 1)
          assert.strictEqual(yield* env.fake.remaining, 0)

          const exit = yield* daemon.stop("SIGTERM")
          assert.deepStrictEqual(exit.code, Option.some(0), exit.output.join("\n"))
          assert.isFalse(exit.output.some((l) => l.includes(botToken) || l.includes(appToken)))
        }),
    )
  },
)
