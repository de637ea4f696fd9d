// Gives the tests a PostgreSQL server: DATABASE_URL if set (CI sets it), else the local one on
// 127.0.0.1:5432 if it answers, else an embedded PostgreSQL started for this run.
const { spawn } = require('node:child_process');
const path = require('node:path');
const pg = require('pg');

async function reachable(url) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

module.exports = async function globalSetup() {
  if (process.env.DATABASE_URL) {
    if (!(await reachable(process.env.DATABASE_URL))) throw new Error(`DATABASE_URL=${process.env.DATABASE_URL} does not answer`);
    return;
  }
  const local = 'postgresql://postgres@127.0.0.1:5432/postgres';
  if (await reachable(local)) {
    process.env.DATABASE_URL = local;
    return;
  }
  const child = spawn(process.execPath, [path.join(__dirname, 'test-postgres.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /^URL (\S+)$/m.exec(out);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`test PostgreSQL exited (${code})`)));
  });
  process.env.DATABASE_URL = url;
  globalThis.__krakenTestPostgres = child;
  console.log(`\nno DATABASE_URL and no PostgreSQL on 127.0.0.1:5432: using an embedded PostgreSQL for the tests`);
};
