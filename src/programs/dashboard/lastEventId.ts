import type { HttpServerRequest } from "@effect/platform"
import { Option } from "effect"

/** The offset a reconnecting EventSource resumes from (our event ids are log offsets). */
export const lastEventId = (request: HttpServerRequest.HttpServerRequest): Option.Option<number> => {
  const header = request.headers["last-event-id"]
  return header !== undefined && /^\d{1,15}$/.test(header) ? Option.some(Number(header)) : Option.none()
}
