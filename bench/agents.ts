/**
 * N simulated agents against one real server: time until all authorized, server RSS, idle CPU.
 *
 * `npm run bench -- agents [--agents N]`.
 * Starts apps/server/dist/main.js on a fresh database, sets an enrollment token through the API,
 * connects N protocol-level agents (hello with a random secret + the token) from worker
 * processes, then measures: time until every agent has its `welcome` with authorized:true,
 * server RSS (VmRSS, peak VmHWM) and server CPU while idle with every agent connected.
 * Target (issue 2): 2,000 agents, RSS < 300 MB, idle CPU < 5 % of one core, on a 2-core machine.
 */
import os from 'node:os';
import { AGENT_WS_PATH } from '@kraken/protocol';
import { parseOptions } from './lib/args';
import { AgentFleet } from './lib/agent-sim';
import { runBenchmark, sleep, waitUntil } from './lib/cleanup';
import { CpuMeter, MachineCpuMeter, readCpuSeconds, readMem, RssSampler } from './lib/proc';
import { formatPgDelta, pgDelta, pgSnapshot } from './lib/pg-stats';
import { SERVER_OPTIONS, serverOptionsFrom, startBenchServer, setEnrollmentToken } from './lib/server';
import { fmtMb, fmtMs, fmtPct, summarize } from './lib/stats';
import { printResults, type Figure } from './lib/table';

const TARGET = { agents: 2000, rssMb: 300, idleCpuPercent: 5 };

const opts = parseOptions(
  {
    ...SERVER_OPTIONS,
    agents: { default: TARGET.agents, help: 'number of simulated agents' },
    workers: { default: 2, help: 'client worker processes the agents are spread over' },
    concurrency: { default: 200, help: 'handshakes (open → welcome) in flight at once, over all workers' },
    'idle-seconds': { default: 30, help: 'how long to measure server CPU with every agent connected and idle' },
    settle: { default: 5, help: 'seconds to wait after the connect phase before measuring idle CPU' },
    'connect-timeout': { default: 180, help: 'seconds allowed for the connect phase' },
  },
  process.argv.slice(2),
  'usage: npm run bench -- agents [options]',
);

