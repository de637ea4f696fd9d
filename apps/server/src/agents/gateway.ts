import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { WebSocket, RawData } from 'ws';
import {
  AGENT_WS_PATH,
  agentToServerMessageSchema,
  describeIssues,
  issuesOf,
  type AgentToServerMessage,
  type ErrorMessage,
  type HelloMessage,
  type ServerToAgentMessage,
} from '@kraken/protocol';
import type { SettingsService } from '../settings/settings';
import type { AgentsService } from './agents-service';
import { SERVER_VERSION } from '../version';
import { levelForDbError } from '../lifecycle/shutdown';

export const HELLO_TIMEOUT_MS = 10_000;
/**
 * Hellos recorded at once (each is a database transaction). More wait in a cheap queue: after a
 * server restart every agent reconnects within seconds, and thousands of hellos queued inside the
 * database client cost ~50 kB each (measured by `npm run bench -- agents --concurrency 2000`).
 */
export const MAX_CONCURRENT_HELLOS = 8;

/** WebSocket close codes of the gateway (4000–4999 are free for applications). */
export const CloseCode = {
  noHello: 4000,
  protocol: 4002,
  replaced: 4009,
  shuttingDown: 1001,
} as const;

export interface AgentConnection {
  agentId: number;
  /** Unique per WebSocket; the database remembers which connection is the agent's current one. */
  connectionId: string;
  socket: WebSocket;
  authorized: boolean;
  disabled: boolean;
  hello: HelloMessage;
  address: string;
}

/** Every message but hello; the jobs feature handles them. */
export type JobMessageHandler = (conn: AgentConnection, msg: AgentToServerMessage) => Promise<void>;

export interface GatewayOptions {
  agents: AgentsService;
  settings: SettingsService;
  log: Logger;
  serverId: string;
  heartbeatMs: number;
  clickhouseAddr?: string;
  minioAddr?: string;
}

/** A hello whose connection closed (or the server began shutting down) before it was recorded. */
class HelloAbandoned extends Error {}

export function normalizeAddress(ip: string): string {
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}

/**
 * The agents' WebSocket endpoint: one connection per agent. It checks every frame against the
 * protocol schemas, records hellos, keeps connections alive with pings and tells agents about
 * changes to their status. Job messages go to the handler the jobs feature installs.
 */
export class AgentGateway extends EventEmitter<{ ready: [AgentConnection]; gone: [number] }> {
  readonly connections = new Map<number, AgentConnection>();
  private readonly pending = new Set<WebSocket>();
  private readonly alive = new WeakMap<WebSocket, boolean>();
  private pingTimer?: NodeJS.Timeout;
  private seenTimer?: NodeJS.Timeout;
  private closing = false;
  /** Database work started by the gateway; close() waits for it before the database goes away. */
  private readonly inflight = new Set<Promise<unknown>>();
  private hellosRunning = 0;
  private readonly helloQueue: (() => void)[] = [];
  jobMessageHandler: JobMessageHandler = async (conn, msg) => {
    this.sendError(conn.socket, 'bad-message', `message type '${msg.type}' is not handled by this server`);
  };

  constructor(private readonly o: GatewayOptions) {
    super();
  }

  register(app: FastifyInstance): void {
    app.get(AGENT_WS_PATH, { websocket: true }, (socket: WebSocket, req: FastifyRequest) => this.accept(socket, req));
    this.pingTimer = setInterval(() => this.pingAll(), this.o.heartbeatMs);
    this.seenTimer = setInterval(() => {
      this.track(this.o.agents.heartbeat([...this.connections.values()].map((c) => c.connectionId))).catch((err) => this.o.log.error({ err }, 'agent heartbeat update failed'));
    }, Math.min(10_000, this.o.heartbeatMs));
  }

