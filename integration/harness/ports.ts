/**
 * Free TCP ports on loopback, for client processes started by tests.
 */
import { createServer } from 'node:net'

const handedOut = new Set<number>()

/** A port that was free a moment ago and that this process has not handed out before */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer()
      server.unref()
      server.on('error', reject)
      server.listen(0, '127.0.0.1', () => {
        const address = server.address()
        server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0))
      })
    })
    if (port !== 0 && !handedOut.has(port)) {
      handedOut.add(port)
      return port
    }
  }
}
