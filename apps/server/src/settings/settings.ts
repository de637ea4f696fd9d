import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { settingsSchema, updateSettingsBodySchema, type Settings, type UpdateSettingsBody } from '@kraken/protocol';
import type { Db } from '../db/prisma';
import { parseInput } from '../http/errors';

const CACHE_MS = 5000;

export const newEnrollmentToken = () => randomBytes(24).toString('base64url');

const DEFAULTS: Omit<Settings, 'enrollment_token'> = {
  server_url: '',
  clickhouse_addr: '',
  minio_addr: '',
  clickhouse_log_ttl: 6,
};

export class SettingsService {
  private cache?: Settings;
  private cachedAt = 0;

  constructor(private readonly db: Db) {}

  /**
   * Creates missing settings (a fresh enrollment token at the first start). A token given by env
   * (KRAKEN_ENROLLMENT_TOKEN: compose and other scripted set-ups) replaces the stored one, so
   * agents started with it enroll at once.
   */
  async init(envToken?: string): Promise<Settings> {
    const rows = await this.db.setting.findMany();
    const have = new Set(rows.map((r) => r.name));
    const missing: Partial<Settings> = {};
    for (const [k, v] of Object.entries(DEFAULTS)) if (!have.has(k)) Object.assign(missing, { [k]: v });
    if (!have.has('enrollment_token')) missing.enrollment_token = newEnrollmentToken();
    if (Object.keys(missing).length) {
      await this.db.setting.createMany({
        data: Object.entries(missing).map(([name, value]) => ({ name, value: value as never })),
        skipDuplicates: true,
      });
    }
    if (envToken && (await this.get(true)).enrollment_token !== envToken) await this.update({ enrollment_token: envToken });
    return this.get(true);
  }

  async get(fresh = false): Promise<Settings> {
    // Another server process may change settings: a cached copy is trusted for a few seconds only.
    if (this.cache && !fresh && Date.now() - this.cachedAt < CACHE_MS) return this.cache;
    const rows = await this.db.setting.findMany();
    const raw: Record<string, unknown> = { ...DEFAULTS };
    for (const r of rows) raw[r.name] = r.value;
    this.cache = settingsSchema.parse(raw);
    this.cachedAt = Date.now();
    return this.cache;
  }

  async update(changes: UpdateSettingsBody): Promise<Settings> {
    await this.db.$transaction(
      Object.entries(changes)
        .filter(([, v]) => v !== undefined)
        .map(([name, value]) =>
          this.db.setting.upsert({ where: { name }, create: { name, value: value as never }, update: { value: value as never } }),
        ),
    );
    return this.get(true);
  }
}

export function registerSettingsRoutes(app: FastifyInstance, settings: SettingsService): void {
  app.get('/api/settings', async () => settings.get(true));
  app.put('/api/settings', async (req) => settings.update(parseInput(updateSettingsBodySchema, req.body, 'body')));
  app.post('/api/settings/enrollment-token', async () => settings.update({ enrollment_token: newEnrollmentToken() }));
}
