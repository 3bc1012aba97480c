/**
 * Markdown (what the agent writes) to Slack's mrkdwn, on top of `marked`'s lexer.
 *
 * Slack has no tables, no headings and its own emphasis and link syntax; `&`, `<` and `>` are
 * control characters in every text, code included. The agent's text may be prompt-injected:
 * raw HTML is shown as text, only http(s) and mailto links become links, and a URL cannot
 * close or relabel its `<url|label>` form (`|`, `<`, `>` and spaces are percent-encoded).
 */
import { type MarkedToken, marked, type Token, type Tokens } from "marked"

const markedTypes: ReadonlySet<string> = new Set([
  "blockquote",
  "br",
  "checkbox",
  "code",
  "codespan",
  "def",
  "del",
  "em",
  "escape",
  "heading",
  "hr",
  "html",
  "image",
  "link",
  "list",
  "list_item",
  "paragraph",
  "space",
  "strong",
  "table",
  "text",
])

/** `marked`'s union includes a generic token with any `type`; ours are the named ones. */
const isKnown = (token: Token): token is MarkedToken => markedTypes.has(token.type)

/** Slack's three control characters, in any text. */
export const escapeText = (text: string): string =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

/** A URL safe inside `<url|label>`; `None` for schemes that are not links. */
const safeUrl = (href: string): string | undefined => {
  const trimmed = href.trim()
  if (!/^(https?:|mailto:)/i.test(trimmed)) return undefined
  return trimmed.replace(/[|<>\s]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`)
}

/** The text of inline tokens without any formatting (link labels, table cells). */
const plain = (tokens: ReadonlyArray<Token>): string =>
  tokens
    .map((token) => {
      if (!isKnown(token)) return token.raw
      switch (token.type) {
        case "text":
          return token.tokens === undefined ? token.text : plain(token.tokens)
        case "strong":
        case "em":
        case "del":
        case "link":
          return plain(token.tokens)
        case "codespan":
        case "escape":
        case "image":
        case "html":
          return token.text
        case "br":
          return " "
        default:
          return token.raw
      }
    })
    .join("")

const inline = (tokens: ReadonlyArray<Token>): string =>
  tokens
    .map((token) => {
      if (!isKnown(token)) return escapeText(token.raw)
      switch (token.type) {
        case "text":
          return token.tokens === undefined ? escapeText(token.text) : inline(token.tokens)
        case "escape":
          return escapeText(token.text)
        case "strong":
          return `*${inline(token.tokens)}*`
        case "em":
          return `_${inline(token.tokens)}_`
        case "del":
          return `~${inline(token.tokens)}~`
        case "codespan":
          return `\`${escapeText(token.text)}\``
        case "br":
          return "\n"
        case "link":
          return link(token.href, plain(token.tokens))
        case "image":
          return link(token.href, token.text === "" ? token.href : token.text)
        case "html":
          return escapeText(token.text)
        case "checkbox":
          return ""
        default:
          return escapeText(token.raw)
      }
    })
    .join("")

const link = (href: string, label: string): string => {
  const url = safeUrl(href)
  if (url === undefined) return escapeText(label)
  // A bare URL (autolink) is its own label.
  if (label === href || label.trim() === "") return `<${url}>`
  return `<${url}|${escapeText(label.replace(/\s+/g, " "))}>`
}

const indent = (text: string, prefix: string, first: string): string =>
  text
    .split("\n")
    .map((line, i) => (i === 0 ? `${first}${line}` : line === "" ? line : `${prefix}${line}`))
    .join("\n")

const listItem = (item: Tokens.ListItem, marker: string): string => {
  const box = item.task ? (item.checked === true ? "☑ " : "☐ ") : ""
  const body = blocks(item.tokens).join(item.loose ? "\n\n" : "\n")
  return indent(`${box}${body}`, " ".repeat(marker.length), marker)
}

const list = (token: Tokens.List): string => {
  const start = typeof token.start === "number" ? token.start : 1
  return token.items
    .map((item, i) => listItem(item, token.ordered ? `${start + i}. ` : "• "))
    .join(token.loose ? "\n\n" : "\n")
}

/** A table as a fixed-width block: Slack has no tables. */
const table = (token: Tokens.Table): string => {
  const rows = [token.header, ...token.rows].map((row) => row.map((cell) => plain(cell.tokens)))
  const widths = token.header.map((_, col) => Math.max(...rows.map((row) => (row[col] ?? "").length)))
  const line = (row: ReadonlyArray<string>) =>
    row
      .map((cell, col) => cell.padEnd(widths[col] ?? 0))
      .join(" | ")
      .trimEnd()
  const [head, ...body] = rows
  const rule = widths.map((w) => "-".repeat(w)).join("-+-")
  return `\`\`\`\n${escapeText([line(head ?? []), rule, ...body.map(line)].join("\n"))}\n\`\`\``
}

const block = (token: Token): string | undefined => {
  if (!isKnown(token)) return escapeText(token.raw)
  switch (token.type) {
    case "space":
    case "def":
    case "checkbox":
      return undefined
    case "paragraph":
      return inline(token.tokens)
    case "text":
      return token.tokens === undefined ? escapeText(token.text) : inline(token.tokens)
    case "heading":
      return `*${inline(token.tokens)}*`
    case "code":
      return `\`\`\`\n${escapeText(token.text)}\n\`\`\``
    case "blockquote":
      return blocks(token.tokens)
        .join("\n\n")
        .split("\n")
        .map((line) => `> ${line}`)
        .join("\n")
    case "list":
      return list(token)
    case "table":
      return table(token)
    case "hr":
      return "———"
    case "html":
      return escapeText(token.text.trimEnd())
    default:
      return inline([token])
  }
}

const blocks = (tokens: ReadonlyArray<Token>): Array<string> =>
  tokens.map(block).filter((b): b is string => b !== undefined)

/** The top-level blocks of `markdown`, each converted: where a long answer may be split. */
export const toMrkdwnBlocks = (markdown: string): ReadonlyArray<string> =>
  blocks(marked.lexer(markdown, { gfm: true }))

/** Markdown as one mrkdwn text. */
export const toMrkdwn = (markdown: string): string => toMrkdwnBlocks(markdown).join("\n\n")
