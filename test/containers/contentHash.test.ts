import { assert, describe, it } from "@effect/vitest"
import { overlayContentHash, repoContentHash } from "../../src/layers/imageCache/contentHash.js"
import { overlayContext } from "../../src/layers/imageCache/overlay.js"

const files = (entries: Record<string, string>) =>
  new Map(Object.entries(entries).map(([name, text]) => [name, Buffer.from(text, "utf8")]))

describe("image content hashes", () => {
  const base = { Dockerfile: "FROM base\nCOPY gitconfig /root/.gitconfig\n", gitconfig: "[user]\n" }

  it("are SHA-256 hex and do not depend on the order files were read in", () => {
    const a = repoContentHash(files(base))
    const b = repoContentHash(files({ gitconfig: base.gitconfig, Dockerfile: base.Dockerfile }))
    assert.match(a, /^[0-9a-f]{64}$/)
    assert.strictEqual(a, b)
  })

  it("change with any file's content, name, or the set of files", () => {
    const a = repoContentHash(files(base))
    assert.notStrictEqual(a, repoContentHash(files({ ...base, gitconfig: "[user]\n\tname = x\n" })))
    assert.notStrictEqual(
      a,
      repoContentHash(files({ Dockerfile: base.Dockerfile, gitconfig2: base.gitconfig })),
    )
    assert.notStrictEqual(a, repoContentHash(files({ ...base, "extra.txt": "" })))
  })

  it("frame each part, so moving bytes between name and content changes the hash", () => {
    assert.notStrictEqual(
      repoContentHash(files({ Dockerfile: "x", ab: "c" })),
      repoContentHash(files({ Dockerfile: "x", a: "bc" })),
    )
  })

  it("of the overlay follow the repo tag and the entrypoint kind", () => {
    const repoA = "localhost/airut-repo:aaa"
    const repoB = "localhost/airut-repo:bbb"
    const agentA = overlayContentHash(repoA, overlayContext(repoA, "agent"))
    assert.strictEqual(agentA, overlayContentHash(repoA, overlayContext(repoA, "agent")))
    assert.notStrictEqual(agentA, overlayContentHash(repoB, overlayContext(repoB, "agent")))
    assert.notStrictEqual(agentA, overlayContentHash(repoA, overlayContext(repoA, "passthrough")))
  })
})
