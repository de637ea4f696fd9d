import type { Agent, JobView } from '@kraken/protocol';

/** "3 s ago", "5 min ago", … from an ISO time, relative to `now`. */
export function timeAgo(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return 'never';
  const s = Math.round((now - new Date(iso).getTime()) / 1000);
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** A duration in ms as "850 ms", "12.3 s", "4 min 05 s", "2 h 03 min". */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(Math.floor(s % 60)).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/** How long a job took, or has been running for. */
export function jobDuration(job: Pick<JobView, 'startedAt' | 'finishedAt'>, now = Date.now()): string {
  if (!job.startedAt) return '—';
  const end = job.finishedAt ? new Date(job.finishedAt).getTime() : now;
  return duration(end - new Date(job.startedAt).getTime());
}

export function memory(mb: number | undefined): string {
  if (mb === undefined) return '—';
  return mb >= 1024 ? `${(mb / 1024).toFixed(1)} GiB` : `${mb} MiB`;
}

export function capabilities(agent: Pick<Agent, 'hostInfo'>): string {
  const c = agent.hostInfo?.capabilities;
  if (!c) return '—';
  const parts = [c.docker ? `docker ${c.docker}` : '', c.lxd ? `lxd ${c.lxd}` : ''].filter(Boolean);
  return parts.length ? parts.join(', ') : 'none';
}

export function system(agent: Pick<Agent, 'hostInfo'>): string {
  const h = agent.hostInfo;
  return h ? `${h.systemType} / ${h.system}` : '—';
}

/** One word for a job: its completion status when completed, else its state. */
export function jobStatus(job: Pick<JobView, 'state' | 'completionStatus'>): string {
  return job.state === 'completed' ? (job.completionStatus ?? 'completed') : job.state;
}

/** The clock time of an ISO timestamp in the browser's time zone, with milliseconds: "14:03:07.120". */
export function clockTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}
