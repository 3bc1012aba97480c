import { assert, describe, it } from "@effect/vitest"
import { Option } from "effect"
import {
  ignoredBecause,
  type MessageEvent,
  messageKeyOf,
  parseKey,
  threadKeyOf,
} from "../../src/layers/slack/events.js"
import { toMrkdwn, toMrkdwnBlocks } from "../../src/layers/slack/mrkdwn.js"
import { splitMessage } from "../../src/layers/slack/split.js"
import { modelRequest, plainText } from "../../src/layers/slack/text.js"

describe("Markdown to mrkdwn", () => {
  it("converts emphasis, headings, code, links and escapes control characters", () => {
    assert.strictEqual(toMrkdwn("**bold** and *it* and ~~gone~~"), "*bold* and _it_ and ~gone~")
    assert.strictEqual(toMrkdwn("# Title"), "*Title*")
    assert.strictEqual(toMrkdwn("use `a<b && c>d`"), "use `a&lt;b &amp;&amp; c&gt;d`")
    assert.strictEqual(toMrkdwn("```ts\nif (a < b) {}\n```"), "```\nif (a &lt; b) {}\n```")
    assert.strictEqual(
      toMrkdwn("[the PR](https://github.com/o/r/pull/1)"),
      "<https://github.com/o/r/pull/1|the PR>",
    )
    assert.strictEqual(toMrkdwn("see https://example.com/x"), "see <https://example.com/x>")
    assert.strictEqual(toMrkdwn("<b>raw</b> & more"), "&lt;b&gt;raw&lt;/b&gt; &amp; more")
  })

  it("never lets a URL close or relabel its link, and drops non-web schemes", () => {
    assert.strictEqual(toMrkdwn("[x](https://e.com/a|b>c)"), "<https://e.com/a%7Cb%3Ec|x>")
    assert.strictEqual(toMrkdwn("[click](javascript:alert(1))"), "click")
  })

  it("renders lists, tasks, quotes, rules and tables", () => {
    assert.strictEqual(toMrkdwn("- a\n- b\n  - c"), "• a\n• b\n  • c")
    assert.strictEqual(toMrkdwn("1. one\n2. two"), "1. one\n2. two")
    assert.strictEqual(toMrkdwn("- [x] done\n- [ ] todo"), "• ☑ done\n• ☐ todo")
    assert.strictEqual(toMrkdwn("> quoted\n> more"), "> quoted\n> more")
    assert.strictEqual(toMrkdwn("a\n\n---\n\nb"), "a\n\n———\n\nb")
    assert.strictEqual(toMrkdwn("| a | bb |\n|---|---|\n| 1 | 2 |"), "```\na | bb\n--+---\n1 | 2\n```")
  })
})

describe("splitting long answers", () => {
  it("keeps blocks whole and packs them up to the limit", () => {
    const blocks = ["a".repeat(40), "b".repeat(40), "c".repeat(40)]
    assert.deepStrictEqual(splitMessage(blocks, 90), [
      `${"a".repeat(40)}\n\n${"b".repeat(40)}`,
      "c".repeat(40),
    ])
  })

  it("cuts an oversized block at lines, an oversized line hard, and reopens code fences", () => {
    const para = ["x".repeat(30), "y".repeat(30), "z".repeat(30)].join("\n")
    assert.deepStrictEqual(splitMessage([para], 65), [`${"x".repeat(30)}\n${"y".repeat(30)}`, "z".repeat(30)])
    assert.deepStrictEqual(splitMessage(["w".repeat(25)], 10), [
      "w".repeat(10),
      "w".repeat(10),
      "w".repeat(5),
    ])
    const code = `\`\`\`\n${["1".repeat(20), "2".repeat(20)].join("\n")}\n\`\`\``
    const parts = splitMessage([code], 30)
    assert.deepStrictEqual(parts, [`\`\`\`\n${"1".repeat(20)}\n\`\`\``, `\`\`\`\n${"2".repeat(20)}\n\`\`\``])
    for (const p of parts) assert.isAtMost(p.length, 30)
  })

  it("a long answer from Markdown stays under the limit in every message", () => {
    const md = Array.from({ length: 200 }, (_, i) => `Paragraph ${i} ${"word ".repeat(60)}`).join("\n\n")
    const parts = splitMessage(toMrkdwnBlocks(md), 4000)
    assert.isAbove(parts.length, 10)
    for (const p of parts) assert.isAtMost(p.length, 4000)
    assert.isTrue(parts[1]?.startsWith("Paragraph"))
  })
})

describe("inbound text", () => {
  it("reads mentions, channels, groups and links as plain text without the bot's mention", () => {
    const names = new Map([["U2", "Bob"]])
    assert.strictEqual(
      plainText(
        "<@UBOT> ask <@U2> in <#C1|general> with <!subteam^S1|@eng> &amp; <!here>: <https://x.io|docs> &lt;3",
        "UBOT",
        names,
      ),
      "ask @Bob in #general with @eng & @here: docs (https://x.io) <3",
    )
  })

  it("takes a model request at the start only", () => {
    const aliases = { fast: "claude-haiku", deep: "opus" }
    assert.deepStrictEqual(modelRequest("model: sonnet fix it", aliases), {
      model: Option.some("sonnet"),
      text: "fix it",
    })
    assert.deepStrictEqual(modelRequest("model:fast fix it", aliases), {
      model: Option.some("claude-haiku"),
      text: "fix it",
    })
    assert.deepStrictEqual(modelRequest("deep: think", aliases), {
      model: Option.some("opus"),
      text: "think",
    })
    assert.deepStrictEqual(modelRequest("Note: nothing", aliases), {
      model: Option.none(),
      text: "Note: nothing",
    })
  })
})

describe("events", () => {
  const base: MessageEvent = {
    type: "message",
    channel: "C1",
    user: "U1",
    text: "hi",
    ts: "1.000002",
    files: [],
  }

  it("ignores bots, our own posts and edits; keeps file shares", () => {
    assert.isTrue(Option.isSome(ignoredBecause({ ...base, bot_id: "B1" }, "UBOT")))
    assert.isTrue(Option.isSome(ignoredBecause({ ...base, user: "UBOT" }, "UBOT")))
    assert.isTrue(Option.isSome(ignoredBecause({ ...base, subtype: "message_changed" }, "UBOT")))
    assert.isTrue(Option.isNone(ignoredBecause({ ...base, subtype: "file_share" }, "UBOT")))
    assert.isTrue(Option.isNone(ignoredBecause(base, "UBOT")))
  })

  it("keys name their thread", () => {
    const reply = { ...base, ts: "1.000009", thread_ts: "1.000002" }
    assert.strictEqual(messageKeyOf(reply), "C1:1.000002:1.000009")
    assert.strictEqual(threadKeyOf(reply), "C1:1.000002:1.000002")
    assert.strictEqual(threadKeyOf(base), messageKeyOf(base))
    assert.deepStrictEqual(
      parseKey(messageKeyOf(reply)),
      Option.some({ channel: "C1", threadTs: "1.000002" }),
    )
    assert.isTrue(Option.isNone(parseKey("<abc@example.com>")))
  })
})
