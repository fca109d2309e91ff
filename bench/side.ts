/**
 * One peer's half of every Node↔Node and Chromium↔Chromium measurement. The same class runs in
 * Node (both halves in the bench process) and in each Chromium page (`bench/pages/main.ts` puts it
 * on `window.bench`), so both environments measure exactly the same code paths.
 *
 * Each side holds two connections to the other side, both real WebRTC through the same signaling
 * server: a peerject room, and a "raw" link — the same mesh connector, simple-peer and
 * ChannelTransport (same `bufferedamountlow` flow control) with nothing above the transport. The
 * raw link is the baseline for throughput; the wire's own spare channel {@link RAW_CHANNEL} is the
 * baseline for round trips (same connection, same wire, bytes only).
 *
 * Times are `performance.timeOrigin + performance.now()`, comparable across the pages of one
 * browser, so a receiver page can stamp the end of a transfer started in the sender page.
 * Every method's arguments and results are plain JSON (they cross `page.evaluate`).
 *
 * Slightly over ~400 lines on purpose: every measured role is a method of this one class, because
 * the orchestrator calls them by name in either environment (bench/env.ts `SideHandle`).
 */
import type { Connector } from '../src/connector.js'
import type { PeerId } from '../src/ids.js'
import type { Peer, Room } from '../src/index.js'
import { createMeshConnector } from '../src/mesh.js'
import type { Platform } from '../src/platform.js'
import type { Transport } from '../src/transport/transport.js'
import type { ValuePinger } from './pingers.js'
import {
  RAW_CHANNEL,
  createRawPinger,
  createValuePinger,
  describe,
  waitForPeer,
} from './pingers.js'
import { benchTarget } from './rpc.js'

/**
 * Unmeasured blocks before `roundTrips` measures: a call's path (stubs, session, exporter, codec)
 * runs at its steady speed only after thousands of calls, in the loop that measures it
 * (docs/architecture.md, "RPC round trip"), so the warm-up is that loop, unrecorded.
 */
export const WARM_UP_BLOCKS = 200

/**
 * Of those, the blocks that run pipelined chains too. Fewer: each chain leaves two answers nobody
 * pulls, which the peer holds until this side's garbage collector releases them (its
 * `maxExports` quota counts them).
 */
export const WARM_UP_CHAIN_BLOCKS = 30

/** Now, on a clock shared by the pages of one browser (ms). */
export function clock(): number {
  return performance.timeOrigin + performance.now()
}

type BenchTarget = typeof benchTarget

/** What `connect` reports. */
export interface SideInfo {
  /** The negotiated wire frame size toward the other side (bytes). */
  readonly chunkBytes: number
  /** The raw link's maxMessageSize. */
  readonly rawMaxMessageSize: number
}

/** Round-trip samples in ms. */
export interface RoundTrips {
  readonly raw: number[]
  readonly rpc: number[]
  readonly chain: number[]
}

/** Ping-pong latencies measured during a bulk transfer. */
export interface LoadedLatency {
  readonly samples: number[]
  readonly bulkMs: number
}

interface Pending {
  readonly promise: Promise<number>
}

/** How bulk bytes go: `peer.send` (copying), `peer.send` with a transfer list, or the raw link. */
export type BulkMode = 'peerject' | 'transfer' | 'raw'

/** How a side joins: the entry's `joinRoom` and the platform for the raw connector. */
export interface SideOptions {
  readonly joinRoom: (options: { signaling: string; room: string }) => Promise<Room>
  readonly platform: Platform
  readonly signaling: string
  readonly room: string
}

/** One side of the benchmark connections. */
export class BenchSide {
  readonly room: Room
  readonly #connector: Connector
  readonly #rawLinks = new Map<PeerId, Promise<Transport>>()
  readonly #rawWaiters = new Map<PeerId, (transport: Transport) => void>()
  /** Resolves on the other side's greeting over the raw link (see `connect`). */
  readonly #rawGreeted: Promise<void>
  #rawHandler: (bytes: Uint8Array) => void
  #peer: Peer | undefined
  #raw: Transport | undefined
  #pending: Pending | undefined
  #payloads = new Map<number, Uint8Array>()
  #chunked = new Map<string, Uint8Array[]>()
  #offEcho: Array<() => void> = []
  #pinger: ((seq: number) => Promise<void>) | undefined
  readonly #events: string[] = []

