import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

/** Linux /proc readers: memory and CPU time of a process, for benchmarks. */

let clkTck: number | undefined;
/** Clock ticks per second (USER_HZ), the unit of utime/stime in /proc/<pid>/stat. */
export function clockTicks(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

export interface MemInfo {
  /** Resident set size now (VmRSS), kB. */
  rssKb: number;
  /** Peak resident set size (VmHWM), kB. */
  hwmKb: number;
}

export function readMem(pid: number): MemInfo {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
}

/** CPU time (user + system) the process has used so far, in seconds. */
export function readCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  const utime = Number(fields[14 - 3]);
  const stime = Number(fields[15 - 3]);
  return (utime + stime) / clockTicks();
}

/** A CPU-usage meter: start it, later read the % of one core the process used since the start. */
export class CpuMeter {
  private startCpu: number;
  private startWall: number;

  constructor(private readonly pid: number) {
    this.startCpu = readCpuSeconds(pid);
    this.startWall = performance.now();
  }

  /** CPU used since the start, as % of one core, plus the raw figures. */
  read(): { percent: number; cpuSeconds: number; wallSeconds: number } {
    const cpuSeconds = readCpuSeconds(this.pid) - this.startCpu;
    const wallSeconds = (performance.now() - this.startWall) / 1000;
    return { percent: wallSeconds > 0 ? (100 * cpuSeconds) / wallSeconds : 0, cpuSeconds, wallSeconds };
  }
}

/** Measures a process's CPU over `seconds` of wall time (the process should be otherwise idle). */
export async function measureCpu(pid: number, seconds: number): Promise<{ percent: number; cpuSeconds: number; wallSeconds: number }> {
  const meter = new CpuMeter(pid);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  return meter.read();
}

/** Samples RSS every `everyMs` to keep the maximum seen (VmHWM covers the whole life of the process). */
export class RssSampler {
  maxRssKb = 0;
  private timer: NodeJS.Timeout;

  constructor(private readonly pid: number, everyMs = 250) {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
  }

  private sample(): void {
    try {
      this.maxRssKb = Math.max(this.maxRssKb, readMem(this.pid).rssKb);
    } catch {
      /* the process is gone */
    }
  }

  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.maxRssKb;
  }
}

/** Busy and total CPU time of the whole machine so far (from /proc/stat), in clock ticks. */
export function readMachineCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}

/** A meter of the whole machine's CPU use, in cores busy (e.g. 1.4 of 2), since its start. */
export class MachineCpuMeter {
  private start = readMachineCpu();

  read(): { coresBusy: number; percentOfMachine: number } {
    const now = readMachineCpu();
    const total = now.total - this.start.total;
    const share = total > 0 ? (now.busy - this.start.busy) / total : 0;
    return { coresBusy: share * os.cpus().length, percentOfMachine: 100 * share };
  }
}

/** I/O counters of a process (/proc/<pid>/io): read/write system calls so far, e.g. to count round trips per job. */
export function readIo(pid: number): { syscr: number; syscw: number } {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const n = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(io)?.[1] ?? NaN);
    return { syscr: n('syscr'), syscw: n('syscw') };
  } catch {
    return { syscr: NaN, syscw: NaN };
  }
}
