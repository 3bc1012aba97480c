/**
 * Long answers split into Slack messages. Blocks (paragraphs, lists, code blocks) are packed
 * whole while they fit; a block longer than a message is cut at line ends, and a single line
 * longer than a message at the limit itself. A code block cut in two is closed and reopened,
 * so both halves still render as code.
 */

/** Slack accepts 40,000 characters of `text`; a margin keeps fence repairs within it. */
export const messageLimit = 39_000

const fence = "```"

const cutLines = (text: string, limit: number): Array<string> => {
  const out: Array<string> = []
  let current = ""
  for (const line of text.split("\n")) {
    const candidate = current === "" ? line : `${current}\n${line}`
    if (candidate.length <= limit) {
      current = candidate
      continue
    }
    if (current !== "") out.push(current)
    if (line.length <= limit) {
      current = line
      continue
    }
    // One line longer than a message: hard slices, without splitting a surrogate pair.
    let rest = line
    while (rest.length > limit) {
      let at = limit
      const code = rest.charCodeAt(at - 1)
      if (code >= 0xd800 && code <= 0xdbff) at -= 1
      out.push(rest.slice(0, at))
      rest = rest.slice(at)
    }
    current = rest
  }
  if (current !== "") out.push(current)
  return out
}

/** A block too long for one message, cut at lines; code fences are repaired across cuts. */
const cutBlock = (block: string, limit: number): Array<string> => {
  const isCode = block.startsWith(fence) && block.endsWith(fence) && block.length > 6
  if (!isCode) return cutLines(block, limit)
  const inner = block.slice(fence.length + 1, block.length - fence.length - 1)
  return cutLines(inner, limit - 2 * fence.length - 2).map((part) => `${fence}\n${part}\n${fence}`)
}

/** Packs blocks into messages of at most `limit` characters, blocks joined by a blank line. */
export const splitMessage = (blocks: ReadonlyArray<string>, limit = messageLimit): Array<string> => {
  const out: Array<string> = []
  let current = ""
  for (const block of blocks) {
    const candidate = current === "" ? block : `${current}\n\n${block}`
    if (candidate.length <= limit) {
      current = candidate
      continue
    }
    if (current !== "") out.push(current)
    if (block.length <= limit) {
      current = block
    } else {
      const parts = cutBlock(block, limit)
      current = parts.pop() ?? ""
      out.push(...parts)
    }
  }
  if (current !== "") out.push(current)
  return out
}
