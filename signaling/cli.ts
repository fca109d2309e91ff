/**
 * The `peerject-signaling` command: flags (each also read from a `PEERJECT_*` environment
 * variable) → {@link createSignalingServer}. bin.ts only calls {@link main}.
 */
import { readFileSync } from 'node:fs'
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander'
import { DEFAULT_SIGNALING_LIMITS } from './limits.js'
import type { SignalingLimits } from './limits.js'
import type { SignalingLogEvent, SignalingServer, SignalingServerOptions } from './options.js'
import { createSignalingServer, DEFAULT_HEARTBEAT_MS, DEFAULT_SIGNALING_PORT } from './server.js'

/** Where {@link runCli} writes and whether it owns the process signals. */
export interface CliOptions {
  /** Receives normal output (the "listening" line, help). Default: process.stdout. */
  readonly stdout?: (text: string) => void
  /** Receives diagnostics and log lines. Default: process.stderr. */
  readonly stderr?: (text: string) => void
  /**
   * Close the server gracefully on SIGINT/SIGTERM (a second signal kills the process).
   * Default false: only the real command (bin.ts via {@link main}) should own process signals.
   */
  readonly handleSignals?: boolean
}

/** Log levels of `--log-level`: quiet = nothing but the listening line, debug = every event. */
const LOG_LEVELS = ['quiet', 'info', 'debug'] as const
type LogLevel = (typeof LOG_LEVELS)[number]

/** Events printed at level `info`; `debug` prints all of them. */
const INFO_EVENTS: ReadonlySet<SignalingLogEvent['type']> = new Set([
  'socket-error',
  'verify-error',
  'slow-consumer',
  'dead',
])

/** CLI flag ↔ limit name ↔ environment variable. */
const LIMIT_FLAGS: readonly (readonly [
  flag: string,
  limit: keyof SignalingLimits,
  help: string,
])[] = [
  ['max-message-bytes', 'maxMessageBytes', 'largest incoming message, in bytes'],
  ['messages-per-second', 'messagesPerSecond', 'sustained messages per second per connection'],
  ['burst', 'burst', 'messages a connection may send at once'],
  ['max-peers-per-room', 'maxPeersPerRoom', 'peers per room'],
  ['max-rooms-per-connection', 'maxRoomsPerConnection', 'rooms one connection may join'],
  ['max-room-name-length', 'maxRoomNameLength', 'longest room name'],
  ['max-connections', 'maxConnections', 'open connections per server'],
  ['max-buffered-bytes', 'maxBufferedBytes', 'bytes queued to a slow reader before it is cut'],
]

/**
 * peerject's version, from its package.json: one level up from signaling/ in the sources, two from
 * dist/signaling/ in the package. 'unknown' if neither is peerject's (a copy of this file alone).
 */
function packageVersion(): string {
  for (const path of ['../package.json', '../../package.json']) {
    try {
      const json = JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as {
        name?: unknown
        version?: unknown
      }
      if (json.name === 'peerject' && typeof json.version === 'string') return json.version
    } catch {
      // not there, or not JSON: try the next place
    }
  }
  return 'unknown'
}

/** `--max-peers-per-room` → `PEERJECT_MAX_PEERS_PER_ROOM`. */
function envName(flag: string): string {
  return `PEERJECT_${flag.replaceAll('-', '_').toUpperCase()}`
}

function buildProgram(options: CliOptions): Command {
  const stdout = options.stdout ?? ((text: string) => process.stdout.write(text))
  const stderr = options.stderr ?? ((text: string) => process.stderr.write(text))
  const program = new Command('peerject-signaling')
    .description('The peerject signaling server: introduces peers of a room to each other.')
    .version(packageVersion(), '-V, --version', 'print the version and exit')
    .exitOverride()
    .configureOutput({ writeOut: stdout, writeErr: stderr })
    .addOption(
      new Option('-p, --port <number>', 'TCP port (0 = any free port)')
        .env('PEERJECT_PORT')
        .default(DEFAULT_SIGNALING_PORT)
        .argParser(integer('port', 0, 65_535)),
    )
    .addOption(
      new Option('--host <address>', 'interface to listen on (0.0.0.0 = all)')
        .env('PEERJECT_HOST')
        .default('127.0.0.1'),
    )
    .addOption(
      new Option('--jwt-secret <secret>', 'require an HS256 JWT with a matching "room" claim').env(
        'PEERJECT_JWT_SECRET',
      ),
    )
    .addOption(new Option('--jwt-issuer <iss>', 'required JWT issuer').env('PEERJECT_JWT_ISSUER'))
    .addOption(
      new Option('--jwt-audience <aud>', 'required JWT audience').env('PEERJECT_JWT_AUDIENCE'),
    )
    .addOption(
      new Option('--heartbeat-ms <ms>', 'ping interval; silent sockets are dropped')
        .env('PEERJECT_HEARTBEAT_MS')
        .default(DEFAULT_HEARTBEAT_MS)
        .argParser(integer('heartbeat-ms', 1)),
    )
    .addOption(
      new Option('--log-level <level>', 'quiet, info (problems) or debug (every event)')
        .env('PEERJECT_LOG_LEVEL')
        .choices(LOG_LEVELS)
        .default('info'),
    )
  for (const [flag, limit, help] of LIMIT_FLAGS) {
    program.addOption(
      new Option(`--${flag} <n>`, help)
        .env(envName(flag))
        .default(DEFAULT_SIGNALING_LIMITS[limit])
        .argParser(limit === 'messagesPerSecond' ? positiveNumber(flag) : integer(flag, 1)),
    )
  }
  return program
}

