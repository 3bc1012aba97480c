import * as path from "node:path"
import { Either } from "effect"
import type { BindMount } from "../../schema/ContainerSpec.js"

/**
 * `--mount SRC:DST[:ro]`: SRC relative to the current directory, DST an absolute path in the
 * container that is not `/workspace` (the current directory is mounted there already).
 */
export const parseMount = (spec: string, cwd: string): Either.Either<BindMount, string> => {
  const parts = spec.split(":")
  const readOnly = parts.length === 3 && parts[2] === "ro"
  const rw = parts.length === 3 && parts[2] === "rw"
  const [source, target] = parts
  if ((parts.length !== 2 && !readOnly && !rw) || source === undefined || target === undefined) {
    return Either.left(`--mount ${spec}: expected SRC:DST or SRC:DST:ro`)
  }
  if (source === "" || !target.startsWith("/")) {
    return Either.left(`--mount ${spec}: DST must be an absolute path in the container`)
  }
  const normalized = path.posix.normalize(target)
  if (normalized === "/" || normalized === "/workspace") {
    return Either.left(`--mount ${spec}: ${normalized} is taken (the current directory is /workspace)`)
  }
  return Either.right({ source: path.resolve(cwd, source), target: normalized, readOnly })
}
