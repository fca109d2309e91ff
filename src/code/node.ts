/**
 * The Node-only pieces of code objects; only the Node entry (src/node.ts) imports this file.
 */
export { createDirectoryStore } from './directory-store.js'
export { DEFAULT_MEMORY_MB, NodeWorkerHost, type NodeWorkerHostOptions } from './node-host.js'
