/**
 * HTML built from templates whose interpolations are escaped unless they are already `Html`.
 * Every page and fragment the dashboard serves goes through `html`, so agent output, network
 * paths and message subjects can only ever show up as text.
 */

const HtmlTypeId: unique symbol = Symbol.for("airut/dashboard/Html")

export interface Html {
  readonly [HtmlTypeId]: typeof HtmlTypeId
  readonly value: string
}

const make = (value: string): Html => ({ [HtmlTypeId]: HtmlTypeId, value })

export const isHtml = (u: unknown): u is Html => typeof u === "object" && u !== null && HtmlTypeId in u

const replacements: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
}

/** Text safe in element content and in quoted attribute values. */
export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => replacements[c] ?? c)

/** What a template accepts: text (escaped), numbers, markup, nothing, or lists of those. */
export type Interpolation = Html | string | number | null | undefined | false | ReadonlyArray<Interpolation>

const render = (value: Interpolation): string => {
  if (value === null || value === undefined || value === false) return ""
  if (typeof value === "string") return escapeHtml(value)
  if (typeof value === "number") return escapeHtml(String(value))
  if (isHtml(value)) return value.value
  return value.map(render).join("")
}

export const html = (strings: TemplateStringsArray, ...values: ReadonlyArray<Interpolation>): Html => {
  let out = strings[0] ?? ""
  for (let i = 0; i < values.length; i++) {
    out += render(values[i]) + (strings[i + 1] ?? "")
  }
  return make(out)
}

export const emptyHtml: Html = make("")

export const joinHtml = (parts: ReadonlyArray<Html>): Html => make(parts.map((p) => p.value).join(""))
