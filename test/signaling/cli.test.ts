/**
 * The peerject-signaling CLI: runCli in-process (flags, errors, help), and the real bin as a child
 * process (env vars, the listening line, graceful exit on SIGTERM). The child runs the TypeScript
 * sources transpiled into a temporary directory; the test kills only the child it spawned.
 */
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { SignJWT } from 'jose'
import ts from 'typescript'
import { afterEach, describe, expect, it } from 'vitest'
import { runCli } from '../../signaling/cli.js'
import type { SignalingServer } from '../../signaling/index.js'
import { Harness, TestClient } from './helpers.js'

const harness = new Harness()
const servers: SignalingServer[] = []
afterEach(async () => {
  await harness.cleanup()
  await Promise.all(servers.splice(0).map((server) => server.close()))
})

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

function output() {
  const lines: string[] = []
  return { lines, write: (text: string) => void lines.push(text) }
}

describe('runCli (in-process)', () => {
  it('starts a server from flags and prints where it listens', async () => {
    const out = output()
    const server = await runCli(
      ['--port', '0', '--host', '127.0.0.1', '--max-peers-per-room', '1', '--log-level', 'quiet'],
      { stdout: out.write, stderr: out.write },
    )
    if (server === undefined) throw new Error('no server')
    servers.push(server)
    expect(out.lines).toEqual([`peerject signaling listening on ws://127.0.0.1:${server.port}\n`])
    const a = harness.track(await TestClient.connect(server.url))
    const b = harness.track(await TestClient.connect(server.url))
    await a.join('r')
    await expect(b.join('r')).rejects.toThrow(/ERR_ROOM_FULL.*maxPeersPerRoom 1/)
  })

  it('requires a JWT when --jwt-secret is given', async () => {
    const server = await runCli(['--port', '0', '--jwt-secret', 'cli-secret'], {
      stdout: () => {},
      stderr: () => {},
    })
    if (server === undefined) throw new Error('no server')
    servers.push(server)
    const a = harness.track(await TestClient.connect(server.url))
    await expect(a.join('r')).rejects.toThrow(/ERR_DENIED/)
    const token = await new SignJWT({ room: 'r' })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode('cli-secret'))
    await a.join('r', token)
  })

  it.each([
    [['--port', 'abc'], /--port must be an integer from 0 to 65535/],
    [['--port', '70000'], /--port must be an integer/],
    [['--burst', '0'], /--burst must be an integer of at least 1\./],
    [['--messages-per-second', '-2'], /--messages-per-second must be a positive number/],
    [['--log-level', 'loud'], /Allowed choices are quiet, info, debug/],
    [['--no-such-flag'], /unknown option '--no-such-flag'/],
  ])('refuses %j with a message', async (argv, message) => {
    const err = output()
    await expect(runCli(argv, { stdout: () => {}, stderr: err.write })).rejects.toMatchObject({
      exitCode: 1,
    })
    expect(err.lines.join('')).toMatch(message)
  })

  it('prints help listing every flag with its environment variable, and starts nothing', async () => {
    const out = output()
    expect(await runCli(['--help'], { stdout: out.write, stderr: out.write })).toBeUndefined()
    const help = out.lines.join('')
    for (const env of [
      'PEERJECT_PORT',
      'PEERJECT_HOST',
      'PEERJECT_JWT_SECRET',
      'PEERJECT_MAX_PEERS_PER_ROOM',
      'PEERJECT_MAX_ROOMS_PER_CONNECTION',
      'PEERJECT_MESSAGES_PER_SECOND',
      'PEERJECT_HEARTBEAT_MS',
    ]) {
      expect(help).toContain(env)
    }
  })

  it('prints the package version with --version, and starts nothing', async () => {
    const out = output()
    const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
      version: string
    }
    expect(await runCli(['--version'], { stdout: out.write, stderr: out.write })).toBeUndefined()
    expect(out.lines.join('')).toBe(`${version}\n`)
  })
})

/** Transpiles signaling/*.ts into a temporary package that resolves the repo's node_modules. */
async function buildBin(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'peerject-signaling-cli-'))
  await mkdir(join(dir, 'signaling'))
  await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir')
  await writeFile(join(dir, 'package.json'), '{"type":"module"}')
  for (const file of await readdir(join(ROOT, 'signaling'))) {
    if (!file.endsWith('.ts')) continue
    const source = await readFile(join(ROOT, 'signaling', file), 'utf8')
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    })
    await writeFile(join(dir, 'signaling', file.replace(/\.ts$/, '.js')), outputText)
  }
  return dir
}

describe('peerject-signaling (child process)', () => {
  it('reads PEERJECT_* env vars, serves, and exits 0 on SIGTERM after closing sockets', async () => {
    const dir = await buildBin()
    try {
      const bin = join(dir, 'signaling', 'bin.js')
      expect((await readFile(bin, 'utf8')).startsWith('#!/usr/bin/env node\n')).toBe(true)
      const child = spawn(process.execPath, [bin], {
        env: {
          ...process.env,
          PEERJECT_PORT: '0',
          PEERJECT_MAX_ROOMS_PER_CONNECTION: '1',
          PEERJECT_LOG_LEVEL: 'debug',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      const exited = new Promise<number | null>((resolve) =>
        child.once('exit', (code) => resolve(code)),
      )
      let stdout = ''
      let stderr = ''
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
      try {
        const url = await new Promise<string>((resolve, reject) => {
          child.stdout.on('data', (chunk: Buffer) => {
            stdout += chunk.toString()
            const match = /listening on (ws:\/\/127\.0\.0\.1:\d+)\n/.exec(stdout)
            if (match?.[1] !== undefined) resolve(match[1])
          })
          child.once('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)))
        })
        const a = harness.track(await TestClient.connect(url))
        await a.join('one')
        await expect(a.join('two')).rejects.toThrow(/ERR_QUOTA/)
        child.kill('SIGTERM')
        expect((await a.closed).code).toBe(1001)
        expect(await exited).toBe(0)
        expect(stdout).toContain('peerject signaling closing (SIGTERM)')
        expect(stdout).toContain('peerject signaling closed')
        // debug logging: one JSON line per event on stderr
        const events = stderr
          .trim()
          .split('\n')
          .map((line) => (JSON.parse(line) as { type: string }).type)
        expect(events).toEqual(expect.arrayContaining(['listening', 'connect', 'join', 'reject']))
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
        await exited
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
