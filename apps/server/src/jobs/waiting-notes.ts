import { hostInfoSchema } from '@kraken/protocol';
import type { Db } from '../db/prisma';
import { agentState } from '../agents/agent-view';
import { fits, profileOf, type AgentProfile } from './agent-fit';

/** Says why each queued job waits, e.g. `no agents in group 'linux'` (computed when asked, not stored). */
export async function waitingNotes(
  db: Db,
  jobs: { id: number; groupId: number | null; groupName: string; executor: string; system: string; note: string | null }[],
): Promise<Map<number, string>> {
  const notes = new Map<number, string>();
  const groupIds = [...new Set(jobs.map((j) => j.groupId).filter((g): g is number => g !== null))];
  if (!groupIds.length) return notes;
  const members = await db.agentAssignment.findMany({
    where: { groupId: { in: groupIds }, agent: { authorized: true, deletedAt: null } },
    include: { agent: { select: { disabled: true, connected: true, lastSeen: true, hostInfo: true } } },
  });
  // Each agent's profile once, not once per job: a run may have hundreds of jobs.
  const byGroup = new Map<number, { usable: boolean; profile: AgentProfile }[]>();
  for (const m of members) {
    const list = byGroup.get(m.groupId) ?? [];
    const usable = !m.agent.disabled && agentState(m.agent) === 'connected';
    list.push({ usable, profile: profileOf(hostInfoSchema.safeParse(m.agent.hostInfo).data) });
    byGroup.set(m.groupId, list);
  }
  for (const job of jobs) {
    if (job.groupId === null) continue;
    const agents = byGroup.get(job.groupId) ?? [];
    const g = `group '${job.groupName}'`;
    const usable = agents.filter((a) => a.usable);
    const fitting = usable.filter((a) => fits(job, a.profile));
    let why: string;
    if (!agents.length) why = `no agents in ${g}`;
    else if (!usable.length) why = `no agents in ${g} are connected and enabled (${agents.length} authorized)`;
    else if (!fitting.length) {
      why =
        job.executor === 'local'
          ? `no agent in ${g} runs system '${job.system}'`
          : `no agent in ${g} has ${job.executor} available`;
    } else why = `waiting for a free agent in ${g}`;
    notes.set(job.id, job.note ? `${why}; ${job.note}` : why);
  }
  return notes;
}
