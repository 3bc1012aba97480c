import { Schema } from "effect"

/**
 * The parts of the Docker Engine API (and Podman's libpod API) answers we read. Engines add,
 * omit and null fields freely across versions, so everything beyond what we need is ignored
 * and absent-or-null maps decode to empty ones.
 */

const Labels = Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.String }), {
  default: () => ({}),
  nullable: true,
})
const Strings = Schema.optionalWith(Schema.Array(Schema.String), {
  default: () => [],
  nullable: true,
})

/** Error body of a non-2xx answer: Docker has `message`, Podman adds `cause`. */
export const EngineErrorBody = Schema.Struct({
  message: Schema.optional(Schema.String),
  cause: Schema.optional(Schema.String),
})

export const VersionJson = Schema.Struct({
  Version: Schema.String,
  ApiVersion: Schema.String,
  Components: Schema.optionalWith(Schema.Array(Schema.Struct({ Name: Schema.String })), {
    default: () => [],
    nullable: true,
  }),
})

export const ImageJson = Schema.Struct({
  Id: Schema.String,
  RepoTags: Strings,
  // RFC 3339 with nanoseconds; an unreadable date is a protocol error, not "never stale".
  Created: Schema.Date,
  Config: Schema.optionalWith(Schema.Struct({ Labels }), {
    default: () => ({ Labels: {} }),
    nullable: true,
  }),
})

/** `GET /images/json`: `Created` in epoch seconds here; untagged images list `<none>:<none>`. */
export const ImageListJson = Schema.Array(
  Schema.Struct({
    Id: Schema.String,
    RepoTags: Strings,
    Created: Schema.Number,
    Labels,
  }),
)

/** One line of `POST /build` output. */
export const BuildMessage = Schema.Struct({
  stream: Schema.optional(Schema.String),
  error: Schema.optional(Schema.String),
  errorDetail: Schema.optional(Schema.Struct({ message: Schema.optional(Schema.String) })),
})
export const BuildMessageLine = Schema.parseJson(BuildMessage)

export const CreatedJson = Schema.Struct({ Id: Schema.String })

export const ContainerJson = Schema.Struct({
  Id: Schema.String,
  Name: Schema.String,
  Config: Schema.Struct({ Image: Schema.String, Labels }),
  State: Schema.Struct({
    Running: Schema.Boolean,
    ExitCode: Schema.Number,
    OOMKilled: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  }),
  NetworkSettings: Schema.optionalWith(
    Schema.Struct({
      Networks: Schema.optionalWith(
        Schema.Record({
          key: Schema.String,
          value: Schema.Struct({ IPAddress: Schema.optionalWith(Schema.String, { default: () => "" }) }),
        }),
        { default: () => ({}), nullable: true },
      ),
    }),
    { default: () => ({ Networks: {} }), nullable: true },
  ),
})

export const ContainerListJson = Schema.Array(
  Schema.Struct({
    Id: Schema.String,
    Names: Strings,
    Labels,
    State: Schema.String,
  }),
)

/** Compat `POST /containers/{id}/wait`. */
export const CompatWaitJson = Schema.Struct({ StatusCode: Schema.Number })

export const CompatNetworkJson = Schema.Struct({
  Id: Schema.String,
  Name: Schema.String,
  Internal: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  Labels,
  IPAM: Schema.optionalWith(
    Schema.Struct({
      Config: Schema.optionalWith(
        Schema.Array(
          Schema.Struct({ Subnet: Schema.optional(Schema.String), Gateway: Schema.optional(Schema.String) }),
        ),
        { default: () => [], nullable: true },
      ),
    }),
    { default: () => ({ Config: [] }), nullable: true },
  ),
})
export const CompatNetworkListJson = Schema.Array(CompatNetworkJson)

/** libpod `POST /libpod/networks/create` answer. */
export const LibpodNetworkJson = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  internal: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  labels: Labels,
  subnets: Schema.optionalWith(
    Schema.Array(Schema.Struct({ subnet: Schema.String, gateway: Schema.optional(Schema.String) })),
    { default: () => [], nullable: true },
  ),
})

/** One sample of `GET /containers/{id}/stats?stream=false`. */
export const StatsJson = Schema.Struct({
  pids_stats: Schema.optionalWith(
    Schema.Struct({ current: Schema.optionalWith(Schema.Number, { default: () => 0 }) }),
    {
      default: () => ({ current: 0 }),
      nullable: true,
    },
  ),
  memory_stats: Schema.optionalWith(
    Schema.Struct({ usage: Schema.optionalWith(Schema.Number, { default: () => 0 }) }),
    {
      default: () => ({ usage: 0 }),
      nullable: true,
    },
  ),
})
