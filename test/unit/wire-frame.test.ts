/**
 * The frame parser fed hand-built bytes: every malformed input yields a coded PeerjectError, never
 * another exception; valid frames round-trip through the encoders.
 */
import { describe, expect, test } from 'vitest'
import { PeerjectError } from '../../src/errors.js'
import type { ErrorCode } from '../../src/errors.js'
import {
  DATA_LAYOUT,
  FRAME_KIND,
  HELLO_LAYOUT,
  WIRE_VERSION,
  encodeAck,
  encodeCancel,
  encodeCredit,
  encodeError,
  encodeHello,
  encodeStreamEnd,
  encodeStreamReason,
  isFrameKind,
  writeDataHeader,
} from '../../src/wire/frame.js'
import { parseFrame } from '../../src/wire/frame-parser.js'

const HELLO = {
  maxChunkBytes: 262_144,
  maxMessageBytes: 1 << 20,
  maxReassembling: 3,
  maxReassemblyBytes: 5 << 20,
  maxStreams: 7,
  streamWindowBytes: 65_536,
}

function codeOf(bytes: number[] | Uint8Array): ErrorCode | 'no error' {
  try {
    parseFrame(bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes))
    return 'no error'
  } catch (error) {
    if (!(error instanceof PeerjectError)) throw error
    return error.code
  }
}

function data(channel: number, id: number, offset: number, total: number, payload: number[]) {
  const frame = new Uint8Array(DATA_LAYOUT.SIZE + payload.length)
  writeDataHeader(frame, channel, id, offset, total)
  frame.set(payload, DATA_LAYOUT.SIZE)
  return frame
}

describe('valid frames', () => {
  test('HELLO round-trips with the "PJW" magic and the version at fixed offsets', () => {
    const bytes = encodeHello(HELLO)
    expect(bytes.byteLength).toBe(HELLO_LAYOUT.SIZE)
    expect([...bytes.subarray(0, 6)]).toEqual([0x01, 0x50, 0x4a, 0x57, 0x00, WIRE_VERSION])
    expect(parseFrame(bytes)).toEqual({ kind: FRAME_KIND.HELLO, version: WIRE_VERSION, ...HELLO })
  })

  test('DATA, hand-built byte by byte', () => {
    const bytes = [0x02, 7, 0, 0, 0, 0, 0, 9, 0, 0, 0, 2, 0, 0, 0, 5, 0xaa, 0xbb]
    const frame = parseFrame(Uint8Array.from(bytes))
    expect(frame).toMatchObject({
      kind: FRAME_KIND.DATA,
      channel: 7,
      messageId: 9,
      offset: 2,
      total: 5,
    })
    expect(frame.kind === FRAME_KIND.DATA && [...frame.payload]).toEqual([0xaa, 0xbb])
    expect(frame).toMatchObject({ ackRequested: false })
  })

  test('DATA and STREAM_DATA with the ACK_REQUEST flag', () => {
    const data = [0x02, 7, 0x01, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 1, 0xaa]
    expect(parseFrame(Uint8Array.from(data))).toMatchObject({
      kind: FRAME_KIND.DATA,
      ackRequested: true,
    })
    const stream = [0x05, 0, 0x01, 0, 0, 0, 0, 4, 0xaa]
    expect(parseFrame(Uint8Array.from(stream))).toMatchObject({
      kind: FRAME_KIND.STREAM_DATA,
      streamId: 4,
      ackRequested: true,
    })
  })

  test('BATCH with two entries, one empty', () => {
    const bytes = [0x03, 0, 0, 2, 0, 0, 0, 2, 1, 0x10, 0x11, 0, 0, 0, 0, 2]
    const frame = parseFrame(Uint8Array.from(bytes))
    expect(frame.kind).toBe(FRAME_KIND.BATCH)
    if (frame.kind !== FRAME_KIND.BATCH) return
    expect(frame.entries.map((e) => [e.channel, [...e.bytes]])).toEqual([
      [1, [0x10, 0x11]],
      [2, []],
    ])
  })

  test('control frames round-trip', () => {
    expect(parseFrame(encodeCancel(0xfffffffe))).toEqual({
      kind: FRAME_KIND.CANCEL,
      messageId: 0xfffffffe,
    })
    expect(parseFrame(encodeStreamEnd(3))).toEqual({ kind: FRAME_KIND.STREAM_END, streamId: 3 })
    expect(parseFrame(encodeCredit(3, 4096))).toEqual({
      kind: FRAME_KIND.STREAM_CREDIT,
      streamId: 3,
      credit: 4096,
    })
    const reason = { code: 'ERR_ABORTED', message: 'stopped — ünïcode' }
    expect(parseFrame(encodeStreamReason(FRAME_KIND.STREAM_CANCEL, 4, reason))).toEqual({
      kind: FRAME_KIND.STREAM_CANCEL,
      streamId: 4,
      ...reason,
    })
    expect(parseFrame(encodeError(reason))).toEqual({ kind: FRAME_KIND.ERROR, ...reason })
    expect([...encodeAck(0x01020304)]).toEqual([0x0b, 0, 0, 0, 1, 2, 3, 4])
    expect(parseFrame(encodeAck(0xffffffff))).toEqual({ kind: FRAME_KIND.ACK, bytes: 0xffffffff })
  })

  test('a long reason is cut to 1024 bytes at a character boundary', () => {
    const frame = parseFrame(encodeError({ code: 'ERR_QUOTA', message: '€'.repeat(2000) }))
    expect(frame.kind === FRAME_KIND.ERROR && frame.message).toBe('€'.repeat(341))
  })

  test('isFrameKind', () => {
    expect([0, 1, 10, 11, 12, 255, 1.5].map(isFrameKind)).toEqual([
      false,
      true,
      true,
      true,
      false,
      false,
      false,
    ])
  })
})

