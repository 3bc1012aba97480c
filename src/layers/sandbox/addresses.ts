import { isIPv4 } from "node:net"
import { networkInterfaces } from "node:os"
import { Effect, Option } from "effect"
import type { HostAddress } from "./probePlan.js"

/**
 * The address the proxy takes on a task network: the second host address of the subnet
 * (10.89.3.0/24 → 10.89.3.2). The first stays free: on networks with a gateway that is where
 * engines put it, and on ours (no gateway) Podman hands it to the next container. None for
 * anything but an IPv4 subnet with room for both.
 */
export const proxyAddressIn = (subnet: string): Option.Option<string> => {
  const [base, bits] = subnet.split("/")
  const prefix = Number(bits)
  if (base === undefined || !isIPv4(base) || !Number.isInteger(prefix) || prefix < 8 || prefix > 29) {
    return Option.none()
  }
  const octets = base.split(".").map(Number)
  const value = octets.reduce((acc, o) => acc * 256 + o, 0)
  const size = 2 ** (32 - prefix)
  const network = value - (value % size)
  const address = network + 2
  return Option.some([24, 16, 8, 0].map((shift) => Math.floor(address / 2 ** shift) % 256).join("."))
}

/** Every address of this host, loopback included. */
export const hostAddresses: Effect.Effect<ReadonlyArray<HostAddress>> = Effect.sync(() =>
  Object.entries(networkInterfaces()).flatMap(([name, list]) =>
    (list ?? []).map((a) => ({ address: a.address, family: a.family, interface: name })),
  ),
)
