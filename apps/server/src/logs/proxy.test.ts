import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { LogShipper } from '@kraken/agent/src/logs/shipper';
import { LogStore } from './store';
import { testLog } from './test-helpers';

/**
 * The stand-alone apps/clickhouse-proxy as a real process: lines shipped while it is down for
 * 10 s (killed with SIGKILL, then started again) all arrive, once and in order; upstream UDP
 * datagrams on the same port are stored too.
 */
const repo = path.resolve(__dirname, '../../../..');
const bundle = path.join(repo, 'apps/clickhouse-proxy/dist/clickhouse-proxy.js');

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

function startProxy(dataDir: string, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [bundle], {
    env: { PATH: process.env.PATH, KRAKEN_DATA_DIR: dataDir, KRAKEN_CLICKHOUSE_PORT: String(port), KRAKEN_CLICKHOUSE_HOST: '127.0.0.1', KRAKEN_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  return new Promise((resolve, reject) => {
    const onData = (c: Buffer) => {
      out += c.toString();
      if (out.includes(`LISTENING ${port}`)) resolve(child);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`proxy exited (${code}): ${out}`)));
  });
}

const exited = (c: ChildProcess) => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', r)));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('clickhouse-proxy process', () => {
  let dataDir: string;
  let proxy: ChildProcess | undefined;

  beforeAll(() => {
    // The bundle `npm run build` makes; rebuilt here (about 1 s) so that it is current.
    const r = spawnSync(process.execPath, ['build.mjs'], { cwd: path.join(repo, 'apps/clickhouse-proxy'), encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`building the proxy failed: ${r.stderr}`);
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'kk-proxy-'));
  });
  afterAll(async () => {
    if (proxy) {
      proxy.kill('SIGKILL');
      await exited(proxy);
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps every line through a 10 s outage of the intake, and stores UDP datagrams', async () => {
    const port = await freePort();
    proxy = await startProxy(dataDir, port);
    const job = 601;
    // `host:port`, the upstream style of KRAKEN_CLICKHOUSE_ADDR.
    const shipper = new LogShipper({ address: `127.0.0.1:${port}`, context: { agent: 9 } });
    const step = shipper.writer({ run: 60, job, step: 0, tool: 'shell', service: 'tool' });
    let n = 0;
    let writing = true;
    const writer = (async () => {
      while (writing) {
        for (let i = 0; i < 100; i++) step.write(`line ${n++}`);
        await sleep(50);
      }
    })();

    await sleep(1500);
    proxy.kill('SIGKILL'); // down, with whatever it had in flight
    await exited(proxy);
    const downAt = n;
    await sleep(10_000);
    expect(shipper.stats.retries).toBeGreaterThan(0);
    expect(shipper.stats.queued).toBeGreaterThan(10_000); // held while the intake was down
    proxy = await startProxy(dataDir, port);
    await sleep(1000);
    writing = false;
    await writer;
    await shipper.flush(30_000);
    expect(shipper.stats).toMatchObject({ written: n, acked: n, dropped: 0 });
    expect(n - downAt).toBeGreaterThan(15_000);

    // Upstream agents: one JSON object per datagram on the same port.
    const sock = dgram.createSocket('udp4');
    for (let i = 0; i < 50; i++) {
      const msg = JSON.stringify({ '@timestamp': new Date().toISOString(), message: `udp ${i}`, level: 'INFO', service: 'agent', agent: 9, job: 602, step: 0 });
      await new Promise<void>((resolve, reject) => sock.send(msg, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
    }
    sock.close();
    await sleep(1000); // datagrams wait at most 200 ms before an insert
    await shipper.close();
    proxy.kill('SIGTERM'); // stores what is pending, then exits
    await exited(proxy);
    proxy = undefined;

    const store = new LogStore({ chdbPath: path.join(dataDir, 'clickhouse'), ttlMonths: 6, log: testLog });
    try {
      const messages: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.readJob(job, { limit: 10_000, cursor });
        for (const l of page.items) messages.push(l.message);
        cursor = page.next ?? undefined;
      } while (cursor);
      expect(messages.length).toBe(n);
      for (let i = 0; i < n; i++) if (messages[i] !== `line ${i}`) throw new Error(`row ${i} is '${messages[i]}'`);
      expect(await store.count({ job: 602 })).toBe(50);
    } finally {
      await store.close();
    }
  }, 60_000);
});
