/**
 * Codec micro-benchmark: encode+decode time of peerject's codec against JSON.stringify+JSON.parse
 * over the same objects, one message per object (as RPC calls and room messages are sent).
 *
 * The JSON baseline gets the JSON-able part of each object only: the Date as the ISO string JSON
 * would send, the binary field left out. The codec carries strictly more (a real Date, a
 * Uint8Array), so the comparison does not flatter it.
 *
 * Rounds alternate codec and JSON runs and the median per-round time is reported, so a slow
 * moment on the machine hits both sides.
 */
import { Packr } from 'msgpackr'
import { Codec } from '../src/codec/index.js'

/** One result row; `npm run bench` prints and stores these. */
export interface BenchRow {
  /** What was measured. */
  name: string
  /** Measured value (milliseconds per batch). */
  value: number
  /** The baseline's value in the same unit. */
  baseline: number
  /** value ÷ baseline. */
  ratio: number
  /** The goal for the ratio, e.g. '≤ 0.4'. */
  goal: string
}

const OBJECTS = 1000
const ROUNDS = 15
const WARMUP_ROUNDS = 5

interface Mixed {
  id: number
  name: string
  email: string
  active: boolean
  score: number
  tags: string[]
  address: { street: string; city: string; zip: number }
  items: Array<{ sku: string; qty: number; price: number }>
  created: Date
  blob: Uint8Array
}

function mixed(i: number): Mixed {
  return {
    id: i,
    name: `user-${i}`,
    email: `user${i}@example.com`,
    active: i % 2 === 0,
    score: i * 1.5,
    tags: ['alpha', 'beta', `tag-${i % 7}`],
    address: { street: `${i} Main Street`, city: 'Springfield', zip: 10000 + i },
    items: [
      { sku: `A-${i}`, qty: 2, price: 9.99 },
      { sku: `B-${i}`, qty: 1, price: 19.5 },
    ],
    created: new Date(1_700_000_000_000 + i * 1000),
    blob: new Uint8Array(16).fill(i & 0xff),
  }
}

/** The part of `value` JSON can carry: the date as its ISO string, no binary. */
function jsonPart(value: Mixed): Record<string, unknown> {
  const { blob: _blob, created, ...rest } = value
  return { ...rest, created: created.toISOString() }
}

function plainPart(value: Mixed): Record<string, unknown> {
  const { blob: _blob, created: _created, ...rest } = value
  return rest
}

function timeRound(run: () => void): number {
  const start = performance.now()
  run()
  return performance.now() - start
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}

function compare(
  name: string,
  codecRun: () => void,
  jsonRun: () => void,
  goal = '≤ 0.4',
): BenchRow {
  const codecTimes: number[] = []
  const jsonTimes: number[] = []
  for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
    const c = timeRound(codecRun)
    const j = timeRound(jsonRun)
    if (round >= WARMUP_ROUNDS) {
      codecTimes.push(c)
      jsonTimes.push(j)
    }
  }
  const value = median(codecTimes)
  const baseline = median(jsonTimes)
  return { name, value, baseline, ratio: value / baseline, goal }
}

/** Runs the codec benchmark; resolves with one row per measurement. */
export async function runCodecBench(): Promise<BenchRow[]> {
  const codec = new Codec()
  const packr = new Packr({ useRecords: false, useToJSON: false, variableMapSize: true })
  const objects = Array.from({ length: OBJECTS }, (_, i) => mixed(i))
  const jsonObjects = objects.map(jsonPart)
  const plainObjects = objects.map(plainPart)
  let sink = 0
  const rows = [
    compare(
      `codec mixed objects ×${OBJECTS} (date, 16-byte binary): encode+decode ms vs JSON of the JSON-able part`,
      () => {
        for (const object of objects) sink += (codec.decode(codec.encode(object)) as Mixed).id
      },
      () => {
        for (const object of jsonObjects) {
          sink += (JSON.parse(JSON.stringify(object)) as Mixed).id
        }
      },
    ),
    compare(
      `codec plain JSON-like objects ×${OBJECTS}: encode+decode ms vs JSON`,
      () => {
        for (const object of plainObjects) sink += (codec.decode(codec.encode(object)) as Mixed).id
      },
      () => {
        for (const object of plainObjects) {
          sink += (JSON.parse(JSON.stringify(object)) as Mixed).id
        }
      },
    ),
    // Reference only: msgpackr alone (the codec's own options, no walk, no checks) is the floor
    // the codec's ratio cannot go below.
    compare(
      `reference: msgpackr alone, plain JSON-like objects ×${OBJECTS}: pack+unpack ms vs JSON`,
      () => {
        for (const object of plainObjects) sink += (packr.unpack(packr.pack(object)) as Mixed).id
      },
      () => {
        for (const object of plainObjects) {
          sink += (JSON.parse(JSON.stringify(object)) as Mixed).id
        }
      },
      'reference (no goal)',
    ),
  ]
  if (sink < 0) throw new Error('unreachable')
  return rows
}
