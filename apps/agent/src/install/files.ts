/**
 * The files `kkagent install` writes: the environment file the service reads and the systemd unit.
 * Pure functions, so the formats are tested without installing anything.
 */

export const UNIT_NAME = 'kraken-agent.service';

/** Keys written in this order; any other key already in the file is kept after them. */
export const MANAGED_ENV_KEYS = ['KRAKEN_SERVER_ADDR', 'KRAKEN_DATA_DIR', 'KRAKEN_CLICKHOUSE_ADDR', 'KRAKEN_AGENT_TOKEN', 'KRAKEN_SYSTEM_ID'] as const;

/**
 * Reads `KEY=value` lines (systemd EnvironmentFile syntax, also what `set -a; . file` reads):
 * comments and blank lines skipped, one level of single or double quotes removed.
 */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2];
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1).replace(/\\(["\\$`])/g, '$1');
    else if (value.length >= 2 && value.startsWith("'") && value.endsWith("'")) value = value.slice(1, -1);
    out[m[1]] = value;
  }
  return out;
}

/** A value as both systemd and sh read it back unchanged. */
function envValue(v: string): string {
  if (/[\n\r]/.test(v)) throw new Error(`a value in the environment file may not contain a line break: ${JSON.stringify(v)}`);
  if (/^[A-Za-z0-9_.,:/@%+=-]*$/.test(v)) return v;
  if (/["\\$`]/.test(v)) throw new Error(`unsupported characters (quotes, backslash, $ or backtick) in environment value ${JSON.stringify(v)}`);
  return `"${v}"`;
}

export function formatEnvFile(values: Record<string, string | undefined>): string {
  const keys = [...MANAGED_ENV_KEYS.filter((k) => values[k] !== undefined), ...Object.keys(values).filter((k) => !(MANAGED_ENV_KEYS as readonly string[]).includes(k) && values[k] !== undefined)];
  const lines = [
    '# Kraken agent settings, read by the kraken-agent service (systemd EnvironmentFile).',
    '# Written by `kkagent install`; running it again updates the values it is given and keeps the others.',
    '# After a change: sudo systemctl restart kraken-agent',
    '# KRAKEN_CLICKHOUSE_ADDR: the log intake (host:port of the server or clickhouse-proxy) when the',
    '# one the server hands out is not reachable from this machine.',
    ...keys.map((k) => `${k}=${envValue(values[k]!)}`),
  ];
  return lines.join('\n') + '\n';
}

/** Quotes one ExecStart argument when needed (systemd's own quoting; `%` is a specifier). */
function unitArg(a: string): string {
  const escaped = a.replace(/%/g, '%%');
  return /^[A-Za-z0-9_.,:/@+=-]+$/.test(escaped) ? escaped : `"${escaped.replace(/(["\\])/g, '\\$1')}"`;
}

export interface UnitOptions {
  user: string;
  node: string;
  binary: string;
  envFile: string;
  workDir: string;
  /** Seconds a stop may take: the agent lets a running job finish first (its --stop-timeout, 600 s). */
  stopTimeoutSec?: number;
}

export function unitFile(o: UnitOptions): string {
  return `[Unit]
Description=Kraken Agent
Documentation=https://kraken.ci/docs/agents
Wants=network-online.target
After=network-online.target time-sync.target

[Service]
Type=simple
User=${o.user}
EnvironmentFile=${o.envFile}
WorkingDirectory=${o.workDir}
ExecStart=${unitArg(o.node)} ${unitArg(o.binary)} run
Restart=on-failure
RestartSec=5
# On stop the agent takes no new job and lets a running one finish (up to 600 s), then reports
# and exits. SIGTERM goes to the agent only (KillMode=mixed): its jobs are not killed under it.
KillSignal=SIGTERM
KillMode=mixed
TimeoutStopSec=${o.stopTimeoutSec ?? 660}

[Install]
WantedBy=multi-user.target
`;
}
