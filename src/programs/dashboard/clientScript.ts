/**
 * The dashboard's only script, served as /static/dashboard.js (the CSP allows no inline code).
 * Plain ES2017 for any current browser; no build step. It
 * - opens an EventSource on the body's `data-stream` URL; each named event carries HTML that the
 *   server rendered and escaped, put into the element of that id: appended when the element says
 *   `data-live="append"`, replacing its content otherwise;
 * - keeps counting the `data-since` elapsed times every second.
 */
export const clientScript = `"use strict";
(function () {
  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function duration(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    if (h > 0) return h + " h " + pad(m) + " m";
    if (m > 0) return m + " m " + pad(r) + " s";
    return r + " s";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-since]").forEach(function (el) {
      el.textContent = duration(now - Number(el.getAttribute("data-since")));
    });
  }
  setInterval(tick, 1000);

  var url = document.body.getAttribute("data-stream");
  if (!url || typeof EventSource === "undefined") return;
  var status = document.getElementById("live-status");
  var source = new EventSource(url);
  source.onopen = function () { if (status) status.textContent = "live"; };
  source.onerror = function () { if (status) status.textContent = "reconnecting"; };
  document.querySelectorAll("[data-live]").forEach(function (el) {
    source.addEventListener(el.id, function (event) {
      if (el.getAttribute("data-live") === "append") {
        el.insertAdjacentHTML("beforeend", event.data);
        var empty = el.querySelector(".empty");
        if (empty) empty.remove();
      } else {
        el.innerHTML = event.data;
      }
      tick();
    });
  });
})();
`
