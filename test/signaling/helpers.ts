/**
 * Test helpers for the signaling server: real `ws` clients that record every server message
 * (checked against ServerMessageSchema) and await messages by predicate — no sleeps anywhere.
 * A {@link Harness} tracks what a test starts and closes exactly that afterwards.
 */
import { randomUUID } from 'node:crypto'
import * as v from 'valibot'
import { WebSocket } from 'ws'
import type { ClientOptions } from 'ws'
import { createSignalingServer } from '../../signaling/index.js'
import type { SignalingServer, SignalingServerOptions } from '../../signaling/index.js'
import { ServerMessageSchema } from '../../signaling/protocol.js'
import type { ServerMessage } from '../../signaling/protocol.js'

/** How long a helper waits for an expected message before failing the test with a clear error. */
const WAIT_MS = 5_000

type Of<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>

interface Waiter {
  readonly match: (message: ServerMessage) => boolean
  readonly resolve: (message: ServerMessage) => void
}

/** How a socket closed. */
export interface CloseInfo {
  readonly code: number
  readonly reason: string
}

/** A real WebSocket client of the signaling server. */
export class TestClient {
  /** Every server message received, in order. */
  readonly received: ServerMessage[] = []
  /** Frames that were not valid server messages (must stay empty). */
  readonly invalid: unknown[] = []
  /** Resolves when the socket closes. */
  readonly closed: Promise<CloseInfo>
  readonly ws: WebSocket
  readonly #taken = new Set<number>()
  readonly #waiters: Waiter[] = []
  #id: string | undefined

  private constructor(ws: WebSocket) {
    this.ws = ws
    this.closed = new Promise((resolve) => {
      ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }))
    })
    ws.on('error', () => {
      // Errors are followed by 'close'; tests assert on `closed`.
    })
    ws.on('message', (data, isBinary) => {
      let json: unknown
      try {
        json = JSON.parse((data as Buffer).toString('utf8'))
      } catch {
        json = undefined
      }
      const parsed = v.safeParse(ServerMessageSchema, json)
      if (isBinary || !parsed.success) {
        this.invalid.push(json)
        return
      }
      this.#deliver(parsed.output)
    })
  }

  /** Opens a socket (without waiting for `welcome`). */
  static async open(url: string, options?: ClientOptions): Promise<TestClient> {
    const ws = new WebSocket(url, options)
    const client = new TestClient(ws)
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
    })
    return client
  }

  /** Opens a socket and waits for `welcome`. */
  static async connect(url: string, options?: ClientOptions): Promise<TestClient> {
    const client = await TestClient.open(url, options)
    client.#id = (await client.next('welcome')).id
    return client
  }

  /** This client's peer id (from `welcome`). */
  get id(): string {
    if (this.#id === undefined) throw new Error('no welcome received yet')
    return this.#id
  }

  /** Sends an object as JSON, or a string as is. */
  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message))
  }

  /**
   * Resolves with the first not-yet-taken message of `type` matching `predicate` (already
   * received or still to come), and marks it taken.
   */
  next<T extends ServerMessage['type']>(
    type: T,
    predicate: (message: Of<T>) => boolean = () => true,
  ): Promise<Of<T>> {
    return this.nextMatching(
      (message) => message.type === type && predicate(message as Of<T>),
      `"${type}"`,
    ) as Promise<Of<T>>
  }

  /** Like {@link next}, for any message matching `match`. */
  nextMatching(
    match: (message: ServerMessage) => boolean,
    what = 'matching',
  ): Promise<ServerMessage> {
    const index = this.received.findIndex((m, i) => !this.#taken.has(i) && match(m))
    if (index >= 0) {
      this.#taken.add(index)
      return Promise.resolve(this.received[index] as ServerMessage)
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1)
        reject(
          new Error(
            `no ${what} message within ${WAIT_MS} ms; received: ${JSON.stringify(this.received)}`,
          ),
        )
      }, WAIT_MS)
      const waiter: Waiter = {
        match,
        resolve: (message) => {
          clearTimeout(timer)
          resolve(message)
        },
      }
      this.#waiters.push(waiter)
    })
  }

  /** Resolves with the next `error` message with `code`. */
  error(code: string): Promise<Of<'error'>> {
    return this.next('error', (m) => m.code === code)
  }

  /** Joins `room`; resolves with `joined`, rejects with the server's error for that room. */
  async join(room: string, token?: string): Promise<Of<'joined'>> {
    this.send(token === undefined ? { type: 'join', room } : { type: 'join', room, token })
    const reply = (await this.nextMatching(
      (m) => (m.type === 'joined' || m.type === 'error') && m.room === room,
      `"joined" or "error" for room ${room}`,
    )) as Of<'joined' | 'error'>
    if (reply.type === 'error') throw new Error(`${reply.code}: ${reply.message}`)
    return reply
  }

  /**
   * A barrier: resolves once the server has handled everything this client sent before, and
   * every message the server sent it before that point has been received (one socket is FIFO).
   */
  async sync(): Promise<void> {
    const room = `sync-${randomUUID()}`
    this.send({ type: 'signal', room, to: 'nobody', data: null })
    await this.next('error', (m) => m.room === room)
  }

  /**
   * A frame-level barrier: resolves once the server has read every frame sent before (its frame
   * parser answers a ping only after the frames ahead of it), even ones waiting in its queue.
   */
  async pingPong(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.ws.once('pong', () => resolve())
      this.ws.ping()
    })
  }

  /** Messages of `type` received so far (taken or not). */
  all<T extends ServerMessage['type']>(type: T): Of<T>[] {
    return this.received.filter((m): m is Of<T> => m.type === type)
  }

  #deliver(message: ServerMessage): void {
    const index = this.received.push(message) - 1
    const waiter = this.#waiters.find((w) => w.match(message))
    if (waiter === undefined) return
    this.#taken.add(index)
    this.#waiters.splice(this.#waiters.indexOf(waiter), 1)
    waiter.resolve(message)
  }
}

