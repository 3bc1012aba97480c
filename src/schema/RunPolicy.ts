import { ParseResult, Schema } from "effect"
import type { ContainerSpec } from "./ContainerSpec.js"

/**
 * The run policy of every agent container: what it may do and see. Everything else a container
 * could get (more capabilities, host namespaces, devices, other host paths) it does not.
 */

/** Where the host directories of a task appear inside the container. */
export const agentMountTargets: {
  readonly workspace: string
  readonly inbox: string
  readonly outbox: string
  readonly storage: string
  readonly claudeState: string
  readonly claudeBinary: string
} = {
  workspace: "/workspace",
  inbox: "/inbox",
  outbox: "/outbox",
  storage: "/storage",
  claudeState: "/root/.claude",
  claudeBinary: "/opt/claude/claude",
}

/** Where the proxy CA certificate is mounted; the overlay entrypoint trusts it when present. */
export const proxyCaTarget = "/usr/local/share/ca-certificates/airut-proxy-ca.crt"

/**
 * The capabilities kept after dropping all: what git, package managers and file ownership
 * changes in the workspace need. No NET_RAW, no SYS_*, no MKNOD.
 */
export const keptCapabilities: ReadonlyArray<string> = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"]

const AbsolutePath = Schema.String.pipe(
  Schema.filter((p) => p.startsWith("/") && !p.split("/").includes(".."), {
    message: () => "an absolute path without '..'",
  }),
)

/** A memory size as the config writes it: digits and a unit b, k, m or g (case-insensitive). */
export const MemorySize = Schema.transformOrFail(Schema.String, Schema.Number, {
  strict: true,
  decode: (text, _, ast) => {
    const match = /^(\d+)([bkmg])$/i.exec(text)
    const digits = match?.[1]
    const unit = match?.[2]?.toLowerCase()
    if (digits === undefined || unit === undefined || Number(digits) === 0) {
      return ParseResult.fail(new ParseResult.Type(ast, text, "expected a size like 512m or 2g"))
    }
    const factor = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[unit] ?? 1
    return ParseResult.succeed(Number(digits) * factor)
  },
  encode: (bytes) => ParseResult.succeed(`${bytes}b`),
})

export const ResourceLimits = Schema.Struct({
  memoryBytes: Schema.optionalWith(Schema.Number.pipe(Schema.positive()), { exact: true }),
  cpus: Schema.optionalWith(Schema.Number.pipe(Schema.greaterThanOrEqualTo(0.01)), { exact: true }),
  pidsLimit: Schema.optionalWith(Schema.Int.pipe(Schema.greaterThanOrEqualTo(1)), { exact: true }),
})
export type ResourceLimits = typeof ResourceLimits.Type

export const AgentRunInput = Schema.Struct({
  /** The overlay image (ImageCache), whose entrypoint execs the Claude binary. */
  image: Schema.String,
  taskId: Schema.String,
  conversationId: Schema.String,
  repoId: Schema.String,
  /** Host directories of this conversation, and the Claude binary. */
  hostPaths: Schema.Struct({
    workspace: AbsolutePath,
    inbox: AbsolutePath,
    outbox: AbsolutePath,
    storage: AbsolutePath,
    claudeState: AbsolutePath,
    claudeBinary: AbsolutePath,
  }),
  /** Arguments to the Claude binary. */
  args: Schema.Array(Schema.String),
  /** Caller environment (credentials, surrogates); forced entries below win over it. */
  env: Schema.Record({ key: Schema.String, value: Schema.String }),
  limits: ResourceLimits,
  /** The network sandbox: the internal network, the proxy as only DNS server, its CA. */
  sandbox: Schema.optionalWith(
    Schema.Struct({ network: Schema.String, proxyIp: Schema.String, caCertPath: AbsolutePath }),
    { exact: true },
  ),
})
export type AgentRunInput = typeof AgentRunInput.Type

/**
 * Headless `-p` exits before background tasks report, so they are off; IS_SANDBOX lets
 * `--dangerously-skip-permissions` run as root in the container.
 */
const forcedEnv = { CLAUDE_CODE_DISABLE_BACKGROUND_TASKS: "1", IS_SANDBOX: "1" }

/** Every TLS stack in the container trusts the proxy's CA through one of these. */
const caEnvNames: ReadonlyArray<string> = [
  "NODE_EXTRA_CA_CERTS",
  "SSL_CERT_FILE",
  "REQUESTS_CA_BUNDLE",
  "CURL_CA_BUNDLE",
]

/** The container spec for one agent run. */
export const agentContainerSpec = (input: AgentRunInput): ContainerSpec => {
  const { hostPaths, limits, sandbox } = input
  const rw = (source: string, target: string) => ({ source, target, readOnly: false })
  return {
    image: input.image,
    command: input.args,
    workingDir: agentMountTargets.workspace,
    env: {
      ...input.env,
      ...(sandbox ? Object.fromEntries(caEnvNames.map((name) => [name, proxyCaTarget])) : {}),
      ...forcedEnv,
    },
    labels: {
      "airut.managed": "true",
      "airut.task": input.taskId,
      "airut.conversation": input.conversationId,
      "airut.repo": input.repoId,
    },
    mounts: [
      rw(hostPaths.workspace, agentMountTargets.workspace),
      rw(hostPaths.inbox, agentMountTargets.inbox),
      rw(hostPaths.outbox, agentMountTargets.outbox),
      rw(hostPaths.storage, agentMountTargets.storage),
      rw(hostPaths.claudeState, agentMountTargets.claudeState),
      { source: hostPaths.claudeBinary, target: agentMountTargets.claudeBinary, readOnly: true },
      ...(sandbox ? [{ source: sandbox.caCertPath, target: proxyCaTarget, readOnly: true }] : []),
    ],
    ...confinement(limits, sandbox),
    // The prompt arrives on stdin.
    openStdin: true,
  }
}

/**
 * What confines every container a task runs, the agent's and a command's alike: capabilities,
 * privileges, limits and, when sandboxed, the isolated network with the proxy as its only DNS.
 */
export const confinement = (
  limits: ResourceLimits,
  sandbox: { readonly network: string; readonly proxyIp: string } | undefined,
) => ({
  capDrop: ["ALL"],
  capAdd: keptCapabilities,
  securityOpt: ["no-new-privileges"],
  ...(limits.memoryBytes === undefined
    ? {}
    : // Swap equal to memory: the limit is a real limit, not a slow path to the disk.
      { memoryBytes: limits.memoryBytes, memorySwapBytes: limits.memoryBytes }),
  ...(limits.cpus === undefined ? {} : { cpus: limits.cpus }),
  ...(limits.pidsLimit === undefined ? {} : { pidsLimit: limits.pidsLimit }),
  ...(sandbox
    ? {
        network: { name: sandbox.network },
        dns: [sandbox.proxyIp],
        // IPv6 link-local reaches the host even on an internal network (DESIGN.md).
        sysctls: { "net.ipv6.conf.all.disable_ipv6": "1" },
      }
    : {}),
})
