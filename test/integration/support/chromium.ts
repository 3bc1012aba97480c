/**
 * Headless Chromium from Debian's `chromium` package, driven by playwright-core (which brings
 * no browser of its own). A missing browser fails the test: the dashboard's browser checks are
 * part of the suite, never skipped.
 */
import { FileSystem } from "@effect/platform"
import { Data, Effect } from "effect"
import { type BrowserContext, chromium } from "playwright-core"

export const chromiumPath = "/usr/bin/chromium"

export class BrowserFailed extends Data.TaggedError("BrowserFailed")<{
  readonly step: string
  readonly cause: unknown
}> {
  override get message(): string {
    return `browser: ${this.step} failed: ${this.cause instanceof Error ? this.cause.message : String(this.cause)}`
  }
}

/** A playwright call as an Effect. */
export const browser = <A>(step: string, f: () => Promise<A>) =>
  Effect.tryPromise({ try: f, catch: (cause) => new BrowserFailed({ step, cause }) })

const args = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
]

/** A browser with a fresh profile directory, closed (bounded) and removed with the scope. */
export const launchChromium = Effect.gen(function* () {
  const fs = yield* FileSystem.FileSystem
  if (!(yield* fs.exists(chromiumPath))) {
    return yield* new BrowserFailed({
      step: "launch",
      cause: new Error(`${chromiumPath} is missing: install Debian's chromium (listed in .ci/apt-packages)`),
    })
  }
  const profile = yield* fs.makeTempDirectoryScoped({ prefix: "airut-chromium-" })
  return yield* Effect.acquireRelease(
    browser("launch", () =>
      chromium.launchPersistentContext(profile, {
        executablePath: chromiumPath,
        headless: true,
        args,
        viewport: { width: 1280, height: 900 },
      }),
    ),
    (context: BrowserContext) =>
      browser("close", () => context.close()).pipe(Effect.timeout("10 seconds"), Effect.ignoreLogged),
  )
})
