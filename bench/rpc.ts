/**
 * RPC round-trip benchmark helpers, usable over ANY ordered byte channel: the memory pair here, or
 * two real WebRTC transports (the lead's integration bench passes `transport.send` and feeds
 * `transport.listen` into `session.dispatch`).
 *
 * - {@link connectRpc} wires one {@link RpcSession} to a byte channel;
 * - {@link createRpcPair} wires two, given both channels' send functions and a way to subscribe;
 * - {@link measureRoundTrips} times sequential `await api.echo(i)` calls (one call = one round
 *   trip: `call` + `pull` out, `return` back) and pipelined chains of three dependent calls.
 */
import { Codec } from '../src/codec/index.js'
import { PeerjectError } from '../src/errors.js'
import { createMemoryPair, ExportRegistry, RpcSession, type Remote } from '../src/rpc/index.js'

/** A byte channel, as a transport provides it. */
export interface ByteChannel {
  /** Sends one message; resolves when the channel can take more. */
  send(bytes: Uint8Array): Promise<void>
  /** Subscribes to incoming messages and to the channel closing. */
  listen(listener: { message(bytes: Uint8Array): void; close(reason?: PeerjectError): void }): void
}

/** Options of {@link connectRpc}. */
export interface ConnectRpcOptions {
  /** The other peer's id. */
  readonly peer: string
  /** This side's named objects (default: a new registry). */
  readonly exports?: ExportRegistry
  /** The codec (default: a new one). */
  readonly codec?: Codec
}

/** Wires a session to `channel`: outgoing through `send`, incoming to `dispatch`, close to close. */
export function connectRpc(channel: ByteChannel, options: ConnectRpcOptions): RpcSession {
  const session = new RpcSession({
    peer: options.peer,
    codec: options.codec ?? new Codec(),
    exports: options.exports ?? new ExportRegistry(),
    send: (bytes) => channel.send(bytes),
  })
  channel.listen({
    message: (bytes) => session.dispatch(bytes),
    close: (reason) =>
      session.close(reason ?? new PeerjectError('ERR_PEER_LEFT', `peer ${options.peer} closed`)),
  })
  return session
}

/** Two sessions over two channels (a's channel reaches b and vice versa). */
export function createRpcPair(
  channelA: ByteChannel,
  channelB: ByteChannel,
): { a: RpcSession; b: RpcSession; exportsA: ExportRegistry; exportsB: ExportRegistry } {
  const exportsA = new ExportRegistry()
  const exportsB = new ExportRegistry()
  const a = connectRpc(channelA, { peer: 'b', exports: exportsA })
  const b = connectRpc(channelB, { peer: 'a', exports: exportsB })
  return { a, b, exportsA, exportsB }
}

/** The object {@link measureRoundTrips} calls; expose it on the serving side as `bench`. */
export const benchTarget = {
  echo: (value: number): number => value,
  step: (value: number) => ({ next: (add: number) => ({ done: () => value + add }) }),
}

/** Round-trip statistics in milliseconds. */
export interface RoundTripStats {
  readonly calls: number
  readonly medianMs: number
  readonly p95Ms: number
  /** Median of a chain of three dependent calls, pipelined (should be ≈ one round trip). */
  readonly pipelinedChainMedianMs: number
}

/** Times `calls` sequential echo calls and pipelined 3-call chains through `client`. */
export async function measureRoundTrips(client: RpcSession, calls = 200): Promise<RoundTripStats> {
  const api: Remote<typeof benchTarget> = client.resolve<typeof benchTarget>('bench')
  await api.echo(-1) // warm up: resolve and first call
  const single: number[] = []
  const chained: number[] = []
  for (let i = 0; i < calls; i++) {
    const start = performance.now()
    await api.echo(i)
    single.push(performance.now() - start)
    const chainStart = performance.now()
    await api.step(i).next(1).done()
    chained.push(performance.now() - chainStart)
  }
  return {
    calls,
    medianMs: quantile(single, 0.5),
    p95Ms: quantile(single, 0.95),
    pipelinedChainMedianMs: quantile(chained, 0.5),
  }
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((x, y) => x - y)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN
}

/** The in-memory baseline: the same measurement over the memory pair (no network). */
export async function measureMemoryBaseline(calls = 200): Promise<RoundTripStats> {
  const pair = createMemoryPair()
  pair.exportsB.expose('bench', benchTarget)
  try {
    return await measureRoundTrips(pair.a, calls)
  } finally {
    pair.close()
  }
}
