import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { Logger } from 'pino';
import { processShutdown } from '../lifecycle/shutdown';

const CHANNEL = 'kraken_events';

export type BusEvent =
  /** An agent's authorization, disabled flag or deletion changed: its server tells it. */
  | { kind: 'agent-status'; agentId: number }
  /** Scheduling may have become possible (a job queued, an agent freed or changed). */
  | { kind: 'schedule' }
  /** Group memberships changed: schedulers reload the groups of the agents they hold. */
  | { kind: 'groups-changed' }
  /** A job an agent holds must be dropped (cancelled, moved elsewhere). */
  | { kind: 'job-cancel'; agentId: number; jobId: number; reason: string };

/**
 * Events between the server processes that share one database, over PostgreSQL
 * LISTEN/NOTIFY. A process also receives its own events.
 */
export class EventBus extends EventEmitter<{ event: [BusEvent] }> {
  private client?: pg.Client;
  private closed = false;

  constructor(
    private readonly databaseUrl: string,
    private readonly log: Logger,
  ) {
    super();
  }

  async start(): Promise<void> {
    const client = new pg.Client({ connectionString: this.databaseUrl });
    client.on('notification', (msg) => {
      if (!msg.payload) return;
      try {
        this.emit('event', JSON.parse(msg.payload) as BusEvent);
      } catch (err) {
        this.log.warn({ err }, 'ignoring a malformed bus event');
      }
    });
    client.on('error', (err) => {
      if (this.closed) return;
      if (processShutdown.started) {
        this.log.info({ err: err.message }, 'event bus connection closed while the server stops');
        return;
      }
      this.log.error({ err }, 'event bus connection lost; reconnecting');
      setTimeout(() => void this.start().catch((e) => this.log.error({ err: e }, 'event bus reconnect failed')), 1000);
    });
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
    this.client = client;
  }

  async publish(event: BusEvent): Promise<void> {
    if (!this.client) throw new Error('event bus not started');
    await this.client.query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify(event)]);
  }

  async stop(): Promise<void> {
    this.closed = true;
    await this.client?.end().catch(() => undefined);
  }
}
