import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyStatic from '@fastify/static';

/**
 * Where `ng build` puts the web UI: apps/ui/dist/browser, found from this file both as TS source
 * (apps/server/src/ui) and compiled (apps/server/dist/ui). KRAKEN_UI_DIR overrides it.
 */
export function uiDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.KRAKEN_UI_DIR || path.join(__dirname, '..', '..', '..', 'ui', 'dist', 'browser'));
}

/** Paths that belong to the API or the install files, never to the single-page app. */
export function isServerPath(urlPath: string): boolean {
  return /^\/(api|install|bk)(\/|$)/.test(urlPath);
}

const NOT_BUILT_PAGE = (dir: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Kraken: UI not built</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 4em auto;">
<h1>Kraken's web UI is not built</h1>
<p>The server runs and its API answers under <code>/api</code>, but there is no UI in <code>${dir.replace(/[<>&]/g, '')}</code>.</p>
<p>Build it with <code>npm run build</code> (or <code>npm run build -w @kraken/ui</code>) and reload this page.</p>
</body></html>`;

/**
 * Serves the Angular app: its files (hashed ones cached for a year, index.html never cached), and
 * index.html for every other GET outside /api and /install so that deep links work (SPA fallback).
 * Without a build it answers a plain page that says so.
 */
export async function registerUi(app: FastifyInstance, opts: { dir?: string } = {}): Promise<void> {
  const root = opts.dir ?? uiDir();

  // The UI marks its API calls with `X-Requested-With: XMLHttpRequest` (its EventSource log tails,
  // which cannot set headers, ask for `text/event-stream`). A 401 with a Basic challenge would make
  // the browser pop up its own password dialog (and hold the request until it is answered) instead
  // of letting the UI show its login page, so drop the challenge for those calls. Other clients
  // (curl, scripts) still get it.
  app.addHook('onSend', async (req, reply, payload) => {
    if (reply.statusCode === 401 && (req.headers['x-requested-with'] === 'XMLHttpRequest' || req.headers.accept === 'text/event-stream')) {
      reply.removeHeader('www-authenticate');
    }
    return payload;
  });
  await app.register(fastifyStatic, { root, serve: false });

  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    let urlPath: string;
    try {
      urlPath = decodeURIComponent(req.url.split('?')[0]);
    } catch {
      return reply.callNotFound();
    }
    if (isServerPath(urlPath)) return reply.callNotFound();
    const index = path.join(root, 'index.html');
    if (!existsSync(index)) return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(NOT_BUILT_PAGE(root));

    const rel = path.normalize(urlPath).replace(/^(\.\.(\/|\\|$))+/, '').replace(/^[/\\]+/, '');
    const file = path.join(root, rel);
    if (rel && file.startsWith(root + path.sep) && existsSync(file) && statSync(file).isFile()) {
      const hashed = /-[A-Z0-9]{8}\.(js|css)$/.test(rel) || rel.startsWith('media/');
      return reply.sendFile(rel, { maxAge: hashed ? 365 * 24 * 3600 * 1000 : 0, immutable: hashed, cacheControl: true });
    }
    // A missing asset (has an extension) is a 404; anything else is a route of the app.
    if (/\.[a-z0-9]{1,8}$/i.test(rel) && !rel.endsWith('.html')) return reply.callNotFound();
    return reply.header('cache-control', 'no-cache').sendFile('index.html', { maxAge: 0, cacheControl: false });
  };
  app.get('/', handler);
  app.get('/*', handler);
}
