// Fails on a source line longer than 120 characters. Biome's formatter breaks code at that width but
// leaves comments and string literals as they are: this catches those. Usage: node scripts/linelength.mjs
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

const MAX = 120
const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.ts', '*.mjs'], {
  encoding: 'utf8',
})
  .split('\n')
  .filter((f) => f !== '')
let long = 0
for (const file of files) {
  let text
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    continue // listed by git, deleted in the work tree
  }
  for (const [i, line] of text.split('\n').entries()) {
    if (line.length > MAX) {
      long++
      console.log(`${file}:${i + 1}: ${line.length} characters (at most ${MAX})`)
    }
  }
}
if (long > 0) {
  console.log(`${long} lines over ${MAX} characters`)
  process.exit(1)
}