  private constructor(room: Room, connector: Connector) {
    this.room = room
    this.#connector = connector
    let greeted!: () => void
    this.#rawGreeted = new Promise((resolve) => (greeted = resolve))
    this.#rawHandler = () => {
      this.#rawHandler = () => undefined
      greeted()
    }
    // Kept for failure messages: why the connection under measurement went away.
    room.on('leave', (_peer, reason) => this.#events.push(`leave: ${describe(reason)}`))
    room.on('error', (error) => this.#events.push(`error: ${describe(error)}`))
    connector.on('open', (peer, transport) => {
      transport.listen({
        message: (bytes) => this.#rawHandler(bytes),
        close: () => undefined,
      })
      const waiter = this.#rawWaiters.get(peer)
      if (waiter !== undefined) waiter(transport)
      else this.#rawLinks.set(peer, Promise.resolve(transport))
    })
  }

  /** Joins the peerject room and the raw room (`<room>-raw`). */
  static async create(options: SideOptions): Promise<BenchSide> {
    const room = await options.joinRoom({ signaling: options.signaling, room: options.room })
    const connector = createMeshConnector({
      signaling: options.signaling,
      room: `${options.room}-raw`,
      platform: options.platform,
    })
    const side = new BenchSide(room, connector)
    await connector.start()
    return side
  }

  /** Own ids: [peerject room, raw room]. */
  ids(): [string, string] {
    return [this.room.self, this.#connector.self]
  }

  /** Waits until both connections to the other side are open. */
  async connect(peerId: string, rawId: string): Promise<SideInfo> {
    this.#peer = await waitForPeer(this.room, peerId as PeerId)
    await this.#peer.wire.ready
    let link = this.#rawLinks.get(rawId as PeerId)
    link ??= new Promise<Transport>((resolve) => this.#rawWaiters.set(rawId as PeerId, resolve))
    this.#raw = await link
    // The raw link is a bare transport, and the side that received its channel sends only after
    // the creator spoke (ChannelTransport's `speaksSecond`): both greet once, as wire HELLOs do.
    void this.#raw.send(new Uint8Array([0])).catch(() => undefined)
    await this.#rawGreeted
    return { chunkBytes: this.#peer.wire.chunkBytes, rawMaxMessageSize: this.#raw.maxMessageSize }
  }

  /** Leaves both rooms. */
  close(): void {
    for (const off of this.#offEcho) off()
    this.room.leave()
    this.#connector.close()
  }

  // ─── throughput ─────────────────────────────────────────────────────────────────────────────

  /** Receiver: resolves `result()` with the time the whole `total` bytes arrived. */
  armBulk(mode: BulkMode, total: number): void {
    this.#arm((done) => {
      if (mode === 'raw') {
        let received = 0
        this.#rawHandler = (bytes) => {
          received += bytes.byteLength
          if (received >= total) {
            this.#rawHandler = () => undefined
            done(clock())
          }
        }
        return
      }
      const off = this.room.on('message', (value) => {
        const data = (value as { data?: unknown }).data
        if (!(data instanceof Uint8Array) || data.byteLength !== total) return
        off()
        done(clock())
      })
    })
  }

  /** Sender: sends `total` bytes; resolves with the start time once everything is handed over. */
  async sendBulk(mode: BulkMode, total: number, chunkBytes: number): Promise<number> {
    const payload = this.#payload(total)
    if (mode === 'peerject') {
      const started = clock()
      await this.#requirePeer().send({ data: payload })
      return started
    }
    if (mode === 'transfer') {
      // A buffer of its own (made before the clock starts), handed over instead of copied.
      const data = payload.slice()
      const started = clock()
      await this.#requirePeer().send({ data }, { transfer: [data.buffer] })
      return started
    }
    // Pre-chunked before the clock starts (each chunk its own buffer, like a wire frame): the raw
    // side pays no framing and no copy while timed.
    const key = `${total}/${chunkBytes}`
    let chunks = this.#chunked.get(key)
    if (chunks === undefined) {
      chunks = []
      for (let at = 0; at < total; at += chunkBytes) {
        chunks.push(payload.slice(at, Math.min(total, at + chunkBytes)))
      }
      this.#chunked.set(key, chunks)
    }
    const raw = this.#requireRaw()
    const started = clock()
    for (const chunk of chunks) await raw.send(chunk)
    return started
  }

  /** Receiver: resolves `result()` when `count` messages arrived. */
  armCount(mode: 'peerject' | 'raw', count: number): void {
    this.#arm((done) => {
      let received = 0
      if (mode === 'raw') {
        this.#rawHandler = () => {
          if (++received === count) {
            this.#rawHandler = () => undefined
            done(clock())
          }
        }
        return
      }
      const off = this.room.on('message', (value) => {
        if (typeof (value as { seq?: unknown }).seq !== 'number') return
        if (++received === count) {
          off()
          done(clock())
        }
      })
    })
  }

  /**
   * Sends `count` small messages of `size` bytes: peerject objects `{ seq, data }` without awaiting
   * each send; raw byte messages awaiting each `transport.send` (its contract: one send waiting).
   */
  async sendSmall(mode: 'peerject' | 'raw', count: number, size: number): Promise<number> {
    const data = new Uint8Array(size).fill(7)
    if (mode === 'raw') {
      const raw = this.#requireRaw()
      const started = clock()
      for (let i = 0; i < count; i++) await raw.send(data)
      return started
    }
    const peer = this.#requirePeer()
    const started = clock()
    const sends: Array<Promise<void>> = []
    for (let seq = 0; seq < count; seq++) sends.push(peer.send({ seq, data }))
    await Promise.all(sends)
    return started
  }

  /** The time stamped by the armed receiver. */
  async result(): Promise<number> {
    const pending = this.#pending
    if (pending === undefined) throw new Error('nothing armed')
    this.#pending = undefined
    return pending.promise
  }

  // ─── round trips ────────────────────────────────────────────────────────────────────────────

  /** Server: exposes `bench`, echoes raw wire pings and peerject `{ ping }` values. */
  serve(): void {
    const peer = this.#requirePeer()
    this.room.expose('bench', benchTarget)
    this.#offEcho.push(
      peer.wire.on('message', (channel, bytes) => {
        if (channel === RAW_CHANNEL)
          peer.wire.sendMessage(RAW_CHANNEL, bytes).catch(() => undefined)
      }),
      this.room.on('message', (value, from) => {
        const ping = value as { ping?: unknown; pad?: unknown }
        if (typeof ping.ping === 'number') {
          from.send({ pong: ping.ping, pad: ping.pad }).catch(() => undefined)
        }
      }),
    )
  }

  /**
   * Client: `blocks` rounds of (`perBlock` raw wire ping-pongs, `perBlock` × `await api.echo(i)`,
   * `perBlock` × `await api.step(i).next(1).done()`), each sequential; returns the mean ms per
   * round trip of every block, after {@link WARM_UP_BLOCKS} unmeasured blocks of the same. Blocks
   * interleave the three so drift hits all alike, and timing a block (not one call) keeps
   * browsers' coarse timers (0.1 ms) out of the figure.
   */
  async roundTrips(blocks: number, perBlock: number): Promise<RoundTrips> {
    const peer = this.#requirePeer()
    const api = peer.resolve<BenchTarget>('bench')
    const ping = this.#rawPinger(peer)
    const block = async (run: (i: number) => Promise<unknown>): Promise<number> => {
      const started = performance.now()
      for (let i = 0; i < perBlock; i++) await run(i)
      return (performance.now() - started) / perBlock
    }
    const raw = (i: number): Promise<unknown> => ping(i)
    const rpc = (i: number): Promise<unknown> => api.echo(i)
    const chain = (i: number): Promise<unknown> => api.step(i).next(1).done()
    // Warm-up (not measured), so the figure is the steady state a long-lived peer sees rather
    // than the JIT's first tiers.
    for (let b = 0; b < WARM_UP_BLOCKS; b++) {
      await block(raw)
      await block(rpc)
      if (b < WARM_UP_CHAIN_BLOCKS) await block(chain)
    }
    const result: RoundTrips = { raw: [], rpc: [], chain: [] }
    for (let b = 0; b < blocks; b++) {
      result.raw.push(await block(raw))
      result.rpc.push(await block(rpc))
      result.chain.push(await block(chain))
    }
    return result
  }

  /**
   * Client: `total` echo calls kept `window` at a time in flight (ms for all), or the same number
   * of raw wire pings.
   */
  async callBurst(mode: 'rpc' | 'raw', total: number, window: number): Promise<number> {
    const peer = this.#requirePeer()
    const api = peer.resolve<BenchTarget>('bench')
    const ping = this.#rawPinger(peer)
    const started = performance.now()
    for (let sent = 0; sent < total; sent += window) {
      const batch: Array<Promise<unknown>> = []
      for (let i = sent; i < Math.min(total, sent + window); i++) {
        batch.push(mode === 'rpc' ? api.echo(i) : ping(i))
      }
      await Promise.all(batch)
    }
    return performance.now() - started
  }

  /** Client: `count` sequential `{ ping, pad }` value round trips (ms each). */
  async valuePings(count: number, padBytes: number): Promise<number[]> {
    const pinger = this.#valuePinger(padBytes)
    try {
      const samples: number[] = []
      for (let i = 0; i < count; i++) samples.push(await pinger.ping())
      return samples
    } finally {
      pinger.stop()
    }
  }

  /**
   * Client: sends a `total`-byte value and, until its send resolves, keeps one `{ ping, pad }`
   * value round trip going. The receiving side must be armed with `armBulk('peerject', total)`.
   */
  async pingsDuringBulk(total: number, padBytes: number): Promise<LoadedLatency> {
    const pinger = this.#valuePinger(padBytes)
    const samples: number[] = []
    let sending = true
    const started = performance.now()
    const bulk = this.#requirePeer()
      .send({ data: this.#payload(total) })
      .finally(() => (sending = false))
    try {
      // The first ping goes out right behind the bulk message's first frames.
      while (sending) samples.push(await pinger.ping())
      await bulk
      return { samples, bulkMs: performance.now() - started }
    } finally {
      pinger.stop()
    }
  }

  // ─── byte streams ───────────────────────────────────────────────────────────────────────────

  /** Receiver: reads the next `{ stream }` value's ReadableStream to its end (bytes counted). */
  armStream(total: number): void {
    this.#arm((done, fail) => {
      const off = this.room.on('message', (value) => {
        const stream = (value as { stream?: unknown }).stream
        if (!(stream instanceof ReadableStream)) return
        off()
        void (async () => {
          const reader = (stream as ReadableStream<Uint8Array>).getReader()
          let received = 0
          for (;;) {
            const { value: chunk, done: ended } = await reader.read()
            if (ended) break
            received += chunk.byteLength
          }
          if (received !== total) throw new Error(`stream delivered ${received} of ${total} bytes`)
          done(clock())
        })().catch(fail)
      })
    })
  }

  /**
   * Sender: `{ stream }` with a ReadableStream of `total` bytes in `chunkBytes` chunks. The chunks
   * are views of one preallocated buffer, so memory figures measure what peerject holds, not the
   * producer's garbage.
   */
  async sendStream(total: number, chunkBytes: number): Promise<number> {
    const source = new Uint8Array(chunkBytes).fill(3)
    let left = total
    const stream = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          if (left <= 0) return controller.close()
          const size = Math.min(left, chunkBytes)
          left -= size
          controller.enqueue(source.subarray(0, size))
        },
      },
      { highWaterMark: 0 },
    )
    const started = clock()
    await this.#requirePeer().send({ stream })
    return started
  }

  // ─── internals ──────────────────────────────────────────────────────────────────────────────

  #arm(start: (done: (at: number) => void, fail: (error: unknown) => void) => void): void {
    if (this.#pending !== undefined) throw new Error('already armed')
    const promise = new Promise<number>((resolve, reject) => start(resolve, reject))
    promise.catch(() => undefined)
    this.#pending = { promise }
  }

  #payload(total: number): Uint8Array {
    let payload = this.#payloads.get(total)
    if (payload === undefined) {
      payload = new Uint8Array(total)
      for (let i = 0; i < total; i += 4096) payload[i] = i & 0xff
      this.#payloads.set(total, payload)
    }
    return payload
  }

  /** The raw pinger over the wire's spare channel (one per side: one listener). */
  #rawPinger(peer: Peer): (seq: number) => Promise<void> {
    if (this.#pinger === undefined) {
      const pinger = createRawPinger(peer)
      this.#offEcho.push(pinger.stop)
      this.#pinger = pinger.ping
    }
    return this.#pinger
  }

  #valuePinger(padBytes: number): ValuePinger {
    return createValuePinger(this.room, this.#requirePeer(), padBytes)
  }

  #requirePeer(): Peer {
    if (this.#peer === undefined || this.#peer.state !== 'open') {
      const why = this.#events.slice(-2).join('; ')
      throw new Error(`the peerject connection is not open${why === '' ? '' : ` (${why})`}`)
    }
    return this.#peer
  }

  #requireRaw(): Transport {
    if (this.#raw === undefined || this.#raw.state !== 'open') {
      throw new Error('the raw connection is not open')
    }
    return this.#raw
  }
}
