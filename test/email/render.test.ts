import { assert, describe, it } from "@effect/vitest"
import { markdownToHtml, renderBodies } from "../../src/layers/email/render.js"

describe("reply rendering", () => {
  it("styles elements inline and keeps the agent's HTML as text", () => {
    const html = markdownToHtml(
      "**PR** [#12](https://github.com/o/r/pull/12) <img src=x onerror=alert(1)>\n\n| a |\n|---|\n| `b` |",
    )
    assert.include(html, '<a style="color:#0969da" href="https://github.com/o/r/pull/12">#12</a>')
    assert.include(html, "&lt;img src=x onerror=alert(1)&gt;")
    assert.notInclude(html, "<img")
    assert.match(html, /<table style="[^"]+">/)
    assert.match(html, /<td style="[^"]+"><code style="[^"]+">b<\/code><\/td>/)
  })

  it("links only to http(s) and mailto; images become links", () => {
    const html = markdownToHtml(
      "[x](javascript:alert(1)) [y](data:text/html,hi) ![shot](https://example.com/a.png)",
    )
    assert.notInclude(html, "javascript:")
    assert.notInclude(html, "data:")
    assert.include(html, 'href="https://example.com/a.png">shot</a>')
  })

  it("puts the footer under the text in both parts", () => {
    const { html, text } = renderBodies("Done.", "*Cost: $0.04 · 3 turns*")
    assert.strictEqual(text, "Done.\n\n*Cost: $0.04 · 3 turns*")
    assert.match(html, /Done\.<\/p>\n<\/div>|Done\.<\/p>\n<div/)
    assert.include(html, "<em>Cost: $0.04 · 3 turns</em>")
  })
})
