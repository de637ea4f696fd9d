// Prisma CLI configuration: the JS schema engine and the pg driver adapter keep every command
// offline (no native engine download). Only `migrate diff` between schema files and `generate`
// are used; migrations are applied by the server itself (apps/server/src/db/migrate.ts).
import { defineConfig } from 'prisma/config';
import { PrismaPg } from '@prisma/adapter-pg';

export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  schema: 'prisma/schema.prisma',
  async adapter() {
    return new PrismaPg({ connectionString: process.env.DATABASE_URL ?? '' });
  },
});
