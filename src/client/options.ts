/**
 * The plugin's own CLI options, added to the client's `--help`, and their parsed form.
 */
import type { Options } from 'yargs'

/** Parsed plugin options, frozen at start-up */
export interface SnapOptions {
  /** Answer snap/1 requests from peers (any `--sync` mode) */
  readonly serve: boolean
}

/** Defaults, as `--help` shows them */
export const DEFAULT_SNAP_OPTIONS: SnapOptions = Object.freeze({ serve: true })

/** yargs definitions, keyed by option name */
export const snapCliOptions: { [name: string]: Options } = {
  snapServe: {
    describe: 'Serve the snap/1 protocol (account, storage, bytecode and trie-node requests) to peers',
    boolean: true,
    default: DEFAULT_SNAP_OPTIONS.serve,
  },
}

/** Reads the plugin's options from the client's parsed CLI arguments */
export function parseSnapOptions(args: { [key: string]: unknown }): SnapOptions {
  const serve = args.snapServe ?? DEFAULT_SNAP_OPTIONS.serve
  if (typeof serve !== 'boolean') {
    throw new Error(`--snapServe must be true or false, got ${String(serve)}`)
  }
  return Object.freeze({ serve })
}
