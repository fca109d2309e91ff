import { Codec } from '../src/codec/index.js'
const c = new Codec()
const big = new Uint8Array(32 * 1024 * 1024)
for (let r = 0; r < 4; r++) {
  let t = performance.now()
  const bytes = c.encode({ data: big })
  const e = performance.now() - t
  t = performance.now()
  const v = c.decode(bytes) as { data: Uint8Array }
  const d = performance.now() - t
  t = performance.now()
  const copy = big.slice()
  const s = performance.now() - t
  console.log(
    `encode ${e.toFixed(1)} ms (${bytes.byteLength - big.byteLength} B overhead, shares buffer: ${bytes.buffer === big.buffer}), decode ${d.toFixed(1)} ms (view: ${v.data.buffer === bytes.buffer}), one 32 MiB copy ${s.toFixed(1)} ms`,
    copy.length > 0,
  )
}
