import { Context, Data, type Effect, type Option } from "effect"

/** A git operation on a mirror or clone failed; `detail` is the tail of git's stderr. */
export class GitError extends Data.TaggedError("GitError")<{
  readonly repoId: string
  readonly operation: string
  readonly detail: string
}> {
  override get message() {
    return `git ${this.operation} for ${this.repoId} failed: ${this.detail}`
  }
}

/** A repository the gateway serves: its id in the config and where it lives. */
export interface MirroredRepo {
  readonly repoId: string
  readonly url: string
}

export interface GitMirrorShape {
  /**
   * Clones the bare mirror if it is missing, then fetches from the remote (pruning deleted
   * branches). One refresh per repo at a time; different repos refresh concurrently.
   */
  readonly refresh: (repo: MirroredRepo) => Effect.Effect<void, GitError>
  /** The branch the remote's HEAD names (e.g. `main`). */
  readonly defaultBranch: (repo: MirroredRepo) => Effect.Effect<string, GitError>
  /**
   * A file as committed on the default branch, never from a workspace the agent could have
   * changed. None when the path does not exist there.
   */
  readonly readFile: (repo: MirroredRepo, path: string) => Effect.Effect<Option.Option<Uint8Array>, GitError>
  /**
   * Every file under `dir` on the default branch, keyed by its path relative to `dir` (used as
   * an image build context). Empty when the directory does not exist.
   */
  readonly readTree: (
    repo: MirroredRepo,
    dir: string,
  ) => Effect.Effect<ReadonlyMap<string, Uint8Array>, GitError>
  /** A full working clone of the mirror at `dest`, with `origin` pointing at the real URL. */
  readonly cloneInto: (repo: MirroredRepo, dest: string) => Effect.Effect<void, GitError>
}

/** Bare mirrors of the served repositories: the trusted source of repo-side files and clones. */
export class GitMirror extends Context.Tag("airut/GitMirror")<GitMirror, GitMirrorShape>() {}
