/** Pure parts of the signaling server: message parsing, limits, the rate limiter (fake clock). */
import { describe, expect, it } from 'vitest'
import {
  DEFAULT_SIGNALING_LIMITS,
  parseClientMessage,
  resolveSignalingLimits,
  SIGNALING_ERROR_CODES,
  SIGNALING_PROTOCOL_VERSION,
} from '../../signaling/index.js'
import { FLOOD_WINDOW_MS, RateLimiter, TokenBucket } from '../../signaling/rate-limit.js'

describe('parseClientMessage', () => {
  it.each([
    ['{"type":"join","room":"r"}', { type: 'join', room: 'r' }],
    ['{"type":"join","room":"r","token":"t"}', { type: 'join', room: 'r', token: 't' }],
    ['{"type":"leave","room":"r"}', { type: 'leave', room: 'r' }],
    [
      '{"type":"signal","room":"r","to":"p","data":{"sdp":"x"}}',
      { type: 'signal', room: 'r', to: 'p', data: { sdp: 'x' } },
    ],
    [
      '{"type":"signal","room":"r","to":"p","data":null}',
      { type: 'signal', room: 'r', to: 'p', data: null },
    ],
  ])('accepts %s', (text, expected) => {
    expect(parseClientMessage(text)).toEqual({ ok: true, message: expected })
  })

  it('returns fresh objects holding only the protocol fields', () => {
    const result = parseClientMessage(
      '{"type":"join","room":"r","__proto__":{"admin":true},"extra":1}',
    )
    expect(result.ok).toBe(true)
    if (!result.ok) return
    expect(Object.keys(result.message)).toEqual(['type', 'room'])
    expect(Object.getPrototypeOf(result.message)).toBe(Object.prototype)
    expect((result.message as unknown as Record<string, unknown>)['admin']).toBeUndefined()
  })

  it.each([
    ['', /not valid JSON/],
    ['{', /not valid JSON/],
    ['42', /JSON object/],
    ['[]', /JSON object/],
    ['{"type":7}', /unknown message type number/],
    [`{"type":"${'x'.repeat(100)}"}`, /unknown message type "x{32}";/],
    ['{"type":"welcome","id":"x","version":1}', /unknown message type "welcome"/],
    ['{"type":"signal","room":"r","to":"","data":1}', /field "to"/],
    [`{"type":"signal","room":"r","to":"${'p'.repeat(129)}","data":1}`, /field "to"/],
  ])('refuses %j', (text, reason) => {
    const result = parseClientMessage(text)
    expect(result.ok).toBe(false)
    if (!result.ok) expect(result.reason).toMatch(reason)
  })

  it('exports the protocol constants', () => {
    expect(SIGNALING_PROTOCOL_VERSION).toBe(1)
    expect(SIGNALING_ERROR_CODES).toEqual([
      'ERR_BAD_MESSAGE',
      'ERR_TOO_LARGE',
      'ERR_RATE_LIMITED',
      'ERR_ROOM_FULL',
      'ERR_DENIED',
      'ERR_QUOTA',
      'ERR_PEER_LEFT',
    ])
  })
})

describe('resolveSignalingLimits', () => {
  it('fills in the documented defaults', () => {
    expect(resolveSignalingLimits()).toEqual({
      maxMessageBytes: 16_384,
      messagesPerSecond: 50,
      burst: 200,
      maxPeersPerRoom: 64,
      maxRoomsPerConnection: 8,
      maxRoomNameLength: 128,
      maxConnections: 10_000,
      maxBufferedBytes: 1_048_576,
    })
    expect(resolveSignalingLimits({ burst: 3 })).toEqual({ ...DEFAULT_SIGNALING_LIMITS, burst: 3 })
    expect(resolveSignalingLimits({ messagesPerSecond: 0.5 }).messagesPerSecond).toBe(0.5)
  })

  it.each([
    [{ maxPeersPerRoom: 0 }, RangeError, /maxPeersPerRoom must be a positive integer/],
    [{ burst: Number.NaN }, RangeError, /burst/],
    [{ maxMessageBytes: Infinity }, RangeError, /maxMessageBytes/],
    [{ messagesPerSecond: -1 }, RangeError, /messagesPerSecond must be a positive number/],
    [{ maxConnections: '5' as unknown as number }, RangeError, /maxConnections/],
    [{ maxPeers: 5 } as never, TypeError, /unknown signaling limit "maxPeers"/],
  ])('refuses %j', (overrides, type, message) => {
    expect(() => resolveSignalingLimits(overrides)).toThrow(type)
    expect(() => resolveSignalingLimits(overrides)).toThrow(message)
  })
})

describe('rate limiting', () => {
  it('TokenBucket admits a burst, then refills at the rate', () => {
    let now = 0
    const bucket = new TokenBucket(10, 3, () => now)
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([
      true,
      true,
      true,
      false,
    ])
    now += 100 // one token at 10/s
    expect([bucket.take(), bucket.take()]).toEqual([true, false])
    now += 10_000 // never more than the capacity
    expect(Array.from({ length: 4 }, () => bucket.take())).toEqual([true, true, true, false])
  })

  it('RateLimiter notifies at most once a second and closes after 2 × burst drops in a window', () => {
    let now = 0
    const limiter = new RateLimiter(1, 5, () => now)
    const decide = (n: number) => Array.from({ length: n }, () => limiter.admit())
    expect(decide(5)).toEqual(Array(5).fill('accept'))
    expect(decide(3)).toEqual(['drop-notify', 'drop', 'drop'])
    now += 1_000 // one new token, and a new notice is allowed
    expect(decide(3)).toEqual(['accept', 'drop-notify', 'drop'])
    // 5 drops so far; the 10th drop in the window closes.
    expect(decide(5)).toEqual(['drop', 'drop', 'drop', 'drop', 'close'])
  })

  it('RateLimiter forgets drops from an earlier window', () => {
    let now = 0
    const limiter = new RateLimiter(0.001, 2, () => now)
    limiter.admit()
    limiter.admit()
    for (let i = 0; i < 3; i++) expect(limiter.admit()).not.toBe('close')
    now += FLOOD_WINDOW_MS + 1
    for (let i = 0; i < 3; i++) expect(limiter.admit()).not.toBe('close')
    expect(limiter.admit()).toBe('close')
  })
})
