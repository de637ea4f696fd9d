/**
 * Log shipping: lines/s accepted and stored end to end, and loss, for the reliable path and UDP.
 *
 * `npm run bench -- logs [--lines N] [--udp N]`.
 * Starts the log intake as a real process (apps/clickhouse-proxy: the server's intake code on
 * embedded ClickHouse in a fresh tmp dir), then:
 * - reliable: the agent's LogShipper writes N lines of one job as fast as its back-pressure lets
 *   it, then flushes (a flush resolves once the intake has stored every line). Figures: lines/s
 *   accepted by the shipper, lines/s stored end to end (first write → flush resolved).
 * - udp: N upstream-style JSON datagrams (one line each) sent as fast as possible to the same port.
 * Then the intake is stopped and the rows of each job are counted in ClickHouse: loss = sent − stored.
 * Target (issue 4): ≥ 100,000 lines/s through the reliable path with zero loss.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { LogShipper } from '../apps/agent/src/logs/shipper';
import { LogStore } from '../apps/server/src/logs/store';
import { parseOptions } from './lib/args';
import { onCleanup, runBenchmark, sleep } from './lib/cleanup';
import { readCpuSeconds, readMem } from './lib/proc';
import { printResults, type Figure } from './lib/table';

const TARGET_RELIABLE = 100_000;

const opts = parseOptions(
  {
    lines: { default: 1_000_000, help: 'lines sent through the reliable path (LogShipper → HTTP intake)' },
    udp: { default: 200_000, help: 'datagrams sent through the UDP path (0: skip)' },
    'udp-rate': { default: 0, help: 'datagrams per second (0: as fast as possible)' },
    'batch-lines': { default: 10_000, help: "the shipper's largest batch (lines)" },
    echo: { default: false, help: 'print the intake process output' },
  },
  process.argv.slice(2),
  'usage: npm run bench -- logs [options]',
);

const root = path.resolve(__dirname, '..');
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

async function startIntake(dataDir: string, port: number): Promise<ChildProcess> {
  const build = spawnSync(process.execPath, ['build.mjs'], { cwd: path.join(root, 'apps/clickhouse-proxy'), encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`building apps/clickhouse-proxy failed: ${build.stderr}`);
  const child = spawn(process.execPath, [path.join(root, 'apps/clickhouse-proxy/dist/clickhouse-proxy.js')], {
    env: { PATH: process.env.PATH, KRAKEN_DATA_DIR: dataDir, KRAKEN_CLICKHOUSE_PORT: String(port), KRAKEN_CLICKHOUSE_HOST: '127.0.0.1', KRAKEN_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  onCleanup('stop the intake', () => (child.exitCode === null ? child.kill('SIGKILL') : undefined));
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (c: Buffer) => {
      if (opts.echo) process.stdout.write(c);
      out += c.toString();
      if (out.includes(`LISTENING ${port}`)) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`intake exited (${code}): ${out}`)));
  });
  return child;
}

async function stats(url: string): Promise<{ storedRows: number; udpDropped: number; malformed: number; rejectedBatches: number }> {
  return (await fetch(`${url}/api/logs/intake/stats`)).json() as never;
}

async function main(): Promise<number> {
  process.stdout.write(`bench logs: ${fmt(opts.lines)} lines reliable, ${fmt(opts.udp)} datagrams UDP; machine: ${os.cpus().length} cores, node ${process.version}\n`);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'kk-bench-logs-'));
  onCleanup('remove the data dir', () => rmSync(dataDir, { recursive: true, force: true }));
  const port = await freePort();
  const intake = await startIntake(dataDir, port);
  const url = `http://127.0.0.1:${port}`;
  process.stdout.write(`intake pid ${intake.pid} on ${url} (HTTP and UDP), store chdb in ${dataDir}\n`);

  // ---- reliable path ----
  const JOB = 1;
  const shipper = new LogShipper({ address: `127.0.0.1:${port}`, context: { agent: 1 }, maxBatchLines: opts['batch-lines'], log: pino({ level: 'warn' }) });
  const w = shipper.writer({ run: 1, job: JOB, step: 0, tool: 'shell', service: 'tool' });
  const cpu0 = { intake: readCpuSeconds(intake.pid!), self: process.cpuUsage() };
  const t0 = performance.now();
  for (let i = 0; i < opts.lines; i++) {
    if (!w.write(`[${i}] gcc -O2 -c src/module_${i % 977}/file_${i % 131}.c -o build/obj/file_${i}.o  # compiling`)) await w.drained();
  }
  const tWritten = performance.now();
  await shipper.flush();
  const tStored = performance.now();
  const intakeMem = readMem(intake.pid!);
  const cpuIntake = readCpuSeconds(intake.pid!) - cpu0.intake;
  const selfCpu = process.cpuUsage(cpu0.self);
  const cpuShipper = (selfCpu.user + selfCpu.system) / 1e6;
  const rel = shipper.stats;
  await shipper.close();
  const acceptRate = opts.lines / ((tWritten - t0) / 1000);
  const storeRate = opts.lines / ((tStored - t0) / 1000);
  process.stdout.write(`reliable: ${fmt(opts.lines)} lines written in ${((tWritten - t0) / 1000).toFixed(2)} s, all stored after ${((tStored - t0) / 1000).toFixed(2)} s; ${rel.batches} batches, ${rel.retries} retries; intake RSS ${fmt(intakeMem.rssKb / 1024)} MB (peak ${fmt(intakeMem.hwmKb / 1024)} MB); CPU: intake ${cpuIntake.toFixed(1)} s, shipper (this process, incl. making the lines) ${cpuShipper.toFixed(1)} s\n`);

  // ---- UDP path ----
  const UDP_JOB = 2;
  let udpSendRate = 0;
  let udpStoreRate = 0;
  if (opts.udp > 0) {
    const before = await stats(url);
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.connect(port, '127.0.0.1', r));
    const u0 = performance.now();
    const perMs = opts['udp-rate'] > 0 ? opts['udp-rate'] / 1000 : Infinity;
    let inFlight = 0;
    for (let i = 0; i < opts.udp; i++) {
      const msg = JSON.stringify({ '@timestamp': new Date().toISOString(), message: `udp line ${i} gcc -O2 -c src/file_${i % 131}.c`, level: 'INFO', service: 'agent', host: 'bench', agent: 2, run: 1, job: UDP_JOB, step: 0, tool: 'shell' });
      inFlight++;
      sock.send(msg, () => inFlight--);
      if (inFlight > 1000) await new Promise((r) => setImmediate(r));
      if (perMs !== Infinity) {
        const due = u0 + i / perMs;
        const now = performance.now();
        if (due > now + 1) await sleep(due - now);
      }
    }
    while (inFlight > 0) await new Promise((r) => setImmediate(r));
    const uSent = performance.now();
    udpSendRate = opts.udp / ((uSent - u0) / 1000);
    // Stored when the intake's counter stops moving (datagrams wait at most 200 ms for an insert).
    let last = -1;
    let cur = (await stats(url)).storedRows;
    let tLastChange = performance.now();
    while (cur !== last || performance.now() - tLastChange < 1000) {
      if (cur !== last) tLastChange = performance.now();
      last = cur;
      await sleep(100);
      cur = (await stats(url)).storedRows;
    }
    udpStoreRate = (cur - before.storedRows) / ((tLastChange - u0) / 1000);
    sock.close();
    process.stdout.write(`udp: ${fmt(opts.udp)} datagrams sent in ${((uSent - u0) / 1000).toFixed(2)} s\n`);
  }
  const finalStats = await stats(url);

  // ---- count what is really stored ----
  intake.kill('SIGTERM');
  await new Promise((r) => (intake.exitCode !== null ? r(null) : intake.once('exit', r)));
  const store = new LogStore({ chdbPath: path.join(dataDir, 'clickhouse'), ttlMonths: 6, log: pino({ level: 'warn' }) });
  const storedReliable = await store.count({ job: JOB });
  const storedUdp = opts.udp > 0 ? await store.count({ job: UDP_JOB }) : 0;
  await store.close();

  const figures: Figure[] = [
    { figure: 'reliable: lines/s accepted', value: fmt(acceptRate), target: `≥ ${fmt(TARGET_RELIABLE)}`, pass: acceptRate >= TARGET_RELIABLE },
    { figure: 'reliable: lines/s stored end to end', value: fmt(storeRate), target: `≥ ${fmt(TARGET_RELIABLE)}`, pass: storeRate >= TARGET_RELIABLE },
    { figure: 'reliable: loss (sent − stored)', value: fmt(opts.lines - storedReliable), target: '0', pass: storedReliable === opts.lines },
  ];
  if (opts.udp > 0) {
    figures.push(
      { figure: 'udp: datagrams/s sent', value: fmt(udpSendRate) },
      { figure: 'udp: lines/s stored', value: fmt(udpStoreRate) },
      { figure: 'udp: loss (sent − stored)', value: `${fmt(opts.udp - storedUdp)} (${(((opts.udp - storedUdp) / opts.udp) * 100).toFixed(1)} %)` },
      { figure: 'udp: dropped by the intake (full buffer)', value: fmt(finalStats.udpDropped) },
    );
  }
  figures.push({ figure: 'malformed / rejected batches (503)', value: `${fmt(finalStats.malformed)} / ${fmt(finalStats.rejectedBatches)}` });
  return printResults('logs benchmark', figures) ? 0 : 1;
}

runBenchmark(main, { deadlineSeconds: 600 });
