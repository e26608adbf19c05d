// Summarises a V8 .cpuprofile (node --cpu-prof): top functions by self time and by total
// time, with file:line, so a missed benchmark target can be traced to the code that costs it.
// Usage: node bench/profile.ts <file.cpuprofile> [top=25] [filter-regexp]
import { readFileSync } from 'node:fs'

interface Node { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, children?: number[], hitCount?: number }
interface Profile { nodes: Node[], samples: number[], timeDeltas: number[] }

export function summarise (profile: Profile, top = 25, filter?: RegExp): string {
  const byId = new Map(profile.nodes.map(n => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const selfUs = new Map<number, number>()
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)))
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0)
  const label = (n: Node) => {
    const f = n.callFrame
    const file = f.url.replace(/^file:\/\//, '').replace(/.*node_modules\//, 'nm:').replace(/.*\/dist\//, 'dist/')
    return `${f.functionName || '(anonymous)'} ${file}:${f.lineNumber + 1}`
  }
  const self = new Map<string, number>()
  const inclusive = new Map<string, number>()
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!
    self.set(label(n), (self.get(label(n)) ?? 0) + us)
    const seen = new Set<string>()
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const l = label(byId.get(cur)!)
      if (seen.has(l)) continue
      seen.add(l)
      inclusive.set(l, (inclusive.get(l) ?? 0) + us)
    }
  }
  const fmt = (m: Map<string, number>) => [...m].filter(([l]) => !filter || filter.test(l)).sort((a, b) => b[1] - a[1]).slice(0, top)
    .map(([l, us]) => `${(100 * us / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${l}`).join('\n')
  return `total ${(total / 1000).toFixed(0)} ms sampled\n\nself time:\n${fmt(self)}\n\ntotal time (inclusive):\n${fmt(inclusive)}\n`
}

if (import.meta.main) {
  const [file, top, filter] = process.argv.slice(2)
  if (!file) { console.error('usage: node bench/profile.ts <file.cpuprofile> [top] [filter]'); process.exit(2) }
  console.log(summarise(JSON.parse(readFileSync(file, 'utf8')) as Profile, Number(top ?? 25), filter ? new RegExp(filter) : undefined))
}
