import { HttpLayerRouter } from "@effect/platform"
import { Chunk, Clock, Effect, Layer, Option, Stream } from "effect"
import { GatewayChannels } from "../../services/GatewayChannels.js"
import { TaskSupervisor } from "../../services/TaskSupervisor.js"
import { DashboardSettings } from "./DashboardSettings.js"
import { loadTaskList } from "./data.js"
import { pageErrors } from "./errors.js"
import { homePage, renderChannels, renderTaskLists } from "./homePage.js"
import { htmlResponse } from "./responses.js"
import { type SseEvent, sseResponse } from "./sse.js"

/** A full refresh now and then, in case a change was published between a render and a subscribe. */
const REFRESH = "10 seconds"
/** Changes that come in a burst are rendered once. */
const BATCH = "150 millis"

const home = Effect.gen(function* () {
  const settings = yield* DashboardSettings
  const { tasks } = yield* loadTaskList
  const statuses = yield* Effect.flatMap(GatewayChannels, (c) => c.statuses)
  const now = yield* Clock.currentTimeMillis
  return htmlResponse(homePage(tasks, statuses, now, settings.version))
})

interface Fragments {
  readonly tasks: string
  readonly channels: string
}

const renderFragments = Effect.gen(function* () {
  const { tasks } = yield* loadTaskList
  const statuses = yield* Effect.flatMap(GatewayChannels, (c) => c.statuses)
  const now = yield* Clock.currentTimeMillis
  const fragments: Fragments = {
    tasks: renderTaskLists(tasks, now).value,
    channels: renderChannels(statuses).value,
  }
  return fragments
})

/** Only what changed since the last render goes out. */
const diff = (previous: Option.Option<Fragments>, next: Fragments): ReadonlyArray<SseEvent> => {
  const out: Array<SseEvent> = []
  if (Option.isNone(previous) || previous.value.tasks !== next.tasks)
    out.push({ event: "tasks", data: next.tasks })
  if (Option.isNone(previous) || previous.value.channels !== next.channels) {
    out.push({ event: "channels", data: next.channels })
  }
  return out
}

/** The home page's live updates: the task lists and channel health, re-rendered on each change. */
const homeEvents = Effect.gen(function* () {
  const supervisor = yield* TaskSupervisor
  const channels = yield* GatewayChannels
  const context = yield* Effect.context<Effect.Effect.Context<typeof renderFragments>>()
  const signals = Stream.mergeAll(
    [Stream.as(supervisor.changes, "task"), Stream.as(channels.changes, "channel"), Stream.tick(REFRESH)],
    { concurrency: "unbounded" },
  )
  const events = signals.pipe(
    Stream.groupedWithin(1000, BATCH),
    Stream.filter((batch) => Chunk.isNonEmpty(batch)),
    Stream.mapEffect(() => renderFragments),
    Stream.mapAccum(Option.none<Fragments>(), (previous, next) => [Option.some(next), diff(previous, next)]),
    Stream.flattenIterables,
    Stream.tapErrorCause((cause) => Effect.logWarning("dashboard: home stream ended", cause)),
  )
  return sseResponse(events.pipe(Stream.provideContext(context)))
})

export const HomeRoutes = Layer.mergeAll(
  HttpLayerRouter.add("GET", "/", pageErrors(home)),
  HttpLayerRouter.add("GET", "/events", homeEvents),
)
