/**
 * The endpoints between Comlink and a port, driven by hand-built Comlink messages: what the
 * capability gate lets through, and how the call guard settles requests.
 */
import * as Comlink from 'comlink'
import { describe, expect, test } from 'vitest'

import { CallGuard, CapabilityGate } from '../../src/code/endpoints.js'
import { PeerjectError } from '../../src/errors.js'

/** The worker's side of a gate: sends raw Comlink requests and collects the answers by id. */
function gated(capabilities: object) {
  const { port1, port2 } = new MessageChannel()
  const gate = new CapabilityGate(port1)
  Comlink.expose(capabilities, gate)
  const answers = new Map<string, (data: unknown) => void>()
  port2.onmessage = (event: MessageEvent<{ id: string }>) =>
    answers.get(event.data.id)?.(event.data)
  let next = 0
  const ask = (request: Record<string, unknown>): Promise<unknown> => {
    const id = `r${++next}`
    return new Promise((resolve) => {
      answers.set(id, resolve)
      port2.postMessage({ id, ...request })
    })
  }
  const close = (): void => {
    gate.close()
    port2.close()
  }
  return { ask, close }
}

const refused = (message: string | RegExp) =>
  expect.objectContaining({
    type: 'HANDLER',
    name: 'throw',
    value: expect.objectContaining({
      value: expect.objectContaining({ message: expect.stringMatching(message) }),
    }),
  })

describe('CapabilityGate', () => {
  test('lets GET and APPLY of plain paths with plain arguments through', async () => {
    const calls: unknown[] = []
    const { ask, close } = gated({ version: 3, log: (...args: unknown[]) => calls.push(args) })
    expect(await ask({ type: 'GET', path: ['version'] })).toMatchObject({ type: 'RAW', value: 3 })
    await ask({ type: 'APPLY', path: ['log'], argumentList: [{ type: 'RAW', value: 'hi' }] })
    expect(calls).toEqual([['hi']])
    close()
  })

  test('refuses SET, CONSTRUCT, ENDPOINT, forbidden names and non-plain arguments', async () => {
    const target = { log: () => 1, nested: { value: 1 } }
    const { ask, close } = gated(target)
    expect(
      await ask({ type: 'SET', path: ['__proto__', 'polluted'], value: { type: 'RAW', value: 1 } }),
    ).toEqual(refused(/SET is not allowed/))
    expect(await ask({ type: 'CONSTRUCT', path: ['log'], argumentList: [] })).toEqual(
      refused(/CONSTRUCT/),
    )
    expect(await ask({ type: 'ENDPOINT' })).toEqual(refused(/ENDPOINT/))
    for (const name of ['__proto__', 'constructor', 'prototype', '_hidden']) {
      expect(await ask({ type: 'GET', path: ['nested', name] })).toEqual(
        refused(`'${name}' is not reachable`),
      )
    }
    expect(
      await ask({
        type: 'APPLY',
        path: ['log'],
        argumentList: [{ type: 'HANDLER', name: 'throw', value: {} }],
      }),
    ).toEqual(refused(/plain values/))
    expect(await ask({ type: 'APPLY', path: ['log'], argumentList: 'x' })).toEqual(
      refused(/malformed/),
    )
    expect(await ask({ type: 'GET', path: 'log' })).toEqual(refused(/malformed/))
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined()
    close()
  })
})

describe('CallGuard', () => {
  test('times a request out, then settles everything pending and later with the given errors', async () => {
    const { port1, port2 } = new MessageChannel()
    let timedOut = 0
    const busy: boolean[] = []
    const guard: CallGuard = new CallGuard(port1, {
      timeoutMs: 50,
      onTimeout: () => {
        timedOut++
        guard.close(
          new PeerjectError('ERR_TIMEOUT', 'too slow'),
          new PeerjectError('ERR_CLOSED', 'gone'),
        )
      },
      onBusy: (value) => busy.push(value),
    })
    port2.onmessage = (event: MessageEvent<{ id: string; path: string[] }>) => {
      if (event.data.path[0] === 'fast')
        port2.postMessage({ id: event.data.id, type: 'RAW', value: 'done' })
    }
    const remote = Comlink.wrap<{ fast(): string; slow(): string }>(guard)
    expect(await remote.fast()).toBe('done')
    const slow = remote.slow()
    const alsoSlow = remote.slow()
    await expect(slow).rejects.toMatchObject({ code: 'ERR_TIMEOUT' })
    await expect(alsoSlow).rejects.toMatchObject({ code: 'ERR_TIMEOUT' })
    await expect(remote.fast()).rejects.toMatchObject({ code: 'ERR_CLOSED' })
    expect(timedOut).toBe(1)
    expect(guard.pending).toBe(0)
    expect(busy).toEqual([true, false, true, false])
    port2.close()
  })

  test('live objects cross in neither direction: proxies, functions, new and endpoints', async () => {
    const { port1, port2 } = new MessageChannel()
    const guard = new CallGuard(port1, { timeoutMs: 5000, onTimeout: () => undefined })
    const seen: unknown[] = []
    port2.onmessage = (event: MessageEvent<{ id: string; path: string[] }>) => {
      seen.push(event.data)
      // A worker forging an answer that carries a proxy on a port of its own.
      const { port1: forged } = new MessageChannel()
      port2.postMessage({ id: event.data.id, type: 'HANDLER', name: 'proxy', value: forged }, [
        forged,
      ])
    }
    const remote = Comlink.wrap<{
      call(cb: unknown): unknown
      Box: new () => unknown
      item: unknown
    }>(guard)
    await expect(remote.call(Comlink.proxy(() => 1))).rejects.toMatchObject({
      code: 'ERR_UNSERIALIZABLE',
      message: expect.stringMatching(/cannot be given functions or proxies/),
    })
    await expect(new remote.Box()).rejects.toMatchObject({ code: 'ERR_UNSERIALIZABLE' })
    await expect(remote[Comlink.createEndpoint]()).rejects.toMatchObject({
      code: 'ERR_UNSERIALIZABLE',
    })
    expect(seen).toEqual([]) // none of them reached the worker
    await expect(remote.item).rejects.toMatchObject({
      code: 'ERR_BAD_MESSAGE',
      message: expect.stringMatching(/live object/),
    })
    expect(seen).toHaveLength(1)
    expect(guard.pending).toBe(0)
    port2.close()
  })
})
