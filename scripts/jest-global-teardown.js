module.exports = async function globalTeardown() {
  const child = globalThis.__krakenTestPostgres;
  if (child) {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
};
