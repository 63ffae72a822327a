/**
 * Benchmark entry point: `npm run bench -- --suite NAME --out FILE.json`.
 * Prints a table and writes `{"suite", "machine", "figures"}`. Benchmarks never run in `npm test`.
 */
import { writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { parseArgs } from 'node:util'

import { suites } from './suites/index.js'

export interface BenchResult {
  suite: string
  machine: { cpu: string; cores: number; memoryBytes: number; node: string; platform: string }
  figures: { [name: string]: number }
}

function machine(): BenchResult['machine'] {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryBytes: totalmem(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  }
}

function printTable(result: BenchResult): void {
  const rows = Object.entries(result.figures)
  const width = Math.max(...rows.map(([name]) => name.length), 6)
  console.log(
    `suite ${result.suite} on ${result.machine.cpu} (${result.machine.cores} cores, node ${result.machine.node})`,
  )
  console.log(`${'figure'.padEnd(width)}  value`)
  for (const [name, value] of rows) {
    const shown =
      Number.isInteger(value) || Math.abs(value) >= 1000 ? Math.round(value).toString() : value.toPrecision(4)
    console.log(`${name.padEnd(width)}  ${shown}`)
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { suite: { type: 'string' }, out: { type: 'string' } },
    strict: true,
  })
  const names = Object.keys(suites).join(', ')
  if (values.suite === undefined || !(values.suite in suites)) {
    throw new Error(`--suite must be one of: ${names}`)
  }
  const figures = await suites[values.suite]({ out: values.out })
  const result: BenchResult = { suite: values.suite, machine: machine(), figures }
  printTable(result)
  if (values.out !== undefined) {
    writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`)
    console.log(`wrote ${values.out}`)
  }
}

main().catch((err: Error) => {
  console.error(err.message)
  process.exitCode = 1
})
