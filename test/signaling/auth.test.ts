/** Join admission: verifyToken, the built-in HS256 JWT check, and both together. */
import { SignJWT } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import type { SignalingLogEvent } from '../../signaling/index.js'
import { Gate, Harness } from './helpers.js'

const harness = new Harness()
afterEach(() => harness.cleanup())

const SECRET = 'test-secret-that-is-long-enough-for-hs256'

function sign(claims: Record<string, unknown>, secret = SECRET, expiresIn = '5m') {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(new TextEncoder().encode(secret))
}

describe('signaling admission: verifyToken', () => {
  it('admits when verifyToken returns true, with the token and room it was given', async () => {
    const calls: [string | undefined, string][] = []
    const server = await harness.server({
      verifyToken: (token, room) => {
        calls.push([token, room])
        return token === 'good'
      },
    })
    const a = await harness.client(server)
    await a.join('r', 'good')
    expect(calls).toEqual([['good', 'r']])
  })

  it.each([
    ['returns false', () => false],
    ['resolves false', () => Promise.resolve(false)],
    [
      'throws',
      () => {
        throw new Error('db down')
      },
    ],
    ['rejects', () => Promise.reject(new Error('db down'))],
    ['returns a truthy non-boolean', () => 'yes' as unknown as boolean],
  ])(
    'refuses with ERR_DENIED when verifyToken %s; the connection stays',
    async (_name, verifyToken) => {
      const events: SignalingLogEvent[] = []
      const server = await harness.server({ verifyToken, logger: (e) => events.push(e) })
      const a = await harness.client(server)
      const b = await harness.client(server)
      await expect(a.join('r', 'bad')).rejects.toThrow(/ERR_DENIED: cannot join room "r"/)
      expect(server.stats()).toEqual({ rooms: 0, peers: 2 })
      // Still connected and usable: a signal to b in r is refused because a is not in r.
      a.send({ type: 'signal', room: 'r', to: b.id, data: 1 })
      expect((await a.error('ERR_BAD_MESSAGE')).message).toMatch(/not in room "r"/)
      if (_name === 'throws' || _name === 'rejects') {
        expect(events).toContainEqual(expect.objectContaining({ type: 'verify-error', room: 'r' }))
      }
    },
  )

  it('handles messages in order while a join awaits an async check', async () => {
    const gate = new Gate()
    const server = await harness.server({ verifyToken: gate.check })
    const a = await harness.client(server)
    const b = await harness.client(server)
    b.send({ type: 'join', room: 'r', token: 't' })
    await gate.started(1)
    gate.settle(0, true)
    await b.next('joined')
    // a's signal arrives while its join is still being checked: it waits, it is not refused.
    a.send({ type: 'join', room: 'r', token: 't' })
    a.send({ type: 'signal', room: 'r', to: b.id, data: 'after-join' })
    await gate.started(2)
    await a.pingPong()
    await b.sync()
    expect(b.all('signal')).toEqual([])
    gate.settle(1, true)
    expect(await b.next('signal')).toMatchObject({ from: a.id, data: 'after-join' })
    await a.next('joined')
    expect(a.all('error')).toEqual([])
  })

  it('holds at most burst messages behind a pending check, dropping more with ERR_RATE_LIMITED', async () => {
    const gate = new Gate()
    const server = await harness.server({
      verifyToken: gate.check,
      // A rate so high the bucket never runs dry: only the queue bound applies.
      limits: { burst: 4, messagesPerSecond: 1e9 },
    })
    const a = await harness.client(server)
    const b = await harness.client(server)
    b.send({ type: 'join', room: 'r', token: 't' })
    await gate.started(1)
    gate.settle(0, true)
    await b.next('joined')
    a.send({ type: 'join', room: 'r', token: 't' })
    for (let i = 0; i < 6; i++) a.send({ type: 'signal', room: 'r', to: b.id, data: i })
    await a.pingPong()
    expect((await a.error('ERR_RATE_LIMITED')).message).toMatch(
      /4 messages or 256 KiB already wait/,
    )
    gate.settle(1, true)
    await a.next('joined')
    for (const i of [0, 1, 2, 3]) expect((await b.next('signal')).data).toBe(i)
    await b.sync()
    expect(b.all('signal')).toHaveLength(4)
  })

  it('re-checks room capacity after an async check', async () => {
    const gate = new Gate()
    const server = await harness.server({ limits: { maxPeersPerRoom: 1 }, verifyToken: gate.check })
    const a = await harness.client(server)
    const b = await harness.client(server)
    a.send({ type: 'join', room: 'r', token: 't' })
    b.send({ type: 'join', room: 'r', token: 't' })
    await gate.started(2)
    gate.settle(0, true)
    gate.settle(1, true)
    await a.next('joined')
    await b.error('ERR_ROOM_FULL')
  })

  it('does not admit a peer whose socket closed during its check', async () => {
    const gate = new Gate()
    const server = await harness.server({ verifyToken: gate.check })
    const a = await harness.client(server)
    a.send({ type: 'join', room: 'r', token: 't' })
    await gate.started(1)
    a.ws.close()
    await a.closed
    const b = await harness.client(server)
    b.send({ type: 'join', room: 'r', token: 't' })
    await gate.started(2)
    gate.settle(0, true)
    gate.settle(1, true)
    expect((await b.next('joined')).peers).toEqual([])
  })
})

