/** The dashboard's style sheet, served as /static/dashboard.css. Light and dark follow the system. */
export const styleSheet = `:root { color-scheme: light dark; --fg: #1d1f21; --bg: #fafafa; --muted: #6b7280; --line: #d9dce1;
  --ok: #15803d; --bad: #b91c1c; --warn: #b45309; --run: #1d4ed8; --card: #fff; }
@media (prefers-color-scheme: dark) { :root { --fg: #e5e7eb; --bg: #111316; --muted: #9ca3af; --line: #2d3139;
  --ok: #4ade80; --bad: #f87171; --warn: #fbbf24; --run: #93c5fd; --card: #1a1d22; } }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
header.top { display: flex; gap: 1rem; align-items: center; padding: .6rem 1.2rem; border-bottom: 1px solid var(--line); }
.brand { font-weight: 700; text-decoration: none; color: inherit; }
.live-status { color: var(--muted); font-size: 12px; }
main { padding: 1rem 1.2rem; max-width: 1200px; }
a { color: var(--run); }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 1.6rem; }
table { border-collapse: collapse; width: 100%; background: var(--card); }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: 12px; }
td.path { word-break: break-all; font-family: ui-monospace, monospace; font-size: 12px; }
.state { font-weight: 600; } .state.executing { color: var(--run); } .state.completed { color: var(--muted); }
.state.pending, .state.queued, .state.authenticating { color: var(--warn); }
.reason.success { color: var(--ok); } .reason.error, .reason.timeout, .reason.internal_error, .reason.channel_error { color: var(--bad); }
.muted { color: var(--muted); }
.health.Connected { color: var(--ok); } .health.Degraded, .health.Starting { color: var(--warn); } .health.Failed { color: var(--bad); }
tr.blocked td.verdict { color: var(--bad); font-weight: 600; } tr.allowed td.verdict { color: var(--ok); }
code.allow { display: block; white-space: pre-wrap; word-break: break-all; font-size: 12px; }
ol.timeline { list-style: none; padding: 0; }
li.event { border-left: 3px solid var(--line); padding: .3rem .8rem; margin: .4rem 0; background: var(--card); }
li.event.assistant { border-color: var(--run); } li.event.result { border-color: var(--ok); }
li.event.error { border-color: var(--bad); } li.event.subagent { margin-left: 2rem; }
.badge { font-size: 11px; text-transform: uppercase; color: var(--muted); letter-spacing: .04em; }
.tool-name { font-weight: 600; font-family: ui-monospace, monospace; }
pre { white-space: pre-wrap; word-break: break-word; margin: .3rem 0; font-size: 12px; }
details.tool-result.error summary { color: var(--bad); }
p.text { white-space: pre-wrap; margin: .3rem 0; }
ul.todos { list-style: none; padding: 0; } li.todo.completed { color: var(--muted); text-decoration: line-through; }
li.todo.in_progress { font-weight: 600; }
.reply { background: var(--card); border: 1px solid var(--line); padding: .6rem .8rem; margin: .6rem 0; }
.meta { color: var(--muted); font-size: 12px; }
button.stop { color: #fff; background: var(--bad); border: 0; padding: .25rem .7rem; border-radius: 3px; cursor: pointer; }
nav.tabs a { margin-right: 1rem; }
form.login { display: flex; gap: .5rem; max-width: 420px; } form.login input { flex: 1; padding: .3rem; }
`
