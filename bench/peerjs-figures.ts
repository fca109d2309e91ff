/**
 * Issue 6 figures: peerject over its PeerJS adapter ÷ over its default adapter (Node↔Node), and
 * peerject ÷ PeerJS's own `binary` serialization (Chromium↔Chromium, PeerJS in the pages as a
 * PeerJS app uses it). Both use a real PeerServer (npm `peer`) on port 0.
 */
import type { Page } from 'playwright-core'

import type { RunningPeerServer } from '../test/helpers/peer-server.js'
import { pageHandle } from './browser-env.js'
import type { Env } from './env.js'
import { pair } from './env.js'
import type { Figure } from './figures.js'
import { ISSUE, alternate, transfer } from './figures.js'
import type { Goal } from './report.js'
import { MiB, median, mibPerSecond, pairedRatio } from './stats.js'

/** What the Issue 6 Node figure needs: the default environment and one over the PeerJS adapter. */
export interface AdapterEnvs {
  readonly viaDefault: Env
  readonly viaPeerJs: Env
}

const fmt = (values: readonly number[]): string => values.map((v) => v.toFixed(0)).join(', ')

/** peerject bulk throughput over the PeerJS adapter ÷ over the default adapter. */
export function adapterFigure(label: string, total: number, reps: number): Figure<AdapterEnvs> {
  const name = `bulk ${total / MiB} MiB throughput over the PeerJS adapter ÷ default adapter, ${label}`
  const goal: Goal = { op: '≥', value: 0.9 }
  return {
    rows: [{ issue: ISSUE.peerjs, name, goal }],
    async run({ viaDefault, viaPeerJs }) {
      await transfer(viaPeerJs, 'peerject', 8 * MiB)
      await transfer(viaDefault, 'peerject', 8 * MiB)
      const [peerjs, direct] = await alternate(
        reps,
        () => transfer(viaPeerJs, 'peerject', total),
        () => transfer(viaDefault, 'peerject', total),
      )
      const peerject = mibPerSecond(total, median(peerjs))
      const baseline = mibPerSecond(total, median(direct))
      return [
        {
          issue: ISSUE.peerjs,
          name,
          unit: 'MiB/s',
          peerject,
          baseline,
          ratio: pairedRatio(direct, peerjs),
          goal,
          note:
            `peer.send({ data: Uint8Array(${total / MiB} MiB) }) in a room joined with joinRoom({ peerjs }) ` +
            `(real PeerServer, PeerJS DataConnection, serialization 'raw') vs in a room joined through the ` +
            `signaling server (simple-peer), same two peers' processes. ${reps} alternating reps, ms PeerJS ` +
            `adapter [${fmt(peerjs)}], default [${fmt(direct)}].`,
        },
      ]
    },
  }
}

/**
 * {@link adapterFigure} in Chromium: the figure joins a second pair of rooms through the PeerJS
 * adapter in the same two pages (a PeerServer started for it) and compares with the default one.
 */
export function browserAdapterFigure(
  total: number,
  reps: number,
  startServer: () => Promise<RunningPeerServer>,
): Figure<BrowserPeerJsEnv> {
  const inner = adapterFigure('Chromium↔Chromium', total, reps)
  return {
    rows: inner.rows,
    async run(env) {
      const server = await startServer()
      const address = { host: '127.0.0.1', port: server.port, path: server.path, key: server.key }
      const room = `bench-peerjs-${crypto.randomUUID()}`
      try {
        await Promise.all(
          env.pages.map((page) =>
            page.evaluate(
              `window.bench.start('peerjs', ${JSON.stringify(env.signaling)}, ${JSON.stringify(room)}, ${JSON.stringify(address)})`,
            ),
          ),
        )
        const a = pageHandle(env.pages[0], 'peerjs')
        const b = pageHandle(env.pages[1], 'peerjs')
        const info = await pair(a, b)
        const viaPeerJs: Env = {
          name: 'Chromium↔Chromium (PeerJS adapter)',
          a,
          b,
          info,
          close: async () => undefined,
        }
        return await inner.run({ viaDefault: env, viaPeerJs })
      } finally {
        await Promise.all(
          env.pages.map((page) =>
            page.evaluate(`window.bench.sides.peerjs?.close()`).catch(() => undefined),
          ),
        )
        await server.close()
      }
    },
  }
}

