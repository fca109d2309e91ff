/**
 * The Node↔Node environment: both sides in this process, node-datachannel, the real signaling
 * server (started by the caller on port 0).
 */
import { randomUUID } from 'node:crypto'

import { joinRoom } from '../src/node.js'
import type { PeerJsServerOptions, Room } from '../src/node.js'
import { loadNodePlatform } from '../src/node-platform.js'
import type { Platform } from '../src/platform.js'
import type { Env } from './env.js'
import { localHandle, pair } from './env.js'
import { BenchSide } from './side.js'

/** The platform `joinRoom` builds for node-datachannel: the raw baseline runs on the same one. */
export function nodePlatform(): Promise<Platform> {
  return loadNodePlatform('node-datachannel')
}

/**
 * Two Node sides in one room: through the signaling server, or, with `peerjs`, through a
 * PeerServer and the PeerJS adapter (the raw link still goes through the signaling server).
 */
export async function startNodeEnv(signaling: string, peerjs?: PeerJsServerOptions): Promise<Env> {
  const platform = await nodePlatform()
  const room = `bench-${randomUUID()}`
  const join =
    peerjs === undefined
      ? joinRoom
      : (options: { room: string }): Promise<Room> => joinRoom({ room: options.room, peerjs })
  const options = { joinRoom: join, platform, signaling, room }
  const sideA = await BenchSide.create(options)
  const sideB = await BenchSide.create(options).catch((error: unknown) => {
    sideA.close()
    throw error
  })
  const a = localHandle(sideA)
  const b = localHandle(sideB)
  try {
    const info = await pair(a, b)
    return {
      name: peerjs === undefined ? 'Node↔Node' : 'Node↔Node over the PeerJS adapter',
      a,
      b,
      info,
      async close() {
        sideA.close()
        sideB.close()
      },
    }
  } catch (error) {
    sideA.close()
    sideB.close()
    throw error
  }
}
