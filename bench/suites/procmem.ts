/**
 * A process's memory as Linux reports it in /proc/<pid>/status. The RSS (and its peak, VmHWM) also
 * counts the file pages LevelDB maps to read its tables: clean page cache, shared and dropped under
 * pressure, which grows with the DB read. RssAnon is what the process itself holds (heap, buffers).
 */
import { readFileSync } from 'node:fs'

/** The fields of /proc/<pid>/status read here, in bytes */
export interface ProcMemory {
  /** Peak resident set (VmHWM) */
  readonly peakRss: number
  readonly rss: number
  /** Anonymous pages: the process's own memory */
  readonly rssAnon: number
  /** File-backed pages: mapped files, LevelDB's tables among them */
  readonly rssFile: number
}

const kB = (status: string, field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024

/** The memory of process `pid` (default: this one) */
export function procMemory(pid: number | 'self' = 'self'): ProcMemory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return {
    peakRss: kB(status, 'VmHWM'),
    rss: kB(status, 'VmRSS'),
    rssAnon: kB(status, 'RssAnon'),
    rssFile: kB(status, 'RssFile'),
  }
}

/** Samples a process's memory every `ms` and keeps the peaks of its RSS parts */
export class MemorySampler {
  peakRssAnon = 0
  peakRssFile = 0
  private readonly timer: NodeJS.Timeout

  constructor(
    private readonly pid: number | 'self',
    ms: number,
  ) {
    this.timer = setInterval(() => this.sample(), ms)
    this.timer.unref()
  }

  sample(): ProcMemory | undefined {
    try {
      const m = procMemory(this.pid)
      this.peakRssAnon = Math.max(this.peakRssAnon, m.rssAnon)
      this.peakRssFile = Math.max(this.peakRssFile, m.rssFile)
      return m
    } catch {
      return undefined // the process has exited
    }
  }

  stop(): void {
    clearInterval(this.timer)
  }
}
