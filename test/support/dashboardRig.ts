/**
 * The dashboard on test layers: the memory store, the test supervisor and channels, the real
 * redactor. `seedConversation` writes a conversation with one task, as the gateway would.
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { DateTime, Effect, Layer, Random, type Redacted } from "effect"
import { ConversationStoreMemory } from "../../src/layers/ConversationStoreMemory.js"
import { SecretRedactorLive } from "../../src/layers/SecretRedactorLive.js"
import { DashboardApp, type DashboardOptions } from "../../src/programs/dashboard/Dashboard.js"
import type { NewNetworkLogEntry } from "../../src/schema/NetworkLogEntry.js"
import { defaultServerConfig } from "../../src/schema/ServerConfig.js"
import { ConversationStore } from "../../src/services/ConversationStore.js"
import { GatewayChannelsTest } from "./GatewayChannelsTest.js"
import { TaskSupervisorTest } from "./TaskSupervisorTest.js"

export const dashboardOptions = (token?: Redacted.Redacted<string>): DashboardOptions => ({
  dashboard: {
    ...defaultServerConfig.dashboard,
    host: "127.0.0.1",
    port: 0,
    ...(token === undefined ? {} : { token }),
  },
  execution: defaultServerConfig.execution,
  version: "0.0.0-test",
})

/** Store, supervisor (with its driver), channels (with theirs) and redactor. */
export const DashboardServicesTest = Layer.mergeAll(
  TaskSupervisorTest,
  GatewayChannelsTest([{ repoId: "acme", kind: "email", health: { _tag: "Connected" } }]),
  SecretRedactorLive,
).pipe(Layer.provideMerge(ConversationStoreMemory))

/** The dashboard's HTTP app on the test services and Node's test server (a client included). */
export const DashboardAppTest = (token?: Redacted.Redacted<string>) =>
  DashboardApp(dashboardOptions(token)).pipe(
    Layer.provideMerge(DashboardServicesTest),
    Layer.provideMerge(NodeHttpServer.layerTest),
  )

/** A GET through the test server's client. */
export const get = (url: string, headers: Record<string, string> = {}) =>
  HttpClient.execute(HttpClientRequest.get(url).pipe(HttpClientRequest.setHeaders(headers)))

/** One stream-json line of assistant text. */
export const assistantText = (text: string) =>
  JSON.stringify({
    type: "assistant",
    session_id: "s1",
    message: { role: "assistant", content: [{ type: "text", text }] },
  })

export const toolUseLine = (name: string, input: unknown) =>
  JSON.stringify({
    type: "assistant",
    session_id: "s1",
    message: { role: "assistant", content: [{ type: "tool_use", id: `tu_${name}`, name, input }] },
  })

export const toolResultLine = (id: string, content: string) =>
  JSON.stringify({
    type: "user",
    session_id: "s1",
    message: { role: "user", content: [{ type: "tool_result", tool_use_id: id, content }] },
  })

export const networkEntry = (fields: Partial<NewNetworkLogEntry>): NewNetworkLogEntry => ({
  at: DateTime.unsafeMake(1_700_000_000_000),
  verdict: "allowed",
  method: "GET",
  host: "api.github.com",
  path: "/repos/acme/app",
  status: 200,
  bytes: 512,
  durationMs: 42,
  swappedSecrets: 1,
  ...fields,
})

export const seedConversation = (title = "Fix the flaky test") =>
  Effect.gen(function* () {
    const store = yield* ConversationStore
    const key = yield* Random.nextInt
    const conversation = yield* store.createConversation({
      repoId: "acme",
      channel: "email",
      threadKeys: [`<${key}@example.com>`],
      model: "opus",
    })
    const task = yield* store.createTask({
      conversationId: conversation.id,
      sender: "ada@example.com",
      title,
    })
    return { conversation, task }
  })
