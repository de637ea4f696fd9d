import { spawn } from 'node:child_process';
import readline from 'node:readline';
import { LogShipper } from '@kraken/agent/src/logs/shipper';
import { startTestIntake } from './test-helpers';

/**
 * The agent's LogShipper against the real intake (HTTP on 127.0.0.1, embedded ClickHouse): a
 * child process's output arrives once and in order, and secrets never reach the store.
 */
describe('LogShipper → intake', () => {
  let intake: Awaited<ReturnType<typeof startTestIntake>>;

  beforeAll(async () => {
    intake = await startTestIntake();
  });
  afterAll(async () => {
    await intake?.close();
  });

  async function allMessages(job: number): Promise<string[]> {
    const out: string[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await intake.service.store.readJob(job, { limit: 10_000, cursor });
      for (const l of page.items) out.push(l.message);
      if (!page.next) return out;
      cursor = page.next;
    }
  }

  it('ships every line of a child process printing 100,000 lines once and in order', async () => {
    const job = 501;
    const shipper = new LogShipper({ address: intake.url, context: { agent: 7 } });
    const step = shipper.writer({ run: 50, job, step: 0, tool: 'shell', service: 'tool' });
    const child = spawn(process.execPath, ['-e', 'for (let i = 0; i < 100000; i++) console.log(`line ${i} of the step`)'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const rl = readline.createInterface({ input: child.stdout! });
    for await (const line of rl) {
      // Back-pressure: stop reading the child while the shipper's queue is high.
      if (!step.write(line)) await step.drained();
    }
    await new Promise((r) => child.once('close', r));
    await step.flush();
    // flush() resolved: everything is stored, nothing needs waiting for.
    const messages = await allMessages(job);
    expect(messages.length).toBe(100_000);
    for (let i = 0; i < 100_000; i++) if (messages[i] !== `line ${i} of the step`) throw new Error(`line ${i} is '${messages[i]}'`);
    expect(shipper.stats).toMatchObject({ written: 100_000, acked: 100_000, dropped: 0 });
    const [first] = (await intake.service.store.readJob(job, { limit: 1 })).items;
    expect(first).toMatchObject({ agent: 7, run: 50, job, step: 0, tool: 'shell', service: 'tool', level: 'info' });
    await shipper.close();
  });

  it('masks secrets in every line before it leaves the agent', async () => {
    const job = 502;
    const shipper = new LogShipper({ address: intake.url, context: { agent: 7 } });
    shipper.setSecrets(['s3cr3t-value', 'p@ss.w*rd']);
    const w = shipper.writer({ run: 51, job, step: 1, tool: 'shell' });
    w.write('token=s3cr3t-value');
    w.write('twice: s3cr3t-value and s3cr3t-values, pass p@ss.w*rd');
    w.write('multi\nline with p@ss.w*rd\nend');
    shipper.write({ message: 'agent record about s3cr3t-value', job });
    shipper.clearSecrets();
    w.write('after clearing: plain');
    await shipper.flush();
    const { items } = await intake.service.store.readJob(job, { limit: 100 });
    const text = items.map((l) => l.message).join('\n');
    expect(text).not.toContain('s3cr3t');
    expect(text).not.toContain('p@ss');
    expect(items.map((l) => l.message)).toEqual([
      'token=******',
      'twice: ****** and ******s, pass ******',
      'multi',
      'line with ******',
      'end',
      'agent record about ******',
      'after clearing: plain',
    ]);
    await shipper.close();
  });

  it('drops the oldest lines when the buffer is full while the intake is unreachable, and says so', async () => {
    // Nothing listens on this address: every attempt fails.
    const shipper = new LogShipper({ address: '127.0.0.1:1', maxBufferLines: 1000 });
    for (let i = 0; i < 5000; i++) shipper.write({ message: `l${i}`, job: 503 });
    expect(shipper.stats.dropped).toBeGreaterThanOrEqual(4000);
    expect(shipper.stats.queued).toBeLessThanOrEqual(1000);
    // Point it at the intake: the newest lines and a marker arrive.
    shipper.setAddress(intake.url);
    await shipper.flush(20_000);
    const messages = await allMessages(503);
    expect(messages.slice(-3)).toEqual(['l4998', 'l4999', expect.stringMatching(/dropped/)]);
    expect(messages[messages.length - 1]).toMatch(/^\[kraken\] \d+ log line\(s\) were dropped/);
    await shipper.close();
  });
});
