/**
 * The new text of a mail: HTML converted to Markdown-like text, quoted history removed.
 *
 * Mail clients mark quoted history differently: Gmail `div.gmail_quote`, Apple Mail and
 * Thunderbird `blockquote[type=cite]` (Thunderbird's attribution line `div.moz-cite-prefix`),
 * Yahoo `div.yahoo_quoted`, Outlook on the web `#mail-editor-reference-message-container`,
 * and Outlook's reply header block (`#divRplyFwdMsg`, `#appendonsend`, or a top-bordered div in
 * desktop Outlook) after which everything is history. Quoted blocks followed by new text are
 * inline replies: they stay, as `> ` lines with a blank line after them so that the answer
 * below is not read as part of the quote. Quoted blocks at the end are removed.
 */
import { htmlToText } from "html-to-text"

const start = "\u0002airut-quote-start\u0003"
const end = "\u0002airut-quote-end\u0003"

/** Where desktop/web Outlook start the history of a reply; everything after it is quoted. */
const outlookBoundary =
  /<(div|hr|p)\b[^>]*(\bid\s*=\s*["']?(divRplyFwdMsg|appendonsend)\b|style\s*=\s*["'][^"']*border-top\s*:\s*solid\s+#(e1e1e1|b5c4df))/i

const quoteSelectors = [
  "div.gmail_quote",
  "blockquote.gmail_quote",
  "div.yahoo_quoted",
  "blockquote[type=cite]",
  "div.moz-cite-prefix",
  "#mail-editor-reference-message-container",
]

const convert = (html: string): string =>
  htmlToText(html, {
    wordwrap: false,
    formatters: {
      quotedHistory: (elem, walk, builder) => {
        builder.openBlock({ leadingLineBreaks: 1 })
        builder.addLiteral(start)
        builder.closeBlock({ trailingLineBreaks: 1 })
        walk(elem.children, builder)
        builder.openBlock({ leadingLineBreaks: 1 })
        builder.addLiteral(end)
        builder.closeBlock({ trailingLineBreaks: 1 })
      },
    },
    selectors: [
      ...quoteSelectors.map((selector) => ({ selector, format: "quotedHistory" })),
      { selector: "a", options: { hideLinkIfSameAsText: true, linkBrackets: ["<", ">"] } },
      { selector: "img", format: "skip" },
      { selector: "h1", options: { uppercase: false } },
      { selector: "h2", options: { uppercase: false } },
      { selector: "h3", options: { uppercase: false } },
      { selector: "h4", options: { uppercase: false } },
      { selector: "h5", options: { uppercase: false } },
      { selector: "h6", options: { uppercase: false } },
      { selector: "table", format: "dataTable", options: { uppercaseHeaderCells: false } },
      { selector: "style", format: "skip" },
      { selector: "head", format: "skip" },
    ],
  })

interface Segment {
  readonly quoted: boolean
  readonly lines: Array<string>
}

const hasText = (lines: ReadonlyArray<string>) => lines.some((l) => l.trim().length > 0)

const trimBlankEdges = (lines: ReadonlyArray<string>): Array<string> => {
  let from = 0
  let to = lines.length
  while (from < to && (lines[from] ?? "").trim() === "") from++
  while (to > from && (lines[to - 1] ?? "").trim() === "") to--
  return lines.slice(from, to)
}

/** Joins quotes separated only by blank lines (an attribution line and its quote, say). */
const mergeQuotes = (segments: ReadonlyArray<Segment>): Array<Segment> => {
  const out: Array<Segment> = []
  for (const segment of segments) {
    if (!segment.quoted && !hasText(segment.lines)) continue
    const last = out[out.length - 1]
    if (last?.quoted && segment.quoted) {
      last.lines.push(...trimBlankEdges(segment.lines))
    } else {
      out.push({
        quoted: segment.quoted,
        lines: segment.quoted ? trimBlankEdges(segment.lines) : [...segment.lines],
      })
    }
  }
  return out
}

/** Keeps quotes that new text follows (as `> ` lines), drops the trailing ones. */
const assemble = (all: ReadonlyArray<Segment>): string => {
  const segments = mergeQuotes(all)
  let lastNew = -1
  segments.forEach((s, i) => {
    if (!s.quoted && hasText(s.lines)) lastNew = i
  })
  const out: Array<string> = []
  for (const [i, segment] of segments.entries()) {
    if (i > lastNew) break
    const lines = trimBlankEdges(segment.lines)
    if (lines.length === 0) continue
    if (out.length > 0) out.push("")
    if (segment.quoted) {
      out.push(...lines.map((l) => (l.trim() === "" ? ">" : `> ${l}`)))
    } else {
      out.push(...lines)
    }
  }
  return out
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim()
}

/** Text of an HTML body with quoted history handled as described above. */
export const htmlBodyText = (html: string): string => {
  const boundary = outlookBoundary.exec(html)
  const cut = boundary === null ? html : html.slice(0, boundary.index)
  const text = convert(cut)
  const segments: Array<Segment> = [{ quoted: false, lines: [] }]
  let depth = 0
  for (const line of text.split("\n")) {
    const trimmed = line.trim()
    if (trimmed === start) {
      depth++
      if (depth === 1) segments.push({ quoted: true, lines: [] })
      continue
    }
    if (trimmed === end) {
      depth = Math.max(0, depth - 1)
      if (depth === 0) segments.push({ quoted: false, lines: [] })
      continue
    }
    segments[segments.length - 1]?.lines.push(line.replaceAll(start, "").replaceAll(end, ""))
  }
  return assemble(segments)
}

const attribution = /^(on|am|le|el|op)\b.*\b(wrote|schrieb|a écrit|escribió|schreef)\s*:\s*$/i
const looseAttribution = /\bwrote:\s*$/i
const outlookPlainBoundary =
  /^(-{3,}\s*original message\s*-{3,}|_{20,}|-{3,}\s*forwarded message\s*-{3,})\s*$/i
const mobileSignature = /^sent from my (iphone|ipad|android|mobile)|^get outlook for (ios|android)/i

/**
 * Text of a plain-text body: cut at a signature separator (`-- `) or an Outlook history
 * boundary, then trailing `>` quotes and their attribution line removed; quotes followed by
 * new text stay, separated from it by a blank line.
 */
export const plainBodyText = (text: string): string => {
  const lines = text.replace(/\r\n?/g, "\n").split("\n")
  const cutAt = lines.findIndex((l) => l === "-- " || l === "--" || outlookPlainBoundary.test(l.trim()))
  const kept = cutAt < 0 ? lines : lines.slice(0, cutAt)
  const segments: Array<Segment> = []
  for (const line of kept) {
    const quoted = /^\s*>/.test(line)
    const last = segments[segments.length - 1]
    // A blank line inside a quote (between two quoted lines) belongs to it.
    if (last !== undefined && (last.quoted === quoted || (last.quoted && line.trim() === ""))) {
      last.lines.push(quoted ? line.replace(/^\s*> ?/, "") : line)
    } else {
      segments.push({ quoted, lines: [quoted ? line.replace(/^\s*> ?/, "") : line] })
    }
  }
  // The attribution line right before a trailing quote ("On Mon, ... wrote:"), possibly
  // wrapped over two lines, goes with it.
  let lastNew = -1
  segments.forEach((s, i) => {
    if (!s.quoted && hasText(s.lines)) lastNew = i
  })
  const beforeTrailingQuote = segments[lastNew]
  if (beforeTrailingQuote !== undefined && lastNew < segments.length - 1) {
    const body = trimBlankEdges(beforeTrailingQuote.lines)
    const lastLine = body[body.length - 1] ?? ""
    const twoLines = `${body[body.length - 2] ?? ""} ${lastLine}`
    if (attribution.test(lastLine.trim())) body.pop()
    else if (attribution.test(twoLines.trim())) body.splice(-2, 2)
    else if (looseAttribution.test(lastLine.trim())) body.pop()
    beforeTrailingQuote.lines.splice(0, beforeTrailingQuote.lines.length, ...body)
  }
  for (const segment of segments) {
    if (segment.quoted) continue
    const body = trimBlankEdges(segment.lines)
    if (body.length > 0 && mobileSignature.test((body[body.length - 1] ?? "").trim())) body.pop()
    segment.lines.splice(0, segment.lines.length, ...body)
  }
  return assemble(segments)
}
