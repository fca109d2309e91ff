/**
 * Browser-only (bench pages): PeerJS used on its own, as a PeerJS app would — a DataConnection with
 * PeerJS's default `binary` serialization (BinaryPack, 16,300-byte chunks, its own 50 ms-polled send
 * buffer), `conn.send(Uint8Array)` on one side, its `data` event on the other.
 */
import { Peer } from 'peerjs'
import type { DataConnection } from 'peerjs'

import { clock } from './side.js'

/** Where the PeerServer runs. */
export interface PeerServerAddress {
  readonly host: string
  readonly port: number
  readonly path: string
  readonly key: string
}

/** One PeerJS peer and (once connected) its one binary DataConnection. */
export class PeerJsBinarySide {
  readonly #peer: Peer
  #conn: DataConnection | undefined
  #incoming: Promise<DataConnection>
  #pending: Promise<number> | undefined
  #payloads = new Map<number, Uint8Array>()

  private constructor(peer: Peer) {
    this.#peer = peer
    this.#incoming = new Promise((resolve) => {
      peer.on('connection', (conn) => conn.on('open', () => resolve(conn)))
    })
  }

  /** Registers with the PeerServer; resolves once it answered. */
  static create(server: PeerServerAddress): Promise<PeerJsBinarySide> {
    const peer = new Peer({
      host: server.host,
      port: server.port,
      path: server.path,
      key: server.key,
      config: { iceServers: [] },
      debug: 0,
    })
    return new Promise((resolve, reject) => {
      peer.on('open', () => resolve(new PeerJsBinarySide(peer)))
      peer.on('error', (error) => reject(new Error(`PeerJS: ${error.type}: ${error.message}`)))
    })
  }

  /** This peer's PeerServer id. */
  id(): string {
    return this.#peer.id
  }

  /** Dials `remote` with PeerJS's defaults for data (`binary`, reliable). */
  async dial(remote: string): Promise<void> {
    const conn = this.#peer.connect(remote, { serialization: 'binary', reliable: true })
    await new Promise<void>((resolve, reject) => {
      conn.on('open', () => resolve())
      conn.on('error', (error) => reject(new Error(`PeerJS connection: ${error.message}`)))
    })
    this.#conn = conn
  }

  /** Waits for the other side's dial. */
  async accept(): Promise<void> {
    this.#conn = await this.#incoming
  }

  /** Receiver: `result()` resolves with the time a `total`-byte binary value arrived. */
  arm(total: number): void {
    const conn = this.#requireConn()
    this.#pending = new Promise((resolve) => {
      const onData = (data: unknown): void => {
        const size = (data as { byteLength?: unknown } | null)?.byteLength
        if (size !== total) return
        conn.off('data', onData)
        resolve(clock())
      }
      conn.on('data', onData)
    })
  }

  /** Sender: `conn.send(Uint8Array(total))`; returns the start time (PeerJS sends in the background). */
  send(total: number): number {
    let payload = this.#payloads.get(total)
    if (payload === undefined) {
      payload = new Uint8Array(total)
      for (let i = 0; i < total; i += 4096) payload[i] = i & 0xff
      this.#payloads.set(total, payload)
    }
    const started = clock()
    this.#requireConn().send(payload)
    return started
  }

  /** The armed receiver's time stamp. */
  result(): Promise<number> {
    const pending = this.#pending
    this.#pending = undefined
    if (pending === undefined) return Promise.reject(new Error('nothing armed'))
    return pending
  }

  close(): void {
    this.#peer.destroy()
  }

  #requireConn(): DataConnection {
    if (this.#conn === undefined) throw new Error('not connected')
    return this.#conn
  }
}
