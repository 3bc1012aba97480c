import { Context } from "effect"

/** Where this installation keeps its files, resolved once at start. */
export interface AirutPathsShape {
  /** The server config file (it may not exist: then embedded defaults apply). */
  readonly configFile: string
  /** SQLite store, proxy CA, conversations and caches live under this directory. */
  readonly stateDir: string
}

export class AirutPaths extends Context.Tag("airut/AirutPaths")<AirutPaths, AirutPathsShape>() {}
