/**
 * Turning the agent's Markdown into a mail: HTML with inline styles (mail clients drop
 * `<style>` blocks and classes), the Markdown itself as the plain-text part.
 *
 * The text comes from the agent, which may be prompt-injected: raw HTML in it is shown as text,
 * never rendered, links go only to http(s) and mailto, and images become links (no remote
 * images that would report when the mail is opened).
 */
import { Marked, type Tokens } from "marked"

const escapeHtml = (s: string): string =>
  s
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;")

const safeHref = (href: string): string | undefined => {
  const trimmed = href.trim()
  return /^(https?:|mailto:)/i.test(trimmed) ? trimmed : undefined
}

const styles: Readonly<Record<string, string>> = {
  p: "margin:0 0 12px 0",
  h1: "font-size:20px;margin:16px 0 8px 0",
  h2: "font-size:18px;margin:16px 0 8px 0",
  h3: "font-size:16px;margin:14px 0 6px 0",
  h4: "font-size:15px;margin:12px 0 6px 0",
  h5: "font-size:14px;margin:12px 0 6px 0",
  h6: "font-size:14px;margin:12px 0 6px 0;color:#555555",
  ul: "margin:0 0 12px 0;padding-left:24px",
  ol: "margin:0 0 12px 0;padding-left:24px",
  li: "margin:0 0 4px 0",
  blockquote: "margin:0 0 12px 0;padding:0 0 0 12px;border-left:3px solid #d0d7de;color:#555555",
  pre: "margin:0 0 12px 0;padding:10px;background:#f6f8fa;border:1px solid #d0d7de;border-radius:4px;overflow-x:auto;white-space:pre-wrap;font-family:Menlo,Consolas,monospace;font-size:13px",
  code: "font-family:Menlo,Consolas,monospace;font-size:13px;background:#f6f8fa;padding:1px 3px;border-radius:3px",
  table: "border-collapse:collapse;margin:0 0 12px 0",
  th: "border:1px solid #d0d7de;padding:4px 8px;background:#f6f8fa;text-align:left",
  td: "border:1px solid #d0d7de;padding:4px 8px",
  hr: "border:none;border-top:1px solid #d0d7de;margin:16px 0",
  a: "color:#0969da",
}

const styled = (tag: string) => {
  const style = styles[tag]
  return style === undefined ? `<${tag}` : `<${tag} style="${style}"`
}

const marked = new Marked({
  gfm: true,
  breaks: true,
  renderer: {
    html({ text }: Tokens.HTML | Tokens.Tag) {
      return escapeHtml(text)
    },
    link({ href, tokens }: Tokens.Link) {
      const inner = this.parser.parseInline(tokens)
      const target = safeHref(href)
      return target === undefined ? inner : `<a href="${escapeHtml(target)}">${inner}</a>`
    },
    image({ href, text }: Tokens.Image) {
      const target = safeHref(href)
      const label = escapeHtml(text.length > 0 ? text : href)
      return target === undefined ? label : `<a href="${escapeHtml(target)}">${label}</a>`
    },
  },
})

/** The HTML body for `markdown`, every element styled inline. */
export const markdownToHtml = (markdown: string): string => {
  const raw = marked.parse(markdown, { async: false })
  // Raw HTML was escaped above, so every tag here is one marked wrote: adding the style
  // attribute to each opening tag by name is safe.
  return raw.replace(
    /<(p|h[1-6]|ul|ol|li|blockquote|pre|code|table|th|td|hr|a)(?=[\s>/])/g,
    (_, tag: string) => styled(tag),
  )
}

const wrapperStyle =
  "font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Helvetica,Arial,sans-serif;font-size:14px;line-height:1.5;color:#1f2328"
const footerStyle =
  "margin-top:16px;padding-top:8px;border-top:1px solid #d0d7de;font-size:12px;color:#656d76"

/** Plain and HTML bodies of a mail: the text, then the footer set apart. */
export const renderBodies = (
  markdown: string,
  footer: string | undefined,
): { readonly text: string; readonly html: string } => {
  const text = footer === undefined ? markdown : `${markdown.trimEnd()}\n\n${footer}`
  const footerHtml = footer === undefined ? "" : `<div style="${footerStyle}">${markdownToHtml(footer)}</div>`
  const html = `<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><div style="${wrapperStyle}">${markdownToHtml(markdown)}${footerHtml}</div></body></html>`
  return { text, html }
}
