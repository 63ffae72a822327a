/**
 * The test's consensus layer: engine API calls to a client process, authenticated as a beacon node
 * does (an HS256 JWT signed with the shared secret, `iat` = now; the client accepts 60 s of drift).
 */
import { createHmac } from 'node:crypto'

import { rpcCall } from './rpc.js'

const b64url = (x: Buffer | string) => Buffer.from(x).toString('base64url')

/** A JWT for the engine API, as the engine API spec's authentication section defines it */
export function engineToken(secret: Buffer, now = Date.now()): string {
  const body =
    `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.` +
    `${b64url(JSON.stringify({ iat: Math.floor(now / 1000) }))}`
  return `${body}.${b64url(createHmac('sha256', secret).update(body).digest())}`
}

/** Engine API calls to one node */
export class EngineClient {
  constructor(
    readonly url: string,
    private readonly secret: Buffer,
  ) {}

  call<T = unknown>(method: string, params: unknown[]): Promise<T> {
    return rpcCall<T>(this.url, method, params, 60_000, { authorization: `Bearer ${engineToken(this.secret)}` })
  }
}