/**
 * Parses `argv` (the arguments after the command name), starts the server, prints
 * `peerject signaling listening on ws://HOST:PORT` and resolves with the server; resolves with
 * undefined after `--help` or `--version`. Rejects on invalid flags (a commander
 * `CommanderError`, already printed) or when the server cannot start.
 */
export async function runCli(
  argv: readonly string[],
  options: CliOptions = {},
): Promise<SignalingServer | undefined> {
  const stdout = options.stdout ?? ((text: string) => process.stdout.write(text))
  const stderr = options.stderr ?? ((text: string) => process.stderr.write(text))
  const program = buildProgram(options)
  try {
    await program.parseAsync([...argv], { from: 'user' })
  } catch (error) {
    if (error instanceof CommanderError && error.exitCode === 0) return undefined
    throw error
  }
  const flags = program.opts<Record<string, unknown>>()
  const level = flags['logLevel'] as LogLevel
  const limits: Partial<Record<keyof SignalingLimits, number>> = {}
  for (const [, limit] of LIMIT_FLAGS) limits[limit] = flags[limit] as number
  const secret = flags['jwtSecret'] as string | undefined
  const issuer = flags['jwtIssuer'] as string | undefined
  const audience = flags['jwtAudience'] as string | undefined
  const serverOptions: SignalingServerOptions = {
    port: flags['port'] as number,
    host: flags['host'] as string,
    heartbeatMs: flags['heartbeatMs'] as number,
    limits,
    ...(secret === undefined
      ? {}
      : {
          jwt: {
            secret,
            ...(issuer === undefined ? {} : { issuer }),
            ...(audience === undefined ? {} : { audience }),
          },
        }),
    logger: (event) => {
      if (level === 'debug' || (level === 'info' && INFO_EVENTS.has(event.type))) {
        stderr(`${formatEvent(event)}\n`)
      }
    },
  }
  const server = await createSignalingServer(serverOptions)
  stdout(`peerject signaling listening on ${server.url}\n`)
  if (options.handleSignals === true) closeOnSignals(server, stdout, stderr)
  return server
}

/**
 * The `peerject-signaling` entry point: {@link runCli} on `process.argv`, owning SIGINT/SIGTERM.
 * Sets `process.exitCode` on failure instead of throwing.
 */
export async function main(): Promise<void> {
  try {
    await runCli(process.argv.slice(2), { handleSignals: true })
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode
      return
    }
    process.stderr.write(`peerject-signaling: ${(error as Error).message}\n`)
    process.exitCode = 1
  }
}

function closeOnSignals(
  server: SignalingServer,
  stdout: (text: string) => void,
  stderr: (text: string) => void,
): void {
  const signals = ['SIGINT', 'SIGTERM'] as const
  const shutdown = (signal: NodeJS.Signals) => {
    // After the first signal the default handlers return: a second signal kills at once.
    for (const name of signals) process.off(name, shutdown)
    stdout(`peerject signaling closing (${signal})\n`)
    server.close().then(
      () => stdout('peerject signaling closed\n'),
      (error: unknown) => {
        stderr(`peerject-signaling: close failed: ${(error as Error).message}\n`)
        process.exitCode = 1
      },
    )
  }
  for (const name of signals) process.once(name, shutdown)
}

function formatEvent(event: SignalingLogEvent): string {
  const fields: Record<string, unknown> = { time: new Date().toISOString(), ...event }
  const error = fields['error']
  if (error instanceof Error) fields['error'] = { name: error.name, message: error.message }
  else if (error !== undefined) fields['error'] = String(error)
  return JSON.stringify(fields)
}

function integer(flag: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const parsed = Number(value)
    if (!/^\d+$/.test(value.trim()) || parsed < min || parsed > max) {
      throw new InvalidArgumentError(
        max === Number.MAX_SAFE_INTEGER
          ? `--${flag} must be an integer of at least ${min}.`
          : `--${flag} must be an integer from ${min} to ${max}.`,
      )
    }
    return parsed
  }
}

function positiveNumber(flag: string) {
  return (value: string): number => {
    const parsed = Number(value)
    if (value.trim() === '' || !Number.isFinite(parsed) || parsed <= 0) {
      throw new InvalidArgumentError(`--${flag} must be a positive number.`)
    }
    return parsed
  }
}
