/**
 * The references layer: expose objects by name, resolve typed stubs of other peers' objects,
 * call them with pipelining, pass callbacks and references both ways. See docs/rpc.md.
 */
export { ExportRegistry } from './export-registry.js'
export { RpcSession } from './session.js'
export type { RpcSessionOptions, RpcStats, StreamHooks } from './session.js'
export { DEFAULT_RPC_LIMITS } from './limits.js'
export type { RpcLimits } from './limits.js'
export { defaultAuthorizer } from './authorizer.js'
export type { Authorizer, PathOrigin } from './authorizer.js'
export { RpcTarget, isStub, release, remove, set, withOptions } from './helpers.js'
export { STUB } from './stub.js'
export type { CallOptions } from './stub.js'
export type { FinalizerFactory, FinalizerLike, FinalizerToken } from './importer.js'
export type { Operation, Path, PathKey, RpcMessage } from './protocol.js'
export type {
  ByReference,
  Local,
  MaybePromise,
  Passable,
  Received,
  Remote,
  RemoteInstance,
  RemoteProperty,
  RemoteResult,
} from './types.js'
export { createMemoryPair } from './memory-pair.js'
export type { MemoryPair, MemoryPairOptions, LoggedMessage } from './memory-pair.js'
