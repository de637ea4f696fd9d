/**
 * Log records as the logs API answers them (GET /api/jobs/:id/logs, GET /api/agents/:id/logs).
 * Typed here until packages/protocol has a logs module; switch these to `@kraken/protocol` then.
 */
export interface LogLine {
  time: string;
  seq: number;
  level: string; // debug | info | warn | error
  message: string;
  step?: number | null;
  tool?: string | null;
  service?: string | null;
  host?: string | null;
  agent?: number | string | null;
  run?: number | null;
  job?: number | null;
}

export interface LogPage {
  items: LogLine[];
  next: string | null;
}

export interface LogQuery {
  cursor?: string | null;
  limit?: number;
  level?: string;
  step?: number;
}