describe('signaling admission: JWT', () => {
  it('admits a valid HS256 JWT whose room claim matches or is *', async () => {
    const server = await harness.server({ jwt: { secret: SECRET } })
    const a = await harness.client(server)
    await a.join('r', await sign({ room: 'r' }))
    await a.join('any', await sign({ room: '*' }))
  })

  it.each([
    ['no token', async () => undefined, /a token is required/],
    ['garbage', async () => 'not.a.jwt', /not a valid HS256 JWT/],
    [
      'a wrong secret',
      () => sign({ room: 'r' }, 'another-secret-of-sufficient-length!!'),
      /signature is invalid/,
    ],
    ['another room', () => sign({ room: 'other' }), /for another room/],
    ['no room claim', () => sign({}), /for another room/],
    ['an expired token', () => sign({ room: 'r' }, SECRET, '-1m'), /expired/],
  ])('refuses %s with ERR_DENIED', async (_name, makeToken, reason) => {
    const server = await harness.server({ jwt: { secret: SECRET } })
    const a = await harness.client(server)
    const token = await makeToken()
    await expect(a.join('r', token)).rejects.toThrow(/ERR_DENIED/)
    expect(a.all('error').at(-1)?.message).toMatch(reason)
  })

  it('refuses an HS384 or unsigned token (only HS256 is accepted)', async () => {
    const server = await harness.server({ jwt: { secret: SECRET } })
    const a = await harness.client(server)
    const hs384 = await new SignJWT({ room: 'r' })
      .setProtectedHeader({ alg: 'HS384' })
      .sign(new TextEncoder().encode(SECRET))
    await expect(a.join('r', hs384)).rejects.toThrow(/ERR_DENIED/)
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"room":"r"}').toString('base64url')}.`
    await expect(a.join('r', none)).rejects.toThrow(/ERR_DENIED/)
  })

  it('checks issuer and audience when configured', async () => {
    const server = await harness.server({
      jwt: { secret: new TextEncoder().encode(SECRET), issuer: 'app', audience: 'peerject' },
    })
    const a = await harness.client(server)
    const good = await new SignJWT({ room: 'r' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('app')
      .setAudience('peerject')
      .sign(new TextEncoder().encode(SECRET))
    await expect(a.join('r', await sign({ room: 'r' }))).rejects.toThrow(/ERR_DENIED/)
    await a.join('r', good)
  })

  it('requires both the JWT and verifyToken when both are set', async () => {
    const server = await harness.server({
      jwt: { secret: SECRET },
      verifyToken: (_token, room) => room !== 'blocked',
    })
    const a = await harness.client(server)
    await a.join('open', await sign({ room: '*' }))
    await expect(a.join('blocked', await sign({ room: '*' }))).rejects.toThrow(/ERR_DENIED/)
    await expect(a.join('open2', 'bad')).rejects.toThrow(/ERR_DENIED/)
  })
})
