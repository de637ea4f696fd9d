import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import { LogIntakeService, type LogIntakeServiceOptions } from './logs';

export const testLog = pino({ level: process.env.KRAKEN_TEST_LOG_LEVEL ?? 'silent' });

/** A stand-alone intake (store in a fresh tmp dir, HTTP and UDP on 127.0.0.1:0). */
export async function startTestIntake(opts: Partial<LogIntakeServiceOptions> & { port?: number } = {}): Promise<{
  app: FastifyInstance;
  service: LogIntakeService;
  url: string;
  dataDir: string;
  close(): Promise<void>;
}> {
  const dataDir = opts.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'kk-logs-'));
  const app = Fastify({ logger: false });
  const service = await LogIntakeService.start({ dataDir, ttlMonths: 6, udpPort: 0, udpHost: '127.0.0.1', log: testLog, ...opts }, app);
  await app.listen({ port: opts.port ?? 0, host: '127.0.0.1' });
  const addr = app.server.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  return {
    app,
    service,
    url,
    dataDir,
    async close() {
      await app.close();
      await service.close();
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
