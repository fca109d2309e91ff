/**
 * Code objects (docs/security.md): self-contained ES modules published by one peer, fetched by
 * another, verified against their content address, and run in an isolated worker behind a Comlink
 * proxy. This entry is browser-safe; Node-only pieces (the directory store, the worker-thread host)
 * are in ./node.ts.
 */
export { codeIdOf, isCodeId, scanDependencies } from './code-id.js'
export { BrowserWorkerHost, type BrowserWorkerHostOptions } from './browser-host.js'
export { createIndexedDbStore, DEFAULT_INDEXEDDB_NAME } from './indexeddb-store.js'
export { createMemoryStore, type MemoryCodeStore } from './memory-store.js'
export {
  isCodeMetadata,
  isCodeRequest,
  isCodeResponse,
  type CodeMessage,
  type CodeRequest,
  type CodeResponse,
  type ErrResponse,
  type GetRequest,
  type GetResult,
  type ListRequest,
  type ListResult,
  type OkResponse,
} from './protocol.js'
export { DEFAULT_RUN_TIMEOUT_MS } from './protocol.js'
export {
  checkCodeOptions,
  CodeService,
  DEFAULT_CODE_LIMITS,
  type CodeCodec,
  type CodeServiceOptions,
} from './service.js'
export { CodePeerSession } from './session.js'
export { exportPublicKey, generateSigningKey, signCodeId } from './signature.js'
export type {
  CodeId,
  CodeLimits,
  CodeMetadata,
  CodeModule,
  CodeSignature,
  CodeStore,
  FetchOptions,
  FetchedCode,
  MaybePromise,
  PublishOptions,
  RunOptions,
  RunningCode,
  TrustedKey,
  VerifyToken,
} from './types.js'
export type { WorkerHandle, WorkerHost, WorkerStartOptions } from './worker-host.js'
