import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatEnvFile, parseEnvFile, unitFile } from './files';
import { installAgent, InstallError } from './install';

const BUNDLE = path.resolve(__dirname, '..', '..', 'dist', 'kkagent.js');
const isRoot = process.getuid?.() === 0;
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

function tmpRoot(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kkagent-install-'));
  chmodSync(dir, 0o755); // the service user must be able to reach the files below
  return dir;
}

describe('kkagent install: file formats', () => {
  it('writes an env file that reads back the same, keeping keys it does not manage', () => {
    const text = formatEnvFile({ KRAKEN_MINIO_ADDR: 'minio:9999', KRAKEN_SERVER_ADDR: 'http://kraken:6363', KRAKEN_DATA_DIR: '/opt/kraken/data', KRAKEN_SYSTEM_ID: 'my system' });
    expect(text).toContain('KRAKEN_SERVER_ADDR=http://kraken:6363\nKRAKEN_DATA_DIR=/opt/kraken/data\nKRAKEN_SYSTEM_ID="my system"\nKRAKEN_MINIO_ADDR=minio:9999\n');
    expect(parseEnvFile(text)).toEqual({ KRAKEN_SERVER_ADDR: 'http://kraken:6363', KRAKEN_DATA_DIR: '/opt/kraken/data', KRAKEN_SYSTEM_ID: 'my system', KRAKEN_MINIO_ADDR: 'minio:9999' });
    expect(() => formatEnvFile({ KRAKEN_AGENT_TOKEN: 'a\nb' })).toThrow(/line break/);
    expect(parseEnvFile("# c\nexport A='x y'\nB = 2\n\n")).toEqual({ A: 'x y', B: '2' });
  });

  it('writes a unit whose ExecStart quotes what systemd would misread', () => {
    const unit = unitFile({ user: 'kraken', node: '/usr/bin/node', binary: '/opt/kraken 2/kkagent%', envFile: '/opt/kraken/kraken.env', workDir: '/opt/kraken/data' });
    expect(unit).toContain('ExecStart=/usr/bin/node "/opt/kraken 2/kkagent%%" run\n');
    expect(unit).toMatch(/^KillMode=mixed$/m);
  });
});

