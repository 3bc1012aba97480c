import { HttpLayerRouter, HttpServerRequest } from "@effect/platform"
import { Effect, Layer, Option, Stream } from "effect"
import type { ConversationStore } from "../../services/ConversationStore.js"
import type { SecretRedactor } from "../../services/SecretRedactor.js"
import { loadNetwork, requireConversation } from "./data.js"
import { pageErrors } from "./errors.js"
import { lastEventId } from "./lastEventId.js"
import { tailLog } from "./liveLog.js"
import { networkPage, renderNetworkRows } from "./networkPage.js"
import { conversationIdParam, logQuery } from "./params.js"
import { htmlResponse } from "./responses.js"
import { sseResponse } from "./sse.js"

const PAGE = 500

const network = Effect.gen(function* () {
  const id = yield* conversationIdParam
  const query = yield* logQuery
  const conversation = yield* requireConversation(id)
  const entries = []
  let next = 0
  for (;;) {
    const page = yield* loadNetwork(id, next, PAGE, query.blocked)
    entries.push(...page.entries)
    if (page.nextOffset === next) break
    next = page.nextOffset
  }
  return htmlResponse(networkPage(conversation, entries, next, query.blocked))
})

const networkStream = Effect.gen(function* () {
  const id = yield* conversationIdParam
  const query = yield* logQuery
  const request = yield* HttpServerRequest.HttpServerRequest
  yield* requireConversation(id)
  const from = Option.getOrElse(lastEventId(request), () => query.offset)
  const context = yield* Effect.context<ConversationStore | SecretRedactor>()
  const events = tailLog(from, (offset) => loadNetwork(id, offset, PAGE, query.blocked)).pipe(
    Stream.filter((page) => page.entries.length > 0),
    Stream.map((page) => ({
      event: "requests",
      data: renderNetworkRows(page.entries).value,
      id: page.nextOffset,
    })),
    Stream.tapErrorCause((cause) => Effect.logWarning("dashboard: network stream ended", cause)),
    Stream.provideContext(context),
  )
  return sseResponse(events)
})

export const NetworkRoutes = Layer.mergeAll(
  HttpLayerRouter.add("GET", "/conversation/:id/network", pageErrors(network)),
  HttpLayerRouter.add("GET", "/conversation/:id/network/stream", pageErrors(networkStream)),
)
