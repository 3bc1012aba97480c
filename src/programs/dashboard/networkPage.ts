import { Option } from "effect"
import type { Conversation } from "../../schema/Conversation.js"
import type { DashboardNetworkEntry } from "../../schema/DashboardLogs.js"
import { conversationHeader } from "./conversationPage.js"
import { type Html, html } from "./html.js"
import { formatTime, page } from "./layout.js"

const orDash = <A>(o: Option.Option<A>, f: (a: A) => string) =>
  Option.match(o, { onNone: () => "–", onSome: f })

const row = (
  e: DashboardNetworkEntry,
): Html => html`<tr class="request ${e.verdict}" data-offset="${e.offset}">
<td>${formatTime(e.at)}</td>
<td class="verdict">${e.verdict}</td>
<td>${e.method}</td>
<td>${e.host}</td>
<td class="path">${e.path}${Option.match(e.allowlistEntry, {
  onNone: () => "",
  onSome: (entry) =>
    html`<div class="meta">to allow, add under <code>url_prefixes</code> in .airut/network-allowlist.yaml:</div><code class="allow">${entry}</code>`,
})}</td>
<td>${orDash(e.status, String)}</td>
<td>${orDash(e.bytes, String)}</td>
<td>${orDash(e.durationMs, (ms) => `${Math.round(ms)} ms`)}</td>
<td>${e.swappedSecrets}</td>
</tr>`

export const renderNetworkRows = (entries: ReadonlyArray<DashboardNetworkEntry>): Html =>
  html`${entries.map(row)}`

export const networkPage = (
  conversation: Conversation,
  entries: ReadonlyArray<DashboardNetworkEntry>,
  nextOffset: number,
  blockedOnly: boolean,
): Html =>
  page({
    title: `Network · ${conversation.id}`,
    stream: `/conversation/${conversation.id}/network/stream?offset=${nextOffset}${blockedOnly ? "&blocked=true" : ""}`,
    body: html`${conversationHeader(conversation, "network")}
<p>${
      blockedOnly
        ? html`Showing blocked requests only. <a href="/conversation/${conversation.id}/network">Show all</a>`
        : html`Showing every request. <a href="/conversation/${conversation.id}/network?blocked=true" id="only-blocked">Show blocked only</a>`
    }</p>
<table class="network"><thead><tr><th>time</th><th>verdict</th><th>method</th><th>host</th><th>path</th><th>status</th><th>bytes</th><th>time taken</th><th>secrets swapped</th></tr></thead>
<tbody id="requests" data-live="append">${
      entries.length === 0
        ? html`<tr class="empty"><td colspan="9" class="muted">No requests yet.</td></tr>`
        : renderNetworkRows(entries)
    }</tbody></table>`,
  })
