import { createHash } from "node:crypto"
import { createReadStream, createWriteStream } from "node:fs"
import * as Os from "node:os"
import { Transform } from "node:stream"
import { pipeline } from "node:stream/promises"
import { createGunzip } from "node:zlib"
import { Command, CommandExecutor, FileSystem, Path } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import {
  Cause,
  Clock,
  DateTime,
  Duration,
  Effect,
  HashMap,
  Layer,
  Option,
  Ref,
  Schedule,
  Schema,
  Stream,
} from "effect"
import * as TarStream from "tar-stream"
import { ClaudeBinaryManifest, ClaudeVersion, NpmDist, NpmPackResult } from "../schema/ClaudeBinary.js"
import { AirutPaths } from "../services/AirutPaths.js"
import { ClaudeBinary, type ClaudeBinaryInfo, ClaudeBinaryUnavailable } from "../services/ClaudeBinary.js"

export interface ClaudeBinaryOptions {
  /**
   * The npm platform package suffix (`linux-x64`, `linux-arm64`, `linux-x64-musl`, ...). The
   * binary runs in containers on this host, so it defaults to the host's CPU with glibc.
   */
  readonly platform?: string
  /** The npm executable; the host's npm config (registry, proxy, auth, CA) applies. */
  readonly npm?: string
}

/** Where the binary sits inside the npm package tarball. */
const binaryEntry = "package/claude"
const mebibyte = 1024 * 1024
// `npm view` answers from the registry in about a second; packing fetches ~175 MB.
const viewTimeout = Duration.minutes(1)
const packTimeout = Duration.minutes(15)
const progressEvery = Duration.seconds(15)
const retrySchedule = Schedule.exponential("2 seconds").pipe(Schedule.intersect(Schedule.recurs(2)))

const hostPlatform = (): string => `linux-${Os.arch() === "arm64" ? "arm64" : "x64"}`

/** What the manifest and the file proved; a later use with the same size and mtime skips hashing. */
interface Verified {
  readonly size: number
  readonly mtimeMs: number
  readonly sha256: string
}

const decodeManifest = Schema.decodeUnknown(Schema.parseJson(ClaudeBinaryManifest))
const encodeManifest = Schema.encode(Schema.parseJson(ClaudeBinaryManifest, { space: 2 }))
const decodeDist = Schema.decodeUnknown(Schema.parseJson(NpmDist))
const decodePack = Schema.decodeUnknown(Schema.parseJson(NpmPackResult))

/** The sha512 entry of an SRI string (`sha512-<base64>`; several hashes may be listed). */
const sha512Of = (integrity: string): Option.Option<string> =>
  Option.fromNullable(
    integrity
      .split(/\s+/)
      .find((part) => part.startsWith("sha512-"))
      ?.slice("sha512-".length),
  )