describe('malformed frames yield coded errors', () => {
  const cases: Array<[string, number[] | Uint8Array, ErrorCode]> = [
    ['empty', [], 'ERR_BAD_MESSAGE'],
    ['kind 0x00', [0x00, 0, 0, 0], 'ERR_BAD_MESSAGE'],
    ['unknown kind 0x0c', [0x0c, 0, 0, 0, 0, 0, 0, 0], 'ERR_BAD_MESSAGE'],
    ['ACK of 0 bytes', [0x0b, 0, 0, 0, 0, 0, 0, 0], 'ERR_BAD_MESSAGE'],
    ['ACK of the wrong size', [0x0b, 0, 0, 0, 0, 0, 1], 'ERR_BAD_MESSAGE'],
    ['ACK with a non-zero reserved byte', [0x0b, 0, 1, 0, 0, 0, 0, 1], 'ERR_BAD_MESSAGE'],
    ['unknown kind 0xff', [0xff], 'ERR_BAD_MESSAGE'],
    [
      'DATA shorter than its header',
      [0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      'ERR_BAD_MESSAGE',
    ],
    ['DATA chunk overrunning its total', data(0, 1, 4, 5, [1, 2]), 'ERR_BAD_MESSAGE'],
    [
      'DATA with a non-zero reserved byte',
      [0x02, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      'ERR_BAD_MESSAGE',
    ],
    [
      'DATA with an unknown flag',
      [0x02, 0, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xaa],
      'ERR_BAD_MESSAGE',
    ],
    ['STREAM_DATA with an unknown flag', [0x05, 0, 0x80, 0, 0, 0, 0, 1, 0xaa], 'ERR_BAD_MESSAGE'],
    [
      'STREAM_DATA with a non-zero reserved byte',
      [0x05, 0, 0, 1, 0, 0, 0, 1, 0xaa],
      'ERR_BAD_MESSAGE',
    ],
    ['STREAM_END with the ACK_REQUEST bit', [0x06, 0, 1, 0, 0, 0, 0, 1], 'ERR_BAD_MESSAGE'],
    ['BATCH with no entries', [0x03, 0, 0, 0], 'ERR_BAD_MESSAGE'],
    ['BATCH shorter than its header', [0x03, 0, 0], 'ERR_BAD_MESSAGE'],
    ['BATCH count above its entries', [0x03, 0, 0, 2, 0, 0, 0, 1, 0, 0xaa], 'ERR_BAD_MESSAGE'],
    ['BATCH entry overrunning the frame', [0x03, 0, 0, 1, 0, 0, 0, 9, 0, 0xaa], 'ERR_BAD_MESSAGE'],
    [
      'BATCH entry length near 2^32',
      [0x03, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0, 0xaa],
      'ERR_BAD_MESSAGE',
    ],
    ['BATCH with trailing bytes', [0x03, 0, 0, 1, 0, 0, 0, 1, 0, 0xaa, 0xbb], 'ERR_BAD_MESSAGE'],
    ['CANCEL of the wrong size', [0x04, 0, 0, 0, 0, 0, 0, 1, 0], 'ERR_BAD_MESSAGE'],
    ['STREAM_DATA without payload', [0x05, 0, 0, 0, 0, 0, 0, 1], 'ERR_BAD_MESSAGE'],
    ['STREAM_END of the wrong size', [0x06, 0, 0, 0, 0, 0, 0], 'ERR_BAD_MESSAGE'],
    ['STREAM_CREDIT of 0 bytes', [0x07, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0], 'ERR_BAD_MESSAGE'],
    ['STREAM_ABORT without a reason', [0x08, 0, 0, 0, 0, 0, 0, 1], 'ERR_BAD_MESSAGE'],
    ['reason code with lowercase', [0x0a, 0, 0, 0, 2, 0x45, 0x72, 0, 0], 'ERR_BAD_MESSAGE'],
    ['reason code of length 0', [0x0a, 0, 0, 0, 0, 0, 0], 'ERR_BAD_MESSAGE'],
    ['reason message length mismatch', [0x0a, 0, 0, 0, 1, 0x45, 0, 5, 0x61], 'ERR_BAD_MESSAGE'],
    ['HELLO without magic', [0x01, 0x50, 0x4a, 0x58, 0, 1], 'ERR_BAD_MESSAGE'],
    ['HELLO cut after the magic', [0x01, 0x50, 0x4a, 0x57, 0], 'ERR_BAD_MESSAGE'],
    ['HELLO of version 3 but short', encodeHello(HELLO).subarray(0, 31), 'ERR_BAD_MESSAGE'],
    ['HELLO of version 3 but long', Uint8Array.from([...encodeHello(HELLO), 0]), 'ERR_BAD_MESSAGE'],
    ['HELLO of version 1 (before ACK frames)', encodeHello(HELLO, 1), 'ERR_VERSION'],
    ['HELLO of version 2 (before ACK requests)', encodeHello(HELLO, 2), 'ERR_VERSION'],
    ['HELLO of version 4', encodeHello(HELLO, 4), 'ERR_VERSION'],
    [
      'HELLO of version 4, longer layout',
      Uint8Array.from([...encodeHello(HELLO, 4), 1, 2, 3]),
      'ERR_VERSION',
    ],
  ]
  test.each(cases)('%s', (_name, bytes, code) => {
    expect(codeOf(bytes)).toBe(code)
  })

  test('ERR_VERSION names both versions', () => {
    expect(() => parseFrame(encodeHello(HELLO, 7))).toThrow(/version 7.*version 3/)
  })

  test('every truncation of a valid frame is refused or still consistent', () => {
    const frames = [
      encodeHello(HELLO),
      data(1, 2, 0, 3, [1, 2, 3]),
      Uint8Array.from([0x03, 0, 0, 2, 0, 0, 0, 1, 0, 9, 0, 0, 0, 0, 1]),
      encodeCredit(1, 5),
      encodeError({ code: 'ERR_DENIED', message: 'no' }),
    ]
    for (const frame of frames) {
      for (let length = 0; length < frame.byteLength; length++) {
        const code = codeOf(frame.subarray(0, length))
        // A DATA prefix with a shorter payload is still a valid (partial) chunk.
        if (frame[0] === FRAME_KIND.DATA && length >= DATA_LAYOUT.SIZE)
          expect(code).toBe('no error')
        else expect(code).toBe('ERR_BAD_MESSAGE')
      }
    }
  })
})
