import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "email")

/** A fixture mail's bytes, line endings as CRLF like on the wire. */
export const fixture = (name: string): Uint8Array =>
  new Uint8Array(Buffer.from(fs.readFileSync(path.join(dir, name), "utf8").replace(/\r?\n/g, "\r\n"), "utf8"))

export const fixtureNames = (): ReadonlyArray<string> => fs.readdirSync(dir).filter((f) => f.endsWith(".eml"))
