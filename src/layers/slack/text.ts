/**
 * Slack's message markup read back as plain text for the prompt: mentions become names,
 * links their URL, the bot's own mention disappears. An optional leading `model: NAME` or
 * `ALIAS:` picks the model of a new conversation.
 */
import { Option } from "effect"

const unescapeSlack = (text: string): string =>
  text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&")

/**
 * `<@U1>` → `@name` (from `names`, else `@U1`), `<#C1|general>` → `#general`,
 * `<!subteam^S1|@eng>` → `@eng`, `<!here>` → `@here`, `<url|label>` → `label (url)`.
 */
export const plainText = (
  text: string,
  botUserId: string,
  names: ReadonlyMap<string, string> = new Map(),
): string =>
  unescapeSlack(
    text.replace(/<([^<>]*)>/g, (_, inner: string) => {
      const [target = "", label] = inner.split("|", 2)
      if (target.startsWith("@")) {
        const id = target.slice(1)
        if (id === botUserId) return ""
        return `@${names.get(id) ?? label ?? id}`
      }
      if (target.startsWith("#")) return `#${label ?? target.slice(1)}`
      if (target.startsWith("!subteam^"))
        return label === undefined ? "@group" : `@${label.replace(/^@/, "")}`
      if (target.startsWith("!")) return `@${target.slice(1).split("^")[0] ?? ""}`
      return label === undefined || label === target ? target : `${label} (${target})`
    }),
  )
    .replace(/[ \t]+\n/g, "\n")
    .trim()

/** User ids mentioned in the text, for name lookups. */
export const mentionedUsers = (text: string): ReadonlyArray<string> =>
  [...text.matchAll(/<@([UW][A-Z0-9]+)(?:\|[^>]*)?>/g)].flatMap((m) => (m[1] === undefined ? [] : [m[1]]))

/**
 * The model a message asks for and the text without the request. `model: NAME` takes an alias
 * or a model name; `ALIAS:` at the start takes only configured aliases.
 */
export const modelRequest = (
  text: string,
  aliases: Readonly<Record<string, string>>,
): { readonly model: Option.Option<string>; readonly text: string } => {
  const explicit = /^model:\s*([A-Za-z0-9._-]+)\s*/i.exec(text)
  if (explicit?.[1] !== undefined) {
    const name = explicit[1]
    return { model: Option.some(aliases[name] ?? name), text: text.slice(explicit[0].length) }
  }
  const alias = /^([A-Za-z0-9._-]+):\s+/.exec(text)
  if (alias?.[1] !== undefined && Object.hasOwn(aliases, alias[1])) {
    return { model: Option.fromNullable(aliases[alias[1]]), text: text.slice(alias[0].length) }
  }
  return { model: Option.none(), text }
}
