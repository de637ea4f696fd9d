import { createHash } from 'node:crypto';
import type { Agent, AgentCounts, HelloMessage, PatchAgentsBody, UpdateAgentBody } from '@kraken/protocol';
import { listAgentsQuerySchema } from '@kraken/protocol';
import type { z } from 'zod';
import type { Db, Prisma } from '../db/prisma';
import type { EventBus } from '../events/bus';
import type { GroupsService } from '../groups/groups-service';
import { badRequest, notFound } from '../http/errors';
import { agentInclude, OFFLINE_AFTER_MS, toAgentView } from './agent-view';

export const identityHash = (secret: string) => createHash('sha256').update(secret).digest('hex');

type ListQuery = z.output<typeof listAgentsQuerySchema>;
export type CurrentJobsLookup = (agentIds: number[]) => Promise<Map<number, Agent['currentJobs']>>;

export interface HelloOutcome {
  agentId: number;
  authorized: boolean;
  disabled: boolean;
  isNew: boolean;
}

export class AgentsService {
  /** Filled in by the jobs feature: the jobs each agent is running now. */
  currentJobs: CurrentJobsLookup = async () => new Map();

  constructor(
    private readonly db: Db,
    private readonly groups: GroupsService,
    private readonly bus: EventBus,
  ) {}

  // ---- the gateway's side ---------------------------------------------------

  /**
   * Records an agent's hello. The identity is the hash of its secret, never its address: the
   * same secret from a new address is the same agent; a new secret is a new, discovered agent.
   * A deleted agent that comes back is discovered again (unauthorized, no groups).
   */
  async recordHello(hello: HelloMessage, address: string, serverId: string, connectionId: string, enrollmentToken: string): Promise<HelloOutcome> {
    const hash = identityHash(hello.secret);
    const tokenOk = !!hello.token && !!enrollmentToken && hello.token === enrollmentToken;
    const hostInfo = hello.hostInfo as unknown as Prisma.InputJsonValue;
    const now = new Date();
    return this.db.$transaction(async (tx) => {
      const existing = await tx.agent.findUnique({ where: { identityHash: hash } });
      let row;
      if (!existing) {
        row = await tx.agent.create({
          data: {
            identityHash: hash,
            name: hello.hostInfo.hostname,
            address,
            authorized: tokenOk,
            hostInfo,
            slots: hello.slots,
            connected: true,
            serverId,
            connectionId,
            lastSeen: now,
          },
        });
      } else {
        const revived = existing.deletedAt !== null;
        row = await tx.agent.update({
          where: { id: existing.id },
          data: {
            address,
            hostInfo,
            slots: hello.slots,
            connected: true,
            serverId,
            connectionId,
            lastSeen: now,
            ...(revived ? { deletedAt: null, authorized: tokenOk, disabled: false, createdAt: now } : {}),
            ...(!revived && tokenOk && !existing.authorized ? { authorized: true } : {}),
          },
        });
        if (revived) await tx.agentAssignment.deleteMany({ where: { agentId: existing.id } });
      }
      if (row.authorized) {
        const all = await tx.agentsGroup.findUnique({ where: { name: 'all' } });
        if (all && (!existing || existing.deletedAt !== null || !existing.authorized)) {
          await tx.agentAssignment.createMany({ data: [{ agentId: row.id, groupId: all.id }], skipDuplicates: true });
        }
      }
      return { agentId: row.id, authorized: row.authorized, disabled: row.disabled, isNew: !existing };
    });
  }

  /** The connection closed; a newer connection of the same agent (already recorded) is left alone. */
  async markDisconnected(agentId: number, connectionId: string): Promise<void> {
    await this.db.agent.updateMany({ where: { id: agentId, connectionId }, data: { connected: false, lastSeen: new Date() } });
  }

  /** Marks several agents offline at once (a server shutting down); agents now held by another server are left alone. */
  async markManyDisconnected(connectionIds: string[]): Promise<void> {
    if (!connectionIds.length) return;
    await this.db.agent.updateMany({ where: { connectionId: { in: connectionIds } }, data: { connected: false, lastSeen: new Date() } });
  }

  /** Refreshes last-seen of every agent this server holds, and marks agents of dead servers offline. */
  async heartbeat(connectionIds: string[]): Promise<void> {
    const now = new Date();
    if (connectionIds.length) {
      // Keyed by connection: a heartbeat racing with a disconnect cannot mark the agent connected again.
      await this.db.agent.updateMany({ where: { connectionId: { in: connectionIds }, connected: true }, data: { lastSeen: now } });
    }
    await this.db.agent.updateMany({
      where: { connected: true, lastSeen: { lt: new Date(now.getTime() - OFFLINE_AFTER_MS) } },
      data: { connected: false },
    });
  }

  async statusOf(agentId: number): Promise<{ authorized: boolean; disabled: boolean; deleted: boolean } | null> {
    const a = await this.db.agent.findUnique({ where: { id: agentId }, select: { authorized: true, disabled: true, deletedAt: true } });
    return a && { authorized: a.authorized, disabled: a.disabled, deleted: a.deletedAt !== null };
  }

  // ---- the API's side -------------------------------------------------------

  private async views(rows: Awaited<ReturnType<typeof this.findRows>>): Promise<Agent[]> {
    const jobs = await this.currentJobs(rows.map((r) => r.id));
    return rows.map((r) => toAgentView(r, jobs.get(r.id) ?? []));
  }

  private findRows(args: Prisma.AgentFindManyArgs) {
    return this.db.agent.findMany({ ...args, include: agentInclude });
  }

