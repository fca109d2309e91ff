/**
 * peerject for Node: the same `joinRoom` as in browsers, with a Node WebRTC implementation plugged
 * in. Default: node-datachannel (its binary ships inside the npm package). `@roamhq/wrtc` (the
 * maintained `wrtc`) is accepted through `joinRoom({ webrtc: 'wrtc' })` when installed.
 */
import { createMemoryStore } from './code/index.js'
import { NodeWorkerHost, createDirectoryStore } from './code/node.js'
import { join } from './join.js'
import type { JoinOptions } from './join.js'
import { loadNodePlatform } from './node-platform.js'
import type { NodeWebRtc } from './node-platform.js'
import type { Room } from './room.js'

export * from './index.js'
export { createDirectoryStore } from './code/node.js'

export type { NodeWebRtc } from './node-platform.js'

/** `joinRoom` options in Node. */
export interface NodeJoinOptions extends JoinOptions {
  /** Default `'node-datachannel'`. */
  readonly webrtc?: NodeWebRtc
}

/**
 * Joins a room from Node. Same API and events as in browsers.
 *
 * @example
 * import { joinRoom } from 'peerject/node'
 * const room = await joinRoom({ signaling: 'ws://localhost:8787', room: 'demo' })
 */
export async function joinRoom(options: NodeJoinOptions): Promise<Room> {
  const platform = await loadNodePlatform(options.webrtc)
  return join(options, {
    platform,
    codeRuntime: async (code) => {
      const host = new NodeWorkerHost({ prewarm: code.prewarm ?? false })
      return {
        host,
        // Memory unless asked: a default directory would be shared by every process on the
        // machine, and what a store holds is listed and served to this room's peers.
        store:
          code.store ??
          (code.directory === undefined
            ? createMemoryStore()
            : createDirectoryStore(code.directory)),
        close: () => host.close(),
      }
    },
  })
}
