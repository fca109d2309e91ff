/** Starts the real signaling server on an ephemeral port for one test file. */
import { createSignalingServer } from '../../signaling/index.js'
import type { SignalingServer, SignalingServerOptions } from '../../signaling/index.js'

/** A signaling server on 127.0.0.1, port 0. */
export function startSignaling(options: SignalingServerOptions = {}): Promise<SignalingServer> {
  return createSignalingServer({ host: '127.0.0.1', port: 0, ...options })
}
