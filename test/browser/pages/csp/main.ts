/**
 * Entry of the CSP test page (test/browser/csp.test.ts): built by `vite build` and served with
 * `Content-Security-Policy: script-src 'self'`. Runs the whole codec round-trip table through the
 * production build, and joins a room to exchange values (a registered class included) with a Node
 * peer, and runs a code object a Node peer publishes. `window.cspTest` is what the test drives.
 */
import { ClassRegistry, joinRoom } from '../../../../src/index.js'
import type { CodeId, Peer, Room } from '../../../../src/index.js'
import { Codec } from '../../../../src/codec/index.js'
import { assertSameValue, codecCaseClasses, codecCases } from '../../../unit/codec-cases.js'

/** Registered under the same explicit name on the Node side (minifiers rename classes). */
class CspPoint {
  constructor(
    public x: number,
    public y: number,
  ) {}
  norm(): number {
    return Math.hypot(this.x, this.y)
  }
}

function runCodecTable(): { count: number; failures: string[] } {
  const codec = new Codec({ classes: codecCaseClasses() })
  const failures: string[] = []
  const cases = codecCases()
  for (const c of cases) {
    try {
      const original = c.value()
      const decoded = codec.decode(codec.encode(original))
      ;(c.check ?? assertSameValue)(decoded, original)
    } catch (error) {
      failures.push(`${c.name}: ${error instanceof Error ? error.message : String(error)}`)
    }
  }
  return { count: cases.length, failures }
}

let room: Room | undefined

/** The peer `id` of `joined`, once it is connected. */
function peerOf(joined: Room, id: string): Promise<Peer> {
  const known = joined.peers.get(id)
  if (known !== undefined) return Promise.resolve(known)
  return new Promise((resolve) => {
    const off = joined.on('peer', (peer) => {
      if (peer.id !== id) return
      off()
      resolve(peer)
    })
  })
}

/** Joins `name`, waits for `nodeId`, sends it a value and reports what comes back. */
async function exchange(signaling: string, name: string, nodeId: string): Promise<unknown> {
  const classes = new ClassRegistry()
  classes.register(CspPoint, { name: 'csp.Point' })
  room = await joinRoom({ signaling, room: name, classes })
  const joined = room
  const peer = await peerOf(joined, nodeId)
  const reply = new Promise<unknown>((resolve) => joined.once('message', (value) => resolve(value)))
  await peer.send({
    point: new CspPoint(3, 4),
    map: new Map<unknown, unknown>([[1n << 70n, new Date(0)]]),
    bytes: new Float64Array([Math.PI]),
  })
  const value = (await reply) as { point: unknown; echo: unknown }
  return {
    isPoint: value.point instanceof CspPoint,
    norm: value.point instanceof CspPoint ? value.point.norm() : undefined,
    echo: value.echo,
  }
}

/**
 * Joins `name`, fetches code object `id` from `nodeId` and runs it: resolves with what its `run()`
 * returns, or with the error code run() rejected with.
 */
async function runCode(
  signaling: string,
  name: string,
  nodeId: string,
  id: string,
): Promise<{ result?: unknown; code?: string | undefined; message?: string | undefined }> {
  const joined = await joinRoom({ signaling, room: name })
  try {
    const peer = await peerOf(joined, nodeId)
    const running = await peer.code.run<{ run(): string }>(id as CodeId, { timeoutMs: 10_000 })
    try {
      return { result: await running.run() }
    } finally {
      running.dispose()
    }
  } catch (error) {
    const { code, message } = error as { code?: string; message?: string }
    return { code, message }
  } finally {
    joined.leave()
  }
}

/** The positive control: proves the policy is enforced and violations are seen. */
function tryDynamicCode(): { functionRefused: boolean; evalRefused: boolean } {
  const refused = (run: () => unknown): boolean => {
    try {
      run()
      return false
    } catch (error) {
      return error instanceof EvalError
    }
  }
  return {
    functionRefused: refused(() => new Function('return 1')),
    evalRefused: refused(() => (0, eval)('1')),
  }
}

declare global {
  interface Window {
    cspTest: {
      runCodecTable: typeof runCodecTable
      exchange: typeof exchange
      runCode: typeof runCode
      tryDynamicCode: typeof tryDynamicCode
      leave(): void
    }
  }
}

window.cspTest = { runCodecTable, exchange, runCode, tryDynamicCode, leave: () => room?.leave() }
