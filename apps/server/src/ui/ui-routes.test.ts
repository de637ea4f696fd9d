import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { isServerPath, registerUi } from './ui-routes';

/** The UI routes on a bare Fastify on 127.0.0.1:0, with a fake build in a temp dir. */
describe('UI routes', () => {
  let dir: string;
  let app: FastifyInstance;
  let base: string;

  async function start(root: string) {
    app = Fastify();
    app.setNotFoundHandler((req, reply) => reply.status(404).send({ error: 'not-found', message: `no route ${req.url}` }));
    app.get('/api/needs-login', async (_req, reply) => reply.status(401).header('www-authenticate', 'Basic realm="kraken"').send({ error: 'unauthenticated' }));
    await registerUi(app, { dir: root });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const addr = app.server.address();
    base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  }

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'kk-ui-'));
  });
  afterEach(async () => {
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('serves the files, caches hashed ones, and falls back to index.html for app routes', async () => {
    writeFileSync(path.join(dir, 'index.html'), '<html>the app</html>');
    writeFileSync(path.join(dir, 'main-ABCDEFGH.js'), 'console.log(1)');
    mkdirSync(path.join(dir, 'media'));
    writeFileSync(path.join(dir, 'media', 'font.woff2'), 'font');
    await start(dir);

    const root = await fetch(`${base}/`);
    expect(root.status).toBe(200);
    expect(await root.text()).toBe('<html>the app</html>');

    const deep = await fetch(`${base}/agents/12?tab=jobs`);
    expect(deep.status).toBe(200);
    expect(deep.headers.get('content-type')).toMatch(/text\/html/);
    expect(deep.headers.get('cache-control')).toBe('no-cache');
    expect(await deep.text()).toBe('<html>the app</html>');

    const js = await fetch(`${base}/main-ABCDEFGH.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    expect(js.headers.get('cache-control')).toMatch(/immutable/);
    expect((await fetch(`${base}/media/font.woff2`)).status).toBe(200);

    // Missing assets, API and install paths are 404s, never the app.
    expect((await fetch(`${base}/chunk-MISSING1.js`)).status).toBe(404);
    const api = await fetch(`${base}/api/nothing-here`);
    expect(api.status).toBe(404);
    expect(await api.json()).toMatchObject({ error: 'not-found' });
    expect((await fetch(`${base}/install/nothing.sh`)).status).toBe(404);
    // No escaping the build directory.
    expect((await fetch(`${base}/..%2f..%2fetc%2fpasswd`)).status).not.toBe(500);
    const traversal = await (await fetch(`${base}/%2e%2e/%2e%2e/etc/passwd`)).text();
    expect(traversal).not.toContain('root:');
  });

  test('says so when the UI is not built', async () => {
    await start(dir);
    const res = await fetch(`${base}/agents`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('web UI is not built');
  });

  test("drops the Basic challenge on the UI's own API calls only", async () => {
    await start(dir);
    const fromUi = await fetch(`${base}/api/needs-login`, { headers: { 'x-requested-with': 'XMLHttpRequest' } });
    expect(fromUi.status).toBe(401);
    expect(fromUi.headers.get('www-authenticate')).toBeNull();
    const fromEventSource = await fetch(`${base}/api/needs-login`, { headers: { accept: 'text/event-stream' } });
    expect(fromEventSource.headers.get('www-authenticate')).toBeNull();
    const fromCurl = await fetch(`${base}/api/needs-login`);
    expect(fromCurl.headers.get('www-authenticate')).toMatch(/^Basic/);
  });

  test('tells server paths from app routes', () => {
    expect(isServerPath('/api/agents')).toBe(true);
    expect(isServerPath('/api')).toBe(true);
    expect(isServerPath('/install/kraken-agent-install.sh')).toBe(true);
    expect(isServerPath('/agents/1')).toBe(false);
    expect(isServerPath('/apiary')).toBe(false);
  });
});
