/**
 * N simulated agents that complete jobs instantly, M jobs through the API: jobs/s and queued → agent-received latency.
 *
 * `npm run bench -- dispatch [--agents 200] [--jobs 5000] [--rate 300]`.
 * Starts apps/server/dist/main.js on a fresh database, sets an enrollment token, connects N
 * protocol-level agents (group `all`) that answer every `job-assign` at once with job-started,
 * step-started / step-finished ok, job-finished ok. Then, in phases, each waiting until the
 * database shows every job completed:
 * 1. saturated: M one-step jobs submitted as fast as the server answers (runs of `--per-run`
 *    jobs, `--submit-concurrency` POSTs in flight): jobs/s end to end (first POST → last
 *    finished_at), the POSTs alone, and the latency while the server is saturated;
 * 2. paced: M jobs again at a steady `--rate` jobs/s in small runs: queued → agent-received
 *    latency, from the job's queued_at (database) to the arrival of its job-assign at the
 *    client (both this machine's clock), split at assigned_at;
 * 3. drain: M jobs queued first, then the agents given to their group at once: the dispatcher
 *    alone.
 * Targets (issue 3), on a 2-core machine: at least 300 jobs/s (phase 1); p99 under 50 ms at
 * 300 jobs/s (phase 2).
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { AGENT_WS_PATH } from '@kraken/protocol';
import { parseOptions } from './lib/args';
import { AgentFleet } from './lib/agent-sim';
import { runBenchmark, sleep, waitUntil } from './lib/cleanup';
import { BenchDb, epochMs } from './lib/db';
import { formatPgDelta, PgBackendCpuMeter, pgDelta, pgSnapshot } from './lib/pg-stats';
import { CpuMeter, MachineCpuMeter, readIo } from './lib/proc';
import { SERVER_OPTIONS, serverOptionsFrom, startBenchServer, setEnrollmentToken } from './lib/server';
import { fmtMs, fmtPct, summarize } from './lib/stats';
import { printResults, type Figure } from './lib/table';

const TARGET = { p99Ms: 50, jobsPerSecond: 300 };

const opts = parseOptions(
  {
    ...SERVER_OPTIONS,
    agents: { default: 200, help: 'number of simulated agents' },
    jobs: { default: 5000, help: 'number of jobs' },
    'per-run': { default: 100, help: 'jobs per POST /api/runs (one run each; a run is created in one transaction)' },
    'submit-concurrency': { default: 2, help: 'POST /api/runs in flight at once' },
    workers: { default: 2, help: 'client worker processes the agents are spread over' },
    paced: { default: true, help: 'then a phase at a steady offered load (--rate): the latency target is judged there' },
    rate: { default: 300, help: 'paced phase: jobs/s submitted (open loop, one POST every --paced-per-run / rate seconds); the --jobs jobs again' },
    'paced-per-run': { default: 10, help: 'paced phase: jobs per POST /api/runs' },
    drain: { default: true, help: 'then a second phase: queue the jobs first (no usable agent), then give the agents to their group at once, and time the dispatcher alone' },
    'timeout': { default: 300, help: 'seconds allowed for all jobs to complete' },
    'basic-auth': { default: false, help: 'submit with HTTP Basic (scrypt on every request) instead of a login session' },
    'dump': { default: '', help: 'write one line per job (id, queued_at, assigned_at, received, finished_at; epoch ms) of the first phase to this CSV file' },
  },
  process.argv.slice(2),
  'usage: npm run bench -- dispatch [options]',
);

/** A run of `n` one-step jobs (`true`), any system, in group `group`. */
function schemaOf(n: number, batch: number, group = 'all') {
  return {
    name: `bench-dispatch-${group}-${batch}`,
    jobs: Array.from({ length: n }, (_, i) => ({
      name: `j${i}`,
      timeout: 600,
      steps: [{ tool: 'shell', cmd: 'true' }],
      environments: [{ system: 'any', agents_group: group, executor: 'local' }],
    })),
  };
}

