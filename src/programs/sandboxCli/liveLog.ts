import { Option } from "effect"
import type { NetworkLogLine } from "../../schema/NetworkLogLine.js"

/**
 * `--network-log-live`: one stderr line per request the proxy allowed, blocked or failed, and
 * per failed TLS handshake, e.g. `[net] BLOCKED GET evil.example/x -> 403`. DNS answers and the
 * proxy's start line are left to `--network-log`.
 */
export const liveLogLine = (line: NetworkLogLine): Option.Option<string> => {
  switch (line.kind) {
    case "request": {
      const status = line.status === undefined ? "" : ` -> ${line.status}`
      const reason = line.reason === undefined || line.action === "allowed" ? "" : ` (${line.reason})`
      const swapped = line.swapped > 0 ? ` [masked: ${line.swapped}]` : ""
      return Option.some(
        `[net] ${line.action.toUpperCase()} ${line.method} ${line.host}${line.path}${status}${swapped}${reason}`,
      )
    }
    case "tls":
      return Option.some(`[net] TLS ${line.host === "" ? "(no SNI)" : line.host}: ${line.reason}`)
    case "dns":
    case "start":
      return Option.none()
  }
}
