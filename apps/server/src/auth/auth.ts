import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { loginBodySchema, type Me } from '@kraken/protocol';
import type { Db } from '../db/prisma';
import { HttpError, parseInput } from '../http/errors';
import { generatePassword, hashPassword, verifyPassword } from './passwords';

export const SESSION_COOKIE = 'kraken_session';
const SESSION_TTL_MS = 7 * 24 * 3600 * 1000;
export const ADMIN_USER = 'admin';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

declare module 'fastify' {
  interface FastifyRequest {
    user?: Me;
  }
}

/**
 * Makes sure the admin user exists. KRAKEN_ADMIN_PASSWORD sets its password at every start;
 * without it a password is generated once, at the first start, and printed in the log.
 */
export async function ensureAdminUser(db: Db, log: Logger, envPassword?: string): Promise<void> {
  const existing = await db.adminUser.findUnique({ where: { username: ADMIN_USER } });
  if (envPassword) {
    const passwordHash = await hashPassword(envPassword);
    await db.adminUser.upsert({ where: { username: ADMIN_USER }, create: { username: ADMIN_USER, passwordHash }, update: { passwordHash } });
    return;
  }
  if (existing) return;
  const password = generatePassword();
  await db.adminUser.create({ data: { username: ADMIN_USER, passwordHash: await hashPassword(password) } });
  log.info(`created user '${ADMIN_USER}' with password '${password}' (shown only this once; set KRAKEN_ADMIN_PASSWORD to choose it)`);
}

async function checkCredentials(db: Db, username: string, password: string): Promise<Me | null> {
  const user = await db.adminUser.findUnique({ where: { username } });
  if (!user || !(await verifyPassword(password, user.passwordHash))) return null;
  return { username: user.username };
}

async function userFromRequest(db: Db, req: FastifyRequest): Promise<Me | null> {
  const token = req.cookies[SESSION_COOKIE];
  if (token) {
    const session = await db.session.findUnique({ where: { tokenHash: sha256(token) }, include: { user: true } });
    if (session && session.expiresAt > new Date()) return { username: session.user.username };
  }
  const header = req.headers.authorization;
  if (header?.startsWith('Basic ')) {
    // scrypt costs ~30 ms of CPU: a script sending Basic with every request is verified once a minute.
    const key = sha256(header);
    const hit = basicCache.get(key);
    if (hit && hit.until > Date.now()) return hit.user;
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) {
      const user = await checkCredentials(db, decoded.slice(0, colon), decoded.slice(colon + 1));
      if (user) {
        if (basicCache.size > 1000) basicCache.clear();
        basicCache.set(key, { user, until: Date.now() + BASIC_CACHE_MS });
      }
      return user;
    }
  }
  return null;
}

const BASIC_CACHE_MS = 60_000;
const basicCache = new Map<string, { user: Me; until: number }>();

/** Routes that need no session: health, login, the agent gateway (it has its own identity) and install files. */
export function isPublicRoute(url: string): boolean {
  const p = url.split('?')[0];
  return (
    p === '/api/health' ||
    p === '/api/auth/login' ||
    p.startsWith('/api/agent/') ||
    p.startsWith('/api/logs/intake') ||
    !p.startsWith('/api/')
  );
}

export function registerAuth(app: FastifyInstance, db: Db): void {
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if (isPublicRoute(req.url)) return;
    const user = await userFromRequest(db, req);
    if (!user) {
      reply.header('www-authenticate', 'Basic realm="kraken", charset="UTF-8"');
      throw new HttpError(401, 'unauthenticated', 'log in first (POST /api/auth/login) or use HTTP Basic with the admin credentials');
    }
    req.user = user;
  });

  app.post('/api/auth/login', async (req, reply) => {
    const body = parseInput(loginBodySchema, req.body, 'body');
    const user = await checkCredentials(db, body.username, body.password);
    if (!user) throw new HttpError(401, 'bad-credentials', 'wrong user name or password');
    const token = randomBytes(32).toString('base64url');
    const expiresAt = new Date(Date.now() + SESSION_TTL_MS);
    const dbUser = await db.adminUser.findUniqueOrThrow({ where: { username: user.username } });
    await db.session.create({ data: { tokenHash: sha256(token), userId: dbUser.id, expiresAt } });
    await db.session.deleteMany({ where: { expiresAt: { lt: new Date() } } });
    reply.setCookie(SESSION_COOKIE, token, { path: '/', httpOnly: true, sameSite: 'lax', expires: expiresAt });
    return user;
  });

  app.post('/api/auth/logout', async (req, reply) => {
    const token = req.cookies[SESSION_COOKIE];
    if (token) await db.session.deleteMany({ where: { tokenHash: sha256(token) } });
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return { ok: true };
  });

  app.get('/api/auth/me', async (req) => req.user);
}
