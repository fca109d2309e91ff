/**
 * Collecting a code object's dependency graph (issue item 4): every module is read from the local
 * store when it is there and intact, else fetched from a peer and verified against its id; the root's
 * signature is checked before any dependency is fetched; what came from a peer is cached locally.
 *
 * Modules are fetched level by level (a level's requests in parallel), then ordered with a depth-first
 * walk that rejects cycles. Dependencies come from the verified source (`'peerject:<id>'` literals),
 * never from a peer's metadata. Because ids are hashes of sources that contain their dependencies'
 * ids, a real cycle would need a SHA-256 fixpoint; the check is defence against a broken loader.
 */
import { PeerjectError } from '../errors.js'
import { codeIdOf, scanDependencies, shortId, sourceBytes } from './code-id.js'
import { cleanMetadata, isCodeMetadata } from './protocol.js'
import { checkTrustedKeys, hasTrustedSignature } from './signature.js'
import type {
  CodeId,
  CodeMetadata,
  CodeModule,
  CodeStore,
  FetchedCode,
  TrustedKey,
} from './types.js'

/**
 * Fetches one module from a peer (not yet verified). `neededBy` is the chain from the root to the
 * module that imports it (empty for the root), for error messages.
 */
export type RemoteLoader = (id: CodeId, neededBy: readonly CodeId[]) => Promise<CodeModule>

/** What {@link collectCode} needs. */
export interface CollectOptions {
  readonly store: CodeStore
  /** Keys the root must be signed by; empty accepts unsigned code. */
  readonly trustedKeys: readonly TrustedKey[]
  readonly maxModules: number
  /** Where missing modules come from; without it they must all be in the store. */
  readonly remote?: RemoteLoader
  /** Called for each module cached from a peer (the registry view of the service). */
  readonly onCached?: (metadata: CodeMetadata) => void
}

/** The default name of a code object published without one: `code-` and 8 hex characters. */
export function defaultName(id: CodeId): string {
  return `code-${id.slice(0, 8)}`
}

/**
 * Metadata as peerject trusts it: the given fields that are well-formed, with `id`, `dependencies`
 * and `size` recomputed from the verified source.
 */
export function trustedMetadata(id: CodeId, source: string, given: unknown): CodeMetadata {
  const base = isCodeMetadata(given) ? cleanMetadata(given) : { name: defaultName(id) }
  return { ...base, id, dependencies: scanDependencies(source), size: sourceBytes(source) }
}

/** Reads `id` from `store`; `undefined` when absent or when the stored source does not match `id`. */
export async function readLocal(store: CodeStore, id: CodeId): Promise<CodeModule | undefined> {
  const source = await store.getObject(id)
  if (typeof source !== 'string' || (await codeIdOf(source)) !== id) return undefined
  const stored = await store.getMetadata(id)
  const given = isCodeMetadata(stored) && stored.id === id ? stored : undefined
  return { id, source, metadata: trustedMetadata(id, source, given) }
}

/** Collects, verifies and orders the graph of `root`. */
export async function collectCode(root: CodeId, options: CollectOptions): Promise<FetchedCode> {
  const { store, maxModules, remote } = options
  const trustedKeys = checkTrustedKeys(options.trustedKeys, 'trustedKeys')
  const modules = new Map<CodeId, CodeModule>()
  const parentOf = new Map<CodeId, CodeId | undefined>([[root, undefined]])
  const chainTo = (id: CodeId): CodeId[] => {
    const chain: CodeId[] = []
    for (let at = parentOf.get(id); at !== undefined; at = parentOf.get(at)) chain.unshift(at)
    return chain
  }

  const load = async (id: CodeId): Promise<CodeModule> => {
    const local = await readLocal(store, id)
    let module = local
    if (module === undefined) {
      const neededBy = chainTo(id)
      if (remote === undefined) throw notInStore(id, neededBy)
      module = await remote(id, neededBy)
      if ((await codeIdOf(module.source)) !== id) {
        throw new PeerjectError(
          'ERR_INTEGRITY',
          `code object ${shortId(id)} does not match its id (its SHA-256 is ${shortId(await codeIdOf(module.source))}); the serving peer's store is corrupt or the peer is hostile`,
        )
      }
      module = {
        id,
        source: module.source,
        metadata: trustedMetadata(id, module.source, module.metadata),
      }
    }
    if (id === root && trustedKeys.length > 0) {
      if (!(await hasTrustedSignature(id, module.metadata.signatures, trustedKeys))) {
        throw new PeerjectError(
          'ERR_SIGNATURE',
          `code object ${shortId(id, module.metadata.name)} has no valid signature from a trusted key; add its publisher's public key to joinRoom({ code: { trustedKeys } }), or have the publisher sign it (joinRoom({ code: { signingKey } }))`,
        )
      }
    }
    if (local === undefined) {
      await store.registerObject(id, module.source)
      await store.registerMetadata(id, module.metadata)
      options.onCached?.(module.metadata)
    }
    return module
  }

  let level: CodeId[] = [root]
  while (level.length > 0) {
    const loaded = await Promise.all(level.map(load))
    const next: CodeId[] = []
    for (const module of loaded) {
      modules.set(module.id, module)
      for (const dependency of module.metadata.dependencies) {
        if (parentOf.has(dependency)) continue
        parentOf.set(dependency, module.id)
        next.push(dependency)
      }
    }
    if (modules.size + next.length > maxModules) {
      throw new PeerjectError(
        'ERR_TOO_LARGE',
        `code object ${shortId(root)} needs more than maxModules (${maxModules}) modules; raise it in the code options' limits`,
      )
    }
    level = next
  }
  const ordered = order(root, modules)
  const self = ordered[ordered.length - 1] as CodeModule
  return { id: root, metadata: self.metadata, modules: ordered }
}

/** Dependencies before dependents; throws `ERR_BAD_MESSAGE` naming the cycle if there is one. */
export function order(root: CodeId, modules: ReadonlyMap<CodeId, CodeModule>): CodeModule[] {
  const ordered: CodeModule[] = []
  const state = new Map<CodeId, 'visiting' | 'done'>()
  const path: CodeId[] = []
  const visit = (id: CodeId): void => {
    const seen = state.get(id)
    if (seen === 'done') return
    if (seen === 'visiting') {
      const cycle = [...path.slice(path.indexOf(id)), id]
      throw new PeerjectError(
        'ERR_BAD_MESSAGE',
        `dependency cycle: ${cycle.map((at) => shortId(at)).join(' → ')}; code objects cannot import each other in a loop`,
      )
    }
    const module = modules.get(id)
    if (module === undefined) {
      throw new PeerjectError('ERR_INTERNAL', `code object ${shortId(id)} was not collected`)
    }
    state.set(id, 'visiting')
    path.push(id)
    for (const dependency of module.metadata.dependencies) visit(dependency)
    path.pop()
    state.set(id, 'done')
    ordered.push(module)
  }
  visit(root)
  return ordered
}

/** `a1b2… → c3d4…`, the chain of importers for messages. */
export function describeChain(neededBy: readonly CodeId[]): string {
  return neededBy.map((id) => shortId(id)).join(' → ')
}

function notInStore(id: CodeId, neededBy: readonly CodeId[]): PeerjectError {
  const chain = neededBy.length === 0 ? '' : ` (needed by ${describeChain(neededBy)})`
  return new PeerjectError(
    'ERR_NOT_FOUND',
    `code object ${shortId(id)}${chain} is not in the local store; fetch it from a peer first (peer.code.fetch)`,
  )
}
