/** Reading what crosses the RPC channel, for tests that count messages. */
import { Codec } from '../../src/codec/index.js'

const codec = new Codec()
const hooks = { export: () => null, import: () => null }

/**
 * The tags of one RPC channel message: one rpc message, or a batch of them (docs/rpc.md). Releases
 * are left out: those of stubs from earlier tests (collected whenever the garbage collector runs)
 * leave with the next message and may share a test's window.
 */
export function rpcTags(bytes: Uint8Array): string[] {
  const message = codec.decode(bytes, hooks) as unknown[]
  const all = Array.isArray(message[0])
    ? (message as Array<[string]>).map((inner) => inner[0])
    : [message[0] as string]
  return all.filter((tag) => tag !== 'release')
}