  send(agentId: number, msg: ServerToAgentMessage): boolean {
    const conn = this.connections.get(agentId);
    if (!conn || conn.socket.readyState !== conn.socket.OPEN) return false;
    conn.socket.send(JSON.stringify(msg));
    return true;
  }

  /** Re-reads an agent's status after an administrator changed it and tells the agent. */
  async refreshStatus(agentId: number): Promise<void> {
    const conn = this.connections.get(agentId);
    if (!conn) return;
    const status = await this.o.agents.statusOf(agentId);
    if (!status) return;
    const authorized = status.authorized && !status.deleted;
    const changed = conn.authorized !== authorized || conn.disabled !== status.disabled;
    conn.authorized = authorized;
    conn.disabled = status.disabled;
    this.send(agentId, { type: 'status', authorized, disabled: status.disabled });
    if (changed && authorized) this.emit('ready', conn);
  }

  /**
   * Closes every agent connection and marks the agents offline in one update. Resolves only when
   * no database work of the gateway is running any more: disconnecting the database client with
   * queries in flight hangs it (a SIGTERM with 2,000 agents connected never finished).
   */
  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.pingTimer);
    clearInterval(this.seenTimer);
    for (const s of this.pending) s.terminate();
    const conns = [...this.connections.values()];
    for (const c of conns) c.socket.close(CloseCode.shuttingDown, 'server shutting down');
    this.helloQueue.splice(0).forEach((start) => start());
    while (this.inflight.size) await Promise.allSettled([...this.inflight]);
    if (conns.length) {
      await this.o.agents.markManyDisconnected(conns.map((c) => c.connectionId)).catch((err) => this.o.log[levelForDbError()]({ err }, 'marking agents offline failed'));
    }
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    const done = () => this.inflight.delete(p);
    p.then(done, done);
    return p;
  }

  /** Runs `fn` when fewer than MAX_CONCURRENT_HELLOS hellos are being recorded. */
  private async helloSlot<T>(fn: () => Promise<T>): Promise<T> {
    if (this.hellosRunning >= MAX_CONCURRENT_HELLOS) await new Promise<void>((start) => this.helloQueue.push(start));
    this.hellosRunning++;
    try {
      return await fn();
    } finally {
      this.hellosRunning--;
      this.helloQueue.shift()?.();
    }
  }

  private pingAll(): void {
    const check = (s: WebSocket) => {
      if (this.alive.get(s) === false) {
        s.terminate();
        return;
      }
      this.alive.set(s, false);
      s.ping();
    };
    this.pending.forEach(check);
    this.connections.forEach((c) => check(c.socket));
  }

  private sendError(socket: WebSocket, code: ErrorMessage['code'], message: string): void {
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify({ type: 'error', code, message } satisfies ErrorMessage));
  }

  private accept(socket: WebSocket, req: FastifyRequest): void {
    const address = normalizeAddress(req.ip);
    const log = this.o.log.child({ address });
    let conn: AgentConnection | undefined;
    let helloInFlight = false;
    this.pending.add(socket);
    this.alive.set(socket, true);
    socket.on('pong', () => this.alive.set(socket, true));
    const helloTimer = setTimeout(() => {
      if (!conn) {
        this.sendError(socket, 'not-hello', `no hello within ${HELLO_TIMEOUT_MS / 1000} s`);
        socket.close(CloseCode.noHello, 'no hello');
      }
    }, HELLO_TIMEOUT_MS);

    socket.on('message', (data: RawData, isBinary: boolean) => {
      this.alive.set(socket, true);
      const msg = this.decode(socket, data, isBinary);
      if (!msg) return;
      if (msg.type === 'hello') {
        if (conn || helloInFlight) return this.sendError(socket, 'bad-message', 'hello was already received on this connection');
        helloInFlight = true;
        this.track(this.helloSlot(() => this.onHello(socket, msg, address, log)))
          .then((c) => {
            conn = c;
            clearTimeout(helloTimer);
          })
          .catch((err) => {
            if (err instanceof HelloAbandoned) return;
            log.error({ err }, 'agent hello failed');
            this.sendError(socket, 'internal', 'the server could not record this agent; it will be retried');
            socket.close(1011, 'internal error');
          });
        return;
      }
      if (!conn) return this.sendError(socket, 'not-hello', `'${msg.type}' before hello; send hello first`);
      if (!conn.authorized) return this.sendError(socket, 'bad-message', 'this agent is not authorized; it gets no work');
      const c = conn;
      this.jobMessageHandler(c, msg).catch((err) => {
        log.error({ err, type: msg.type }, 'handling an agent message failed');
        this.sendError(socket, 'internal', `the server failed to handle '${msg.type}'`);
      });
    });

    socket.on('close', () => {
      clearTimeout(helloTimer);
      this.pending.delete(socket);
      if (conn && this.connections.get(conn.agentId) === conn) {
        this.connections.delete(conn.agentId);
        const id = conn.agentId;
        // While closing, close() marks every agent offline in one update.
        if (!this.closing) this.track(this.o.agents.markDisconnected(id, conn.connectionId)).catch((err) => log[levelForDbError()]({ err }, 'marking agent offline failed'));
        log.info({ agentId: id }, 'agent disconnected');
        this.emit('gone', id);
      }
    });
    socket.on('error', (err) => log.warn({ err: err.message }, 'agent socket error'));
  }

  private decode(socket: WebSocket, data: RawData, isBinary: boolean): AgentToServerMessage | undefined {
    const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      this.sendError(socket, 'bad-json', `frame is not valid JSON${isBinary ? ' (binary frame)' : ''}`);
      return undefined;
    }
    const parsed = agentToServerMessageSchema.safeParse(json);
    if (!parsed.success) {
      this.sendError(socket, 'bad-message', `invalid message: ${describeIssues(issuesOf(parsed.error))}`);
      return undefined;
    }
    return parsed.data;
  }

  private async onHello(socket: WebSocket, hello: HelloMessage, address: string, log: Logger): Promise<AgentConnection> {
    if (this.closing || socket.readyState !== socket.OPEN) throw new HelloAbandoned();
    const settings = await this.o.settings.get();
    const connectionId = randomUUID();
    const outcome = await this.o.agents.recordHello(hello, address, this.o.serverId, connectionId, settings.enrollment_token);
    if (this.closing || socket.readyState !== socket.OPEN) {
      // Its close event has passed (or close() has taken its list): do not keep it as connected.
      if (!this.connections.has(outcome.agentId)) await this.o.agents.markDisconnected(outcome.agentId, connectionId);
      if (socket.readyState === socket.OPEN) socket.close(CloseCode.shuttingDown, 'server shutting down');
      throw new HelloAbandoned();
    }
    const conn: AgentConnection = { agentId: outcome.agentId, connectionId, socket, authorized: outcome.authorized, disabled: outcome.disabled, hello, address };
    const previous = this.connections.get(conn.agentId);
    if (previous && previous.socket !== socket) previous.socket.close(CloseCode.replaced, 'replaced by a newer connection of the same agent');
    this.pending.delete(socket);
    this.connections.set(conn.agentId, conn);
    socket.send(
      JSON.stringify({
        type: 'welcome',
        agentId: conn.agentId,
        authorized: conn.authorized,
        serverVersion: SERVER_VERSION,
        config: {
          clickhouseAddr: this.o.clickhouseAddr || settings.clickhouse_addr,
          minioAddr: this.o.minioAddr || settings.minio_addr,
          heartbeatMs: this.o.heartbeatMs,
        },
      } satisfies ServerToAgentMessage),
    );
    log.info({ agentId: conn.agentId, authorized: conn.authorized, new: outcome.isNew, name: hello.hostInfo.hostname }, 'agent connected');
    if (conn.authorized) this.emit('ready', conn);
    return conn;
  }
}
