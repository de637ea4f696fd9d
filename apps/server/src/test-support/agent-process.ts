import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { agentBundlePath } from '../builtin-agent/builtin-agent';
import { ChildProgram } from './child-program';

/** A real `kkagent` process (the bundle `npm run build` makes), with its log lines collected. */
export class AgentProcess extends ChildProgram {
  readonly dataDir: string;

  constructor(serverUrl: string, opts: { dataDir?: string; env?: NodeJS.ProcessEnv; args?: string[] } = {}) {
    const bundle = agentBundlePath();
    if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run npm run build first`);
    const dataDir = opts.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'kkagent-test-'));
    super([bundle, 'run', '-s', serverUrl, '-d', dataDir, ...(opts.args ?? [])], opts.env ?? {});
    this.dataDir = dataDir;
  }

  /** The id the server gave this agent (from its "connected to server" log line), once connected. */
  agentId(): number | undefined {
    for (const line of this.lines) {
      if (!line.includes('connected to server')) continue;
      try {
        const id = (JSON.parse(line) as { agentId?: number }).agentId;
        if (id) return id;
      } catch {
        /* not a JSON line */
      }
    }
    return undefined;
  }
}
