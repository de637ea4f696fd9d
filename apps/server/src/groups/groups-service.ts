import type { Group } from '@kraken/protocol';
import type { Db } from '../db/prisma';
import type { EventBus } from '../events/bus';
import { badRequest, conflict, notFound } from '../http/errors';

export const ALL_GROUP = 'all';

export class GroupsService {
  constructor(
    private readonly db: Db,
    private readonly bus?: EventBus,
  ) {}

  private async changed(): Promise<void> {
    await this.bus?.publish({ kind: 'groups-changed' });
  }

  async ensureBuiltins(): Promise<void> {
    await this.db.agentsGroup.upsert({ where: { name: ALL_GROUP }, create: { name: ALL_GROUP, builtin: true }, update: { builtin: true } });
  }

  async allGroupId(): Promise<number> {
    const g = await this.db.agentsGroup.findUnique({ where: { name: ALL_GROUP } });
    if (g) return g.id;
    await this.ensureBuiltins();
    return (await this.db.agentsGroup.findUniqueOrThrow({ where: { name: ALL_GROUP } })).id;
  }

  async list(): Promise<Group[]> {
    const rows = await this.db.agentsGroup.findMany({
      orderBy: { id: 'asc' },
      include: { _count: { select: { agents: { where: { agent: { deletedAt: null } } } } } },
    });
    return rows.map((r) => ({ id: r.id, name: r.name, builtin: r.builtin, agentsCount: r._count.agents, createdAt: r.createdAt.toISOString() }));
  }

  async get(id: number): Promise<Group> {
    const g = (await this.list()).find((x) => x.id === id);
    if (!g) throw notFound(`group ${id}`);
    return g;
  }

  async create(name: string): Promise<Group> {
    if (await this.db.agentsGroup.findUnique({ where: { name } })) throw conflict(`a group named '${name}' already exists`);
    const g = await this.db.agentsGroup.create({ data: { name } });
    return this.get(g.id);
  }

  async rename(id: number, name: string): Promise<Group> {
    const g = await this.db.agentsGroup.findUnique({ where: { id } });
    if (!g) throw notFound(`group ${id}`);
    if (g.builtin && g.name !== name) throw badRequest(`group '${g.name}' is built in and cannot be renamed`);
    const other = await this.db.agentsGroup.findUnique({ where: { name } });
    if (other && other.id !== id) throw conflict(`a group named '${name}' already exists`);
    await this.db.agentsGroup.update({ where: { id }, data: { name } });
    return this.get(id);
  }

  async remove(id: number): Promise<void> {
    const g = await this.db.agentsGroup.findUnique({ where: { id } });
    if (!g) throw notFound(`group ${id}`);
    if (g.builtin) throw badRequest(`group '${g.name}' is built in and cannot be deleted`);
    await this.db.agentsGroup.delete({ where: { id } });
    await this.changed();
  }

  async addAgents(id: number, agentIds: number[]): Promise<Group> {
    if (!(await this.db.agentsGroup.findUnique({ where: { id } }))) throw notFound(`group ${id}`);
    const found = await this.db.agent.findMany({ where: { id: { in: agentIds }, deletedAt: null }, select: { id: true } });
    const missing = agentIds.filter((a) => !found.some((f) => f.id === a));
    if (missing.length) throw notFound(`agent(s) ${missing.join(', ')}`);
    await this.db.agentAssignment.createMany({ data: agentIds.map((agentId) => ({ agentId, groupId: id })), skipDuplicates: true });
    await this.changed();
    return this.get(id);
  }

  async removeAgent(id: number, agentId: number): Promise<Group> {
    if (!(await this.db.agentsGroup.findUnique({ where: { id } }))) throw notFound(`group ${id}`);
    await this.db.agentAssignment.deleteMany({ where: { groupId: id, agentId } });
    await this.changed();
    return this.get(id);
  }
}
