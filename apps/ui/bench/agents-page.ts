/**
 * The Agents page with 10,000 agents: time until its first page shows in Chromium.
 *
 * `npm run bench:agents-page -w @kraken/ui [-- --agents N --runs R]` (needs DATABASE_URL, default
 * postgresql://postgres@127.0.0.1:5432/postgres, a built UI and /usr/bin/chromium).
 * Starts a real server on a fresh database, inserts N authorized agents (all in group `all`),
 * logs in through the page, then measures R times: load /agents until its first row and the
 * paginator total show; load it sorted by last seen; go to the last page; and the API call alone.
 * Figures are printed, not asserted (issue 5's target: first page within 1 s).
 */
import { randomBytes } from 'node:crypto';
import { startTestServer, TEST_ADMIN_PASSWORD } from '../../server/src/test-support/server';
import { ApiClient } from '../../server/src/test-support/api-client';
import { openBrowser } from '../e2e/browser';

function opt(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const n = opt('agents', 10_000);
  const runs = opt('runs', 5);
  process.env.DATABASE_URL ??= 'postgresql://postgres@127.0.0.1:5432/postgres';
  const server = await startTestServer();
  const b = await openBrowser();
  try {
    const all = await server.db.agentsGroup.findUniqueOrThrow({ where: { name: 'all' } });
    const t0 = Date.now();
    for (let i = 0; i < n; i += 1000) {
      const rows = Array.from({ length: Math.min(1000, n - i) }, (_, k) => {
        const j = i + k;
        return {
          name: `bench-agent-${String(j).padStart(5, '0')}`,
          address: `10.${(j >> 16) & 255}.${(j >> 8) & 255}.${j & 255}`,
          identityHash: randomBytes(32).toString('hex'),
          authorized: true,
          lastSeen: new Date(Date.now() - j * 1000),
          hostInfo: { hostname: `h${j}`, system: 'debian-12', systemType: 'linux', distroName: 'debian', distroVersion: '12', isolation: 'bare-metal', capabilities: {}, cpus: 2, memoryMb: 4096, agentVersion: 'bench' },
        };
      });
      await server.db.agent.createMany({ data: rows });
    }
    await server.db.$executeRawUnsafe(`INSERT INTO agent_assignments (agent_id, group_id) SELECT id, ${all.id} FROM agents ON CONFLICT DO NOTHING`).catch((err: Error) => {
      process.stdout.write(`(could not put the agents into group all: ${err.message.split('\n')[0]})\n`);
    });
    process.stdout.write(`bench agents-page: ${n} agents inserted in ${Date.now() - t0} ms; server ${server.url}\n`);

    const api = await ApiClient.loggedIn(server.url);
    const { page } = b;
    page.setDefaultTimeout(30_000);
    await page.goto(`${server.url}/login`);
    await page.getByLabel('Password').fill(TEST_ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Agents', exact: true }).waitFor();

    const first: number[] = [];
    const sort: number[] = [];
    const last: number[] = [];
    const apiMs: number[] = [];
    for (let r = 0; r < runs; r++) {
      let t = Date.now();
      await api.request('GET', '/api/agents?authorized=true&offset=0&limit=30&sort=id&order=asc');
      apiMs.push(Date.now() - t);

      t = Date.now();
      await page.goto(`${server.url}/agents`);
      await page.getByRole('link', { name: 'bench-agent-00000' }).waitFor();
      await page.getByText(`1 – 30 of ${n}`).waitFor();
      first.push(Date.now() - t);

      t = Date.now();
      await page.goto(`${server.url}/agents?sort=lastSeen&order=asc`); // oldest first: the last agent inserted
      await page.getByRole('link', { name: `bench-agent-${String(n - 1).padStart(5, '0')}` }).waitFor();
      sort.push(Date.now() - t);

      t = Date.now();
      await page.getByRole('button', { name: 'Last page' }).click();
      await page.getByText(new RegExp(`– ${n} of ${n}`)).waitFor();
      last.push(Date.now() - t);
    }
    await b.screenshot('bench-agents-10k');
    const fmt = (xs: number[]) => `median ${median(xs)} ms (min ${Math.min(...xs)}, max ${Math.max(...xs)})`;
    process.stdout.write(
      [
        `Agents page with ${n} agents, ${runs} runs, Chromium at 1280×800:`,
        `  API first page (30 rows):         ${fmt(apiMs)}`,
        `  page load → first page visible:   ${fmt(first)}   (target < 1000 ms)`,
        `  load sorted by last seen:         ${fmt(sort)}`,
        `  jump to the last page:            ${fmt(last)}`,
        '',
      ].join('\n'),
    );
  } finally {
    await b.close();
    await server.stop();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench agents-page failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
