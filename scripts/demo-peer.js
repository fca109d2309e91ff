// The demo's Node peer: joins the room, echoes text, and (with the later features) exposes a
// counter and publishes a sample code object.
import { joinRoom } from '../dist/src/node.js'

/** Joins `room` as a Node peer; returns the room. */
export async function startDemoPeer(signaling, room) {
  const joined = await joinRoom({ signaling, room })
  joined.on('message', (value, from) => {
    if (value && value.kind === 'text') {
      void from.send({ kind: 'text', text: `node peer echoes: ${value.text}` }).catch(() => {})
    }
  })
  return joined
}
