import { DateTime } from "effect"
import type { ChannelKind } from "../../schema/ChannelKind.js"
import type { InboundMessage } from "../../schema/InboundMessage.js"

/**
 * The paragraph that tells the agent where it is. Our own wording: the agent cannot ask
 * questions mid-task, so it must know up front how its answer travels and where files go.
 */
const channelContext = (channel: ChannelKind): string => {
  const medium = channel === "email" ? "an email" : "a Slack thread"
  const reply =
    channel === "email"
      ? "Your final answer is sent back as an email reply in the same thread, rendered from Markdown."
      : "Your final answer is posted in the same Slack thread; keep Markdown simple (lists, code blocks, links)."
  return [
    `You are working on a task that arrived through ${medium}. Nobody watches this session while it runs:`,
    "you cannot ask questions or use interactive tools, so make reasonable assumptions, state them, and finish.",
    reply,
    "The repository is checked out in /workspace (your working directory).",
    "Files the person sent are in /inbox. Put files you want to send back in /outbox: they are attached to your answer.",
    "/storage keeps files between the tasks of this conversation; /workspace persists too.",
    "A later message in the same thread continues this session.",
  ].join(" ")
}

const attachmentNote = (names: ReadonlyArray<string>): string =>
  names.length === 0
    ? ""
    : `Attached to this message, saved in /inbox: ${names.map((n) => `/inbox/${n}`).join(", ")}.`

const messageText = (message: InboundMessage): string => {
  const body = message.body.trim()
  const subject = message.subject.trim()
  if (body === "") return subject
  // A new email thread's subject often carries the task itself ("Fix the login page").
  return subject === "" ? body : `Subject: ${subject}\n\n${body}`
}

const heading = (message: InboundMessage): string =>
  `From ${message.senderName}${message.senderName === message.sender ? "" : ` <${message.sender}>`} at ${DateTime.formatIso(message.receivedAt)}:`

/**
 * The prompt of one run: the channel context, the attachment note, then the message. Messages
 * that arrived while the conversation was busy run together, each headed with its sender and
 * time, oldest first, so the agent sees the order they were written in.
 */
export const composePrompt = (
  channel: ChannelKind,
  messages: ReadonlyArray<{
    readonly message: InboundMessage
    readonly savedAttachments: ReadonlyArray<string>
  }>,
): string => {
  const parts = [channelContext(channel)]
  const attachments = messages.flatMap((m) => m.savedAttachments)
  const note = attachmentNote(attachments)
  if (note !== "") parts.push(note)
  const [only, ...rest] = messages
  if (only !== undefined && rest.length === 0) {
    parts.push(messageText(only.message))
  } else {
    parts.push(
      `${messages.length} messages arrived while you were busy; handle them together:`,
      ...messages.map((m) => `${heading(m.message)}\n${messageText(m.message)}`),
    )
  }
  return parts.join("\n\n")
}
