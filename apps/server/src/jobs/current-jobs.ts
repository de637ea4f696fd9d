import type { Db } from '../db/prisma';
import type { CurrentJobsLookup } from '../agents/agents-service';
import { ACTIVE_STATES } from './job-completion';

/** The jobs each agent is running now, for the agents list. */
export function currentJobsLookup(db: Db): CurrentJobsLookup {
  return async (agentIds) => {
    const map = new Map<number, { id: number; name: string; runId: number }[]>();
    if (!agentIds.length) return map;
    const jobs = await db.job.findMany({
      where: { agentId: { in: agentIds }, state: { in: ACTIVE_STATES } },
      select: { id: true, name: true, runId: true, agentId: true },
      orderBy: { id: 'asc' },
    });
    for (const j of jobs) {
      const list = map.get(j.agentId!) ?? [];
      list.push({ id: j.id, name: j.name, runId: j.runId });
      map.set(j.agentId!, list);
    }
    return map;
  };
}
