import { readFileSync } from 'node:fs';

/**
 * Summary of a V8 CPU profile (node --cpu-prof): self time by function and by "area" (the
 * package or source directory), to see where a server spent its CPU during a benchmark.
 * Usage from the command line: `node --import tsx bench/lib/cpu-profile.ts FILE.cpuprofile [top]`.
 */
interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export function areaOf(url: string): string {
  if (!url) return '(native/gc/idle)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  const src = /\/(apps|packages)\/([^/]+)\/(?:dist|src|generated)\/(.*)$/.exec(url);
  if (src) return `${src[1]}/${src[2]}/${src[3].split('/')[0]}`;
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0];
  return url.replace(/^file:\/\//, '').split('/').slice(-2).join('/');
}

export function summarizeCpuProfile(file: string, top = 25): string {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const fn = new Map<string, number>();
  const area = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const f = n.callFrame;
    const name = f.functionName || '(anonymous)';
    if (name === '(idle)' || name === '(program)' || name === '(garbage collector)') {
      fn.set(name, (fn.get(name) ?? 0) + us);
      area.set(name, (area.get(name) ?? 0) + us);
      continue;
    }
    const key = `${name} ${areaOf(f.url)}:${f.lineNumber + 1}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    const a = areaOf(f.url);
    area.set(a, (area.get(a) ?? 0) + us);
  }
  const fmt = (m: Map<string, number>, k: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, k)
      .map(([name, us]) => `  ${(us / 1000).toFixed(0).padStart(7)} ms ${((100 * us) / total).toFixed(1).padStart(5)} %  ${name}`)
      .join('\n');
  return `profile ${file}: ${(total / 1e6).toFixed(1)} s sampled\nby area (self time):\n${fmt(area, 20)}\ntop functions (self time):\n${fmt(fn, top)}\n`;
}

if (require.main === module) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: node --import tsx bench/lib/cpu-profile.ts FILE.cpuprofile [top]\n');
    process.exit(2);
  }
  process.stdout.write(summarizeCpuProfile(file, Number(top) || 25));
}
