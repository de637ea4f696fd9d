import { capabilities, clockTime, duration, jobDuration, jobStatus, memory, system, timeAgo } from './format';

describe('format', () => {
  const now = Date.parse('2026-11-30T12:00:00Z');

  it('shows a log line time as the local clock time, to the millisecond', () => {
    const local = new Date(2026, 10, 30, 14, 3, 7, 120);
    expect(clockTime(local.toISOString())).toBe('14:03:07.120');
    // The log store's times have microseconds.
    expect(clockTime(local.toISOString().replace('Z', '456Z'))).toBe('14:03:07.120');
    expect(clockTime('not a time')).toBe('not a time');
  });

  it('tells how long ago', () => {
    expect(timeAgo(null, now)).toBe('never');
    expect(timeAgo('2026-11-30T11:59:58Z', now)).toBe('just now');
    expect(timeAgo('2026-11-30T11:59:30Z', now)).toBe('30 s ago');
    expect(timeAgo('2026-11-30T11:55:00Z', now)).toBe('5 min ago');
    expect(timeAgo('2026-11-30T09:00:00Z', now)).toBe('3 h ago');
    expect(timeAgo('2026-11-28T12:00:00Z', now)).toBe('2 d ago');
  });

  it('formats durations', () => {
    expect(duration(null)).toBe('—');
    expect(duration(850)).toBe('850 ms');
    expect(duration(12_345)).toBe('12.3 s');
    expect(duration(245_000)).toBe('4 min 05 s');
    expect(duration(2 * 3600_000 + 3 * 60_000)).toBe('2 h 03 min');
  });

  it('measures a job from start to finish, or to now while it runs', () => {
    expect(jobDuration({ startedAt: null, finishedAt: null }, now)).toBe('—');
    expect(jobDuration({ startedAt: '2026-11-30T11:59:50Z', finishedAt: null }, now)).toBe('10.0 s');
    expect(jobDuration({ startedAt: '2026-11-30T11:00:00Z', finishedAt: '2026-11-30T11:00:01.500Z' }, now)).toBe('1.5 s');
  });

  it('names a job by its completion status once completed', () => {
    expect(jobStatus({ state: 'running', completionStatus: null })).toBe('running');
    expect(jobStatus({ state: 'completed', completionStatus: 'failed' })).toBe('failed');
  });

  it('describes hosts', () => {
    const hostInfo = {
      hostname: 'h',
      system: 'debian-12',
      systemType: 'linux' as const,
      distroName: 'debian',
      distroVersion: '12',
      isolation: 'bare-metal' as const,
      capabilities: { docker: '20.10.24' },
      cpus: 4,
      memoryMb: 8192,
      agentVersion: '0.1.0',
    };
    expect(system({ hostInfo })).toBe('linux / debian-12');
    expect(capabilities({ hostInfo })).toBe('docker 20.10.24');
    expect(capabilities({ hostInfo: { ...hostInfo, capabilities: {} } })).toBe('none');
    expect(capabilities({ hostInfo: null })).toBe('—');
    expect(memory(512)).toBe('512 MiB');
    expect(memory(8192)).toBe('8.0 GiB');
  });
});
