import path from 'node:path';
import { z } from 'zod';
import { describeIssues, issuesOf } from '@kraken/protocol';

/** Environment of the stand-alone proxy, parsed once at start. */
export const proxyEnvSchema = z.object({
  /** TCP port of the HTTP intake and UDP port of upstream datagrams (the same number). */
  KRAKEN_CLICKHOUSE_PORT: z.coerce.number().int().min(0).max(65535).default(9001),
  KRAKEN_CLICKHOUSE_HOST: z.string().min(1).default('0.0.0.0'),
  /** A ClickHouse server (HTTP URL); without it, embedded ClickHouse in <data dir>/clickhouse. */
  KRAKEN_CLICKHOUSE_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** Retention in months (the server uses its setting clickhouse_log_ttl). */
  KRAKEN_CLICKHOUSE_LOG_TTL: z.coerce.number().int().min(1).max(1200).default(6),
  KRAKEN_DATA_DIR: z.string().min(1).default('./data'),
  KRAKEN_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export interface ProxyConfig {
  port: number;
  host: string;
  clickhouseUrl?: string;
  ttlMonths: number;
  dataDir: string;
  logLevel: z.infer<typeof proxyEnvSchema>['KRAKEN_LOG_LEVEL'];
}

export class ProxyConfigError extends Error {}

export function loadProxyConfig(env: NodeJS.ProcessEnv = process.env): ProxyConfig {
  const present = Object.fromEntries(Object.entries(env).filter(([k, v]) => k.startsWith('KRAKEN_') && v !== undefined && v !== ''));
  const parsed = proxyEnvSchema.safeParse(present);
  if (!parsed.success) throw new ProxyConfigError(`bad environment: ${describeIssues(issuesOf(parsed.error))}`);
  const e = parsed.data;
  return {
    port: e.KRAKEN_CLICKHOUSE_PORT,
    host: e.KRAKEN_CLICKHOUSE_HOST,
    clickhouseUrl: e.KRAKEN_CLICKHOUSE_URL,
    ttlMonths: e.KRAKEN_CLICKHOUSE_LOG_TTL,
    dataDir: path.resolve(e.KRAKEN_DATA_DIR),
    logLevel: e.KRAKEN_LOG_LEVEL,
  };
}
