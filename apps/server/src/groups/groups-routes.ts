import type { FastifyInstance } from 'fastify';
import { createGroupBodySchema, groupAgentsBodySchema, idParamSchema, updateGroupBodySchema } from '@kraken/protocol';
import { z } from 'zod';
import { parseInput } from '../http/errors';
import type { GroupsService } from './groups-service';

const groupAgentParams = idParamSchema.extend({ agentId: z.coerce.number().int().positive() });

export function registerGroupsRoutes(app: FastifyInstance, groups: GroupsService): void {
  app.get('/api/groups', async () => ({ items: await groups.list() }));
  app.post('/api/groups', async (req, reply) => {
    const body = parseInput(createGroupBodySchema, req.body, 'body');
    reply.status(201);
    return groups.create(body.name);
  });
  app.get('/api/groups/:id', async (req) => groups.get(parseInput(idParamSchema, req.params, 'params').id));
  app.put('/api/groups/:id', async (req) => {
    const { id } = parseInput(idParamSchema, req.params, 'params');
    return groups.rename(id, parseInput(updateGroupBodySchema, req.body, 'body').name);
  });
  app.delete('/api/groups/:id', async (req, reply) => {
    await groups.remove(parseInput(idParamSchema, req.params, 'params').id);
    reply.status(204);
  });
  app.post('/api/groups/:id/agents', async (req) => {
    const { id } = parseInput(idParamSchema, req.params, 'params');
    return groups.addAgents(id, parseInput(groupAgentsBodySchema, req.body, 'body').agentIds);
  });
  app.delete('/api/groups/:id/agents/:agentId', async (req) => {
    const { id, agentId } = parseInput(groupAgentParams, req.params, 'params');
    return groups.removeAgent(id, agentId);
  });
}
