/**
 * The signaling server factory: an HTTP server (`GET /health`) whose WebSocket upgrades carry the
 * protocol of ./protocol.ts. Every incoming frame is size-checked, rate-limited, parsed and
 * validated before ./router.ts sees it; one misbehaving client is refused or closed alone.
 */
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocketServer } from 'ws'
import type { RawData, WebSocket } from 'ws'
import { createAdmission } from './auth.js'
import { Connection, MAX_BACKLOG_BYTES } from './connection.js'
import type { Log } from './connection.js'
import { resolveSignalingLimits } from './limits.js'
import type { SignalingLogEvent, SignalingServer, SignalingServerOptions } from './options.js'
import { parseClientMessage, SIGNALING_PROTOCOL_VERSION } from './protocol.js'
import { Rooms } from './rooms.js'
import { disconnect, route } from './router.js'
import type { RouterContext } from './router.js'

/** Most fragments one incoming WebSocket message may arrive in. */
const MAX_FRAGMENTS = 64

/** Default TCP port. */
export const DEFAULT_SIGNALING_PORT = 8787
/** Default heartbeat interval, in ms. */
export const DEFAULT_HEARTBEAT_MS = 15_000
/** How long {@link SignalingServer.close} waits for closing handshakes before terminating. */
const CLOSE_GRACE_MS = 3_000

/**
 * Starts a signaling server and resolves once it listens. Throws a `RangeError`/`TypeError` for
 * invalid options and rejects when the port cannot be bound.
 *
 * @example
 * const server = await createSignalingServer({ port: 0, jwt: { secret: process.env.SECRET! } })
 * console.log(server.url) // ws://127.0.0.1:54321
 */
