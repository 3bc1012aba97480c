import { type Html, html } from "./html.js"
import { page } from "./layout.js"

export const loginPage = (failed: boolean): Html =>
  page({
    title: "Sign in",
    body: html`<h1>Sign in</h1>
<p>This dashboard needs its token (<code>dashboard.token</code> in airut.yaml).</p>
${failed ? html`<p class="reason error">That token is not the right one.</p>` : ""}
<form method="post" action="/login" class="login">
<input type="password" name="token" autocomplete="current-password" aria-label="token" required>
<button type="submit">Sign in</button>
</form>`,
  })
