import { hostInfoSchema, type Agent, type AgentState } from '@kraken/protocol';
import type { Prisma } from '../db/prisma';

/** A connected agent whose server has not refreshed its last-seen time for this long is shown offline. */
export const OFFLINE_AFTER_MS = 30_000;

export const agentInclude = {
  groups: { include: { group: { select: { id: true, name: true } } }, orderBy: { groupId: 'asc' } },
} satisfies Prisma.AgentInclude;

export type AgentRow = Prisma.AgentGetPayload<{ include: typeof agentInclude }>;

export function agentState(row: { connected: boolean; lastSeen: Date | null }, now = Date.now()): AgentState {
  return row.connected && row.lastSeen && now - row.lastSeen.getTime() < OFFLINE_AFTER_MS ? 'connected' : 'offline';
}

export function toAgentView(row: AgentRow, currentJobs: Agent['currentJobs'] = []): Agent {
  const host = hostInfoSchema.safeParse(row.hostInfo);
  return {
    id: row.id,
    name: row.name,
    address: row.address,
    authorized: row.authorized,
    disabled: row.disabled,
    deleted: row.deletedAt !== null,
    state: agentState(row),
    lastSeen: row.lastSeen?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
    hostInfo: host.success ? host.data : null,
    slots: row.slots,
    groups: row.groups.map((g) => g.group),
    currentJobs,
  };
}
