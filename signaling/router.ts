/**
 * What the server does with each validated client message, and with a connection that goes away.
 * Contract: a signal reaches only the named peer, only through a room both peers are in.
 */
import type { Admission } from './auth.js'
import type { Connection, Log } from './connection.js'
import type { SignalingLimits } from './limits.js'
import type { ClientMessage, ClientSignalMessage, JoinMessage } from './protocol.js'
import type { Rooms } from './rooms.js'

/** What the handlers need from the server. */
export interface RouterContext {
  readonly rooms: Rooms
  readonly limits: SignalingLimits
  readonly admission: Admission | undefined
  readonly log: Log
}

/** Handles one message; returns a promise only while a join awaits its token check. */
export function route(
  context: RouterContext,
  connection: Connection,
  message: ClientMessage,
): void | Promise<void> {
  if (!connection.open) return
  switch (message.type) {
    case 'join':
      return join(context, connection, message)
    case 'leave':
      return leave(context, connection, message.room)
    case 'signal':
      return signal(context, connection, message)
  }
}

/** Removes a closed connection from all its rooms, telling the peers left behind. */
export function disconnect(context: RouterContext, connection: Connection): void {
  connection.markDisconnected()
  for (const room of [...connection.rooms]) leave(context, connection, room)
}

function join(
  context: RouterContext,
  connection: Connection,
  { room, token }: JoinMessage,
): void | Promise<void> {
  const { limits } = context
  if (room.length > limits.maxRoomNameLength) {
    return connection.sendError(
      'ERR_BAD_MESSAGE',
      `room name of ${room.length} characters exceeds maxRoomNameLength (${limits.maxRoomNameLength}); use a shorter room name`,
      room,
    )
  }
  if (connection.rooms.has(room)) {
    // Joining twice is harmless: answer with the current member list again.
    return connection.send({ type: 'joined', room, peers: others(context, room, connection) })
  }
  if (connection.rooms.size >= limits.maxRoomsPerConnection) {
    return connection.sendError(
      'ERR_QUOTA',
      `this connection is already in ${connection.rooms.size} rooms (maxRoomsPerConnection); leave one before joining another`,
      room,
    )
  }
  if (!refuseIfFull(context, connection, room)) return
  if (context.admission === undefined) return enter(context, connection, room)
  return context.admission(token, room).then((result) => {
    if (!connection.open) return
    if (!result.ok) {
      if (result.error !== undefined) {
        context.log({ type: 'verify-error', peer: connection.id, room, error: result.error })
      }
      return connection.sendError(
        'ERR_DENIED',
        `cannot join room ${quote(room)}: ${result.reason}; get a valid token for this room and join again`,
        room,
      )
    }
    // The room may have filled up while the token was being checked.
    if (refuseIfFull(context, connection, room)) enter(context, connection, room)
  })
}

/** Returns true when `room` has space; otherwise sends ERR_ROOM_FULL and returns false. */
function refuseIfFull(context: RouterContext, connection: Connection, room: string): boolean {
  const max = context.limits.maxPeersPerRoom
  if (context.rooms.members(room).size < max) return true
  connection.sendError(
    'ERR_ROOM_FULL',
    `room ${quote(room)} is full (maxPeersPerRoom ${max}); try again when a peer leaves, or use another room`,
    room,
  )
  return false
}

function enter(context: RouterContext, connection: Connection, room: string): void {
  const peers = others(context, room, connection)
  context.rooms.add(room, connection)
  connection.send({ type: 'joined', room, peers })
  for (const member of context.rooms.members(room).values()) {
    if (member !== connection) member.send({ type: 'peer-joined', room, peer: connection.id })
  }
  context.log({ type: 'join', peer: connection.id, room })
}

function leave(context: RouterContext, connection: Connection, room: string): void {
  if (!context.rooms.remove(room, connection)) return
  for (const member of context.rooms.members(room).values()) {
    member.send({ type: 'peer-left', room, peer: connection.id })
  }
  context.log({ type: 'leave', peer: connection.id, room })
}

function signal(
  context: RouterContext,
  connection: Connection,
  message: ClientSignalMessage,
): void {
  const { room, to, data } = message
  if (!connection.rooms.has(room)) {
    return connection.sendError(
      'ERR_BAD_MESSAGE',
      `not in room ${quote(room)}; join it before sending signals there`,
      room,
    )
  }
  if (to === connection.id) {
    return connection.sendError('ERR_BAD_MESSAGE', 'a peer cannot signal itself', room)
  }
  const target = context.rooms.members(room).get(to)
  if (target === undefined) {
    // Usually a race, not a fault: the peer left while this signal was on its way.
    return connection.sendError(
      'ERR_PEER_LEFT',
      `peer ${quote(to)} is not in room ${quote(room)} (it left, or never joined); signal only peers listed in "joined" or "peer-joined"`,
      room,
      to,
    )
  }
  if (!target.relay({ type: 'signal', room, from: connection.id, data })) {
    connection.sendError(
      'ERR_RATE_LIMITED',
      `signal dropped: peer ${quote(to)} is not reading fast enough to take more now; send fewer or smaller signals`,
      room,
      to,
    )
  }
}

function others(context: RouterContext, room: string, connection: Connection): string[] {
  return [...context.rooms.members(room).keys()].filter((id) => id !== connection.id)
}

/** Quotes a client-chosen name for an error message, cut to 64 characters. */
function quote(name: string): string {
  return JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}…` : name)
}
