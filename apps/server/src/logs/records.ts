import type { LogLevel } from '@kraken/protocol';
import type { LogRow } from './store';

/**
 * Turns one incoming record (our `LogRecord`, or an upstream agent's datagram with `@timestamp`,
 * `INFO`/`WARNING` levels, …) into rows, one per line of its message. Returns null for a
 * malformed record. Hand-written rather than zod: it runs for every line at 100,000+ lines/s;
 * it accepts exactly what `logRecordSchema` (packages/protocol/src/logs.ts) describes, plus the
 * upstream spellings.
 */

const LEVELS: Record<string, LogLevel> = {
  debug: 'debug',
  trace: 'debug',
  info: 'info',
  notice: 'info',
  warn: 'warn',
  warning: 'warn',
  error: 'error',
  err: 'error',
  critical: 'error',
  fatal: 'error',
};
/** pino's numeric levels. */
const PINO_LEVELS: Record<number, LogLevel> = { 10: 'debug', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'error' };

const MAX_LINE = 64 * 1024;
const MAX_LINES_PER_RECORD = 100_000;

const ISO_Z = /^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z?$/;

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** `YYYY-MM-DD hh:mm:ss.ffffff` (UTC) of a Date, with extra microseconds. */
export function chTimeOf(ms: number, micros = 0): string {
  const d = new Date(ms);
  const frac = String((d.getUTCMilliseconds() * 1000 + micros) % 1_000_000).padStart(6, '0');
  return `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}.${frac}`;
}

/** ClickHouse time of an ISO 8601 text or epoch seconds (upstream also sends `created`), or null. */
export function toChTime(v: unknown): string | null {
  if (typeof v === 'number' && Number.isFinite(v) && v > 0) {
    const ms = Math.floor(v * 1000);
    return chTimeOf(ms, Math.round((v * 1_000_000) % 1000));
  }
  if (typeof v !== 'string') return null;
  const m = ISO_Z.exec(v);
  if (m && (v.endsWith('Z') || v.length <= 26)) return `${m[1]} ${m[2]}.${(m[3] ?? '').padEnd(6, '0').slice(0, 6)}`;
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) return null;
  const frac = /\.(\d{4,6})/.exec(v)?.[1];
  return chTimeOf(ms, frac ? Number(frac.padEnd(6, '0').slice(3, 6)) : 0);
}

function idOf(v: unknown): number | null {
  if (v === undefined || v === null || v === '') return 0;
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 ? v : null;
  if (typeof v === 'string' && /^\d{1,15}$/.test(v)) return Number(v);
  return null;
}

function strOf(v: unknown, dflt: string, max = 255): string | null {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'string') return null;
  return v.length > max ? v.slice(0, max) : v;
}

export interface RecordDefaults {
  /** Used when the record has no time. */
  now: () => string;
  service?: string;
  host?: string;
}

/** Appends the rows of one record to `out`; false when the record is malformed. */
export function recordToRows(rec: unknown, defaults: RecordDefaults, out: LogRow[]): boolean {
  if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) return false;
  const r = rec as Record<string, unknown>;
  const message = r.message ?? r.msg;
  if (typeof message !== 'string') return false;

  const rawTime = r.time ?? r['@timestamp'];
  let time: string | null;
  if (rawTime === undefined || rawTime === null) time = defaults.now();
  else if (typeof rawTime === 'number' && rawTime > 1e12) time = chTimeOf(rawTime); // pino: epoch ms
  else time = toChTime(rawTime);
  if (time === null) return false;

  let level: LogLevel | undefined;
  const rawLevel = r.level ?? r.levelname;
  if (rawLevel === undefined || rawLevel === null) level = 'info';
  else if (typeof rawLevel === 'string') level = LEVELS[rawLevel.toLowerCase()];
  else if (typeof rawLevel === 'number') level = PINO_LEVELS[rawLevel];
  if (!level) return false;

  const service = strOf(r.service, defaults.service ?? 'agent', 64);
  const host = strOf(r.host ?? r.hostname, defaults.host ?? '');
  const tool = strOf(r.tool, '');
  const agent = idOf(r.agent);
  const run = idOf(r.run);
  const job = idOf(r.job);
  let step: number | null;
  if (r.step === undefined || r.step === null || r.step === '') step = -1;
  else step = typeof r.step === 'number' && Number.isInteger(r.step) && r.step >= -1 && r.step < 2 ** 31 ? r.step : null;
  if (service === null || host === null || tool === null || agent === null || run === null || job === null || step === null) return false;

  // One row per line; a trailing newline makes no empty row.
  let text = message;
  if (text.endsWith('\n')) text = text.slice(0, text.endsWith('\r\n') ? -2 : -1);
  if (text.indexOf('\n') === -1) {
    out.push({ time, seq: 0, level, message: clip(text.endsWith('\r') ? text.slice(0, -1) : text), service, host, agent, run, job, step, tool, ord: 0, batch: '' });
    return true;
  }
  const lines = text.split('\n');
  const n = Math.min(lines.length, MAX_LINES_PER_RECORD);
  for (let seq = 0; seq < n; seq++) {
    let line = lines[seq];
    if (line.endsWith('\r')) line = line.slice(0, -1);
    out.push({ time, seq, level, message: clip(line), service, host, agent, run, job, step, tool, ord: 0, batch: '' });
  }
  return true;
}

const clip = (s: string) => (s.length > MAX_LINE ? s.slice(0, MAX_LINE) : s);
