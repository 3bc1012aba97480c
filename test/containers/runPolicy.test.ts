import { assert, describe, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import { AgentRunInput, agentContainerSpec, MemorySize, proxyCaTarget } from "../../src/schema/RunPolicy.js"

const input: AgentRunInput = {
  image: "localhost/airut-overlay:abc",
  taskId: "0123456789ab",
  conversationId: "deadbeef",
  repoId: "website",
  hostPaths: {
    workspace: "/state/conversations/deadbeef/workspace",
    inbox: "/state/conversations/deadbeef/inbox",
    outbox: "/state/conversations/deadbeef/outbox",
    storage: "/state/conversations/deadbeef/storage",
    claudeState: "/state/conversations/deadbeef/claude",
    claudeBinary: "/state/claude/2.1.330/claude",
  },
  args: ["-p", "-", "--output-format", "stream-json", "--verbose"],
  env: { GH_TOKEN: "surrogate", IS_SANDBOX: "0", CLAUDE_CODE_DISABLE_BACKGROUND_TASKS: "0" },
  limits: { memoryBytes: 2 * 1024 ** 3, cpus: 1.5, pidsLimit: 512 },
}

describe("agent run policy", () => {
  it("drops every capability but the five git and package managers need, with no-new-privileges", () => {
    const spec = agentContainerSpec(input)
    assert.deepStrictEqual(spec.capDrop, ["ALL"])
    assert.deepStrictEqual(spec.capAdd, ["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"])
    assert.deepStrictEqual(spec.securityOpt, ["no-new-privileges"])
  })

  it("mounts the conversation's directories and the Claude binary read-only, and nothing else", () => {
    const spec = agentContainerSpec(input)
    assert.deepStrictEqual(spec.mounts, [
      { source: input.hostPaths.workspace, target: "/workspace", readOnly: false },
      { source: input.hostPaths.inbox, target: "/inbox", readOnly: false },
      { source: input.hostPaths.outbox, target: "/outbox", readOnly: false },
      { source: input.hostPaths.storage, target: "/storage", readOnly: false },
      { source: input.hostPaths.claudeState, target: "/root/.claude", readOnly: false },
      { source: input.hostPaths.claudeBinary, target: "/opt/claude/claude", readOnly: true },
    ])
    assert.strictEqual(spec.workingDir, "/workspace")
  })

  it("limits memory with swap equal to it, cpus and pids", () => {
    const spec = agentContainerSpec(input)
    assert.strictEqual(spec.memoryBytes, 2 * 1024 ** 3)
    assert.strictEqual(spec.memorySwapBytes, spec.memoryBytes)
    assert.strictEqual(spec.cpus, 1.5)
    assert.strictEqual(spec.pidsLimit, 512)
    const unlimited = agentContainerSpec({ ...input, limits: {} })
    assert.isUndefined(unlimited.memoryBytes)
    assert.isUndefined(unlimited.memorySwapBytes)
    assert.isUndefined(unlimited.pidsLimit)
  })

  it("labels the container for the task, conversation, repo and the orphan sweep", () => {
    assert.deepStrictEqual(agentContainerSpec(input).labels, {
      "airut.managed": "true",
      "airut.task": "0123456789ab",
      "airut.conversation": "deadbeef",
      "airut.repo": "website",
    })
  })

  it("forced environment wins over the caller's", () => {
    const env = agentContainerSpec(input).env ?? {}
    assert.strictEqual(env.IS_SANDBOX, "1")
    assert.strictEqual(env.CLAUDE_CODE_DISABLE_BACKGROUND_TASKS, "1")
    assert.strictEqual(env.GH_TOKEN, "surrogate")
    assert.isUndefined(env.NODE_EXTRA_CA_CERTS)
  })

  it("in the network sandbox: internal network, the proxy as DNS, its CA mounted and trusted, no IPv6", () => {
    const spec = agentContainerSpec({
      ...input,
      sandbox: { network: "airut-conv-deadbeef", proxyIp: "10.89.3.2", caCertPath: "/state/ca/ca.crt" },
    })
    assert.deepStrictEqual(spec.network, { name: "airut-conv-deadbeef" })
    assert.deepStrictEqual(spec.dns, ["10.89.3.2"])
    assert.deepStrictEqual(spec.sysctls, { "net.ipv6.conf.all.disable_ipv6": "1" })
    assert.deepStrictEqual(spec.mounts?.at(-1), {
      source: "/state/ca/ca.crt",
      target: proxyCaTarget,
      readOnly: true,
    })
    for (const name of ["NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"]) {
      assert.strictEqual(spec.env?.[name], proxyCaTarget)
    }
  })

  it("reads memory sizes as the config writes them", () => {
    const decode = Schema.decodeUnknownEither(MemorySize)
    assert.deepStrictEqual(decode("512m"), Either.right(512 * 1024 ** 2))
    assert.deepStrictEqual(decode("2G"), Either.right(2 * 1024 ** 3))
    assert.deepStrictEqual(decode("100b"), Either.right(100))
    assert.isTrue(Either.isLeft(decode("2gb")))
    assert.isTrue(Either.isLeft(decode("0m")))
    assert.isTrue(Either.isLeft(decode("1.5g")))
  })

  it("accepts only absolute host paths without '..'", () => {
    const decode = Schema.decodeUnknownEither(AgentRunInput)
    assert.isTrue(Either.isRight(decode(input)))
    const withWorkspace = (workspace: string) => ({ ...input, hostPaths: { ...input.hostPaths, workspace } })
    assert.isTrue(Either.isLeft(decode(withWorkspace("state/workspace"))))
    assert.isTrue(Either.isLeft(decode(withWorkspace("/state/../etc"))))
  })
})