export async function createSignalingServer(
  options: SignalingServerOptions = {},
): Promise<SignalingServer> {
  const port = options.port ?? DEFAULT_SIGNALING_PORT
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new RangeError(`port must be an integer from 0 to 65535 (0 = any free port), got ${port}`)
  }
  const host = options.host ?? '127.0.0.1'
  if (typeof host !== 'string' || host.length === 0) {
    throw new TypeError(
      `host must be a host name or IP address string (e.g. '127.0.0.1', '0.0.0.0', '::'), got ${typeof host === 'string' ? 'an empty string' : String(host)}`,
    )
  }
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS
  if (!Number.isFinite(heartbeatMs) || heartbeatMs <= 0) {
    throw new RangeError(
      `heartbeatMs must be a positive number of milliseconds, got ${heartbeatMs}`,
    )
  }
  const limits = resolveSignalingLimits(options.limits)
  const log = safeLogger(options.logger)
  const context: RouterContext = {
    rooms: new Rooms(),
    limits,
    admission: createAdmission(options.verifyToken, options.jwt),
    log,
  }
  const connections = new Map<WebSocket, Connection>()
  // Every socket, admitted or not, so close() can wait for all of them.
  const sockets = new Set<WebSocket>()
  const socketGone = new EventTarget()
  let closing: Promise<void> | undefined

  const stats = () => ({ rooms: context.rooms.count, peers: connections.size })

  const http = createServer((request, response) => serveHttp(request, response, stats))
  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    // Frames up to 2 × maxMessageBytes are read so the sender can be told ERR_TOO_LARGE; larger
    // ones are refused by the frame parser from their header, before any payload is buffered.
    maxPayload: limits.maxMessageBytes * 2,
    // A message in many tiny fragments is held fragment by fragment until it ends (ws keeps each
    // as a buffer: ~100 bytes of heap per 7-byte frame), and it counts against no limit until
    // then. Clients of this protocol send small text messages, unfragmented.
    maxFragments: MAX_FRAGMENTS,
    maxBufferedChunks: MAX_FRAGMENTS * 4,
  })

  http.on('upgrade', (request, socket, head) => {
    if (closing !== undefined) {
      socket.destroy()
      return
    }
    wss.handleUpgrade(request, socket, head, (ws) => accept(ws, request))
  })

  function accept(ws: WebSocket, request: IncomingMessage): void {
    sockets.add(ws)
    ws.on('error', (error) => {
      log({ type: 'socket-error', peer: connections.get(ws)?.id ?? '', error })
    })
    ws.once('close', (code, reason) => {
      sockets.delete(ws)
      const connection = connections.get(ws)
      if (connection !== undefined) {
        connections.delete(ws)
        disconnect(context, connection)
        log({ type: 'disconnect', peer: connection.id, code, reason: reason.toString() })
      }
      socketGone.dispatchEvent(new Event('gone'))
    })
    if (closing !== undefined) {
      ws.close(1001, 'server shutting down')
      return
    }
    if (connections.size >= limits.maxConnections) {
      ws.send(
        JSON.stringify({
          type: 'error',
          code: 'ERR_QUOTA',
          message: `the server is at maxConnections (${limits.maxConnections}); try again later or use another server`,
        }),
      )
      ws.close(1013, 'server full')
      return
    }
    const admitted = new Connection(ws, limits, log)
    connections.set(ws, admitted)
    ws.on('pong', () => {
      admitted.alive = true
    })
    ws.on('message', (data, isBinary) => receive(admitted, data, isBinary))
    log({ type: 'connect', peer: admitted.id, address: request.socket.remoteAddress })
    admitted.send({ type: 'welcome', id: admitted.id, version: SIGNALING_PROTOCOL_VERSION })
  }

  function receive(connection: Connection, data: RawData, isBinary: boolean): void {
    if (!connection.open) return
    const bytes = toBuffer(data)
    if (bytes.byteLength > limits.maxMessageBytes) {
      connection.sendError(
        'ERR_TOO_LARGE',
        `message of ${formatBytes(bytes.byteLength)} exceeds maxMessageBytes (${formatBytes(limits.maxMessageBytes)}); send smaller messages or raise the server's maxMessageBytes`,
      )
      connection.close(1009, 'message too large')
      return
    }
    switch (connection.limiter.admit()) {
      case 'accept':
        break
      case 'close':
        connection.sendError(
          'ERR_RATE_LIMITED',
          `closing: more than ${2 * limits.burst} messages dropped for exceeding ${limits.messagesPerSecond} messages/s`,
        )
        connection.close(1008, 'rate limit exceeded')
        return
      case 'drop-notify':
        connection.sendError(
          'ERR_RATE_LIMITED',
          `message dropped: more than ${limits.messagesPerSecond} messages/s (burst ${limits.burst}); slow down or the connection will be closed`,
        )
        return
      case 'drop':
        return
    }
    if (isBinary) {
      connection.sendError(
        'ERR_BAD_MESSAGE',
        'binary frames are not part of the signaling protocol; send JSON text frames',
      )
      return
    }
    // Parsed when its turn comes: a message waiting behind a token check is held as its text,
    // not as the object graph it parses into (up to ~20 times larger).
    const text = bytes.toString('utf8')
    const queued = connection.enqueue(() => {
      const parsed = parseClientMessage(text)
      if (!parsed.ok) return connection.sendError('ERR_BAD_MESSAGE', parsed.reason)
      return route(context, connection, parsed.message)
    }, text.length)
    if (!queued) {
      connection.sendError(
        'ERR_RATE_LIMITED',
        `message dropped: ${limits.burst} messages or ${formatBytes(MAX_BACKLOG_BYTES)} already wait for a token check; wait for "joined" before sending more`,
      )
    }
  }

  const heartbeat = setInterval(() => {
    for (const connection of connections.values()) {
      if (!connection.alive) {
        log({ type: 'dead', peer: connection.id })
        connection.terminate()
        continue
      }
      connection.alive = false
      connection.ping()
    }
  }, heartbeatMs)
  heartbeat.unref()

  async function close(): Promise<void> {
    clearInterval(heartbeat)
    const httpClosed = new Promise<void>((resolve) => http.close(() => resolve()))
    http.closeIdleConnections()
    for (const ws of sockets) ws.close(1001, 'server shutting down')
    const allGone = new Promise<void>((resolve) => {
      const check = () => {
        if (sockets.size > 0) return
        socketGone.removeEventListener('gone', check)
        resolve()
      }
      socketGone.addEventListener('gone', check)
      check()
    })
    const force = setTimeout(() => {
      for (const ws of sockets) ws.terminate()
      http.closeAllConnections()
    }, CLOSE_GRACE_MS)
    await Promise.all([httpClosed, allGone])
    clearTimeout(force)
    log({ type: 'closed' })
  }

  try {
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject)
      http.listen(port, host, () => {
        http.off('error', reject)
        resolve()
      })
    })
  } catch (error) {
    clearInterval(heartbeat)
    throw new Error(
      `cannot listen on ${host}:${port}: ${(error as Error).message}; pick another port (0 = any free port) or host`,
      { cause: error },
    )
  }
  // After listen, a server error (e.g. EMFILE on accept) must not crash the process.
  http.on('error', (error) => log({ type: 'socket-error', peer: '', error }))

  const actualPort = (http.address() as AddressInfo).port
  const url = `ws://${host.includes(':') ? `[${host}]` : host}:${actualPort}`
  log({ type: 'listening', url })
  return {
    port: actualPort,
    url,
    http,
    stats,
    close: () => (closing ??= close()),
  }
}

function serveHttp(
  request: IncomingMessage,
  response: ServerResponse,
  stats: () => { rooms: number; peers: number },
): void {
  const path = (request.url ?? '').split('?')[0]
  const headers = { 'content-type': 'application/json', 'cache-control': 'no-store' }
  if (path === '/health' && (request.method === 'GET' || request.method === 'HEAD')) {
    response.writeHead(200, headers).end(JSON.stringify({ status: 'ok', ...stats() }))
    return
  }
  response.writeHead(404, headers).end(JSON.stringify({ status: 'not found' }))
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data
  if (Array.isArray(data)) return Buffer.concat(data)
  return Buffer.from(data)
}

function safeLogger(logger: ((event: SignalingLogEvent) => void) | undefined): Log {
  if (logger === undefined) return () => {}
  return (event) => {
    try {
      logger(event)
    } catch {
      // A failing logger must not take the server down; there is nowhere left to report it.
    }
  }
}

/**
 * `65536` → `64 KiB`. The same as `formatBytes` in src/errors.ts, on purpose: the server never
 * imports `src/` (DESIGN.md), and six lines do not earn a shared package.
 */
function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'] as const
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${unit === 0 ? value : value.toFixed(1).replace(/\.0$/, '')} ${units[unit]}`
}
