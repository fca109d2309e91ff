// The demo's Node peer: joins the room, says it is the Node peer, echoes text, reads files sent
// to it (and says how many bytes arrived), and publishes a sample code object (with a dependency)
// that the demo page's code panel lists and runs. Code objects are kept in memory, so every start
// serves exactly the sample.
import { createMemoryStore, joinRoom } from '../dist/src/node.js'

/** A dependency: code objects import each other by id, never by name. */
export const SAMPLE_DEPENDENCY = `/** Formats a greeting. */
export function greeting(name) {
  return 'Hello, ' + name + '!'
}
`

/**
 * The sample: imports its dependency by id and exports `run()`, which the demo's Run button calls.
 * @param {string} dependencyId
 */
export function sampleSource(dependencyId) {
  return `import { greeting } from 'peerject:${dependencyId}'

/** Called by the demo page's Run button; runs in an isolated worker on the page. */
export function run() {
  const primes = []
  for (let n = 2; primes.length < 5; n++) if (primes.every((p) => n % p !== 0)) primes.push(n)
  return greeting('from the Node peer') + ' The first primes: ' + primes.join(', ') + '.'
}
`
}

/** What the sample's `run()` returns. */
export const SAMPLE_RESULT = 'Hello, from the Node peer! The first primes: 2, 3, 5, 7, 11.'

/**
 * Reads a file's stream to its end and tells the sender how many bytes arrived.
 * @param {{ name: string, body: ReadableStream<Uint8Array> }} file
 * @param {import('../dist/src/node.js').Peer} from
 * @param {(peer: import('../dist/src/node.js').Peer, text: string) => void} reply
 */
async function receiveFile(file, from, reply) {
  let bytes = 0
  try {
    for await (const chunk of file.body) bytes += chunk.byteLength
    reply(from, `node peer received ${file.name} (${bytes} bytes)`)
  } catch {
    // The sender cancelled or left: nothing to say.
  }
}

/**
 * Joins `room` as a Node peer and publishes the sample; returns the room. `shared` objects (the
 * demo's counter and board, see demo/shared-objects.ts) are exposed by name when given.
 * @param {string} signaling
 * @param {string} room
 * @param {Record<string, object>} [shared]
 */
export async function startDemoPeer(signaling, room, shared = {}) {
  const joined = await joinRoom({ signaling, room, code: { store: createMemoryStore() } })
  for (const [name, object] of Object.entries(shared)) joined.expose(name, object)
  const reply = (peer, text) => void peer.send({ kind: 'text', text }).catch(() => {})
  joined.on('peer', (peer) => void peer.send({ kind: 'hello', role: 'node' }).catch(() => {}))
  joined.on('message', (value, from) => {
    if (value && value.kind === 'text') reply(from, `node peer echoes: ${value.text}`)
    // A file's body is a stream: read it to the end (a stream nobody reads holds its sender).
    if (value && value.kind === 'file') void receiveFile(value, from, reply)
  })
  const dependency = await joined.code.publish(SAMPLE_DEPENDENCY, {
    name: 'greeting',
    version: '1.0.0',
    description: 'a dependency of the sample',
  })
  await joined.code.publish(sampleSource(dependency), {
    name: 'sample',
    version: '1.0.0',
    description: "the demo Node peer's sample: run() returns a greeting and five primes",
    dependencies: [dependency],
  })
  // Pages that connected before the sample existed refresh their code panel on this message.
  await joined.broadcast({ kind: 'code-published' }).catch(() => {})
  return joined
}
