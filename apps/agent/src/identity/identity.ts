import { randomBytes } from 'node:crypto';
import { accessSync, constants, mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { AgentConfigError } from '../config';

export const IDENTITY_FILE = 'agent-identity.json';

/**
 * The agent's identity is a secret it generates once and keeps in its data dir; the server knows
 * the agent by it, not by its IP. Copying the data dir to another machine moves the identity.
 */
export function loadOrCreateIdentity(dataDir: string): { secret: string; created: boolean } {
  try {
    mkdirSync(dataDir, { recursive: true });
    accessSync(dataDir, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw new AgentConfigError(`data dir ${dataDir} is not writable: ${(err as Error).message}`);
  }
  const file = path.join(dataDir, IDENTITY_FILE);
  if (existsSync(file)) {
    const data = JSON.parse(readFileSync(file, 'utf8')) as { secret?: unknown };
    if (typeof data.secret === 'string' && data.secret.length >= 32) return { secret: data.secret, created: false };
    throw new AgentConfigError(`${file} is damaged: delete it to make this agent a new one`);
  }
  const secret = randomBytes(32).toString('base64url');
  try {
    writeFileSync(file, JSON.stringify({ secret, createdAt: new Date().toISOString() }) + '\n', { mode: 0o600 });
  } catch (err) {
    throw new AgentConfigError(`cannot write ${file}: ${(err as Error).message}`);
  }
  return { secret, created: true };
}
