/**
 * Minimal JSON-RPC over HTTP for talking to client processes in tests.
 */
export class RpcError extends Error {
  constructor(
    readonly method: string,
    readonly code: number,
    message: string,
  ) {
    super(`${method}: ${message} (${code})`)
  }
}

let nextId = 1

export async function rpcCall<T = unknown>(
  url: string,
  method: string,
  params: unknown[] = [],
  timeoutMs = 10_000,
  headers: { [name: string]: string } = {},
): Promise<T> {
  const response = await fetch(url, {
    method: 'POST',
    // No keep-alive: a reused socket that the node's HTTP server closes at the same moment fails
    // the call ("other side closed"); a connection per call costs nothing on loopback
    headers: { 'content-type': 'application/json', connection: 'close', ...headers },
    body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params }),
    signal: AbortSignal.timeout(timeoutMs),
  })
  const body = (await response.json()) as { result?: T; error?: { code: number; message: string } }
  if (body.error !== undefined) throw new RpcError(method, body.error.code, body.error.message)
  return body.result as T
}
