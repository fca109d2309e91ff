/** `send`'s transfer list: validation, and detaching without a copy (src/transfer.ts). */
import { describe, expect, it } from 'vitest'
import { Codec, PART_MIN_BYTES } from '../../src/codec/codec.js'
import { detachPrepared, type PreparedValue } from '../../src/peer.js'
import { detachInto, transferSet } from '../../src/transfer.js'

const codec = new Codec()

describe('transferSet', () => {
  it('accepts ArrayBuffers; refuses views, duplicates and non-arrays with ERR_UNSERIALIZABLE', () => {
    const buffer = new ArrayBuffer(8)
    expect(transferSet(undefined)).toBeUndefined()
    expect(transferSet([])).toBeUndefined()
    expect([...transferSet([buffer])!]).toEqual([buffer])
    expect(() => transferSet([new Uint8Array(buffer)])).toThrow(
      expect.objectContaining({
        code: 'ERR_UNSERIALIZABLE',
        message: expect.stringMatching(/view\.buffer/),
      }),
    )
    expect(() => transferSet([buffer, buffer])).toThrow(
      expect.objectContaining({
        code: 'ERR_UNSERIALIZABLE',
        message: expect.stringMatching(/twice/),
      }),
    )
    expect(() => transferSet([new SharedArrayBuffer(8)])).toThrow(
      expect.objectContaining({ message: expect.stringMatching(/cannot be detached/) }),
    )
    expect(() => transferSet(buffer)).toThrow(
      expect.objectContaining({ code: 'ERR_UNSERIALIZABLE' }),
    )
  })
})

describe('encodeParts with a transfer set, then detachInto', () => {
  it('leaves of transferred buffers are framed where they are; the rest are copies; all decode intact', () => {
    const moved = new Uint8Array(PART_MIN_BYTES * 2).map((_, i) => i * 7)
    const kept = new Uint8Array(PART_MIN_BYTES).map((_, i) => i * 3)
    const small = Uint8Array.of(1, 2, 3)
    const value = { moved: moved.subarray(5), kept, small }
    const transfer = transferSet([moved.buffer])!
    const parts = codec.encodeParts(value, undefined, transfer)
    const views = parts.filter((part) => part.buffer === moved.buffer)
    expect(views).toHaveLength(1) // the moved leaf, not copied
    expect(parts.some((part) => part.buffer === kept.buffer)).toBe(false) // snapshot

    const before = Uint8Array.from(moved)
    detachInto(transfer, [parts])
    expect(moved.byteLength).toBe(0) // detached: nothing can change what is sent
    expect(parts.some((part) => part.buffer === views[0]!.buffer)).toBe(false)

    const joined = new Uint8Array(parts.reduce((n, part) => n + part.byteLength, 0))
    let at = 0
    for (const part of parts) {
      joined.set(part, at)
      at += part.byteLength
    }
    const decoded = codec.decode(joined) as typeof value
    expect(decoded.moved).toEqual(before.subarray(5))
    expect(decoded.kept).toEqual(kept)
    expect(decoded.small).toEqual(small)
  })

  it('re-points the parts of several encodings (a broadcast) to one detached buffer', () => {
    const moved = new Uint8Array(PART_MIN_BYTES).fill(9)
    const transfer = transferSet([moved.buffer])!
    const first = codec.encodeParts({ moved }, undefined, transfer)
    const second = codec.encodeParts({ moved }, undefined, transfer)
    detachInto(transfer, [first, second])
    const leaf = (parts: Uint8Array[]): Uint8Array =>
      parts.find((part) => part.byteLength === PART_MIN_BYTES)!
    expect(leaf(first).buffer).toBe(leaf(second).buffer)
    expect(leaf(first).every((byte) => byte === 9)).toBe(true)
  })

  it('a buffer that cannot be detached fails with ERR_UNSERIALIZABLE and detaches none of the list', () => {
    const fine = new ArrayBuffer(16)
    const shared = new SharedArrayBuffer(16) as unknown as ArrayBuffer
    const transfer = new Set([fine, shared])
    expect(() => detachInto(transfer, [])).toThrow(
      expect.objectContaining({ code: 'ERR_UNSERIALIZABLE' }),
    )
    expect(fine.byteLength).toBe(16)
  })
})

describe('detached memory in a value', () => {
  it('a detached ArrayBuffer, typed array or DataView is ERR_UNSERIALIZABLE naming its path', () => {
    const codec = new Codec()
    const detach = (buffer: ArrayBuffer): void =>
      void structuredClone(buffer, { transfer: [buffer] })
    const buffer = new ArrayBuffer(8)
    const bytes = new Uint8Array(1024)
    const floats = new Float64Array(4)
    const view = new DataView(new ArrayBuffer(8))
    for (const memory of [buffer, bytes.buffer, floats.buffer, view.buffer]) detach(memory)
    for (const [key, value] of Object.entries({ buffer, bytes, floats, view })) {
      let error: unknown
      try {
        codec.encode({ list: [value] })
      } catch (thrown) {
        error = thrown
      }
      expect(error, key).toMatchObject({ code: 'ERR_UNSERIALIZABLE' })
      expect((error as Error).message, key).toMatch(/^value\.list\[0\] is a detached /)
    }
  })
})

describe('detachPrepared', () => {
  it('when detaching fails, the streams of the prepared values never start: sources cancelled, outputs aborted', () => {
    let cancelled: unknown
    const source = new ReadableStream<Uint8Array>({ cancel: (reason) => void (cancelled = reason) })
    const aborted: unknown[] = []
    const out = { abort: (reason: unknown) => void aborted.push(reason) }
    const prepared = {
      parts: [],
      streams: [{ source, out }],
      options: {},
    } as unknown as PreparedValue
    const unmovable = new Set([new SharedArrayBuffer(8) as unknown as ArrayBuffer])
    expect(() => detachPrepared(unmovable, [prepared])).toThrow(
      expect.objectContaining({ code: 'ERR_UNSERIALIZABLE' }),
    )
    expect(aborted).toEqual([expect.objectContaining({ code: 'ERR_UNSERIALIZABLE' })])
    expect(cancelled).toMatchObject({ code: 'ERR_UNSERIALIZABLE' })
    expect(() => detachPrepared(undefined, [prepared])).not.toThrow()
  })
})
