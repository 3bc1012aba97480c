/** Container resource limits for a task (server config `repos.<id>` and `.airut/sandbox.yaml`). */
import { Schema } from "effect"
import { decimal, ExpectedId, integer, optional } from "./ConfigPrimitives.js"

const MemorySize = Schema.String.pipe(
  Schema.filter((s) => /^\d+[bkmgBKMG]$/.test(s)),
  Schema.annotations({ [ExpectedId]: "a size like 512m or 4g (a whole number, then b, k, m or g)" }),
)

export const ResourceLimits = Schema.Struct({
  timeout: optional(
    integer(10),
    "Longest a task may run, in seconds; it is stopped and reported as timed out after that. No limit when absent.",
  ),
  memory: optional(MemorySize, "Memory limit of the task container, e.g. `4g`. No limit when absent."),
  cpus: optional(
    decimal(0.01),
    "CPU limit of the task container, in CPUs (e.g. `1.5`). No limit when absent.",
  ),
  pids_limit: optional(
    integer(1),
    "Most processes the task container may run at once. No limit when absent.",
  ),
}).annotations({ description: "Limits applied to each task container." })
export type ResourceLimits = typeof ResourceLimits.Type
