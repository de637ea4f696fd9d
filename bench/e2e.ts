/**
 * K real kkagent processes (local executor), N one-step `true` jobs at once: jobs/s and submit → completed; then idle single jobs.
 *
 * `npm run bench -- e2e [--agents 4] [--jobs 200] [--singles 10]`.
 * Starts apps/server/dist/main.js on a fresh database, sets an enrollment token, starts K
 * `node apps/agent/dist/kkagent.js run -s URL -d <temp dir>` with KRAKEN_AGENT_TOKEN (group
 * `all`, local executor), then:
 * 1. burst: one POST /api/runs with N jobs of one `shell` step `true`; jobs/s from sending the
 *    POST to the last job's finished_at (database), and submit → completed (finished_at) p50/p99;
 * 2. idle: `--singles` runs of one such job, one at a time on the idle system, each submitted
 *    when the previous one completed (and a pause): submit → completed median.
 * Targets (issue 3), on a 2-core machine: at least 50 jobs/s, idle submit → completed under 50 ms.
 */
import os from 'node:os';
import { parseOptions } from './lib/args';
import { runBenchmark, sleep, waitUntil } from './lib/cleanup';
import { BenchDb, epochMs } from './lib/db';
import { startKkagents } from './lib/kkagent';
import { formatPgDelta, pgDelta, pgSnapshot } from './lib/pg-stats';
import { CpuMeter, MachineCpuMeter, readIo } from './lib/proc';
import { SERVER_OPTIONS, serverOptionsFrom, startBenchServer, setEnrollmentToken } from './lib/server';
import { fmtMs, fmtPct, percentile, summarize } from './lib/stats';
import { printResults, type Figure } from './lib/table';

const TARGET = { jobsPerSecond: 50, idleMs: 50 };
const UPSTREAM =
  'upstream Kraken dispatches on a 5 s scheduler tick plus a 5 s agent poll; a mature peer CI measured on these machines does about 5 jobs/s with 4 workers and 340 ms idle submit→done';

const opts = parseOptions(
  {
    ...SERVER_OPTIONS,
    agents: { default: 4, help: 'number of kkagent processes' },
    jobs: { default: 200, help: 'jobs submitted at once (one run)' },
    singles: { default: 10, help: 'single jobs submitted one at a time on the idle system' },
    pause: { default: 300, help: 'ms of pause before each single job' },
    warmup: { default: true, help: 'run one job per agent first (not measured)' },
    timeout: { default: 180, help: 'seconds allowed for the burst to complete' },
    'agent-log-level': { default: '', help: 'KRAKEN_LOG_LEVEL for the agents (empty = their default, info); their log lines are shipped to the server' },
    'cpu-prof': { default: '', help: 'write V8 CPU profiles of the server and the agents into this directory (node --cpu-prof)' },
    'basic-auth': { default: false, help: 'submit with HTTP Basic (scrypt on every request) instead of a login session' },
    'agent-logs': { default: '', help: 'write each agent output to DIR/agent-<i>.log' },
  },
  process.argv.slice(2),
  'usage: npm run bench -- e2e [options]',
);

function schemaOf(n: number, name: string) {
  return {
    name,
    jobs: Array.from({ length: n }, (_, i) => ({
      name: `j${i}`,
      steps: [{ tool: 'shell', cmd: 'true' }],
      environments: [{ system: 'any', agents_group: 'all', executor: 'local' }],
    })),
  };
}

const nowMs = () => performance.timeOrigin + performance.now();

