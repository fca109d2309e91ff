/** Join admission: the user's `verifyToken`, the built-in HS256 JWT check, or both. */
import { errors, jwtVerify } from 'jose'
import type { JWTVerifyOptions } from 'jose'
import type { SignalingJwtOptions, VerifyToken } from './options.js'

/** Outcome of an admission check; `reason` is safe to show to the client. */
export type AdmissionResult =
  { readonly ok: true } | { readonly ok: false; readonly reason: string; readonly error?: unknown }

/** Decides whether a join with `token` may enter `room`. Never rejects. */
export type Admission = (token: string | undefined, room: string) => Promise<AdmissionResult>

/**
 * Builds the admission check from the server options; undefined when neither is set (every join
 * is admitted). Throws a `TypeError` for a `verifyToken` that is not a function, a `jwt` that is
 * not an object, or a JWT secret that is not a non-empty string or byte array.
 */
export function createAdmission(
  verifyToken: VerifyToken | undefined,
  jwt: SignalingJwtOptions | undefined,
): Admission | undefined {
  if (verifyToken === undefined && jwt === undefined) return undefined
  if (verifyToken !== undefined && typeof verifyToken !== 'function') {
    throw new TypeError(
      `verifyToken must be a function (token, room) => boolean | Promise<boolean>, got ${typeof verifyToken}`,
    )
  }
  if (jwt !== undefined && (typeof jwt !== 'object' || jwt === null)) {
    throw new TypeError(`jwt must be an object { secret, issuer?, audience? }, got ${String(jwt)}`)
  }
  const checkJwt = jwt === undefined ? undefined : createJwtCheck(jwt)
  return async (token, room) => {
    if (checkJwt !== undefined) {
      const result = await checkJwt(token, room)
      if (!result.ok) return result
    }
    if (verifyToken !== undefined) {
      try {
        if ((await verifyToken(token, room)) !== true) {
          return { ok: false, reason: 'the server refused the token' }
        }
      } catch (error) {
        return { ok: false, reason: 'the token check failed', error }
      }
    }
    return { ok: true }
  }
}

function createJwtCheck(jwt: SignalingJwtOptions): Admission {
  const given: unknown = jwt.secret
  if (typeof given !== 'string' && !(given instanceof Uint8Array)) {
    throw new TypeError(
      `jwt.secret must be the HMAC secret your token issuer signs with (a string or Uint8Array), got ${given === null ? 'null' : typeof given}`,
    )
  }
  const secret = typeof given === 'string' ? new TextEncoder().encode(given) : given
  if (secret.byteLength === 0) {
    throw new TypeError('jwt.secret is empty; pass the HMAC secret your token issuer signs with')
  }
  const options: JWTVerifyOptions = {
    algorithms: ['HS256'],
    ...(jwt.issuer === undefined ? {} : { issuer: jwt.issuer }),
    ...(jwt.audience === undefined ? {} : { audience: jwt.audience }),
  }
  return async (token, room) => {
    if (token === undefined || token === '') {
      return { ok: false, reason: 'a token is required' }
    }
    try {
      const { payload } = await jwtVerify(token, secret, options)
      if (payload['room'] !== room && payload['room'] !== '*') {
        return { ok: false, reason: 'the token is for another room' }
      }
      return { ok: true }
    } catch (error) {
      return { ok: false, reason: describeJwtError(error) }
    }
  }
}

function describeJwtError(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'the token has expired'
  if (error instanceof errors.JWTClaimValidationFailed) {
    return `the token's "${error.claim}" claim is not accepted`
  }
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return 'the token signature is invalid'
  return 'the token is not a valid HS256 JWT'
}
