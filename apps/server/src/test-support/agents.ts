import type { Agent, AgentPage, Group } from '@kraken/protocol';
import { AgentProcess } from './agent-process';
import type { ApiClient } from './api-client';
import { waitFor } from './wait';

/** Starts real agents that present the enrollment token (so they are authorized), and waits for them. */
export async function startAuthorizedAgents(
  api: ApiClient,
  serverUrl: string,
  count: number,
  opts: { env?: NodeJS.ProcessEnv; args?: string[] } = {},
): Promise<{ procs: AgentProcess[]; agents: Agent[] }> {
  const { enrollment_token } = await api.ok<{ enrollment_token: string }>('GET', '/api/settings');
  const before = new Set((await api.ok<AgentPage>('GET', '/api/agents?limit=500')).items.map((a) => a.id));
  const procs = Array.from({ length: count }, () => new AgentProcess(serverUrl, { env: { KRAKEN_AGENT_TOKEN: enrollment_token, ...opts.env }, args: opts.args }));
  const agents = await waitFor(`${count} new authorized agents`, async () => {
    const page = await api.ok<AgentPage>('GET', '/api/agents?authorized=true&state=connected&limit=500');
    const fresh = page.items.filter((a) => !before.has(a.id));
    return fresh.length === count && fresh;
  });
  // Line the processes up with their records.
  const byId = new Map(agents.map((a) => [a.id, a]));
  const ordered = await waitFor('agents report their ids', () => {
    const ids = procs.map((p) => p.agentId());
    return ids.every((id) => id && byId.has(id)) && ids.map((id) => byId.get(id!)!);
  });
  return { procs, agents: ordered };
}

/** Creates a group (if needed) and puts the agents into it. */
export async function groupOf(api: ApiClient, name: string, agentIds: number[]): Promise<Group> {
  const groups = await api.ok<{ items: Group[] }>('GET', '/api/groups');
  const group = groups.items.find((g) => g.name === name) ?? (await api.ok<Group>('POST', '/api/groups', { name }, 201));
  if (agentIds.length) await api.ok('POST', `/api/groups/${group.id}/agents`, { agentIds });
  return group;
}