export const makeClaudeBinary = (options: ClaudeBinaryOptions = {}) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const executor = yield* CommandExecutor.CommandExecutor
    const { stateDir } = yield* AirutPaths
    const platform = options.platform ?? hostPlatform()
    const npm = options.npm ?? "npm"
    const packageName = `@anthropic-ai/claude-code-${platform}`
    const cacheDir = path.join(stateDir, "claude")

    const locks = yield* Ref.make(HashMap.empty<string, Effect.Semaphore>())
    const verified = yield* Ref.make(HashMap.empty<string, Verified>())

    const lockFor = (version: string) =>
      Effect.flatMap(Effect.makeSemaphore(1), (fresh) =>
        Ref.modify(locks, (map) =>
          Option.match(HashMap.get(map, version), {
            onSome: (existing) => [existing, map] as const,
            onNone: () => [fresh, HashMap.set(map, version, fresh)] as const,
          }),
        ),
      )

    const unavailable = (version: string, reason: ClaudeBinaryUnavailable["reason"]) => (detail: string) =>
      new ClaudeBinaryUnavailable({ version, reason, detail })

    const fsFailure = (version: string) => (error: { readonly message: string }) =>
      unavailable(version, "Filesystem")(error.message)

    /** Hex SHA-256 of a file, streamed in 1 MiB chunks. */
    const sha256File = (version: string, file: string) =>
      Effect.gen(function* () {
        const hash = createHash("sha256")
        yield* fs
          .stream(file, { chunkSize: FileSystem.Size(mebibyte) })
          .pipe(Stream.runForEach((chunk) => Effect.sync(() => hash.update(chunk))))
        return hash.digest("hex")
      }).pipe(Effect.mapError(fsFailure(version)))

    /** Runs npm with `args`; its stdout, or Download with the tail of its stderr. */
    const runNpm = (version: string, args: ReadonlyArray<string>, cwd: string, timeout: Duration.Duration) =>
      Effect.scoped(
        Effect.gen(function* () {
          const proc = yield* executor.start(Command.make(npm, ...args).pipe(Command.workingDirectory(cwd)))
          const collect = (stream: Stream.Stream<Uint8Array, PlatformError>) =>
            stream.pipe(Stream.decodeText(), Stream.mkString)
          const [stdout, stderr, exitCode] = yield* Effect.all(
            [collect(proc.stdout), collect(proc.stderr), proc.exitCode],
            { concurrency: 3 },
          )
          if (exitCode !== 0) {
            const tail = stderr.trim().split("\n").slice(-5).join("\n")
            return yield* unavailable(version, "Download")(`npm ${args[0]} exited with ${exitCode}: ${tail}`)
          }
          return stdout
        }),
      ).pipe(
        Effect.catchTag("SystemError", "BadArgument", (e) =>
          unavailable(version, "Download")(`could not run ${npm}: ${e.message}`),
        ),
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () =>
            unavailable(version, "Download")(`npm ${args[0]} took longer than ${Duration.format(timeout)}`),
        }),
      )

    /** Streams `package/claude` out of the tarball into `target`, hashing it on the way. */
    const extractBinary = (version: string, tarball: string, target: string) =>
      Effect.async<{ readonly sha256: string; readonly size: number }, ClaudeBinaryUnavailable>(
        (resume, signal) => {
          const extract = TarStream.extract()
          const hash = createHash("sha256")
          const found: Array<{ readonly sha256: string; readonly size: number }> = []
          extract.on("entry", (header, entry, next) => {
            if (header.name !== binaryEntry) {
              entry.on("end", () => next())
              entry.resume()
              return
            }
            let size = 0
            const hashing = new Transform({
              transform(chunk: Buffer, _encoding, callback) {
                hash.update(chunk)
                size += chunk.length
                callback(null, chunk)
              },
            })
            pipeline(entry, hashing, createWriteStream(target, { mode: 0o755 }), { signal }).then(
              () => {
                if (header.size !== undefined && header.size !== size) {
                  next(new Error(`the binary is ${size} bytes, its tar header says ${header.size}`))
                  return
                }
                found.push({ sha256: hash.digest("hex"), size })
                next()
              },
              (cause: unknown) => next(cause instanceof Error ? cause : new Error(String(cause))),
            )
          })
          pipeline(createReadStream(tarball), createGunzip(), extract, { signal }).then(
            () => {
              const binary = found[0]
              resume(
                binary === undefined
                  ? Effect.fail(
                      unavailable(version, "Integrity")(`${binaryEntry} is missing from ${packageName}`),
                    )
                  : Effect.succeed(binary),
              )
            },
            (cause: unknown) =>
              resume(
                Effect.fail(
                  unavailable(
                    version,
                    "Integrity",
                  )(
                    `cannot unpack ${packageName}: ${cause instanceof Error ? cause.message : String(cause)}`,
                  ),
                ),
              ),
          )
        },
      )

    /** A temporary directory beside the cache (same filesystem, so renames are atomic). */
    const workDir = (version: string) =>
      Effect.acquireRelease(
        fs
          .makeDirectory(cacheDir, { recursive: true })
          .pipe(
            Effect.zipRight(fs.makeTempDirectory({ directory: cacheDir, prefix: `.fetch-${version}-` })),
            Effect.mapError(fsFailure(version)),
          ),
        (dir) =>
          fs.remove(dir, { recursive: true }).pipe(
            Effect.timeout("1 minute"),
            Effect.catchAllCause((cause) =>
              Effect.logWarning(`could not remove the temporary directory ${dir}`, Cause.pretty(cause)),
            ),
          ),
      )

    const logProgress = (message: string) =>
      Effect.gen(function* () {
        const started = yield* Clock.currentTimeMillis
        return yield* Effect.repeat(
          Effect.flatMap(Clock.currentTimeMillis, (now) =>
            Effect.logInfo(`${message} (${Math.round((now - started) / 1000)} s)`),
          ),
          Schedule.spaced(progressEvery),
        ).pipe(Effect.delay(progressEvery))
      })

    /** One download attempt: view, pack, verify the tarball, extract, verify the binary, publish. */
    const download = (version: string, binaryPath: string, manifestPath: string) =>
      Effect.scoped(
        Effect.gen(function* () {
          const spec = `${packageName}@${version}`
          const dir = yield* workDir(version)
          const dist = yield* runNpm(version, ["view", spec, "dist", "--json"], dir, viewTimeout).pipe(
            Effect.flatMap((out) =>
              decodeDist(out).pipe(
                Effect.mapError(() =>
                  unavailable(version, "Download")(`npm view ${spec} gave no dist.integrity`),
                ),
              ),
            ),
          )
          const expected = yield* Option.match(sha512Of(dist.integrity), {
            onNone: () => unavailable(version, "Integrity")(`the registry lists no sha512 for ${spec}`),
            onSome: Effect.succeed,
          })
          yield* Effect.logInfo(`fetching ${spec} from ${dist.tarball}`)
          const packed = yield* runNpm(
            version,
            ["pack", spec, "--pack-destination", dir, "--json", "--silent"],
            dir,
            packTimeout,
          ).pipe(
            Effect.raceFirst(logProgress(`still fetching ${spec}`).pipe(Effect.zipRight(Effect.never))),
            Effect.flatMap((out) =>
              decodePack(out).pipe(
                Effect.mapError(() => unavailable(version, "Download")(`npm pack ${spec} printed no result`)),
              ),
            ),
          )
          const tarball = path.join(dir, packed[0].filename)
          const tarballHash = createHash("sha512")
          yield* fs.stream(tarball, { chunkSize: FileSystem.Size(mebibyte) }).pipe(
            Stream.runForEach((chunk) => Effect.sync(() => tarballHash.update(chunk))),
            Effect.mapError(fsFailure(version)),
          )
          const actual = tarballHash.digest("base64")
          if (actual !== expected) {
            return yield* unavailable(
              version,
              "Integrity",
            )(`${spec}: tarball sha512 ${actual} differs from the registry's ${expected}`)
          }
          yield* Effect.logInfo(`verified ${spec}; unpacking the binary`)
          const partial = path.join(dir, "claude")
          const binary = yield* extractBinary(version, tarball, partial)
          yield* fs.chmod(partial, 0o755).pipe(Effect.mapError(fsFailure(version)))
          const fetchedAt = DateTime.unsafeMake(yield* Clock.currentTimeMillis)
          const manifest = yield* encodeManifest({
            version,
            package: packageName,
            integrity: dist.integrity,
            sha256: binary.sha256,
            size: binary.size,
            fetchedAt,
          }).pipe(Effect.mapError((e) => unavailable(version, "Filesystem")(e.message)))
          const manifestPartial = path.join(dir, "claude.json")
          yield* fs
            .writeFileString(manifestPartial, `${manifest}\n`)
            .pipe(Effect.mapError(fsFailure(version)))
          // Binary first, manifest last: a manifest always describes a complete binary.
          yield* fs
            .makeDirectory(path.dirname(binaryPath), { recursive: true })
            .pipe(
              Effect.zipRight(fs.rename(partial, binaryPath)),
              Effect.zipRight(fs.rename(manifestPartial, manifestPath)),
              Effect.mapError(fsFailure(version)),
            )
          yield* Effect.logInfo(
            `Claude Code ${version} cached at ${binaryPath} (${Math.round(binary.size / mebibyte)} MiB, sha256 ${binary.sha256})`,
          )
          return binary.sha256
        }),
      ).pipe(Effect.annotateLogs({ claudeVersion: version }))

    /** The cached binary if its manifest is present and the file still matches it. */
    const cached = (version: string, binaryPath: string, manifestPath: string) =>
      Effect.gen(function* () {
        const present = yield* Effect.all([fs.exists(binaryPath), fs.exists(manifestPath)]).pipe(
          Effect.mapError(fsFailure(version)),
        )
        if (!present[0] || !present[1]) return Option.none<string>()
        const manifest = yield* fs.readFileString(manifestPath).pipe(
          Effect.mapError(fsFailure(version)),
          Effect.flatMap((text) => decodeManifest(text).pipe(Effect.option)),
        )
        if (Option.isNone(manifest)) {
          yield* Effect.logWarning(`${manifestPath} is unreadable; fetching Claude Code ${version} again`)
          return Option.none<string>()
        }
        const info = yield* fs.stat(binaryPath).pipe(Effect.mapError(fsFailure(version)))
        const size = Number(info.size)
        const mtimeMs = Option.match(info.mtime, { onNone: () => 0, onSome: (d) => d.getTime() })
        const expected = manifest.value.sha256
        const known = HashMap.get(yield* Ref.get(verified), version)
        const unchanged = Option.exists(
          known,
          (v) => v.size === size && v.mtimeMs === mtimeMs && v.sha256 === expected,
        )
        if (unchanged) return Option.some(expected)
        const actual = size === manifest.value.size ? yield* sha256File(version, binaryPath) : "size differs"
        if (actual !== expected) {
          yield* Effect.logWarning(
            `${binaryPath} no longer matches its manifest (${actual}); fetching Claude Code ${version} again`,
          )
          return Option.none<string>()
        }
        yield* Ref.update(verified, HashMap.set(version, { size, mtimeMs, sha256: expected }))
        return Option.some(expected)
      })

    const ensure = Effect.fn("ClaudeBinary.ensure")(function* (requested: string) {
      const version: string = yield* Schema.decodeUnknown(ClaudeVersion)(requested).pipe(
        Effect.mapError(() =>
          unavailable(requested, "InvalidVersion")("expected an exact version such as 2.1.330"),
        ),
      )
      const binaryPath = path.join(cacheDir, version, "claude")
      const manifestPath = path.join(cacheDir, version, "claude.json")
      const lock = yield* lockFor(version)
      const sha256 = yield* lock.withPermits(1)(
        Effect.gen(function* () {
          const hit = yield* cached(version, binaryPath, manifestPath)
          if (Option.isSome(hit)) return hit.value
          const fetched = yield* download(version, binaryPath, manifestPath).pipe(
            Effect.retry({
              schedule: retrySchedule,
              while: (e) => e.reason === "Download",
            }),
          )
          const info = yield* fs.stat(binaryPath).pipe(Effect.mapError(fsFailure(version)))
          yield* Ref.update(
            verified,
            HashMap.set(version, {
              size: Number(info.size),
              mtimeMs: Option.match(info.mtime, { onNone: () => 0, onSome: (d) => d.getTime() }),
              sha256: fetched,
            }),
          )
          return fetched
        }),
      )
      const result: ClaudeBinaryInfo = { path: binaryPath, version, sha256 }
      return result
    })

    return ClaudeBinary.of({ ensure })
  })

export const ClaudeBinaryLive = (options: ClaudeBinaryOptions = {}) =>
  Layer.effect(ClaudeBinary, makeClaudeBinary(options))