async function main(): Promise<number> {
  const n = opts.agents;
  const m = opts.jobs;
  process.stdout.write(
    `bench dispatch: ${n} simulated agents over ${opts.workers} worker(s), ${m} jobs in runs of ${opts['per-run']} (${opts['submit-concurrency']} POSTs in flight); ` +
      `machine: ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GB, node ${process.version}, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`,
  );
  const server = await startBenchServer(serverOptionsFrom(opts));
  process.stdout.write(`server pid ${server.pid} on ${server.url}, database ${server.databaseName}\n`);
  const db = await BenchDb.connect(server.databaseUrl);
  if (!opts['basic-auth']) await server.login();
  const token = await setEnrollmentToken(server);

  const fleet = new AgentFleet(opts.workers);
  const conn = await fleet.connect({ wsUrl: `ws://127.0.0.1:${server.port}${AGENT_WS_PATH}`, token, count: n, concurrency: 200, timeoutMs: 120_000, completeJobs: true });
  if (conn.authorized !== n) throw new Error(`only ${conn.authorized} of ${n} agents authorized: ${conn.errors.join('; ')}`);
  await waitUntil('every agent connected per the API', async () => (await server.api<{ connected: number }>('GET', '/api/agents/counts')).connected >= n, 30_000, 200);
  process.stdout.write(`${n} agents connected and authorized in ${fmtMs(conn.allWelcomedMs)}\n`);
  await sleep(1000); // let the connect phase's work settle

  // ---- submit ----------------------------------------------------------------------------
  const pg0 = await pgSnapshot(server.databaseUrl);
  const io0 = readIo(server.pid);
  const pgCpu = await PgBackendCpuMeter.start(server.databaseUrl);
  const serverCpu = new CpuMeter(server.pid);
  const clientCpu = fleet.workers.map((w) => new CpuMeter(w.pid));
  const machine = new MachineCpuMeter();
  const perRun = Math.max(1, opts['per-run']);
  const batches = Array.from({ length: Math.ceil(m / perRun) }, (_, i) => Math.min(perRun, m - i * perRun));
  const postMs: number[] = [];
  const t0 = performance.timeOrigin + performance.now();
  let next = 0;
  const lane = async () => {
    while (next < batches.length) {
      const b = next++;
      const s = performance.now();
      await server.api('POST', '/api/runs', { schema: schemaOf(batches[b], b) }, 201);
      postMs.push(performance.now() - s);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts['submit-concurrency']) }, lane));
  const submitEnd = performance.timeOrigin + performance.now();
  process.stdout.write(`submitted ${m} jobs in ${batches.length} runs in ${fmtMs(submitEnd - t0)}; waiting for completion …\n`);

  // ---- wait for every job to complete (database) -----------------------------------------
  let lastProgress = 0;
  const done = await waitUntil(
    `all ${m} jobs to complete`,
    async () => {
      const [r] = await db.query<{ completed: number }>(`SELECT count(*) FILTER (WHERE state = 'completed')::int AS completed FROM jobs`);
      if (Date.now() - lastProgress > 2000) {
        lastProgress = Date.now();
        process.stdout.write(`  … ${r.completed} completed\n`);
      }
      return r.completed >= m ? r : undefined;
    },
    opts.timeout * 1000,
    200,
  );
  void done;
  const cpu = serverCpu.read();
  const clients = clientCpu.map((c) => c.read());
  const busy = machine.read();
  const io1 = readIo(server.pid);
  const pgc = await pgCpu.read();

  const rows = await db.query<{ id: number; queued_at: Date; assigned_at: Date | null; finished_at: Date | null; completion_status: string | null; attempt: number }>(
    `SELECT id, queued_at, assigned_at, finished_at, completion_status, attempt FROM jobs`,
  );
  const stepRows = await db.query<{ status: string; n: number }>(`SELECT status, count(*)::int AS n FROM job_steps GROUP BY status`);
  const stepStatuses = Object.fromEntries(stepRows.map((r) => [r.status, r.n]));
  const steps = { ok: stepStatuses.ok ?? 0, total: stepRows.reduce((a, r) => a + r.n, 0) };
  const [runs] = await db.query<{ completed: number; total: number }>(`SELECT count(*) FILTER (WHERE state = 'completed')::int AS completed, count(*)::int AS total FROM runs`);
  const { received, cancels } = await fleet.jobs();
  await sleep(1000);
  const pgRun = pgDelta(pg0, await pgSnapshot(server.databaseUrl));

  const firstArrival = new Map<number, number>();
  for (const [id, at] of received) if (!firstArrival.has(id)) firstArrival.set(id, at);
  const lat: number[] = [];
  const queuedToAssigned: number[] = [];
  const assignedToReceived: number[] = [];
  let missing = 0;
  for (const r of rows) {
    const at = firstArrival.get(r.id);
    if (at === undefined) {
      missing++;
      continue;
    }
    lat.push(at - epochMs(r.queued_at));
    if (r.assigned_at) {
      queuedToAssigned.push(epochMs(r.assigned_at) - epochMs(r.queued_at));
      assignedToReceived.push(at - epochMs(r.assigned_at));
    }
  }
  if (opts.dump) {
    const lines = rows.map((r) => [r.id, epochMs(r.queued_at), r.assigned_at ? epochMs(r.assigned_at) : '', firstArrival.get(r.id) ?? '', r.finished_at ? epochMs(r.finished_at) : ''].join(','));
    writeFileSync(opts.dump, `id,queued_at,assigned_at,received,finished_at\n${lines.join('\n')}\n`);
  }
  const lastFinished = Math.max(...rows.map((r) => epochMs(r.finished_at)));
  const spanMs = lastFinished - t0;
  const jobsPerSecond = (1000 * m) / spanMs;
  const okJobs = rows.filter((r) => r.completion_status === 'ok').length;
  const s = summarize(lat);
  const qa = summarize(queuedToAssigned);
  const ar = summarize(assignedToReceived);
  const post = summarize(postMs);
  const statuses: Record<string, number> = {};
  for (const r of rows) statuses[r.completion_status ?? 'null'] = (statuses[r.completion_status ?? 'null'] ?? 0) + 1;

  process.stdout.write(
    `completion statuses: ${JSON.stringify(statuses)}; step statuses ${JSON.stringify(stepStatuses)}; job-assign received ${received.length} (${firstArrival.size} distinct jobs, ${missing} jobs never received); job-cancel received ${cancels}; max attempt ${Math.max(...rows.map((r) => r.attempt))}\n` +
      `database work: ${formatPgDelta(pgRun)}\n` +
      `server CPU first submit → last completion: ${fmtPct(cpu.percent)} of one core (${cpu.cpuSeconds.toFixed(1)} s in ${cpu.wallSeconds.toFixed(1)} s); client workers ${clients.map((c) => fmtPct(c.percent)).join(', ')}; machine ${busy.coresBusy.toFixed(2)} of ${os.cpus().length} cores busy\n`,
  );

  const figures: Figure[] = [
    { figure: 'jobs completed ok', value: `${okJobs} / ${m}${okJobs !== m ? ` ${JSON.stringify(statuses)}` : ''}`, target: `${m}`, pass: okJobs === m && missing === 0 },
    { figure: 'steps recorded ok (each agent reported ok)', value: `${steps.ok} / ${steps.total}${steps.ok !== steps.total ? ` ${JSON.stringify(stepStatuses)}` : ''}`, target: 'all', pass: steps.ok === steps.total },
    { figure: 'runs completed (every job of them completed)', value: `${runs.completed} / ${runs.total}`, target: 'all', pass: runs.completed === runs.total },
    { figure: 'jobs/s end to end (first POST → last finished_at)', value: `${jobsPerSecond.toFixed(0)} jobs/s (${m} in ${fmtMs(spanMs)})`, target: `≥ ${TARGET.jobsPerSecond}`, pass: jobsPerSecond >= TARGET.jobsPerSecond },
    { figure: 'submit: POST /api/runs', value: `${batches.length} × ${perRun} jobs in ${fmtMs(submitEnd - t0)} (${((1000 * m) / (submitEnd - t0)).toFixed(0)} jobs/s); per POST p50 ${fmtMs(post.p50)}, max ${fmtMs(post.max)}` },
    { figure: 'saturated: queued_at → agent received p50 / p99 / max', value: `${fmtMs(s.p50)} / ${fmtMs(s.p99)} / ${fmtMs(s.max)} (submitting as fast as the server answers)` },
    { figure: '  of which queued_at → assigned_at / assigned_at → received (p50, p99)', value: `${fmtMs(qa.p50)}, ${fmtMs(qa.p99)} / ${fmtMs(ar.p50)}, ${fmtMs(ar.p99)}` },
    { figure: 'server CPU during the jobs', value: `${fmtPct(cpu.percent)} of one core` },
    { figure: 'PostgreSQL backends of the bench database, CPU', value: `${fmtPct(pgc.percent)} of one core (${pgc.backends} backends)` },
    { figure: 'server per job (submit included)', value: `${((1000 * cpu.cpuSeconds) / m).toFixed(1)} ms CPU, ${((io1.syscw - io0.syscw) / m).toFixed(1)} write syscalls, ${(pgRun.commits / m).toFixed(1)} database commits` },
    { figure: 'client workers CPU', value: clients.map((c) => fmtPct(c.percent)).join(', ') },
    { figure: 'machine CPU busy (all processes)', value: `${busy.coresBusy.toFixed(2)} of ${os.cpus().length} cores` },
  ];
  if (opts.paced) figures.push(...(await pacedPhase(server, db, fleet)));
  if (opts.drain) figures.push(...(await drainPhase(server, db, fleet, batches)));
  const ok = printResults(`dispatch benchmark, ${new Date().toISOString()}, ${os.cpus().length} cores, ${n} agents, ${m} jobs`, figures);
  process.stdout.write(
    'note: queued_at is written with each job row by the one statement that stores its run, moments before that commit makes the job visible to the dispatcher.\n',
  );
  return ok ? 0 : 1;
}