/** Tracks the servers and clients a test starts, and closes them in {@link Harness.cleanup}. */
export class Harness {
  readonly #servers: SignalingServer[] = []
  readonly #clients: TestClient[] = []

  /** Starts a server on an ephemeral loopback port. */
  async server(options: SignalingServerOptions = {}): Promise<SignalingServer> {
    const server = await createSignalingServer({ port: 0, ...options })
    this.#servers.push(server)
    return server
  }

  /** Connects a client and waits for its `welcome`. */
  async client(server: SignalingServer, options?: ClientOptions): Promise<TestClient> {
    return this.track(await TestClient.connect(server.url, options))
  }

  /** Makes {@link cleanup} close `client`. */
  track(client: TestClient): TestClient {
    this.#clients.push(client)
    return client
  }

  /** Closes everything started; throws when a client received a frame outside the protocol. */
  async cleanup(): Promise<void> {
    const clients = this.#clients.splice(0)
    for (const client of clients) client.ws.terminate()
    await Promise.all(this.#servers.splice(0).map((server) => server.close()))
    const invalid = clients.flatMap((client) => client.invalid)
    if (invalid.length > 0) throw new Error(`invalid server frames: ${JSON.stringify(invalid)}`)
  }
}

/** A controllable async check: each call waits until the test settles it. */
export class Gate {
  readonly #pending: ((allowed: boolean) => void)[] = []
  readonly #waiters: (() => void)[] = []

  /** The function to pass as `verifyToken`. */
  readonly check = (): Promise<boolean> =>
    new Promise<boolean>((resolve) => {
      this.#pending.push(resolve)
      for (const waiter of this.#waiters.splice(0)) waiter()
    })

  /** Resolves once `count` checks have started. */
  async started(count: number): Promise<void> {
    while (this.#pending.length < count) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve))
    }
  }

  /** Settles check number `index` (0-based, in call order). */
  settle(index: number, allowed: boolean): void {
    const resolve = this.#pending[index]
    if (resolve === undefined) throw new Error(`check ${index} has not started`)
    resolve(allowed)
  }
}
