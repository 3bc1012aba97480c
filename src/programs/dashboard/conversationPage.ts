import { Option } from "effect"
import type { Conversation } from "../../schema/Conversation.js"
import type { DashboardTask } from "../../schema/DashboardTask.js"
import type { Reply } from "../../schema/Reply.js"
import type { ConversationView } from "./data.js"
import { type Html, html } from "./html.js"
import { elapsed, formatDuration, formatTime, page } from "./layout.js"
import { renderEvents, renderTodos } from "./timeline.js"

const stopForm = (task: DashboardTask, csrfToken: string): Html =>
  html`<form method="post" action="/api/tasks/${task.id}/stop" class="stop-form">
<input type="hidden" name="csrf" value="${csrfToken}"><button type="submit" class="stop" data-task-id="${task.id}">Stop</button></form>`

/** The conversation's tasks, each unfinished one with its Stop button. */
export const renderConversationTasks = (
  tasks: ReadonlyArray<DashboardTask>,
  now: number,
  csrfToken: string,
): Html =>
  html`<table><thead><tr><th>task</th><th>state</th><th>sender</th><th>title</th><th>elapsed</th><th></th></tr></thead><tbody>${tasks.map(
    (t) => html`<tr class="task" data-task-id="${t.id}" data-state="${t.state}">
<td><code>${t.id}</code></td>
<td><span class="state ${t.state}">${t.state}</span>${
      Option.isSome(t.completionReason)
        ? html` <span class="reason ${t.completionReason.value}">${t.completionReason.value}</span>`
        : ""
    }${Option.isSome(t.completionDetail) ? html`<div class="meta">${t.completionDetail.value}</div>` : ""}</td>
<td>${t.sender}</td><td>${t.title}</td>
<td>${elapsed(
      Option.getOrElse(t.startedAt, () => t.queuedAt),
      t.completedAt,
      now,
    )}</td>
<td>${t.state === "completed" ? "" : stopForm(t, csrfToken)}</td></tr>`,
  )}</tbody></table>`

const money = (usd: number) => `$${usd.toFixed(4)}`

const replyCard = (reply: Reply): Html => html`<article class="reply" data-reply-index="${reply.index}">
<div class="meta">reply ${reply.index + 1} · ${formatTime(reply.at)} · ${reply.outcome} · ${Option.match(
  reply.costUsd,
  {
    onNone: () => "no cost reported",
    onSome: money,
  },
)} · ${reply.turns} turns · ${formatDuration(reply.durationMs)} · session ${Option.getOrElse(reply.sessionId, () => "none")}</div>
<details><summary>request</summary><p class="text">${reply.requestText}</p></details>
<p class="text response">${reply.responseText}</p>
</article>`

export const renderReplies = (replies: ReadonlyArray<Reply>): Html =>
  replies.length === 0 ? html`<p class="muted">No reply yet.</p>` : html`${replies.map(replyCard)}`

export const conversationHeader = (conversation: Conversation, active: "actions" | "network"): Html =>
  html`<h1>Conversation <code>${conversation.id}</code></h1>
<p class="meta">${conversation.repoId} · ${conversation.channel} · ${conversation.model}${Option.match(
    conversation.effort,
    {
      onNone: () => "",
      onSome: (e) => ` (${e})`,
    },
  )} · started ${formatTime(conversation.createdAt)} · session ${Option.getOrElse(conversation.sessionId, () => "none yet")}</p>
<nav class="tabs">${
    active === "actions"
      ? html`<strong>Actions</strong> <a href="/conversation/${conversation.id}/network">Network</a>`
      : html`<a href="/conversation/${conversation.id}">Actions</a> <strong>Network</strong>`
  }</nav>`

export const conversationPage = (view: ConversationView, now: number, csrfToken: string): Html =>
  page({
    title: `Conversation ${view.conversation.id}`,
    csrfToken,
    stream: `/conversation/${view.conversation.id}/stream?offset=${view.nextOffset}`,
    body: html`${conversationHeader(view.conversation, "actions")}
<h2>Tasks</h2>
<div id="tasks" data-live="replace">${renderConversationTasks(view.tasks, now, csrfToken)}</div>
<h2>Replies</h2>
<div id="replies" data-live="replace">${renderReplies(view.replies)}</div>
<h2>Plan</h2>
<div id="todos" data-live="replace">${renderTodos(view.todos)}</div>
<h2>Actions</h2>
<ol id="timeline" class="timeline" data-live="append">${
      view.events.length === 0
        ? html`<li class="empty muted">No actions yet.</li>`
        : renderEvents(view.events)
    }</ol>`,
  })
