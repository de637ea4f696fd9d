import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { idParamSchema, LOG_BATCH_HEADER, LOG_RETRY_HEADER, logsQuerySchema, type LogsQuery } from '@kraken/protocol';
import { HttpError, parseInput } from '../http/errors';
import { BackpressureError, type LogIntake } from './intake';
import { CursorError, type LogStore } from './store';

export const INTAKE_PATH = '/api/logs/intake';
/** Largest NDJSON batch accepted (shippers send at most 1 MiB). */
export const INTAKE_BODY_LIMIT = 16 * 1024 * 1024;

/**
 * `POST /api/logs/intake`: an NDJSON body (one `LogRecord` a line; `application/x-ndjson`,
 * `application/json` or `text/plain`), optional header `x-kraken-log-batch` (batch id).
 * 200 `IntakeAck` once stored; 503 + Retry-After when the intake is full or the store fails.
 * `GET /api/logs/intake/stats`: the intake's counters.
 */
export async function registerIntakeRoutes(app: FastifyInstance, intake: LogIntake): Promise<void> {
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: INTAKE_BODY_LIMIT }, (_req, body, done) => done(null, body));
    scope.post(INTAKE_PATH, { bodyLimit: INTAKE_BODY_LIMIT }, async (req, reply) => {
      const body = typeof req.body === 'string' ? req.body : '';
      const header = req.headers[LOG_BATCH_HEADER];
      const batchId = typeof header === 'string' && header.length <= 200 ? header : undefined;
      try {
        return await intake.submitBatch(body, batchId, req.headers[LOG_RETRY_HEADER] === '1');
      } catch (err) {
        const retry = err instanceof BackpressureError ? err.retryAfterSec : 1;
        reply.header('retry-after', String(retry));
        return reply.status(503).send({ error: 'unavailable', message: err instanceof BackpressureError ? err.message : 'log store unavailable; retry later' });
      }
    });
  });
  app.get(`${INTAKE_PATH}/stats`, async () => intake.stats);
}

function parseLogsQuery(req: FastifyRequest): LogsQuery {
  return parseInput(logsQuerySchema, req.query, 'query');
}

async function guard<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof CursorError) throw new HttpError(400, 'bad-request', err.message);
    throw err;
  }
}

/**
 * Reading: `GET /api/jobs/:id/logs`, `GET /api/jobs/:id/logs/stream` (SSE) and
 * `GET /api/agents/:id/logs`. `intake` (when it runs in this process) wakes live tails as soon
 * as lines are stored; without it tails poll the store.
 */
export function registerLogsReadRoutes(app: FastifyInstance, store: LogStore, intake?: LogIntake, pollMs = 400): void {
  // Open live tails would keep the server from closing: end them first.
  const streams = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const stop of streams) stop();
  });

  app.get('/api/jobs/:id/logs', async (req) => {
    const { id } = parseInput(idParamSchema, req.params, 'params');
    const q = parseLogsQuery(req);
    return guard(() => store.readJob(id, q));
  });

  app.get('/api/agents/:id/logs', async (req) => {
    const { id } = parseInput(idParamSchema, req.params, 'params');
    const q = parseLogsQuery(req);
    return guard(() => store.readAgent(id, q));
  });

  app.get('/api/jobs/:id/logs/stream', async (req, reply) => {
    const { id } = parseInput(idParamSchema, req.params, 'params');
    const q = parseLogsQuery(req);
    const lastId = req.headers['last-event-id'];
    let cursor: string | undefined = typeof lastId === 'string' && lastId ? lastId : q.cursor;
    // Check the cursor before answering 200.
    await guard(() => store.read('job', id, { ...q, cursor, limit: 1 }));
    streamSse(reply, async (send, wait, isOpen) => {
      while (isOpen()) {
        const page = await store.read('job', id, { ...q, cursor, limit: 1000 });
        for (let i = 0; i < page.items.length; i++) send(page.cursors[i], JSON.stringify(page.items[i]));
        if (page.cursor) cursor = page.cursor;
        if (page.items.length < 1000) await wait(id);
      }
    }, intake, pollMs, streams);
  });
}

type Send = (id: string, data: string) => void;

function streamSse(
  reply: FastifyReply,
  loop: (send: Send, wait: (job: number) => Promise<void>, isOpen: () => boolean) => Promise<void>,
  intake: LogIntake | undefined,
  pollMs: number,
  streams: Set<() => void>,
): void {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.write('retry: 1000\n\n');
  let open = true;
  let wake: (() => void) | undefined;
  const onStored = (jobs: Set<number>) => {
    if (wake && waitingJob !== undefined && jobs.has(waitingJob)) wake();
  };
  let waitingJob: number | undefined;
  intake?.on('stored', onStored);
  const keepalive = setInterval(() => res.write(': keepalive\n\n'), 15_000);
  const stop = () => {
    open = false;
    streams.delete(end);
    clearInterval(keepalive);
    intake?.off('stored', onStored);
    wake?.();
  };
  const end = () => {
    stop();
    res.end();
  };
  streams.add(end);
  res.on('close', stop);
  const send: Send = (id, data) => {
    if (open) res.write(`id: ${id}\ndata: ${data}\n\n`);
  };
  const wait = (job: number) =>
    new Promise<void>((resolve) => {
      waitingJob = job;
      const t = setTimeout(done, pollMs);
      function done() {
        clearTimeout(t);
        wake = undefined;
        resolve();
      }
      wake = done;
    });
  loop(send, wait, () => open)
    .catch((err) => {
      if (open) res.write(`event: error\ndata: ${JSON.stringify({ message: err instanceof Error ? err.message : String(err) })}\n\n`);
    })
    .finally(() => {
      stop();
      res.end();
    });
}
