import path from 'node:path';
import { z } from 'zod';
import { describeIssues, issuesOf } from '@kraken/protocol';

const flag = z
  .enum(['0', '1', 'true', 'false', 'yes', 'no', ''])
  .transform((v) => v === '1' || v === 'true' || v === 'yes');

/** Environment variables of the server, parsed once at start. */
export const serverEnvSchema = z.object({
  KRAKEN_SERVER_PORT: z.coerce.number().int().min(0).max(65535).default(6363),
  KRAKEN_SERVER_HOST: z.string().min(1).default('0.0.0.0'),
  KRAKEN_DATA_DIR: z.string().min(1).default('./data'),
  KRAKEN_DB_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a PostgreSQL URL such as postgresql://user:pass@host:5432/db')
    .optional(),
  KRAKEN_ADMIN_PASSWORD: z.string().min(1).optional(),
  KRAKEN_BUILTIN_AGENT: flag.default(true),
  /** Address handed to agents for the log intake; defaults to this server's own intake. */
  KRAKEN_CLICKHOUSE_ADDR: z.string().optional(),
  KRAKEN_MINIO_ADDR: z.string().optional(),
  /** The enrollment token, set at every start (compose: the same value as its agents' KRAKEN_AGENT_TOKEN). */
  KRAKEN_ENROLLMENT_TOKEN: z.string().min(16, 'at least 16 characters').max(256).optional(),
  /** A ClickHouse server for the logs (HTTP URL); without it, embedded ClickHouse in <data dir>/clickhouse. */
  KRAKEN_CLICKHOUSE_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** UDP port of the log intake for upstream-style datagrams (0: a random port). */
  KRAKEN_CLICKHOUSE_PORT: z.coerce.number().int().min(0).max(65535).default(9001),
  KRAKEN_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});
export type ServerEnv = z.infer<typeof serverEnvSchema>;

export interface ServerConfig {
  port: number;
  host: string;
  dataDir: string;
  dbUrl?: string;
  adminPassword?: string;
  builtinAgent: boolean;
  clickhouseAddr?: string;
  minioAddr?: string;
  enrollmentToken?: string;
  clickhouseUrl?: string;
  clickhousePort: number;
  logLevel: ServerEnv['KRAKEN_LOG_LEVEL'];
}

export class ConfigError extends Error {}

export function loadServerConfig(env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const present = Object.fromEntries(Object.entries(env).filter(([k, v]) => k.startsWith('KRAKEN_') && v !== undefined));
  const parsed = serverEnvSchema.safeParse(present);
  if (!parsed.success) throw new ConfigError(`bad environment: ${describeIssues(issuesOf(parsed.error))}`);
  const e = parsed.data;
  return {
    port: e.KRAKEN_SERVER_PORT,
    host: e.KRAKEN_SERVER_HOST,
    dataDir: path.resolve(e.KRAKEN_DATA_DIR),
    dbUrl: e.KRAKEN_DB_URL,
    adminPassword: e.KRAKEN_ADMIN_PASSWORD,
    builtinAgent: e.KRAKEN_BUILTIN_AGENT,
    clickhouseAddr: e.KRAKEN_CLICKHOUSE_ADDR,
    minioAddr: e.KRAKEN_MINIO_ADDR,
    enrollmentToken: e.KRAKEN_ENROLLMENT_TOKEN,
    clickhouseUrl: e.KRAKEN_CLICKHOUSE_URL,
    clickhousePort: e.KRAKEN_CLICKHOUSE_PORT,
    logLevel: e.KRAKEN_LOG_LEVEL,
  };
}
