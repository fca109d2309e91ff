/**
 * ChannelTransport's `speaksSecond` over a fake channel: the side that received the data channel
 * sends nothing until the creator's first message (node-datachannel drops messages that reach a
 * creator before its channel is marked open; docs/architecture.md, "Connection attempts"). The same
 * over real WebRTC: every Chromium and Node test, whose accepting sides all hold their HELLO.
 */
import { describe, expect, it } from 'vitest'
import { ChannelTransport } from '../../src/transport/data-channel.js'
import type { DataChannelLike } from '../../src/transport/data-channel.js'
import { PeerjectError, isPeerjectError } from '../../src/errors.js'

function fakeChannel(): DataChannelLike & { sent: number[][] } {
  const sent: number[][] = []
  return {
    sent,
    bufferedAmount: 0,
    bufferedAmountLowThreshold: 0,
    send: (bytes: Uint8Array) => void sent.push([...bytes]),
    addEventListener: () => {},
    removeEventListener: () => {},
  } as unknown as DataChannelLike & { sent: number[][] }
}

const transportOn = (channel: DataChannelLike, speaksSecond: boolean) =>
  new ChannelTransport(channel, { maxMessageSize: 1024, closeUnderlying: () => {}, speaksSecond })

describe('ChannelTransport, speaksSecond', () => {
  it('holds sends until the first message arrives, then sends them in order, before anything later', async () => {
    const channel = fakeChannel()
    const transport = transportOn(channel, true)
    transport.listen({ message: () => {}, close: () => {} })
    const buffer = new Uint8Array([1, 2])
    let settled = false
    const first = transport.send(buffer).then(() => (settled = true))
    buffer[0] = 9 // the caller may reuse its buffer once send returned
    const second = transport.send(new Uint8Array([3]))
    await Promise.resolve()
    expect(channel.sent).toEqual([])
    expect(settled).toBe(false)
    transport.receive(new Uint8Array([0]))
    await Promise.all([first, second])
    expect(channel.sent).toEqual([[1, 2], [3]])
    await transport.send(new Uint8Array([4]))
    expect(channel.sent).toEqual([[1, 2], [3], [4]])
  })

  it('a close before the first message rejects the held sends and sends nothing', async () => {
    const channel = fakeChannel()
    const transport = transportOn(channel, true)
    transport.listen({ message: () => {}, close: () => {} })
    const held = transport.send(new Uint8Array([1]))
    transport.closed(new PeerjectError('ERR_PEER_LEFT', 'gone'))
    const error = await held.then(
      () => undefined,
      (reason: unknown) => reason,
    )
    expect(isPeerjectError(error) && error.code).toBe('ERR_CLOSED')
    transport.receive(new Uint8Array([0]))
    expect(channel.sent).toEqual([])
  })

  it('the creator (and any transport without the option) sends at once', () => {
    const channel = fakeChannel()
    const transport = transportOn(channel, false)
    void transport.send(new Uint8Array([7]))
    expect(channel.sent).toEqual([[7]])
  })
})
