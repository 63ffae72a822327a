/**
 * The top entries of a V8 profile written by the benchmarks (docs/sync.md § Speed):
 * - a `.cpuprofile` (SNAP_BENCH_SYNC_PROFILE): self time per function, garbage collection and idle included;
 * - a `.heapprofile` (SNAP_BENCH_SYNC_HEAP, SNAP_BENCH_SYNC_ALLOCS): sampled bytes per allocating function,
 *   with its caller (`--callers`).
 * Usage: node scripts/profile-top.mjs FILE [N] [--callers]
 */
import { readFileSync } from 'node:fs'

const [file, count = '25', flag] = process.argv.slice(2)
if (file === undefined) throw new Error('usage: node scripts/profile-top.mjs FILE [N] [--callers]')
const profile = JSON.parse(readFileSync(file, 'utf8'))
const name = (n) => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/.*\//, '')}`.trim()
const totals = new Map()
let total = 0
const add = (key, v) => {
  totals.set(key, (totals.get(key) ?? 0) + v)
  total += v
}

if (profile.head !== undefined) {
  // Sampling heap profile: a tree of call frames with the bytes each allocated itself
  const walk = (node, caller) => {
    if (node.selfSize > 0) add(flag === '--callers' ? `${name(node)} < ${caller}` : name(node), node.selfSize)
    for (const child of node.children) walk(child, name(node))
  }
  walk(profile.head, '')
} else {
  // CPU profile: samples of node ids, each with the time since the previous sample
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  for (const [i, id] of profile.samples.entries()) add(name(byId.get(id)), profile.timeDeltas[i] ?? 0)
}
const unit = profile.head !== undefined ? (v) => `${(v / 2 ** 20).toFixed(1)} MiB` : (v) => `${(v / 1e6).toFixed(2)} s`
console.log(`total ${unit(total)}`)
for (const [key, v] of [...totals].sort((a, b) => b[1] - a[1]).slice(0, Number(count))) {
  console.log(`${unit(v).padStart(12)} ${((100 * v) / total).toFixed(1).padStart(5)}%  ${key}`)
}