async function main(): Promise<number> {
  const n = opts.agents;
  const idleSeconds = opts['idle-seconds'];
  process.stdout.write(`bench agents: ${n} agents over ${opts.workers} worker process(es), concurrency ${opts.concurrency}, idle ${idleSeconds} s; machine: ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GB, node ${process.version}\n`);

  const server = await startBenchServer(serverOptionsFrom(opts));
  const memAtStart = readMem(server.pid);
  process.stdout.write(`server pid ${server.pid} on ${server.url}, database ${server.databaseName}; RSS at start ${fmtMb(memAtStart.rssKb)}\n`);

  const token = await setEnrollmentToken(server);

  const pg0 = await pgSnapshot(server.databaseUrl);
  const fleet = new AgentFleet(opts.workers);
  const rss = new RssSampler(server.pid);
  const serverCpu = new CpuMeter(server.pid);
  const wsUrl = `ws://127.0.0.1:${server.port}${AGENT_WS_PATH}`;
  process.stdout.write(`connecting ${n} agents …\n`);
  const conn = await fleet.connect({
    wsUrl,
    token,
    count: n,
    concurrency: opts.concurrency,
    timeoutMs: opts['connect-timeout'] * 1000,
    onProgress: (w, f) => process.stdout.write(`  … ${w} welcomed${f ? `, ${f} failed` : ''}\n`),
  });
  const connectCpu = serverCpu.read();
  const rssAfterConnect = readMem(server.pid).rssKb;
  const lat = summarize(conn.latenciesMs);
  process.stdout.write(
    `connect phase: ${conn.welcomed}/${n} welcomed (${conn.authorized} authorized, ${conn.failed} failed, ${conn.retries} retries) in ${fmtMs(conn.allWelcomedMs)}; ` +
      `open→welcome p50 ${fmtMs(lat.p50)}, p90 ${fmtMs(lat.p90)}, p99 ${fmtMs(lat.p99)}, max ${fmtMs(lat.max)}\n` +
      `  server CPU during connect: ${fmtPct(connectCpu.percent)} of one core (${connectCpu.cpuSeconds.toFixed(1)} s CPU in ${connectCpu.wallSeconds.toFixed(1)} s)\n` +
      conn.workers.map((w) => `  client worker ${w.pid}: ${w.agents} agents, CPU ${fmtPct(w.cpuPercent)} of one core, RSS ${fmtMb(w.rssKb)}\n`).join(''),
  );
  for (const e of conn.errors) process.stdout.write(`  error: ${e}\n`);

  await sleep(1500); // statistics reach pg_stat_* with a delay
  const pgConnect = pgDelta(pg0, await pgSnapshot(server.databaseUrl));
  process.stdout.write(`  database work during connect: ${formatPgDelta(pgConnect)}\n`);

  // The API must agree: every agent authorized and connected.
  const counts = await waitUntil(
    'GET /api/agents/counts to show every agent',
    async () => {
      const c = await server.api<{ authorized: number; discovered: number; connected: number }>('GET', '/api/agents/counts');
      return c.authorized >= conn.authorized && c.connected >= conn.welcomed ? c : undefined;
    },
    15_000,
    500,
  ).catch(async () => server.api<{ authorized: number; discovered: number; connected: number }>('GET', '/api/agents/counts'));
  process.stdout.write(`GET /api/agents/counts: ${JSON.stringify(counts)}\n`);

  await sleep(opts.settle * 1000);
  const before = await fleet.status();
  const clientMeters = fleet.workers.map((w) => ({ pid: w.pid, cpu0: readCpuSeconds(w.pid) }));
  process.stdout.write(`measuring idle server CPU for ${idleSeconds} s with ${before.open} agents connected …\n`);
  const idleMeter = new CpuMeter(server.pid);
  const machineIdle = new MachineCpuMeter();
  const pgIdle0 = await pgSnapshot(server.databaseUrl);
  await sleep(idleSeconds * 1000);
  const idle = idleMeter.read();
  const machine = machineIdle.read();
  const pgIdle = pgDelta(pgIdle0, await pgSnapshot(server.databaseUrl));
  const clientIdle = clientMeters.map((m) => (100 * (readCpuSeconds(m.pid) - m.cpu0)) / idle.wallSeconds);
  const after = await fleet.status();
  const mem = readMem(server.pid);
  const maxRss = rss.stop();
  const countsAfter = await server.api<{ authorized: number; discovered: number; connected: number }>('GET', '/api/agents/counts');
  process.stdout.write(
    `idle phase: ${after.open} agents still open, ${after.closedAfterWelcome} closed by the server ${JSON.stringify(after.closeCodes)}, ` +
      `${after.pings - before.pings} pings answered, client workers CPU ${clientIdle.map((p) => fmtPct(p)).join(', ')}\n` +
      `database work during idle: ${formatPgDelta(pgIdle)}\n` +
      `GET /api/agents/counts after idle: ${JSON.stringify(countsAfter)}\n` +
      `server log lines: ${server.lineCount}; machine during idle phase: ${machine.coresBusy.toFixed(2)} of ${os.cpus().length} cores busy (all processes: other work on this machine skews the figures), load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`,
  );

  const allIn = conn.welcomed === n && conn.authorized === n && counts.authorized === n && counts.connected === n && after.open === n;
  const figures: Figure[] = [
    { figure: 'agents connected + authorized', value: `${conn.authorized} / ${n} (API: ${counts.authorized} authorized, ${counts.connected} connected; ${after.open} still open after idle)`, target: `${TARGET.agents}`, pass: allIn && n >= TARGET.agents },
    { figure: 'time until all authorized', value: fmtMs(conn.allWelcomedMs) },
    { figure: 'open → welcome latency', value: `p50 ${fmtMs(lat.p50)}, p99 ${fmtMs(lat.p99)}, max ${fmtMs(lat.max)}` },
    { figure: 'agents rows read by PostgreSQL during connect', value: `${pgConnect.tables.agents?.rowsRead ?? 0} (${pgConnect.commits} commits)` },
    { figure: 'server CPU during connect', value: `${fmtPct(connectCpu.percent)} of one core` },
    { figure: 'client workers CPU during connect', value: conn.workers.map((w) => fmtPct(w.cpuPercent)).join(', ') },
    { figure: 'server RSS at start', value: fmtMb(memAtStart.rssKb) },
    { figure: 'server RSS after connect', value: fmtMb(rssAfterConnect) },
    { figure: 'server RSS (VmRSS) with agents, after idle', value: fmtMb(mem.rssKb), target: `< ${TARGET.rssMb} MB`, pass: mem.rssKb / 1024 < TARGET.rssMb },
    { figure: 'server peak RSS (VmHWM)', value: `${fmtMb(mem.hwmKb)} (sampled max ${fmtMb(maxRss)})`, target: `< ${TARGET.rssMb} MB`, pass: mem.hwmKb / 1024 < TARGET.rssMb },
    { figure: 'machine CPU busy during idle phase (all processes)', value: `${machine.coresBusy.toFixed(2)} of ${os.cpus().length} cores` },
    { figure: `server CPU idle ${Math.round(idle.wallSeconds)} s`, value: `${fmtPct(idle.percent)} of one core (${idle.cpuSeconds.toFixed(2)} s CPU)`, target: `< ${TARGET.idleCpuPercent} %`, pass: idle.percent < TARGET.idleCpuPercent },
  ];
  // A server restart with every agent connected: SIGTERM must close the connections, mark the
  // agents offline and exit well within the 10 s a container runtime allows before SIGKILL.
  const stopStart = performance.now();
  const how = await server.stop(15_000);
  const stopMs = performance.now() - stopStart;
  await sleep(500);
  const afterStop = await fleet.status().catch(() => undefined);
  figures.push({
    figure: `server SIGTERM with ${after.open} agents connected`,
    value: `${how === 'code 0' ? 'exited 0' : how} in ${fmtMs(stopMs)}${afterStop ? `; agents told ${JSON.stringify(afterStop.closeCodes)}` : ''}`,
    target: 'exit 0 < 10 s',
    pass: how === 'code 0' && stopMs < 10_000,
  });

  const ok = printResults(`agents benchmark, ${new Date().toISOString()}, ${os.cpus().length} cores`, figures);
  return ok ? 0 : 1;
}

runBenchmark(main, { deadlineSeconds: 120 + opts['connect-timeout'] + opts['idle-seconds'] + opts.settle + 60 });