/**
 * Latency at a steady offered load: POSTs of `--paced-per-run` jobs sent on a fixed schedule
 * (open loop: a slow answer does not delay the next POST) at `--rate` jobs/s, `--jobs` in all.
 * The saturated first phase shows queueing in the server; this phase shows
 * what a job waits at a given load, which is what the latency target is about.
 */
async function pacedPhase(server: Awaited<ReturnType<typeof startBenchServer>>, db: BenchDb, fleet: AgentFleet): Promise<Figure[]> {
  const perRun = Math.max(1, opts['paced-per-run']);
  const posts = Math.max(1, Math.round(opts.jobs / perRun));
  const m = posts * perRun;
  const everyMs = (1000 * perRun) / opts.rate;
  const maxId = (await db.query<{ max: number }>(`SELECT coalesce(max(id), 0)::int AS max FROM jobs`))[0].max;
  process.stdout.write(`\npaced phase: ${m} jobs at ${opts.rate} jobs/s (${posts} POSTs of ${perRun}, one every ${everyMs.toFixed(1)} ms) …\n`);
  await sleep(1000);
  const cpu = new CpuMeter(server.pid);
  const machine = new MachineCpuMeter();
  const t0 = performance.now();
  const postMs: number[] = [];
  const sent: Promise<void>[] = [];
  for (let i = 0; i < posts; i++) {
    const wait = t0 + i * everyMs - performance.now();
    if (wait > 0) await sleep(wait);
    const s = performance.now();
    sent.push(server.api('POST', '/api/runs', { schema: schemaOf(perRun, i, 'all') }, 201).then(() => void postMs.push(performance.now() - s)));
  }
  await Promise.all(sent);
  const lateMs = performance.now() - (t0 + (posts - 1) * everyMs);
  await waitUntil(
    'the paced jobs to complete',
    async () => (await db.query<{ left: number }>(`SELECT count(*) FILTER (WHERE state <> 'completed')::int AS left FROM jobs WHERE id > $1`, [maxId]))[0].left === 0,
    opts.timeout * 1000,
    100,
  );
  const c = cpu.read();
  const busy = machine.read();
  const rows = await db.query<{ id: number; queued_at: Date; assigned_at: Date; completion_status: string }>(
    `SELECT id, queued_at, assigned_at, completion_status FROM jobs WHERE id > $1`,
    [maxId],
  );
  const { received } = await fleet.jobs();
  const arrivals = new Map<number, number>();
  for (const [id, at] of received) if (!arrivals.has(id) || at < arrivals.get(id)!) arrivals.set(id, at);
  const got = rows.filter((r) => arrivals.has(r.id));
  const lat = summarize(got.map((r) => arrivals.get(r.id)! - epochMs(r.queued_at)));
  const qa = summarize(got.map((r) => epochMs(r.assigned_at) - epochMs(r.queued_at)));
  const ar = summarize(got.map((r) => arrivals.get(r.id)! - epochMs(r.assigned_at)));
  const ok = rows.filter((r) => r.completion_status === 'ok').length;
  const post = summarize(postMs);
  const offered = (1000 * m) / (performance.now() - t0 - lateMs + everyMs);
  return [
    { figure: `paced: ${m} jobs offered at ${opts.rate} jobs/s in POSTs of ${perRun}`, value: `${ok} ok, ${got.length} received; ${offered.toFixed(0)} jobs/s sent; POST p50 ${fmtMs(post.p50)}, max ${fmtMs(post.max)}`, target: `${m} ok`, pass: ok === m && got.length === m },
    { figure: 'paced: queued_at → agent received, p50', value: fmtMs(lat.p50) },
    { figure: 'paced: queued_at → agent received, p99', value: fmtMs(lat.p99), target: `< ${TARGET.p99Ms} ms`, pass: lat.p99 < TARGET.p99Ms },
    { figure: 'paced: queued_at → agent received, max', value: fmtMs(lat.max) },
    { figure: '  of which queued_at → assigned_at (p50 / p99)', value: `${fmtMs(qa.p50)} / ${fmtMs(qa.p99)}` },
    { figure: '  of which assigned_at → agent received (p50 / p99)', value: `${fmtMs(ar.p50)} / ${fmtMs(ar.p99)}` },
    { figure: 'paced: server CPU / machine', value: `${fmtPct(c.percent)} of one core / ${busy.coresBusy.toFixed(2)} of ${os.cpus().length} cores busy` },
  ];
}