describe('kkagent install: errors', () => {
  it('needs a server address', async () => {
    const root = tmpRoot();
    await expect(installAgent({ prefix: root, unitDir: root, systemd: false, user: os.userInfo().username, source: BUNDLE }, {})).rejects.toThrow(
      new InstallError('no server address: pass -s <server-url>, e.g. kkagent install -s http://kraken.example.com:6363'),
    );
  });

  it('refuses a bad server URL', async () => {
    const root = tmpRoot();
    await expect(installAgent({ server: 'ftp://x', prefix: root, unitDir: root, systemd: false, user: os.userInfo().username, source: BUNDLE }, {})).rejects.toThrow(/scheme must be http or https/);
  });

  const nonRoot = isRoot && has('setpriv') && !has('sudo') ? it : it.skip;
  if (!(isRoot && has('setpriv') && !has('sudo'))) console.warn('skipping the non-root test: it needs root, setpriv, and no sudo on this machine');
  nonRoot('as a user without root and without sudo, says it needs root and changes nothing', () => {
    if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run npm run build first`);
    const root = tmpRoot();
    const prefix = path.join(root, 'opt');
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BUNDLE, 'install', '-s', 'http://kraken:6363', '--prefix', prefix], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, HOME: '/tmp' },
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^kkagent install: error: kkagent install needs root to set up and run as user 'kraken', write .*\/opt, write \/etc\/systemd\/system\/kraken-agent.service: run it as root/);
    expect(existsSync(prefix)).toBe(false);
  });
});

describe('kkagent install as root', () => {
  const canRun = isRoot && has('useradd') && has('userdel');
  const maybe = canRun ? it : it.skip;
  if (!canRun) console.warn('skipping the user-creation test: it needs root and useradd');

  maybe('creates the service user, owns the data dir to it, and a second run keeps everything', async () => {
    if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run npm run build first`);
    const user = `kk-test-${process.pid % 100000}`;
    const root = tmpRoot();
    const prefix = path.join(root, 'opt');
    const unitDir = path.join(root, 'systemd');
    const lines: string[] = [];
    try {
      const first = await installAgent(
        { server: 'http://kraken.example.com:6363/', prefix, unitDir, systemd: false, user, source: BUNDLE, log: (l) => lines.push(l), clickhouseAddr: 'logs.example.com:9001', systemId: 'debian-12' },
        { KRAKEN_AGENT_TOKEN: 'token-0123456789abcdef' },
      );
      expect(first).toMatchObject({ userCreated: true, started: false, user, binary: path.join(prefix, 'kkagent') });
      const uid = Number(spawnSync('id', ['-u', user], { encoding: 'utf8' }).stdout);
      expect(uid).toBeGreaterThan(0);
      const data = statSync(path.join(prefix, 'data'));
      expect(data.uid).toBe(uid);
      expect(data.mode & 0o777).toBe(0o750);
      expect(statSync(path.join(prefix, 'kraken.env')).uid).toBe(0);
      expect(parseEnvFile(readFileSync(path.join(prefix, 'kraken.env'), 'utf8'))).toEqual({
        KRAKEN_SERVER_ADDR: 'http://kraken.example.com:6363',
        KRAKEN_DATA_DIR: path.join(prefix, 'data'),
        KRAKEN_CLICKHOUSE_ADDR: 'logs.example.com:9001',
        KRAKEN_AGENT_TOKEN: 'token-0123456789abcdef',
        KRAKEN_SYSTEM_ID: 'debian-12',
      });
      expect(readFileSync(path.join(unitDir, 'kraken-agent.service'), 'utf8')).toContain(`User=${user}\n`);
      // The service user can run the installed agent.
      const asUser = spawnSync('runuser', ['-u', user, '--', process.execPath, path.join(prefix, 'kkagent'), '--version'], { encoding: 'utf8' });
      expect(asUser.status).toBe(0);
      expect(lines).toContain(`kkagent install: created user '${user}' (uid ${uid})`);
      expect(lines.join('\n')).not.toContain('WARNING');

      // An identity, as the running agent would have made it; then an upgrade with no options but the env file's.
      writeFileSync(path.join(prefix, 'data', 'agent-identity.json'), JSON.stringify({ secret: 'x'.repeat(43) }));
      const second = await installAgent({ prefix, unitDir, systemd: false, user, source: BUNDLE, log: (l) => lines.push(l) }, {});
      expect(second).toMatchObject({ userCreated: false });
      expect(lines).toContain(`kkagent install: kept the agent's identity ${path.join(prefix, 'data', 'agent-identity.json')}: it stays the same agent on the server`);
      expect(statSync(path.join(prefix, 'data', 'agent-identity.json')).uid).toBe(uid);
      expect(parseEnvFile(readFileSync(path.join(prefix, 'kraken.env'), 'utf8'))).toMatchObject({ KRAKEN_SERVER_ADDR: 'http://kraken.example.com:6363', KRAKEN_AGENT_TOKEN: 'token-0123456789abcdef' });
    } finally {
      spawnSync('userdel', [user]);
    }
  });
});

describe('kkagent install with systemd running', () => {
  it('reloads, enables and starts the service; an upgrade restarts it without waiting for its job', async () => {
    // systemd cannot run on the build machines: a stand-in systemctl records its calls.
    const root = tmpRoot();
    const bin = path.join(root, 'bin');
    const calls = path.join(root, 'calls');
    const active = path.join(root, 'active');
    mkdirSync(bin);
    mkdirSync(path.join(root, 'run-systemd'));
    writeFileSync(
      path.join(bin, 'systemctl'),
      `#!/bin/sh\necho "$*" >> ${calls}\nif [ "$1" = is-active ]; then [ -e ${active} ]; exit $?; fi\nif [ "$1" = start ]; then touch ${active}; fi\nexit 0\n`,
      { mode: 0o755 },
    );
    const savedPath = process.env.PATH;
    process.env.PATH = `${bin}:${savedPath}`;
    const lines: string[] = [];
    const opts = { server: 'http://kraken:6363', prefix: path.join(root, 'opt'), unitDir: path.join(root, 'systemd'), user: os.userInfo().username, source: BUNDLE, systemdRunDir: path.join(root, 'run-systemd'), log: (l: string) => lines.push(l) };
    try {
      expect(await installAgent(opts, {})).toMatchObject({ started: true });
      expect(readFileSync(calls, 'utf8')).toBe('is-active --quiet kraken-agent\ndaemon-reload\nenable kraken-agent\nstart kraken-agent\n');
      expect(lines.join('\n')).toContain('started the kraken-agent service');
      writeFileSync(calls, '');
      expect(await installAgent(opts, {})).toMatchObject({ started: true });
      expect(readFileSync(calls, 'utf8')).toBe('is-active --quiet kraken-agent\ndaemon-reload\nenable kraken-agent\nrestart --no-block kraken-agent\n');
      expect(lines.join('\n')).toContain('a running job is let finish first');
    } finally {
      process.env.PATH = savedPath;
    }
  });
});
