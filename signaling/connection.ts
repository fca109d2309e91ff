/**
 * One client connection: its peer id, the rooms it is in, its rate limiter, and a serial queue so
 * its messages are handled in the order they arrived even when a join awaits a token check.
 */
import { randomUUID } from 'node:crypto'
import { WebSocket } from 'ws'
import type { SignalingLimits } from './limits.js'
import type { SignalingLogEvent } from './options.js'
import type { ServerMessage, SignalingErrorCode } from './protocol.js'
import { RateLimiter } from './rate-limit.js'

/** Reports a log event (never throws). */
export type Log = (event: SignalingLogEvent) => void

/** A unit of work on a connection's serial queue. */
export type Task = () => void | Promise<void>

/** Most bytes of messages one connection may have waiting behind a token check. */
export const MAX_BACKLOG_BYTES = 256 * 1024

/** Server-side state of one WebSocket client. */
export class Connection {
  /** The peer id, crypto-random, one per connection. */
  readonly id: string = randomUUID()
  /** Rooms this connection has joined. */
  readonly rooms = new Set<string>()
  /** Messages admitted by the rate limit. */
  readonly limiter: RateLimiter
  /** Whether the socket answered the last heartbeat ping. */
  alive = true
  readonly #ws: WebSocket
  readonly #limits: SignalingLimits
  readonly #log: Log
  #disconnected = false
  #busy = false
  readonly #backlog: Array<[Task, number]> = []
  #backlogBytes = 0

  constructor(ws: WebSocket, limits: SignalingLimits, log: Log) {
    this.#ws = ws
    this.#limits = limits
    this.#log = log
    this.limiter = new RateLimiter(limits.messagesPerSecond, limits.burst)
  }

  /** True while the socket is open and the connection has not been torn down. */
  get open(): boolean {
    return !this.#disconnected && this.#ws.readyState === WebSocket.OPEN
  }

  /**
   * Sends one message. A peer that does not read (more than `maxBufferedBytes` already queued
   * towards it) is terminated instead, so it cannot make the server hold unbounded memory.
   */
  send(message: ServerMessage): void {
    if (!this.open) return
    const buffered = this.#ws.bufferedAmount
    if (buffered > this.#limits.maxBufferedBytes) {
      this.#log({ type: 'slow-consumer', peer: this.id, bufferedBytes: buffered })
      this.#ws.terminate()
      return
    }
    this.#ws.send(JSON.stringify(message))
  }

  /**
   * Sends a message another client asked the server to relay, unless half of `maxBufferedBytes`
   * is already queued towards this peer: then returns false and sends nothing, so the sender
   * (told ERR_RATE_LIMITED by the router) is slowed down, not this peer cut off. A peer is cut off
   * (see {@link send}) only when what the server itself sends it cannot get through.
   */
  relay(message: ServerMessage): boolean {
    if (!this.open) return true
    if (this.#ws.bufferedAmount > this.#limits.maxBufferedBytes / 2) return false
    this.#ws.send(JSON.stringify(message))
    return true
  }

  /** Sends an `error` message; `message` must say what to do. */
  sendError(code: SignalingErrorCode, message: string, room?: string, peer?: string): void {
    const error: ServerMessage = {
      type: 'error',
      code,
      message,
      ...(room === undefined ? {} : { room }),
      ...(peer === undefined ? {} : { peer }),
    }
    this.#log({
      type: 'reject',
      peer: this.id,
      code,
      message,
      ...(room === undefined ? {} : { room }),
    })
    this.send(error)
  }

  /** Starts the closing handshake (frames already queued are sent first). */
  close(code: number, reason: string): void {
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.close(code, reason)
  }

  /** Sends a heartbeat ping. */
  ping(): void {
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.ping()
  }

  /** Destroys the socket at once (dead peers). */
  terminate(): void {
    this.#ws.terminate()
  }

  /** Marks the connection torn down: queued tasks are dropped, later sends ignored. */
  markDisconnected(): void {
    this.#disconnected = true
    this.#backlog.length = 0
    this.#backlogBytes = 0
  }

  /**
   * Runs `task` now, or after the tasks before it when one of them is still awaiting. Returns
   * false (task dropped) when `burst` tasks, or {@link MAX_BACKLOG_BYTES} of messages (`bytes` is
   * this one's size), are already waiting.
   */
  enqueue(task: Task, bytes = 0): boolean {
    if (this.#busy) {
      if (
        this.#backlog.length >= this.#limits.burst ||
        this.#backlogBytes + bytes > MAX_BACKLOG_BYTES
      ) {
        return false
      }
      this.#backlog.push([task, bytes])
      this.#backlogBytes += bytes
      return true
    }
    this.#run(task)
    return true
  }

  #run(task: Task): void {
    let pending: void | Promise<void>
    try {
      pending = task()
    } catch (error) {
      this.#reportBug(error)
      return
    }
    if (pending === undefined) return
    this.#busy = true
    pending
      .catch((error: unknown) => this.#reportBug(error))
      .finally(() => {
        this.#busy = false
        while (!this.#busy && this.#backlog.length > 0) {
          const next = this.#backlog.shift()
          if (next === undefined) break
          this.#backlogBytes -= next[1]
          if (!this.#disconnected) this.#run(next[0])
        }
      })
  }

  #reportBug(error: unknown): void {
    // Handlers are not expected to throw; if one does, this connection alone is closed.
    this.#log({
      type: 'socket-error',
      peer: this.id,
      error: error instanceof Error ? error : new Error(String(error)),
    })
    this.close(1011, 'internal error')
  }
}
