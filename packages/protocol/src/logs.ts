import { z } from 'zod';

/**
 * Job and agent logs (see docs/logs.md).
 *
 * Agents send `LogRecord`s to the log intake (`POST /api/logs/intake`, NDJSON, one record a line;
 * or, upstream style, one JSON object per UDP datagram). The intake splits multi-line messages
 * into one row per line (`seq` = index of the line within its record) and stores them in the
 * ClickHouse table `logs`. The API reads them back as `LogLine`s.
 */

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export const logLevelSchema = z.enum(LOG_LEVELS);
export type LogLevel = z.infer<typeof logLevelSchema>;

/** Where the agent's records come from: `agent` (its own log), `tool` (step output), `server`. */
export const logServiceSchema = z.string().min(1).max(64);

const id = z.number().int().min(0).nullable().optional();

/**
 * One record as sent to the intake. Only `message` is required. `time` is an ISO 8601 instant
 * with up to microseconds (e.g. `2026-11-30T11:50:00.123456Z`); upstream's `@timestamp` is
 * accepted for it. A multi-line message becomes several rows.
 */
export const logRecordSchema = z.object({
  time: z.iso.datetime({ offset: true }).optional(),
  level: logLevelSchema.optional(),
  message: z.string(),
  service: logServiceSchema.optional(),
  host: z.string().max(255).optional(),
  agent: id,
  run: id,
  job: id,
  step: z.number().int().min(0).nullable().optional(),
  tool: z.string().max(255).nullable().optional(),
});
export type LogRecord = z.infer<typeof logRecordSchema>;

/** One stored line, as the API returns it. Ids are null when the line has no such context. */
export const logLineSchema = z.object({
  /** ISO 8601, UTC, microseconds: `2026-11-30T11:50:00.123456Z`. */
  time: z.string(),
  /** Index of the line within the record it came from (multi-line messages). */
  seq: z.number().int().min(0),
  level: logLevelSchema,
  message: z.string(),
  service: z.string(),
  host: z.string(),
  agent: z.number().int().nullable(),
  run: z.number().int().nullable(),
  job: z.number().int().nullable(),
  step: z.number().int().nullable(),
  tool: z.string().nullable(),
});
export type LogLine = z.infer<typeof logLineSchema>;

/** Query of `GET /api/jobs/:id/logs` and `GET /api/agents/:id/logs`. */
export const logsQuerySchema = z.strictObject({
  /** Opaque; `next` of the previous page (or the `id` of an SSE event). Absent: from the start. */
  cursor: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
  /** Minimum level: `warn` returns warn and error lines. */
  level: logLevelSchema.optional(),
  step: z.coerce.number().int().min(0).optional(),
});
export type LogsQuery = z.infer<typeof logsQuerySchema>;

/** A page of lines in order; `next` continues after the last item (null: nothing more yet). */
export const logsPageSchema = z.object({
  items: z.array(logLineSchema),
  next: z.string().nullable(),
});
export type LogsPage = z.infer<typeof logsPageSchema>;

/** Answer of `POST /api/logs/intake` (200): every record accepted is stored. */
export const intakeAckSchema = z.object({
  /** Records stored (before splitting into lines). */
  accepted: z.number().int(),
  /** Rows (lines) stored. */
  rows: z.number().int(),
  /** Malformed records, counted and dropped. */
  malformed: z.number().int(),
  /** True when this batch id had already been stored (a retry after a lost answer). */
  duplicate: z.boolean().optional(),
});
export type IntakeAck = z.infer<typeof intakeAckSchema>;

/** Counters of a log intake (`GET /api/logs/intake/stats`). */
export const intakeStatsSchema = z.object({
  receivedRecords: z.number(),
  storedRows: z.number(),
  malformed: z.number(),
  rejectedBatches: z.number(),
  udpDatagrams: z.number(),
  udpDropped: z.number(),
  insertErrors: z.number(),
  bufferedRows: z.number(),
  duplicateBatches: z.number(),
});
export type IntakeStats = z.infer<typeof intakeStatsSchema>;

/** Header carrying a batch id `<shipper>-<n>` (dedup of retried batches, order of a shipper's batches). */
export const LOG_BATCH_HEADER = 'x-kraken-log-batch';
/** Header `1` on a batch sent again: the intake checks the store for it (stored before a crash?). */
export const LOG_RETRY_HEADER = 'x-kraken-log-retry';
