import type { Db } from '../db/prisma';
import { OFFLINE_AFTER_MS } from '../agents/agent-view';
import { fits, type AgentProfile } from './agent-fit';

/** Says why each queued job waits, e.g. `no agents in group 'linux'` (computed when asked, not stored). */
export async function waitingNotes(
  db: Db,
  jobs: { id: number; groupId: number | null; groupName: string; executor: string; system: string; note: string | null }[],
): Promise<Map<number, string>> {
  const notes = new Map<number, string>();
  const groupIds = [...new Set(jobs.map((j) => j.groupId).filter((g): g is number => g !== null))];
  if (!groupIds.length) return notes;
  // Each agent's profile in SQL, not its host info parsed here: a run may have hundreds of jobs
  // and its group thousands of agents.
  const members = await db.$queryRawUnsafe<{ group_id: number; usable: boolean; system: string; docker: boolean; lxd: boolean }[]>(
    `SELECT aa.group_id,
       NOT a.disabled AND a.connected AND a.last_seen > now() - make_interval(secs => $2) AS usable,
       coalesce(a.host_info->>'system', '') AS system,
       coalesce(a.host_info->'capabilities'->>'docker', '') <> '' AS docker,
       coalesce(a.host_info->'capabilities'->>'lxd', '') <> '' AS lxd
     FROM agent_assignments aa JOIN agents a ON a.id = aa.agent_id
     WHERE aa.group_id = ANY($1::int[]) AND a.authorized AND a.deleted_at IS NULL`,
    groupIds,
    OFFLINE_AFTER_MS / 1000,
  );
  const byGroup = new Map<number, { usable: boolean; profile: AgentProfile }[]>();
  for (const m of members) {
    const list = byGroup.get(m.group_id) ?? [];
    list.push({ usable: m.usable, profile: { system: m.system, docker: m.docker, lxd: m.lxd } });
    byGroup.set(m.group_id, list);
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
