import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import WebSocket from 'ws';
import {
  AGENT_WS_PATH,
  MAX_FRAME_BYTES,
  describeIssues,
  issuesOf,
  serverToAgentMessageSchema,
  type AgentToServerMessage,
  type HelloMessage,
  type ServerToAgentMessage,
  type WelcomeMessage,
} from '@kraken/protocol';
import { Backoff } from './backoff';

export function agentSocketUrl(serverUrl: URL): string {
  const url = new URL(AGENT_WS_PATH.slice(1), serverUrl);
  url.protocol = serverUrl.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}

interface Events {
  welcome: [WelcomeMessage];
  message: [ServerToAgentMessage];
  disconnected: [];
}

/**
 * The agent's one WebSocket to the server. It says hello on every (re)connection, answers and
 * sends pings, and reconnects with jittered exponential backoff for as long as the agent runs:
 * a network error is never fatal.
 */
export class ServerConnection extends EventEmitter<Events> {
  private ws?: WebSocket;
  private stopped = false;
  private readonly backoff = new Backoff();
  private retryTimer?: NodeJS.Timeout;
  private pingTimer?: NodeJS.Timeout;
  private awaitingPong = false;
  private welcomed = false;

  constructor(
    private readonly o: { serverUrl: URL; hello: () => Promise<HelloMessage>; log: Logger; bindAddr?: string },
  ) {
    super();
  }

  get connected(): boolean {
    return this.welcomed && this.ws?.readyState === WebSocket.OPEN;
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  send(msg: AgentToServerMessage): boolean {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        ws.terminate();
        resolve();
      }, 2000);
      ws.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      ws.close(1000, 'agent stopping');
    });
  }

  private connect(): void {
    const url = agentSocketUrl(this.o.serverUrl);
    const ws = new WebSocket(url, { maxPayload: MAX_FRAME_BYTES, handshakeTimeout: 10_000, localAddress: this.o.bindAddr });
    this.ws = ws;
    this.welcomed = false;
    ws.on('open', () => {
      this.o.hello().then(
        (hello) => ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify(hello)),
        (err) => {
          this.o.log.error({ err }, 'cannot build hello');
          ws.terminate();
        },
      );
    });
    ws.on('pong', () => (this.awaitingPong = false));
    ws.on('message', (data) => this.onMessage(data.toString()));
    ws.on('error', (err) => this.o.log.debug({ err: err.message, url }, 'connection error'));
    ws.on('close', (code, reason) => {
      clearInterval(this.pingTimer);
      const wasUp = this.welcomed;
      this.welcomed = false;
      if (wasUp) {
        this.o.log.warn({ code, reason: reason.toString() }, 'connection to server lost');
        this.emit('disconnected');
      }
      if (this.stopped) return;
      const delay = this.backoff.next();
      this.o.log.info({ url, retryInMs: delay }, wasUp ? 'reconnecting' : 'server not reachable; retrying');
      this.retryTimer = setTimeout(() => this.connect(), delay);
    });
  }

  private onMessage(text: string): void {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      this.o.log.warn('server sent a frame that is not JSON; ignored');
      return;
    }
    const parsed = serverToAgentMessageSchema.safeParse(json);
    if (!parsed.success) {
      this.o.log.warn({ problem: describeIssues(issuesOf(parsed.error)) }, 'server sent an unknown message; ignored (is the agent older than the server?)');
      return;
    }
    const msg = parsed.data;
    if (msg.type === 'welcome') {
      this.welcomed = true;
      this.backoff.reset();
      this.startPings(msg.config.heartbeatMs);
      this.emit('welcome', msg);
    } else if (msg.type === 'error') {
      this.o.log.warn({ code: msg.code }, `server says: ${msg.message}`);
    }
    this.emit('message', msg);
  }

  /** A server that misses a ping within one heartbeat period is presumed dead; reconnect. */
  private startPings(periodMs: number): void {
    clearInterval(this.pingTimer);
    this.awaitingPong = false;
    this.pingTimer = setInterval(() => {
      const ws = this.ws;
      if (!ws) return;
      if (this.awaitingPong) {
        this.o.log.warn('server did not answer a ping; reconnecting');
        ws.terminate();
        return;
      }
      this.awaitingPong = true;
      ws.ping();
    }, periodMs);
  }
}