/**
 * The dispatcher alone, without the submit running beside it: M jobs are queued for group
 * `drain`, whose only member (one of the agents) is disabled, so they wait; then every other
 * agent joins the group with one POST /api/groups/:id/agents and the queue drains.
 */
async function drainPhase(server: Awaited<ReturnType<typeof startBenchServer>>, db: BenchDb, fleet: AgentFleet, batches: number[]): Promise<Figure[]> {
  const m = batches.reduce((a, b) => a + b, 0);
  const group = await server.api<{ id: number }>('POST', '/api/groups', { name: 'drain' }, 201);
  const agentIds = (await db.query<{ id: number }>(`SELECT id FROM agents WHERE authorized ORDER BY id`)).map((r) => r.id);
  const [keeper, ...others] = agentIds;
  await server.api('PUT', `/api/agents/${keeper}`, { disabled: true, groups: [group.id] });
  const maxId = (await db.query<{ max: number }>(`SELECT coalesce(max(id), 0)::int AS max FROM jobs`))[0].max;
  process.stdout.write(`
drain phase: queueing ${m} jobs for group 'drain' (its only member disabled) …
`);
  const s0 = performance.now();
  let next = 0;
  const lane = async () => {
    while (next < batches.length) {
      const b = next++;
      await server.api('POST', '/api/runs', { schema: schemaOf(batches[b], b, 'drain') }, 201);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts['submit-concurrency']) }, lane));
  const submitMs = performance.now() - s0;
  const [q] = await db.query<{ queued: number }>(`SELECT count(*) FILTER (WHERE state = 'queued')::int AS queued FROM jobs WHERE id > $1`, [maxId]);
  await sleep(1000);
  const pg0 = await pgSnapshot(server.databaseUrl);
  const io0 = readIo(server.pid);
  const pgCpu = await PgBackendCpuMeter.start(server.databaseUrl);
  const cpu = new CpuMeter(server.pid);
  const machine = new MachineCpuMeter();
  const t0 = performance.timeOrigin + performance.now();
  await server.api('POST', `/api/groups/${group.id}/agents`, { agentIds: others });
  await waitUntil(
    'the drain jobs to complete',
    async () => (await db.query<{ left: number }>(`SELECT count(*) FILTER (WHERE state <> 'completed')::int AS left FROM jobs WHERE id > $1`, [maxId]))[0].left === 0,
    opts.timeout * 1000,
    200,
  );
  const c = cpu.read();
  const busy = machine.read();
  const pgc = await pgCpu.read();
  const io1 = readIo(server.pid);
  const rows = await db.query<{ id: number; assigned_at: Date; finished_at: Date; completion_status: string }>(
    `SELECT id, assigned_at, finished_at, completion_status FROM jobs WHERE id > $1`,
    [maxId],
  );
  const { received } = await fleet.jobs();
  const arrivals = new Map<number, number>();
  for (const [id, at] of received) if (!arrivals.has(id) || at < arrivals.get(id)!) arrivals.set(id, at);
  const ar = summarize(rows.filter((r) => arrivals.has(r.id)).map((r) => arrivals.get(r.id)! - epochMs(r.assigned_at)));
  const firstAssigned = Math.min(...rows.map((r) => epochMs(r.assigned_at)));
  const spanMs = Math.max(...rows.map((r) => epochMs(r.finished_at))) - t0;
  const ok = rows.filter((r) => r.completion_status === 'ok').length;
  const [steps] = await db.query<{ ok: number }>(`SELECT count(*) FILTER (WHERE status = 'ok')::int AS ok FROM job_steps WHERE job_id > $1`, [maxId]);
  await sleep(1000);
  const pg = pgDelta(pg0, await pgSnapshot(server.databaseUrl));
  const jps = (1000 * m) / spanMs;
  process.stdout.write(
    `drain: ${q.queued} queued (POSTs took ${fmtMs(submitMs)}, ${((1000 * m) / submitMs).toFixed(0)} jobs/s, with no dispatching beside them); ${ok}/${m} ok, steps ok ${steps.ok}; ` +
      `first assignment ${fmtMs(firstAssigned - t0)} after the group change; server CPU ${fmtPct(c.percent)} of one core, machine ${busy.coresBusy.toFixed(2)} cores busy\n` +
      `  database work: ${formatPgDelta(pg)}\n`,
  );
  return [
    { figure: 'drain: submit alone (POST /api/runs, nothing dispatched)', value: `${((1000 * m) / submitMs).toFixed(0)} jobs/s (${m} in ${fmtMs(submitMs)})` },
    { figure: `drain: ${m} queued jobs, ${others.length} agents join → all completed`, value: `${jps.toFixed(0)} jobs/s (${fmtMs(spanMs)}; ${ok} ok)`, target: `≥ ${TARGET.jobsPerSecond}`, pass: ok === m && jps >= TARGET.jobsPerSecond },
    { figure: 'drain: assigned_at → agent received p50 / p99', value: `${fmtMs(ar.p50)} / ${fmtMs(ar.p99)}` },
    { figure: 'drain: server CPU / its PostgreSQL backends CPU / machine', value: `${fmtPct(c.percent)} / ${fmtPct(pgc.percent)} of one core / ${busy.coresBusy.toFixed(2)} of ${os.cpus().length} cores busy` },
    { figure: 'drain: server per job', value: `${((1000 * c.cpuSeconds) / m).toFixed(1)} ms CPU, ${((io1.syscw - io0.syscw) / m).toFixed(1)} write syscalls, ${(pg.commits / m).toFixed(1)} commits` },
  ];
}

runBenchmark(main, { deadlineSeconds: 180 + opts.timeout });
