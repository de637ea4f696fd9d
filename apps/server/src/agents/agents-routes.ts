import type { FastifyInstance } from 'fastify';
import { idParamSchema, listAgentsQuerySchema, patchAgentsBodySchema, updateAgentBodySchema } from '@kraken/protocol';
import { parseInput } from '../http/errors';
import type { AgentsService } from './agents-service';

export function registerAgentsRoutes(app: FastifyInstance, agents: AgentsService): void {
  app.get('/api/agents', async (req) => agents.list(parseInput(listAgentsQuerySchema, req.query, 'query')));
  app.get('/api/agents/counts', async () => agents.counts());
  app.patch('/api/agents', async (req) => ({ items: await agents.setAuthorized(parseInput(patchAgentsBodySchema, req.body, 'body')) }));
  app.get('/api/agents/:id', async (req) => agents.get(parseInput(idParamSchema, req.params, 'params').id));
  app.put('/api/agents/:id', async (req) => {
    const { id } = parseInput(idParamSchema, req.params, 'params');
    return agents.update(id, parseInput(updateAgentBodySchema, req.body, 'body'));
  });
  app.delete('/api/agents/:id', async (req, reply) => {
    await agents.remove(parseInput(idParamSchema, req.params, 'params').id);
    reply.status(204);
  });
}
