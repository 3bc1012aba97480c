import type { NewNetworkLogEntry } from "../../schema/NetworkLogEntry.js"
import type { RequestLogLine } from "../../schema/NetworkLogLine.js"

/** A request line of the proxy's log as the store keeps it. */
export const toStoreEntry = (line: RequestLogLine): NewNetworkLogEntry => ({
  at: line.time,
  // An error is a request the allowlist let through whose upstream failed (its status says so).
  verdict: line.action === "blocked" ? "blocked" : "allowed",
  method: line.method,
  host: line.host,
  path: line.path,
  ...(line.status === undefined ? {} : { status: line.status }),
  ...(line.bytes === undefined ? {} : { bytes: line.bytes }),
  durationMs: line.durationMs,
  swappedSecrets: line.swapped,
})
