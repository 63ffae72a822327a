/**
 * The folders of `src/sync/` are layers (src/sync/README.md): each imports only from the folders
 * below it, and `src/` likewise by its layers. A reader can then follow the sync top-down.
 */
import { strict as assert } from 'node:assert'
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src')

/** Top to bottom: a folder may import from those after it, never from those before it */
const SYNC_LAYERS = ['synchronizer', 'download', 'pivot', 'scheduler', 'work', 'report', 'peers']
const SRC_LAYERS = [['cli.ts'], ['client'], ['server', 'sync'], ['db', 'trie', 'wire']]

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return tsFiles(path)
    return name.endsWith('.ts') ? [path] : []
  })
}

/** Relative imports of a file, as paths under `root` */
function importsOf(file: string, root = SRC): string[] {
  const text = readFileSync(file, 'utf8')
  const found = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)]
  return found.map((m) => relative(root, resolve(dirname(file), m[1])))
}

/** The imports that run upward: from a file to a layer above its own (`layerOf`: index, -1 for none) */
function upwardImports(files: string[], layerOf: (path: string) => number, root = SRC): string[] {
  const wrong: string[] = []
  for (const file of files) {
    const from = layerOf(relative(root, file))
    for (const target of importsOf(file, root)) {
      const to = layerOf(target)
      if (from >= 0 && to >= 0 && to < from) wrong.push(`${relative(root, file)} imports ${target}`)
    }
  }
  return wrong
}

describe('[layers]', () => {
  it('src/sync/: every file is in a layer folder, and no import runs upward', () => {
    const files = tsFiles(join(SRC, 'sync'))
    const layerOf = (p: string) => SYNC_LAYERS.indexOf(p.split('/')[1])
    const outside = files.filter((f) => layerOf(relative(SRC, f)) < 0)
    assert.deepEqual(outside, [], 'files outside the layer folders')
    assert.deepEqual(upwardImports(files, layerOf), [])
  })

  it('src/: the sync and the server use the trie and wire layers; only the plugin glue uses them', () => {
    const layerOf = (p: string) => SRC_LAYERS.findIndex((names) => names.includes(p.split('/')[0]))
    assert.deepEqual(upwardImports(tsFiles(SRC), layerOf), [])
    const across = tsFiles(join(SRC, 'server')).flatMap((f) => importsOf(f).filter((t) => t.startsWith('sync/')))
    assert.deepEqual(across, [], 'the server does not import the sync')
    const back = tsFiles(join(SRC, 'sync')).flatMap((f) => importsOf(f).filter((t) => t.startsWith('server/')))
    assert.deepEqual(back, [], 'the sync does not import the server')
  })

  it('finds an upward import (the check itself can fail)', () => {
    const root = mkdtempSync(join(tmpdir(), 'layers-'))
    try {
      mkdirSync(join(root, 'high'))
      mkdirSync(join(root, 'low'))
      writeFileSync(join(root, 'high', 'a.ts'), "import { b } from '../low/b.js'\n")
      writeFileSync(join(root, 'low', 'b.ts'), "import type { A } from '../high/a.js'\n")
      const layerOf = (p: string) => ['high', 'low'].indexOf(p.split('/')[0])
      assert.deepEqual(upwardImports(tsFiles(root), layerOf, root), ['low/b.ts imports high/a.js'])
    } finally {
      rmSync(root, { recursive: true })
    }
  })
})
