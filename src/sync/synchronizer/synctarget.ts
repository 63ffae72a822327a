/**
 * The block pipeline's sync target after a peer is banned. The client raises `syncTargetHeight` to
 * the head any peer claims (`Peer.latest()`), and never lowers it; a peer announcing a made-up head
 * far above the chain (which pivot discovery drops: `pivot.ts`) leaves a target no peer can reach.
 * Worse, `Peer.latest()` then asks every other peer for the header at that height, gets nothing, and
 * never learns their heads again: the node stops following the chain. So when a peer is banned,
 * the target falls back to the highest head a peer still connected has shown.
 */

/** What this reads of a pooled peer: the best header it served (`Peer.latest()` keeps it) */
export interface TargetPeer {
  readonly eth?: { readonly updatedBestHeader?: { readonly number: bigint } }
}

/**
 * The sync target the connected `peers` back: the highest head one of them has served, at least
 * the local chain's height `local`
 */
export function backedTarget(peers: readonly TargetPeer[], local: bigint): bigint {
  let best = local
  for (const p of peers) {
    const n = p.eth?.updatedBestHeader?.number
    if (n !== undefined && n > best) best = n
  }
  return best
}

/** The lower target to take instead of `target`, or undefined when the connected peers back it */
export function retarget(target: bigint | undefined, peers: readonly TargetPeer[], local: bigint): bigint | undefined {
  if (target === undefined) return undefined
  const backed = backedTarget(peers, local)
  return backed < target ? backed : undefined
}
