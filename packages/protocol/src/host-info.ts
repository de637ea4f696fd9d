import { z } from 'zod';

export const isolationSchema = z.enum(['bare-metal', 'docker', 'lxc']);

/** What an agent reports about the machine it runs on. */
export const hostInfoSchema = z.object({
  hostname: z.string().min(1).max(255),
  /** e.g. `debian-12`; matched against a job's `system` for the local executor. */
  system: z.string().min(1).max(100),
  systemType: z.enum(['linux', 'windows', 'darwin', 'other']),
  distroName: z.string().max(100),
  distroVersion: z.string().max(100),
  isolation: isolationSchema,
  capabilities: z.object({
    docker: z.string().max(100).optional(),
    lxd: z.string().max(100).optional(),
  }),
  cpus: z.number().int().nonnegative(),
  memoryMb: z.number().int().nonnegative(),
  agentVersion: z.string().max(50),
});
export type HostInfo = z.infer<typeof hostInfoSchema>;
export type Isolation = z.infer<typeof isolationSchema>;