  async list(q: ListQuery): Promise<{ items: Agent[]; total: number }> {
    const where: Prisma.AgentWhereInput = { deletedAt: null };
    if (q.authorized !== undefined) where.authorized = q.authorized;
    if (q.group !== undefined) where.groups = { some: { groupId: q.group } };
    if (q.state === 'connected') {
      where.connected = true;
      where.lastSeen = { gte: new Date(Date.now() - OFFLINE_AFTER_MS) };
    } else if (q.state === 'offline') {
      where.NOT = { connected: true, lastSeen: { gte: new Date(Date.now() - OFFLINE_AFTER_MS) } };
    }
    if (q.q) {
      where.OR = [
        { name: { contains: q.q, mode: 'insensitive' } },
        { address: { contains: q.q, mode: 'insensitive' } },
        { hostInfo: { path: ['system'], string_contains: q.q } },
      ];
    }
    const sortField = q.sort === 'state' ? 'connected' : q.sort;
    const orderBy: Prisma.AgentOrderByWithRelationInput[] = [
      sortField === 'lastSeen' ? { lastSeen: { sort: q.order, nulls: 'last' } } : { [sortField]: q.order },
      { id: 'asc' },
    ];
    // One snapshot for the page and the total, so that they agree while agents arrive.
    const [rows, total] = await this.db.$transaction(
      [this.findRows({ where, orderBy, skip: q.offset, take: q.limit }), this.db.agent.count({ where })],
      { isolationLevel: 'RepeatableRead' },
    );
    return { items: await this.views(rows), total };
  }

  async get(id: number): Promise<Agent> {
    const rows = await this.findRows({ where: { id } });
    if (!rows.length) throw notFound(`agent ${id}`);
    return (await this.views(rows))[0];
  }

  async counts(): Promise<AgentCounts> {
    const [authorized, discovered, connected] = await Promise.all([
      this.db.agent.count({ where: { deletedAt: null, authorized: true } }),
      this.db.agent.count({ where: { deletedAt: null, authorized: false } }),
      this.db.agent.count({ where: { deletedAt: null, connected: true, lastSeen: { gte: new Date(Date.now() - OFFLINE_AFTER_MS) } } }),
    ]);
    return { authorized, discovered, connected };
  }

  /** Authorizes or unauthorizes several agents at once: all or nothing. Authorizing adds to group `all`. */
  async setAuthorized(changes: PatchAgentsBody): Promise<Agent[]> {
    const ids = [...new Set(changes.map((c) => c.id))];
    await this.db.$transaction(async (tx) => {
      const found = await tx.agent.findMany({ where: { id: { in: ids }, deletedAt: null }, select: { id: true } });
      const missing = ids.filter((id) => !found.some((f) => f.id === id));
      if (missing.length) throw notFound(`agent(s) ${missing.join(', ')}`);
      const allId = await this.groups.allGroupId();
      for (const c of changes) {
        await tx.agent.update({ where: { id: c.id }, data: { authorized: c.authorized } });
        if (c.authorized) await tx.agentAssignment.createMany({ data: [{ agentId: c.id, groupId: allId }], skipDuplicates: true });
      }
    });
    await Promise.all(ids.map((agentId) => this.bus.publish({ kind: 'agent-status', agentId })));
    await this.bus.publish({ kind: 'groups-changed' });
    await this.bus.publish({ kind: 'schedule' });
    const rows = await this.findRows({ where: { id: { in: ids } }, orderBy: { id: 'asc' } });
    return this.views(rows);
  }

  async update(id: number, body: UpdateAgentBody): Promise<Agent> {
    await this.db.$transaction(async (tx) => {
      const agent = await tx.agent.findFirst({ where: { id, deletedAt: null } });
      if (!agent) throw notFound(`agent ${id}`);
      if (body.groups) {
        const wanted = [...new Set(body.groups)];
        const found = await tx.agentsGroup.findMany({ where: { id: { in: wanted } }, select: { id: true } });
        const missing = wanted.filter((g) => !found.some((f) => f.id === g));
        if (missing.length) {
          throw badRequest(`unknown group id(s): ${missing.join(', ')}`, [{ path: 'groups', message: `unknown group id(s): ${missing.join(', ')}` }]);
        }
        await tx.agentAssignment.deleteMany({ where: { agentId: id, groupId: { notIn: wanted } } });
        await tx.agentAssignment.createMany({ data: wanted.map((groupId) => ({ agentId: id, groupId })), skipDuplicates: true });
      }
      await tx.agent.update({
        where: { id },
        data: {
          ...(body.name !== undefined ? { name: body.name } : {}),
          ...(body.disabled !== undefined ? { disabled: body.disabled } : {}),
          ...(body.authorized !== undefined ? { authorized: body.authorized } : {}),
        },
      });
      if (body.authorized) {
        const allId = await this.groups.allGroupId();
        await tx.agentAssignment.createMany({ data: [{ agentId: id, groupId: allId }], skipDuplicates: true });
      }
    });
    if (body.disabled !== undefined || body.authorized !== undefined) await this.bus.publish({ kind: 'agent-status', agentId: id });
    if (body.groups || body.authorized) await this.bus.publish({ kind: 'groups-changed' });
    await this.bus.publish({ kind: 'schedule' });
    return this.get(id);
  }

  /** Soft delete: the record stays for job history; the agent is disconnected and unauthorized. */
  async remove(id: number): Promise<void> {
    const agent = await this.db.agent.findFirst({ where: { id, deletedAt: null } });
    if (!agent) throw notFound(`agent ${id}`);
    await this.db.agent.update({ where: { id }, data: { deletedAt: new Date(), authorized: false } });
    await this.bus.publish({ kind: 'agent-status', agentId: id });
  }
}