/** What the Chromium PeerJS figure needs. */
export interface BrowserPeerJsEnv extends Env {
  readonly pages: readonly [Page, Page]
  /** The signaling server's URL (raw links of extra sides go through it). */
  readonly signaling: string
}

async function peerJsTransfer(pages: readonly [Page, Page], total: number): Promise<number> {
  const [a, b] = pages
  await b.evaluate(`window.bench.peerjs.arm(${total})`)
  const started = (await a.evaluate(`window.bench.peerjs.send(${total})`)) as number
  const ended = (await b.evaluate('window.bench.peerjs.result()')) as number
  return ended - started
}

/**
 * peerject's bulk throughput ÷ PeerJS's own (`binary` serialization), Chromium↔Chromium.
 * `startServer` starts a PeerServer (closed again before returning).
 */
export function peerJsBinaryFigure(
  total: number,
  reps: number,
  startServer: () => Promise<RunningPeerServer>,
): Figure<BrowserPeerJsEnv> {
  const name = `bulk ${total / MiB} MiB throughput, peerject ÷ PeerJS 'binary' serialization, Chromium↔Chromium`
  const goal: Goal = { op: '≥', value: 5 }
  return {
    rows: [{ issue: ISSUE.peerjs, name, goal }],
    async run(env) {
      const server = await startServer()
      const [a, b] = env.pages
      try {
        const address = { host: '127.0.0.1', port: server.port, path: server.path, key: server.key }
        const [, idB] = (await Promise.all([
          a.evaluate(`window.bench.startPeerJs(${JSON.stringify(address)})`),
          b.evaluate(`window.bench.startPeerJs(${JSON.stringify(address)})`),
        ])) as [string, string]
        await Promise.all([
          a.evaluate(`window.bench.peerjs.dial(${JSON.stringify(idB)})`),
          b.evaluate('window.bench.peerjs.accept()'),
        ])
        // Full-size warm-ups: a connection's first large burst is much slower (seen: 5.8 s vs 1.3 s).
        await peerJsTransfer(env.pages, total)
        await transfer(env, 'peerject', total)
        const [pj, peerjs] = await alternate(
          reps,
          () => transfer(env, 'peerject', total),
          () => peerJsTransfer(env.pages, total),
        )
        const peerject = mibPerSecond(total, median(pj))
        const baseline = mibPerSecond(total, median(peerjs))
        return [
          {
            issue: ISSUE.peerjs,
            name,
            unit: 'MiB/s',
            peerject,
            baseline,
            ratio: pairedRatio(peerjs, pj),
            goal,
            note:
              `The same two pages: peerject peer.send({ data: Uint8Array(${total / MiB} MiB) }) (default ` +
              `adapter) until the receiving room's 'message', vs PeerJS 1.5 used directly — ` +
              `peer.connect(id, { serialization: 'binary', reliable: true }), conn.send(Uint8Array(${total / MiB} MiB)) ` +
              `as one value (PeerJS cuts it into 16,300-byte BinaryPack chunks itself) until the receiver's ` +
              `'data' event. Real PeerServer. ${reps} alternating reps, ms peerject [${fmt(pj)}], ` +
              `PeerJS [${fmt(peerjs)}].`,
          },
        ]
      } finally {
        await Promise.all(
          env.pages.map((page) =>
            page.evaluate('window.bench.peerjs?.close()').catch(() => undefined),
          ),
        )
        await server.close()
      }
    },
  }
}
