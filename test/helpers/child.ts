/**
 * Runs an ES module source in a child Node process, with the repo's TypeScript sources importable
 * through tsx. For what only a separate process can show: that it exits by itself, or how the
 * library behaves when a package is missing (`imports` registers loader hooks first).
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** The repository root, with a trailing slash. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** How a child ended. */
export interface ChildResult {
  /** Its exit code, or undefined when it had to be killed at the deadline. */
  readonly code: number | undefined
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs `source` as a module. Resolves when the child exits, or when `deadlineMs` passes (then the
 * child is killed and `code` is undefined: it did not exit by itself).
 */
export function runModule(
  source: string,
  options: { env?: Record<string, string>; imports?: string[]; deadlineMs?: number } = {},
): Promise<ChildResult> {
  const imports = ['tsx', ...(options.imports ?? [])].flatMap((module) => ['--import', module])
  const child = spawn(process.execPath, [...imports, '--input-type=module', '-e', source], {
    cwd: ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  return new Promise((resolve, reject) => {
    let killed = false
    const deadline = setTimeout(() => {
      killed = true
      child.kill('SIGKILL')
    }, options.deadlineMs ?? 30_000)
    child.on('error', (error) => {
      clearTimeout(deadline)
      reject(error)
    })
    child.on('close', (code) => {
      clearTimeout(deadline)
      resolve({ code: killed ? undefined : (code ?? undefined), stdout: stdout.trim(), stderr })
    })
  })
}
