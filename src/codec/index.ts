/**
 * The codec layer: values ⇄ bytes with one private msgpackr instance, a class registry, external
 * hooks for references and streams, and receiver-side limits. See docs/codec.md.
 */
export { Codec, DEFAULT_MAX_DECODED_BYTES, DEFAULT_MAX_DEPTH, type CodecOptions } from './codec.js'
export {
  ClassRegistry,
  type ClassConstructor,
  type RegisterOptions,
  type RegisteredClass,
} from './class-registry.js'
export {
  BY_REFERENCE,
  classify,
  crossing,
  isMarkedByReference,
  markByReference,
  type Classification,
  type Crossing,
} from './classify.js'
export { Inline, type ExternalHooks } from './encoder.js'
export type { ExternalKind } from './tags.js'
export type { PathNamer, PathSegment } from './path.js'
