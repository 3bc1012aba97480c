import { Schema } from "effect"

const maxBytes = 200
const fallback = "attachment"

/** Cuts at a code point boundary so no half character is left behind. */
const truncateUtf8 = (s: string, bytes: number): string => {
  let out = ""
  let used = 0
  for (const ch of s) {
    const size = Buffer.byteLength(ch, "utf8")
    if (used + size > bytes) break
    out += ch
    used += size
  }
  return out
}

const sanitize = (raw: string): string => {
  const last = raw.normalize("NFC").split(/[/\\]/).pop() ?? ""
  // Control characters, bidirectional overrides (they disguise extensions: `exe.pdf` shown
  // reversed) and characters shells or other systems treat specially.
  const cleaned = last.replace(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we remove
    /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069:*?"<>|]/g,
    "_",
  )
  const trimmed = cleaned.replace(/^[.\s]+/, "").replace(/\s+$/, "")
  const named = trimmed.length === 0 ? fallback : trimmed
  if (Buffer.byteLength(named, "utf8") <= maxBytes) return named
  const dot = named.lastIndexOf(".")
  const ext = dot > 0 && named.length - dot <= 16 ? named.slice(dot) : ""
  const stem = truncateUtf8(
    named.slice(0, named.length - ext.length),
    maxBytes - Buffer.byteLength(ext, "utf8"),
  )
  return `${stem}${ext}`
}

/**
 * A file name that is safe to create inside a directory we own: one path segment (no `/` or
 * `\`, never `.` or `..`), no leading dot, no control or bidi-override characters, at most 200
 * UTF-8 bytes. Attachment names come from strangers (mail headers, Slack uploads): only names
 * that `sanitizeFileName` leaves unchanged decode.
 */
export const SafeFileName = Schema.String.pipe(
  Schema.filter((s) => sanitize(s) === s, {
    message: () => "a plain file name without directories or control characters",
  }),
  Schema.brand("SafeFileName"),
  Schema.annotations({ identifier: "SafeFileName" }),
)
export type SafeFileName = typeof SafeFileName.Type

/**
 * Makes any claimed file name safe: keeps only the last segment after `/` or `\` (a Windows
 * client may send `C:\Users\x\a.pdf`), replaces control and hostile characters with `_`,
 * strips leading dots and spaces, and shortens long names keeping the extension.
 */
export const sanitizeFileName = (raw: string): SafeFileName => SafeFileName.make(sanitize(raw))
