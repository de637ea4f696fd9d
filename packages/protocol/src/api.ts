import { z } from 'zod';
import { hostInfoSchema } from './host-info';

/** REST API bodies and answers under `/api`. Request schemas are strict: unknown fields are errors. */

export const idParamSchema = z.object({ id: z.coerce.number().int().positive('id must be a positive integer') });

export const apiErrorSchema = z.object({
  error: z.string(),
  message: z.string(),
  issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});
export type ApiError = z.infer<typeof apiErrorSchema>;

export const healthSchema = z.object({ status: z.literal('ok'), version: z.string(), database: z.literal('ok') });

// ---- auth -------------------------------------------------------------------

export const loginBodySchema = z.strictObject({
  username: z.string().min(1, 'required').max(100),
  password: z.string().min(1, 'required').max(1000),
});
export type LoginBody = z.infer<typeof loginBodySchema>;
export const meSchema = z.object({ username: z.string() });
export type Me = z.infer<typeof meSchema>;

// ---- groups -----------------------------------------------------------------

export const groupNameSchema = z
  .string()
  .trim()
  .min(1, 'required')
  .max(100, 'at most 100 characters')
  .regex(/^[\w.\- ]+$/u, 'only letters, digits, spaces, dot, dash and underscore');

export const groupRefSchema = z.object({ id: z.number().int(), name: z.string() });
export type GroupRef = z.infer<typeof groupRefSchema>;

export const groupSchema = z.object({
  id: z.number().int(),
  name: z.string(),
  builtin: z.boolean(),
  agentsCount: z.number().int(),
  createdAt: z.string(),
});
export type Group = z.infer<typeof groupSchema>;

export const createGroupBodySchema = z.strictObject({ name: groupNameSchema });
export const updateGroupBodySchema = z.strictObject({ name: groupNameSchema });
export const groupAgentsBodySchema = z.strictObject({
  agentIds: z.array(z.number().int().positive()).min(1, 'at least one agent').max(10_000),
});
export type CreateGroupBody = z.infer<typeof createGroupBodySchema>;
export type UpdateGroupBody = z.infer<typeof updateGroupBodySchema>;
export type GroupAgentsBody = z.infer<typeof groupAgentsBodySchema>;

// ---- agents -----------------------------------------------------------------

export const agentStateSchema = z.enum(['connected', 'offline']);
export type AgentState = z.infer<typeof agentStateSchema>;

export const agentJobRefSchema = z.object({ id: z.number().int(), name: z.string(), runId: z.number().int() });

export const agentSchema = z.object({
  id: z.number().int(),
  name: z.string(),
  address: z.string(),
  authorized: z.boolean(),
  disabled: z.boolean(),
  deleted: z.boolean(),
  state: agentStateSchema,
  lastSeen: z.string().nullable(),
  createdAt: z.string(),
  hostInfo: hostInfoSchema.nullable(),
  slots: z.number().int(),
  groups: z.array(groupRefSchema),
  currentJobs: z.array(agentJobRefSchema),
});
export type Agent = z.infer<typeof agentSchema>;

export const agentSortFields = ['id', 'name', 'address', 'lastSeen', 'createdAt', 'state'] as const;

const booleanQuery = z.enum(['true', 'false']).transform((v) => v === 'true');

export const listAgentsQuerySchema = z.strictObject({
  authorized: booleanQuery.optional(),
  state: agentStateSchema.optional(),
  group: z.coerce.number().int().positive().optional(),
  /** Case-insensitive substring of name, address or system. */
  q: z.string().max(200).optional(),
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  sort: z.enum(agentSortFields).default('id'),
  order: z.enum(['asc', 'desc']).default('asc'),
});
export type ListAgentsQuery = z.input<typeof listAgentsQuerySchema>;

export function pageSchema<T extends z.ZodTypeAny>(item: T) {
  return z.object({ items: z.array(item), total: z.number().int() });
}
export const agentPageSchema = pageSchema(agentSchema);
export type AgentPage = z.infer<typeof agentPageSchema>;

export const patchAgentsBodySchema = z
  .array(z.strictObject({ id: z.number().int().positive(), authorized: z.boolean() }))
  .min(1, 'at least one agent')
  .max(10_000);
export type PatchAgentsBody = z.infer<typeof patchAgentsBodySchema>;

export const updateAgentBodySchema = z
  .strictObject({
    name: z.string().trim().min(1, 'required').max(200).optional(),
    disabled: z.boolean().optional(),
    authorized: z.boolean().optional(),
    groups: z.array(z.number().int().positive()).max(1000).optional(),
  })
  .refine((b) => Object.keys(b).length > 0, { message: 'nothing to change: give name, disabled, authorized or groups' });
export type UpdateAgentBody = z.infer<typeof updateAgentBodySchema>;

export const agentCountsSchema = z.object({ authorized: z.number().int(), discovered: z.number().int(), connected: z.number().int() });
export type AgentCounts = z.infer<typeof agentCountsSchema>;

// ---- settings ---------------------------------------------------------------

const address = z.string().trim().max(500);

export const settingsSchema = z.object({
  server_url: address,
  clickhouse_addr: address,
  minio_addr: address,
  clickhouse_log_ttl: z.number().int().min(1, 'at least 1 month').max(120),
  enrollment_token: z.string(),
});
export type Settings = z.infer<typeof settingsSchema>;

export const updateSettingsBodySchema = z
  .strictObject({
    server_url: address.refine((v) => v === '' || /^https?:\/\/[^\s/]+/.test(v), 'must be an http(s) URL, e.g. http://kraken.example.com:6363').optional(),
    clickhouse_addr: address.optional(),
    minio_addr: address.optional(),
    clickhouse_log_ttl: z.number().int().min(1, 'at least 1 month').max(120, 'at most 120 months').optional(),
    enrollment_token: z.string().min(16, 'at least 16 characters').max(256).optional(),
  });
export type UpdateSettingsBody = z.infer<typeof updateSettingsBodySchema>;
