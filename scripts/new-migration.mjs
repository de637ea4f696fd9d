#!/usr/bin/env node
// Writes the next migration: the SQL that turns the schema of the last migration into the
// current prisma/schema.prisma. Each migration folder keeps a copy of the schema it produced,
// so no database (and no shadow database) is needed.
//   npm run db:migration -- add_jobs
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const name = process.argv[2];
if (!name || !/^[a-z0-9_]+$/.test(name)) {
  console.error('usage: npm run db:migration -- <name>   (lower case letters, digits and _)');
  process.exit(2);
}
const migrationsDir = path.join(root, 'prisma', 'migrations');
mkdirSync(migrationsDir, { recursive: true });
const existing = readdirSync(migrationsDir).filter((d) => /^\d{4}_/.test(d)).sort();
const last = existing.at(-1);
const from = last ? ['--from-schema-datamodel', path.join('prisma', 'migrations', last, 'schema.prisma')] : ['--from-empty'];
const diff = spawnSync(
  process.execPath,
  [path.join(root, 'scripts', 'prisma.mjs'), 'migrate', 'diff', ...from, '--to-schema-datamodel', 'prisma/schema.prisma', '--script'],
  {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    // The JS schema engine connects to some database even for a schema-to-schema diff; nothing is written to it.
    env: { ...process.env, DATABASE_URL: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres' },
  },
);
if (diff.status !== 0) process.exit(diff.status ?? 1);
const sql = diff.stdout.replace(/^Loaded Prisma config.*\n/m, '').replace(/-- CreateSchema\nCREATE SCHEMA IF NOT EXISTS "public";\n\n/, '');
if (!/\S/.test(sql.replace(/^--.*$/gm, ''))) {
  console.log('schema.prisma has no changes since the last migration');
  process.exit(0);
}
const next = String(existing.length + 1).padStart(4, '0');
const dir = path.join(migrationsDir, `${next}_${name}`);
if (existsSync(dir)) throw new Error(`${dir} exists`);
mkdirSync(dir);
writeFileSync(path.join(dir, 'migration.sql'), sql.trim() + '\n');
copyFileSync(path.join(root, 'prisma', 'schema.prisma'), path.join(dir, 'schema.prisma'));
console.log(`wrote ${path.relative(root, dir)}/migration.sql`);
