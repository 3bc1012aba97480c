import { HttpLayerRouter, HttpServerResponse } from "@effect/platform"
import { Effect, Layer } from "effect"
import { clientScript } from "./clientScript.js"
import { styleSheet } from "./styleSheet.js"

// Short caching: a restart with a new version serves new files within minutes.
const cached = { "cache-control": "max-age=300" }

export const StaticRoutes = Layer.mergeAll(
  HttpLayerRouter.add(
    "GET",
    "/static/dashboard.js",
    Effect.succeed(
      HttpServerResponse.text(clientScript, {
        contentType: "text/javascript; charset=utf-8",
        headers: cached,
      }),
    ),
  ),
  HttpLayerRouter.add(
    "GET",
    "/static/dashboard.css",
    Effect.succeed(
      HttpServerResponse.text(styleSheet, { contentType: "text/css; charset=utf-8", headers: cached }),
    ),
  ),
)
