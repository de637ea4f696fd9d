import type { FastifyInstance, FastifyError } from 'fastify';
import type { z } from 'zod';
import { describeIssues, issuesOf, type FieldIssue, type ApiError } from '@kraken/protocol';

/** An error with an HTTP status that the API answers as JSON `{error, message, issues?}`. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly issues?: FieldIssue[],
  ) {
    super(message);
  }
}

export const notFound = (what: string) => new HttpError(404, 'not-found', `${what} not found`);
export const badRequest = (message: string, issues?: FieldIssue[]) => new HttpError(400, 'bad-request', message, issues);
export const conflict = (message: string) => new HttpError(409, 'conflict', message);

/** Validates input against a schema; a failure names every bad field. */
export function parseInput<S extends z.ZodTypeAny>(schema: S, data: unknown, where: 'body' | 'query' | 'params'): z.output<S> {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const issues = issuesOf(result.error).map((i) => ({ ...i, path: i.path || `(${where})` }));
  throw badRequest(`invalid ${where}: ${describeIssues(issues)}`, issues);
}

export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | HttpError, req, reply) => {
    if (err instanceof HttpError) {
      const body: ApiError = { error: err.code, message: err.message, ...(err.issues ? { issues: err.issues } : {}) };
      return reply.status(err.statusCode).send(body);
    }
    const status = err.statusCode ?? 500;
    if (status >= 500) {
      req.log.error({ err }, 'request failed');
      return reply.status(500).send({ error: 'internal', message: 'internal server error; see the server log' });
    }
    const code =
      err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || err instanceof SyntaxError
        ? 'bad-json'
        : err.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
          ? 'too-large'
          : err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
            ? 'bad-content-type'
            : 'bad-request';
    return reply.status(status).send({ error: code, message: err.message });
  });
  app.setNotFoundHandler((req, reply) => {
    reply.status(404).send({ error: 'not-found', message: `no route ${req.method} ${req.url.split('?')[0]}` });
  });
}
