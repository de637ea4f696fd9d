import type { FastifyInstance } from 'fastify';
import {
  adHocRunBodySchema,
  createWorkflowBodySchema,
  idParamSchema,
  listAgentJobsQuerySchema,
  listRunsQuerySchema,
} from '@kraken/protocol';
import { parseInput } from '../http/errors';
import { RunsService } from './runs-service';

export function registerJobsRoutes(app: FastifyInstance, runs: RunsService): void {
  app.post('/api/workflows', async (req, reply) => {
    const body = parseInput(createWorkflowBodySchema, req.body, 'body');
    reply.status(201);
    return runs.createWorkflow(body.name, body.schema);
  });
  app.get('/api/workflows', async () => ({ items: await runs.listWorkflows() }));
  app.post('/api/workflows/:id/runs', async (req, reply) => {
    const run = await runs.runWorkflow(parseInput(idParamSchema, req.params, 'params').id);
    reply.status(201);
    return run;
  });
  app.post('/api/runs', async (req, reply) => {
    const body = parseInput(adHocRunBodySchema, req.body, 'body');
    const run = await runs.createRun(RunsService.validate(body.schema));
    reply.status(201);
    return run;
  });
  app.get('/api/runs', async (req) => runs.listRuns(parseInput(listRunsQuerySchema, req.query, 'query')));
  app.get('/api/runs/:id', async (req) => runs.getRun(parseInput(idParamSchema, req.params, 'params').id));
  app.post('/api/runs/:id/cancel', async (req) => runs.cancelRun(parseInput(idParamSchema, req.params, 'params').id));
  app.get('/api/jobs/:id', async (req) => runs.getJob(parseInput(idParamSchema, req.params, 'params').id));
  app.post('/api/jobs/:id/cancel', async (req) => runs.cancel(parseInput(idParamSchema, req.params, 'params').id));
  app.get('/api/agents/:id/jobs', async (req) => {
    const { id } = parseInput(idParamSchema, req.params, 'params');
    return runs.agentJobs(id, parseInput(listAgentJobsQuerySchema, req.query, 'query'));
  });
}
