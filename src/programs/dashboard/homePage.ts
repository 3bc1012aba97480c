import { Option } from "effect"
import type { ChannelStatusView } from "../../schema/DashboardHealth.js"
import type { DashboardTask } from "../../schema/DashboardTask.js"
import { type Html, html } from "./html.js"
import { elapsed, page } from "./layout.js"

export const stateLabel = (task: DashboardTask): string =>
  task.state === "completed" ? Option.getOrElse(task.completionReason, () => "completed") : task.state

const taskRow = (
  task: DashboardTask,
  now: number,
): Html => html`<tr class="task" data-task-id="${task.id}" data-state="${task.state}">
<td><span class="state ${task.state}">${task.state}</span>${
  Option.isSome(task.completionReason)
    ? html` <span class="reason ${task.completionReason.value}">${task.completionReason.value}</span>`
    : ""
}</td>
<td>${task.repoId}</td>
<td>${task.sender}</td>
<td><a href="/conversation/${task.conversationId}">${task.title === "" ? "(no subject)" : task.title}</a></td>
<td>${elapsed(
  Option.getOrElse(task.startedAt, () => task.queuedAt),
  task.completedAt,
  now,
)}</td>
</tr>`

const section = (
  title: string,
  id: string,
  tasks: ReadonlyArray<DashboardTask>,
  now: number,
  none: string,
): Html =>
  html`<section id="${id}"><h2>${title} <span class="muted">(${tasks.length})</span></h2>${
    tasks.length === 0
      ? html`<p class="muted">${none}</p>`
      : html`<table><thead><tr><th>state</th><th>repo</th><th>sender</th><th>title</th><th>elapsed</th></tr></thead>
<tbody>${tasks.map((t) => taskRow(t, now))}</tbody></table>`
  }</section>`

/** The three task lists; replaced as a whole on every change. */
export const renderTaskLists = (tasks: ReadonlyArray<DashboardTask>, now: number): Html => {
  const running = tasks.filter((t) => t.state === "executing")
  const pending = tasks.filter(
    (t) => t.state === "queued" || t.state === "authenticating" || t.state === "pending",
  )
  const recent = tasks.filter((t) => t.state === "completed")
  return html`${section("Running", "running", running, now, "Nothing is running.")}
${section("Pending", "pending", pending, now, "Nothing is waiting.")}
${section("Recent", "recent", recent, now, "No finished tasks yet.")}`
}

const healthText = (status: ChannelStatusView): string =>
  status.health._tag === "Degraded" || status.health._tag === "Failed"
    ? `${status.health._tag}: ${status.health.reason}`
    : status.health._tag

export const renderChannels = (statuses: ReadonlyArray<ChannelStatusView>): Html =>
  statuses.length === 0
    ? html`<p class="muted">No channels configured: the dashboard only.</p>`
    : html`<table><thead><tr><th>repo</th><th>channel</th><th>health</th></tr></thead><tbody>${statuses.map(
        (s) =>
          html`<tr class="channel" data-repo="${s.repoId}" data-kind="${s.kind}"><td>${s.repoId}</td><td>${s.kind}</td><td class="health ${s.health._tag}">${healthText(s)}</td></tr>`,
      )}</tbody></table>`

export const homePage = (
  tasks: ReadonlyArray<DashboardTask>,
  statuses: ReadonlyArray<ChannelStatusView>,
  now: number,
  version: string,
): Html =>
  page({
    title: "Tasks",
    stream: "/events",
    body: html`<h1>Tasks</h1>
<div id="tasks" data-live="replace">${renderTaskLists(tasks, now)}</div>
<h2>Channels</h2>
<div id="channels" data-live="replace">${renderChannels(statuses)}</div>
<p class="meta">airut ${version}</p>`,
  })
