import { DateTime, Option } from "effect"
import { type Html, html, type Interpolation } from "./html.js"

export interface PageOptions {
  readonly title: string
  readonly body: Html
  /** The SSE endpoint whose named events update the page's `data-live` elements. */
  readonly stream?: string
  readonly csrfToken?: string
}

/**
 * The page shell. No inline script or style: the CSP allows only our own files, so whatever
 * markup might slip into a page cannot run.
 */
export const page = (options: PageOptions): Html => html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${options.csrfToken === undefined ? "" : html`<meta name="csrf-token" content="${options.csrfToken}">`}
<title>${options.title} · airut</title>
<link rel="stylesheet" href="/static/dashboard.css">
<script src="/static/dashboard.js" defer></script>
</head>
<body${options.stream === undefined ? "" : html` data-stream="${options.stream}"`}>
<header class="top"><a href="/" class="brand">airut</a><span class="live-status" id="live-status"></span></header>
<main>
${options.body}
</main>
</body>
</html>
`

export const errorPage = (status: number, message: string): Html =>
  page({
    title: `${status}`,
    body: html`<h1>${status}</h1><p>${message}</p><p><a href="/">Back to the task list</a></p>`,
  })

/** "1 h 02 m", "3 m 07 s", "12 s". */
export const formatDuration = (ms: number): string => {
  const seconds = Math.max(0, Math.floor(ms / 1000))
  const h = Math.floor(seconds / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  const s = seconds % 60
  if (h > 0) return `${h} h ${String(m).padStart(2, "0")} m`
  if (m > 0) return `${m} m ${String(s).padStart(2, "0")} s`
  return `${s} s`
}

export const formatTime = (t: DateTime.Utc): string => DateTime.formatIso(t).replace("T", " ").slice(0, 19)

export const formatOptionalTime = (t: Option.Option<DateTime.Utc>): string =>
  Option.match(t, { onNone: () => "", onSome: formatTime })

/**
 * An elapsed time the browser keeps counting: `data-since` is the start in epoch ms;
 * `data-until` (finished tasks) freezes it.
 */
export const elapsed = (
  start: DateTime.Utc,
  end: Option.Option<DateTime.Utc>,
  now: number,
): Interpolation => {
  const from = start.epochMillis
  return Option.match(end, {
    onNone: () => html`<span class="elapsed" data-since="${from}">${formatDuration(now - from)}</span>`,
    onSome: (until) => html`<span class="elapsed">${formatDuration(until.epochMillis - from)}</span>`,
  })
}
