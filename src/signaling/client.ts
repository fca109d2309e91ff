/**
 * The signaling client: one WebSocket to peerject's signaling server for one room. It learns its
 * own id and the peers present, hears joins and leaves, and relays WebRTC signaling data to one
 * named peer. The protocol is docs/signaling.md; its types are shared with the server as types only.
 */
import { Emitter } from '../emitter.js'
import { PeerjectError, isErrorCode } from '../errors.js'
import type { PeerId } from '../ids.js'
import type { ClientMessage } from '../../signaling/protocol.js'

/** Events of a joined {@link SignalingClient}. */
export type SignalingClientEvents = {
  'peer-joined': [peer: PeerId]
  'peer-left': [peer: PeerId]
  signal: [from: PeerId, data: unknown]
  /** The server reported an error about something this client sent (the session goes on). */
  error: [error: PeerjectError]
  /** The socket closed; `reason` is set unless `close()` was called. */
  close: [reason: PeerjectError | undefined]
}

/** Options for {@link SignalingClient.join}. */
export interface SignalingJoinOptions {
  readonly url: string
  readonly room: string
  readonly token?: string
  readonly WebSocket: typeof WebSocket
  /** Rejects with ERR_SIGNALING when not joined in time. Default 10 s. */
  readonly timeoutMs?: number
}

/** A parsed server message, narrowed field by field (the server is trusted less than our own code). */
type ServerMessage =
  | { type: 'welcome'; id: string }
  | { type: 'joined'; room: string; peers: string[] }
  | { type: 'peer-joined' | 'peer-left'; room: string; peer: string }
  | { type: 'signal'; room: string; from: string; data: unknown }
  | { type: 'error'; code: string; message: string; room?: string; peer?: string }

function parseServerMessage(text: unknown): ServerMessage | undefined {
  if (typeof text !== 'string') return undefined
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  const m = value as Record<string, unknown>
  const str = (key: string): boolean => typeof m[key] === 'string'
  switch (m.type) {
    case 'welcome':
      return str('id') ? (m as ServerMessage) : undefined
    case 'joined':
      return str('room') && Array.isArray(m.peers) && m.peers.every((p) => typeof p === 'string')
        ? (m as ServerMessage)
        : undefined
    case 'peer-joined':
    case 'peer-left':
      return str('room') && str('peer') ? (m as ServerMessage) : undefined
    case 'signal':
      return str('room') && str('from') ? (m as ServerMessage) : undefined
    case 'error':
      return str('code') && str('message') ? (m as ServerMessage) : undefined
    default:
      return undefined
  }
}

/** A WebSocket session with the signaling server, joined to one room. */
export class SignalingClient extends Emitter<SignalingClientEvents> {
  readonly self: PeerId
  readonly room: string
  readonly #socket: WebSocket
  #closed = false

  private constructor(socket: WebSocket, self: PeerId, room: string) {
    super()
    this.#socket = socket
    this.self = self
    this.room = room
  }

  /** Connects, joins `room`, and resolves with the client and the peers already there. */
  static join(
    options: SignalingJoinOptions,
  ): Promise<{ client: SignalingClient; peers: PeerId[] }> {
    return new Promise((resolve, reject) => {
      let socket: WebSocket
      try {
        socket = new options.WebSocket(options.url)
      } catch (error) {
        reject(
          new PeerjectError('ERR_SIGNALING', `invalid signaling URL ${options.url}`, {
            cause: error,
          }),
        )
        return
      }
      let self: PeerId | undefined
      let client: SignalingClient | undefined
      const fail = (error: PeerjectError): void => {
        clearTimeout(timer)
        reject(error)
        socket.close()
      }
      const timer = setTimeout(() => {
        fail(
          new PeerjectError(
            'ERR_SIGNALING',
            `no answer from the signaling server at ${options.url} within ${options.timeoutMs ?? 10_000} ms`,
          ),
        )
      }, options.timeoutMs ?? 10_000)

      socket.onerror = () => {
        if (client === undefined) {
          fail(
            new PeerjectError(
              'ERR_SIGNALING',
              `cannot reach the signaling server at ${options.url}; is it running?`,
            ),
          )
        }
      }
      socket.onclose = (event) => {
        if (client === undefined) {
          fail(
            new PeerjectError(
              'ERR_SIGNALING',
              `the signaling server closed the connection (code ${event.code}${event.reason ? `: ${event.reason}` : ''})`,
            ),
          )
          return
        }
        client.#onClose(event.code, event.reason)
      }
      socket.onmessage = (event) => {
        const message = parseServerMessage(event.data)
        if (client !== undefined) {
          client.#onMessage(message)
          return
        }
        if (message === undefined) return
        if (message.type === 'welcome') {
          self = message.id as PeerId
          const join: ClientMessage = {
            type: 'join',
            room: options.room,
            ...(options.token === undefined ? {} : { token: options.token }),
          }
          socket.send(JSON.stringify(join))
        } else if (
          message.type === 'joined' &&
          message.room === options.room &&
          self !== undefined
        ) {
          clearTimeout(timer)
          client = new SignalingClient(socket, self, options.room)
          resolve({ client, peers: message.peers as PeerId[] })
        } else if (message.type === 'error') {
          fail(
            new PeerjectError(
              isErrorCode(message.code) ? message.code : 'ERR_SIGNALING',
              `signaling server refused to join room "${options.room}": ${message.message}`,
            ),
          )
        }
      }
    })
  }

  /** Relays `data` to `to` in this room. Dropped silently once closed. */
  signal(to: PeerId, data: unknown): void {
    if (this.#closed || this.#socket.readyState !== 1) return
    const message: ClientMessage = { type: 'signal', room: this.room, to, data }
    this.#socket.send(JSON.stringify(message))
  }

  /** Leaves the room and closes the socket. Idempotent. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    if (this.#socket.readyState === 1) {
      const message: ClientMessage = { type: 'leave', room: this.room }
      this.#socket.send(JSON.stringify(message))
    }
    this.#socket.close(1000)
    this.emit('close', undefined)
  }

  #onMessage(message: ServerMessage | undefined): void {
    if (message === undefined) {
      this.emit(
        'error',
        new PeerjectError(
          'ERR_BAD_MESSAGE',
          'the signaling server sent a message this client does not understand; are client and server versions compatible?',
        ),
      )
      return
    }
    if ('room' in message && message.room !== this.room && message.type !== 'error') return
    switch (message.type) {
      case 'peer-joined':
        if (message.peer !== this.self) this.emit('peer-joined', message.peer as PeerId)
        return
      case 'peer-left':
        this.emit('peer-left', message.peer as PeerId)
        return
      case 'signal':
        this.emit('signal', message.from as PeerId, message.data)
        return
      case 'error':
        // The server refused a signal because its peer is not in the room (a signal crossing a
        // departure, common with churn): the same news as `peer-left`, not an error.
        if (message.code === 'ERR_PEER_LEFT' && typeof message.peer === 'string') {
          this.emit('peer-left', message.peer as PeerId)
          return
        }
        this.emit(
          'error',
          new PeerjectError(
            isErrorCode(message.code) ? message.code : 'ERR_SIGNALING',
            `signaling server: ${message.message}`,
          ),
        )
        return
      default:
        return
    }
  }

  #onClose(code: number, reason: string): void {
    if (this.#closed) return
    this.#closed = true
    this.emit(
      'close',
      new PeerjectError(
        'ERR_SIGNALING',
        `lost the signaling server (code ${code}${reason ? `: ${reason}` : ''}); open peer connections stay up, new peers cannot join until you join again`,
      ),
    )
  }
}
