import type { ContainerSpec } from "./ContainerSpec.js"
import { agentMountTargets, confinement, proxyCaTarget, type ResourceLimits } from "./RunPolicy.js"

/**
 * The run policy of a command run in a sandboxed task (the library's `run`, `airut-sandbox`):
 * the agent's policy (RunPolicy.ts) with the command in place of Claude Code and the caller's
 * mounts in place of the conversation's directories. The overlay image's passthrough entrypoint
 * trusts the proxy CA, then execs the command.
 */
export interface CommandRunInput {
  /** The passthrough overlay image. */
  readonly image: string
  readonly command: ReadonlyArray<string>
  /** Host directory mounted read-write at /workspace. */
  readonly workspace: string
  readonly mounts: ReadonlyArray<{
    readonly source: string
    readonly target: string
    readonly readOnly: boolean
  }>
  /** Plain variables and the proxy's (surrogates, CA paths); the CA ones win. */
  readonly env: Readonly<Record<string, string>>
  readonly labels: Readonly<Record<string, string>>
  readonly limits: ResourceLimits
  readonly workingDir?: string
  readonly stdin: boolean
  /** The network sandbox; none runs the command on the engine's default network. */
  readonly sandbox?: { readonly network: string; readonly proxyIp: string; readonly caCertPath: string }
}

export const commandContainerSpec = (input: CommandRunInput): ContainerSpec => {
  const { limits, sandbox } = input
  return {
    image: input.image,
    command: input.command,
    workingDir: input.workingDir ?? agentMountTargets.workspace,
    env: { ...input.env },
    labels: { ...input.labels, "airut.managed": "true" },
    mounts: [
      { source: input.workspace, target: agentMountTargets.workspace, readOnly: false },
      ...input.mounts,
      ...(sandbox ? [{ source: sandbox.caCertPath, target: proxyCaTarget, readOnly: true }] : []),
    ],
    ...confinement(limits, sandbox),
    ...(input.stdin ? { openStdin: true } : {}),
  }
}
