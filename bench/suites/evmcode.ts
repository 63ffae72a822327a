/**
 * The EVM code of the benchmark chain (chain.ts), assembled here from a few opcodes: a contract that
 * fills its own storage, the creation code that deploys it with its first slots, and a disperser that
 * pays one wei to each of a run of fresh addresses (an account created by every transfer).
 */
import { bigIntToBytes, concatBytes, setLengthLeft } from '@ethereumjs/util'

/** The opcodes used (Yellow Paper appendix H) */
const OP = {
  STOP: 0x00,
  ADD: 0x01,
  MUL: 0x02,
  GT: 0x11,
  ISZERO: 0x15,
  XOR: 0x18,
  ADDRESS: 0x30,
  CALLDATALOAD: 0x35,
  CODECOPY: 0x39,
  POP: 0x50,
  SSTORE: 0x55,
  JUMP: 0x56,
  JUMPI: 0x57,
  JUMPDEST: 0x5b,
  PUSH1: 0x60,
  DUP1: 0x80,
  DUP2: 0x81,
  DUP6: 0x85,
  CALL: 0xf1,
  RETURN: 0xf3,
} as const

type Item = keyof typeof OP | { push: bigint; size: number } | { label: string } | { to: string }

const push = (value: bigint | number, size = 32): Item => ({ push: BigInt(value), size })

/** Two passes: label offsets first (jump targets are PUSH2, so every item's size is known), then bytes */
function assemble(items: Item[]): Uint8Array {
  const sizeOf = (item: Item) => (typeof item === 'string' ? 1 : 'push' in item ? 1 + item.size : 'to' in item ? 3 : 1)
  const labels = new Map<string, number>()
  let offset = 0
  for (const item of items) {
    if (typeof item === 'object' && 'label' in item) labels.set(item.label, offset)
    offset += sizeOf(item)
  }
  const out: number[] = []
  for (const item of items) {
    if (typeof item === 'string') out.push(OP[item])
    else if ('label' in item) out.push(OP.JUMPDEST)
    else if ('to' in item) {
      const target = labels.get(item.to)!
      out.push(OP.PUSH1 + 1, target >> 8, target & 0xff)
    } else out.push(OP.PUSH1 + item.size - 1, ...setLengthLeft(bigIntToBytes(item.push), item.size))
  }
  return Uint8Array.from(out)
}

// An odd 256-bit multiplier: slot values spread over whole words, distinct per slot
const SPREAD = 0x9e3779b97f4a7c15f39cc0605cedc8341082276bf3a27251f86c6a11d0c18e95n

/**
 * for i in [start, end): storage[i] = ((i + 1) * SPREAD) ^ address, with `start` on the stack and
 * `end` pushed by `pushEnd` (the address makes every contract's storage trie its own)
 */
function fillLoop(pushEnd: Item[], name: string): Item[] {
  return [
    { label: `${name}Loop` },
    'DUP1',
    ...pushEnd,
    'GT',
    'ISZERO',
    { to: `${name}Done` },
    'JUMPI',
    push(SPREAD),
    'DUP2',
    push(1, 1),
    'ADD',
    'MUL',
    'ADDRESS',
    'XOR',
    'DUP2',
    'SSTORE',
    push(1, 1),
    'ADD',
    { to: `${name}Loop` },
    'JUMP',
    { label: `${name}Done` },
    'POP',
  ]
}

/**
 * Runtime code of a storage contract: called with two words (start, end) it fills slots
 * [start, end). `tag` is appended after STOP as data: contracts with another tag have other code.
 */
export function fillerRuntime(tag: Uint8Array): Uint8Array {
  const code = assemble([push(0, 1), 'CALLDATALOAD', ...fillLoop([push(0x20, 1), 'CALLDATALOAD'], 'fill'), 'STOP'])
  return concatBytes(code, tag)
}

/** Creation code: fills slots [0, slots) of the new contract, then deploys `runtime` */
export function fillerCreation(slots: number, runtime: Uint8Array): Uint8Array {
  const prefix = (runtimeOffset: number) =>
    assemble([
      push(0, 1),
      ...fillLoop([push(slots, 4)], 'init'),
      // CODECOPY(0, runtimeOffset, length); RETURN(0, length)
      push(runtime.length, 2),
      'DUP1',
      push(runtimeOffset, 2),
      push(0, 1),
      'CODECOPY',
      push(0, 1),
      'RETURN',
    ])
  return concatBytes(prefix(prefix(0).length), runtime)
}

/** Call data of a filler call: slots [start, end) */
export function fillerCall(start: number, end: number): Uint8Array {
  return concatBytes(setLengthLeft(bigIntToBytes(BigInt(start)), 32), setLengthLeft(bigIntToBytes(BigInt(end)), 32))
}

/**
 * Runtime code of the disperser: called with two words (start, end) and end - start wei, it pays one
 * wei to each address `base + i` for i in [start, end) (with gas 0: the callees have no code)
 */
export function disperserRuntime(base: bigint): Uint8Array {
  return assemble([
    push(0, 1),
    'CALLDATALOAD',
    { label: 'payLoop' },
    'DUP1',
    push(0x20, 1),
    'CALLDATALOAD',
    'GT',
    'ISZERO',
    { to: 'payDone' },
    'JUMPI',
    // CALL(gas 0, base + i, 1 wei, no input, no output)
    push(0, 1),
    push(0, 1),
    push(0, 1),
    push(0, 1),
    push(1, 1),
    'DUP6',
    push(base, 20),
    'ADD',
    push(0, 1),
    'CALL',
    'POP',
    push(1, 1),
    'ADD',
    { to: 'payLoop' },
    'JUMP',
    { label: 'payDone' },
    'STOP',
  ])
}

/** Creation code that deploys `runtime` as it is */
export function plainCreation(runtime: Uint8Array): Uint8Array {
  return fillerCreation(0, runtime)
}

/** Gas of the calls above, an upper bound for a transaction's gas limit (Berlin/London costs) */
export const GAS = {
  /** A new slot: SSTORE from zero (20,000) + cold slot (2,100) + the loop's other opcodes */
  slot: 22_300,
  /** A paid fresh account: cold address (2,600) + value (9,000) + new account (25,000) + the loop */
  newAccount: 36_800,
  /** Code deposit per byte */
  codeByte: 200,
  /** Transaction data per byte (non-zero; zero bytes cost less) */
  dataByte: 16,
  create: 53_000,
  call: 21_000,
  /** Slack for everything else in a transaction */
  margin: 20_000,
} as const