async function main(): Promise<number> {
  const k = opts.agents;
  const n = opts.jobs;
  process.stdout.write(
    `bench e2e: ${k} kkagent processes, ${n} jobs at once, then ${opts.singles} single jobs; machine: ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GB, node ${process.version}, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`,
  );
  const prof = opts['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${opts['cpu-prof']}`] : [];
  const agentLogEnv = opts['agent-log-level'] ? { KRAKEN_LOG_LEVEL: opts['agent-log-level'] } : {};
  const server = await startBenchServer(serverOptionsFrom(opts));
  process.stdout.write(`server pid ${server.pid} on ${server.url}, database ${server.databaseName}\n`);
  const db = await BenchDb.connect(server.databaseUrl);
  if (!opts['basic-auth']) await server.login();
  const token = await setEnrollmentToken(server);

  const agents = startKkagents({ count: k, serverUrl: server.url, token, env: agentLogEnv, nodeArgs: prof, logDir: opts['agent-logs'] || undefined });
  try {
    await waitUntil(
      `${k} agents connected and authorized`,
      async () => {
        const dead = agents.find((a) => a.child.exitCode !== null || a.child.signalCode !== null);
        if (dead) throw new Error(`agent ${dead.pid} exited: ${dead.lines.slice(-5).join(' | ')}`);
        const c = await server.api<{ authorized: number; connected: number }>('GET', '/api/agents/counts');
        return c.authorized >= k && c.connected >= k;
      },
      60_000,
      100,
    );
  } catch (err) {
    for (const a of agents) process.stderr.write(`agent ${a.pid}:\n${a.lines.slice(-10).join('\n')}\n`);
    throw err;
  }
  process.stdout.write(`${k} agents connected and authorized\n`);

  const runAndWait = async (count: number, name: string, timeoutMs: number) => {
    const sent = nowMs();
    const run = await server.api<{ id: number }>('POST', '/api/runs', { schema: schemaOf(count, name) }, 201);
    const answered = nowMs();
    await waitUntil(
      `run ${run.id} to complete`,
      async () => {
        const [r] = await db.query<{ left: number }>(`SELECT count(*) FILTER (WHERE state <> 'completed')::int AS left FROM jobs WHERE run_id = $1`, [run.id]);
        return r.left === 0;
      },
      timeoutMs,
      count === 1 ? 2 : 100,
    );
    const rows = await db.query<{ id: number; queued_at: Date; assigned_at: Date | null; started_at: Date | null; finished_at: Date; completion_status: string; agent_id: number | null }>(
      `SELECT id, queued_at, assigned_at, started_at, finished_at, completion_status, agent_id FROM jobs WHERE run_id = $1`,
      [run.id],
    );
    return { sent, answered, rows };
  };

  if (opts.warmup) {
    await runAndWait(k, 'warm-up', 60_000);
    await sleep(500);
  }

  // ---- burst --------------------------------------------------------------------------------
  const pg0 = await pgSnapshot(server.databaseUrl);
  const io0 = readIo(server.pid);
  const serverCpu = new CpuMeter(server.pid);
  const agentCpu = agents.map((a) => new CpuMeter(a.pid));
  const machine = new MachineCpuMeter();
  const burst = await runAndWait(n, 'burst', opts.timeout * 1000);
  const cpu = serverCpu.read();
  const agentsCpu = agentCpu.map((c) => c.read());
  const busy = machine.read();
  const io1 = readIo(server.pid);
  await sleep(1000); // statistics reach pg_stat_* with a delay
  const pgBurst = pgDelta(pg0, await pgSnapshot(server.databaseUrl));
  const lastFinished = Math.max(...burst.rows.map((r) => epochMs(r.finished_at)));
  const burstMs = lastFinished - burst.sent;
  const jobsPerSecond = (1000 * n) / burstMs;
  const submitToDone = summarize(burst.rows.map((r) => epochMs(r.finished_at) - burst.sent));
  const okBurst = burst.rows.filter((r) => r.completion_status === 'ok').length;
  const perAgent: Record<string, number> = {};
  for (const r of burst.rows) perAgent[String(r.agent_id)] = (perAgent[String(r.agent_id)] ?? 0) + 1;
  const startedToFinished = summarize(burst.rows.filter((r) => r.started_at).map((r) => epochMs(r.finished_at) - epochMs(r.started_at)));
  const assignedToStarted = summarize(burst.rows.filter((r) => r.started_at && r.assigned_at).map((r) => epochMs(r.started_at) - epochMs(r.assigned_at)));
  process.stdout.write(
    `burst: ${okBurst}/${n} ok in ${fmtMs(burstMs)} (POST answered after ${fmtMs(burst.answered - burst.sent)}); jobs per agent ${JSON.stringify(perAgent)}\n` +
      `  per job: assigned_at → started_at p50 ${fmtMs(assignedToStarted.p50)}, started_at → finished_at p50 ${fmtMs(startedToFinished.p50)} p99 ${fmtMs(startedToFinished.p99)}\n` +
      `  server CPU ${fmtPct(cpu.percent)} of one core (${cpu.cpuSeconds.toFixed(1)} s); agents CPU ${agentsCpu.map((c) => fmtPct(c.percent)).join(', ')}; machine ${busy.coresBusy.toFixed(2)} of ${os.cpus().length} cores busy\n` +
      `  server per job: ${((1000 * cpu.cpuSeconds) / n).toFixed(1)} ms CPU, ${((io1.syscw - io0.syscw) / n).toFixed(1)} write and ${((io1.syscr - io0.syscr) / n).toFixed(1)} read system calls, ${(pgBurst.commits / n).toFixed(1)} database commits\n` +
      `  database work during the burst (incl. the POST and the check queries of this benchmark): ${formatPgDelta(pgBurst)}\n`,
  );

  // ---- idle single jobs ------------------------------------------------------------------------
  const singles: { total: number; post: number; queuedToAssigned: number; assignedToStarted: number; startedToFinished: number }[] = [];
  let okSingles = 0;
  for (let i = 0; i < opts.singles; i++) {
    await sleep(opts.pause);
    const r = await runAndWait(1, `single-${i}`, 30_000);
    const j = r.rows[0];
    if (j.completion_status === 'ok') okSingles++;
    singles.push({
      total: epochMs(j.finished_at) - r.sent,
      post: r.answered - r.sent,
      queuedToAssigned: epochMs(j.assigned_at) - epochMs(j.queued_at),
      assignedToStarted: epochMs(j.started_at) - epochMs(j.assigned_at),
      startedToFinished: epochMs(j.finished_at) - epochMs(j.started_at),
    });
  }
  const med = (pick: (s: (typeof singles)[number]) => number) => percentile(singles.map(pick), 50);
  const idleMedian = med((s) => s.total);
  process.stdout.write(
    `idle single jobs (ms, submit → completed): ${singles.map((s) => s.total.toFixed(0)).join(', ')}\n` +
      `  medians: POST answered ${fmtMs(med((s) => s.post))}; queued_at → assigned_at ${fmtMs(med((s) => s.queuedToAssigned))}, assigned_at → started_at ${fmtMs(med((s) => s.assignedToStarted))}, started_at → finished_at ${fmtMs(med((s) => s.startedToFinished))}\n`,
  );

  const figures: Figure[] = [
    { figure: 'burst jobs completed ok', value: `${okBurst} / ${n}`, target: `${n}`, pass: okBurst === n },
    { figure: `burst: jobs/s (${k} agents, POST sent → last finished_at)`, value: `${jobsPerSecond.toFixed(1)} jobs/s (${n} in ${fmtMs(burstMs)})`, target: `≥ ${TARGET.jobsPerSecond}`, pass: jobsPerSecond >= TARGET.jobsPerSecond },
    { figure: 'burst: submit → completed p50 / p99', value: `${fmtMs(submitToDone.p50)} / ${fmtMs(submitToDone.p99)}` },
    { figure: 'burst: server CPU / agents CPU', value: `${fmtPct(cpu.percent)} / ${agentsCpu.map((c) => fmtPct(c.percent)).join(', ')} of one core` },
    { figure: 'burst: server CPU per job', value: `${((1000 * cpu.cpuSeconds) / n).toFixed(1)} ms (${((io1.syscw - io0.syscw) / n).toFixed(0)} write syscalls, ${(pgBurst.commits / n).toFixed(1)} commits)` },
    { figure: 'idle single jobs completed ok', value: `${okSingles} / ${opts.singles}`, target: `${opts.singles}`, pass: okSingles === opts.singles },
    { figure: `idle: submit → completed, median of ${opts.singles}`, value: `${fmtMs(idleMedian)} (min ${fmtMs(Math.min(...singles.map((s) => s.total)))}, max ${fmtMs(Math.max(...singles.map((s) => s.total)))})`, target: `< ${TARGET.idleMs} ms`, pass: idleMedian < TARGET.idleMs },
  ];
  const ok = printResults(`e2e benchmark, ${new Date().toISOString()}, ${os.cpus().length} cores, ${k} agents`, figures);
  process.stdout.write(`comparison: ${UPSTREAM}.\n`);
  return ok ? 0 : 1;
}

runBenchmark(main, { deadlineSeconds: 240 + opts.timeout + opts.singles * 35 });
