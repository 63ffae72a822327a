/**
 * A line chart of progress over time as a standalone SVG (no library: a few polylines and labels),
 * for the sync suite's full-versus-snap run.
 */

/** One line of the chart: progress shares (0 to 1) at seconds */
export interface Series {
  name: string
  color: string
  points: readonly { seconds: number; share: number }[]
}

const WIDTH = 820
const HEIGHT = 420
const MARGIN = { left: 60, right: 20, top: 40, bottom: 70 }

/** A round step for about `ticks` axis marks over `span` */
function step(span: number, ticks: number): number {
  const raw = span / ticks
  const magnitude = 10 ** Math.floor(Math.log10(raw))
  return [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw
}

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/** The SVG text of the chart */
export function progressChart(title: string, series: readonly Series[], note: string): string {
  const maxSeconds = Math.max(1, ...series.flatMap((s) => s.points.map((p) => p.seconds)))
  const plotW = WIDTH - MARGIN.left - MARGIN.right
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom
  const x = (seconds: number) => MARGIN.left + (seconds / maxSeconds) * plotW
  const y = (share: number) => MARGIN.top + (1 - Math.min(1, Math.max(0, share))) * plotH
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" ` +
      `font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(title)}</text>`,
  ]
  const xStep = step(maxSeconds, 10)
  for (let s = 0; s <= maxSeconds + 1e-9; s += xStep) {
    out.push(`<line x1="${x(s)}" y1="${y(0)}" x2="${x(s)}" y2="${y(1)}" stroke="#eee"/>`)
    out.push(`<text x="${x(s)}" y="${y(0) + 16}" text-anchor="middle">${Math.round(s)}</text>`)
  }
  for (let p = 0; p <= 100; p += 20) {
    out.push(`<line x1="${x(0)}" y1="${y(p / 100)}" x2="${x(maxSeconds)}" y2="${y(p / 100)}" stroke="#eee"/>`)
    out.push(`<text x="${x(0) - 6}" y="${y(p / 100) + 4}" text-anchor="end">${p}%</text>`)
  }
  out.push(`<rect x="${x(0)}" y="${y(1)}" width="${plotW}" height="${plotH}" fill="none" stroke="#888"/>`)
  out.push(
    `<text x="${x(maxSeconds / 2)}" y="${y(0) + 34}" text-anchor="middle">` +
      `seconds since the syncing process started</text>`,
  )
  for (const [i, s] of series.entries()) {
    const points = s.points.map((p) => `${x(p.seconds).toFixed(1)},${y(p.share).toFixed(1)}`).join(' ')
    out.push(`<polyline points="${points}" fill="none" stroke="${s.color}" stroke-width="2"/>`)
    const last = s.points[s.points.length - 1]
    if (last !== undefined) out.push(`<circle cx="${x(last.seconds)}" cy="${y(last.share)}" r="4" fill="${s.color}"/>`)
    out.push(`<rect x="${MARGIN.left + 10}" y="${MARGIN.top + 10 + i * 18}" width="14" height="4" fill="${s.color}"/>`)
    out.push(`<text x="${MARGIN.left + 30}" y="${MARGIN.top + 16 + i * 18}">${escapeXml(s.name)}</text>`)
  }
  out.push(`<text x="${MARGIN.left}" y="${HEIGHT - 12}" font-size="11" fill="#444">${escapeXml(note)}</text>`)
  out.push('</svg>')
  return `${out.join('\n')}\n`
}
