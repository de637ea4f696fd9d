import type { HostInfo } from '@kraken/protocol';

/** What the scheduler needs to know about an agent to decide if a job fits it. */
export interface AgentProfile {
  system: string;
  docker: boolean;
  lxd: boolean;
}

export function profileOf(hostInfo: HostInfo | null | undefined): AgentProfile {
  return { system: hostInfo?.system ?? '', docker: !!hostInfo?.capabilities.docker, lxd: !!hostInfo?.capabilities.lxd };
}

/** Does a job (executor, system) fit an agent? `local` needs the same system or `any`; containers need the daemon. */
export function fits(job: { executor: string; system: string }, agent: AgentProfile): boolean {
  if (job.executor === 'local') return job.system === 'any' || job.system === agent.system;
  if (job.executor === 'docker') return agent.docker;
  if (job.executor === 'lxd') return agent.lxd;
  return false;
}
