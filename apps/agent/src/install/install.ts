import { spawnSync } from 'node:child_process';
import { accessSync, chmodSync, chownSync, constants, copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command, Option } from 'commander';
import { AgentConfigError, parseServerUrl } from '../config';
import { formatEnvFile, parseEnvFile, UNIT_NAME, unitFile } from './files';

export const DEFAULT_PREFIX = '/opt/kraken';
export const DEFAULT_UNIT_DIR = '/etc/systemd/system';
export const DEFAULT_USER = 'kraken';

export class InstallError extends Error {}

export interface InstallOptions {
  server?: string;
  dataDir?: string;
  clickhouseAddr?: string;
  systemId?: string;
  prefix?: string;
  /** false with --no-systemd: write the unit, but do not run systemctl. */
  systemd?: boolean;
  user?: string;
  unitDir?: string;
  /** The bundle to install; default: the running one (process.argv[1]). */
  source?: string;
  /** Node.js binary the service runs; default: the running one. */
  node?: string;
  /** The directory whose presence means systemd runs (tests point it elsewhere). */
  systemdRunDir?: string;
  /** Where progress lines go; default stdout. */
  log?: (line: string) => void;
}

export interface InstallResult {
  prefix: string;
  binary: string;
  dataDir: string;
  envFile: string;
  unitPath: string;
  user: string;
  userCreated: boolean;
  started: boolean;
}

const flag = (v: string | undefined) => v !== undefined && ['1', 'true', 'yes'].includes(v.toLowerCase());
const stdoutLine = (line: string) => process.stdout.write(`${line}\n`);
const say = (msg: string) => stdoutLine(`kkagent install: ${msg}`);

function run(cmd: string, args: string[]): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: process.env });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? r.error.message : ''}`.trim() };
}

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin')
    .split(':')
    .filter(Boolean)
    .some((d) => {
      try {
        accessSync(path.join(d, cmd), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
}

/** Whether `p` (or, if missing, its nearest existing parent) is writable by this process. */
function writable(p: string): boolean {
  let dir = path.resolve(p);
  while (!existsSync(dir)) dir = path.dirname(dir);
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function lookupUser(user: string): { uid: number; gid: number } | undefined {
  const uid = run('id', ['-u', user]);
  const gid = run('id', ['-g', user]);
  if (!uid.ok || !gid.ok) return undefined;
  return { uid: Number(uid.out), gid: Number(gid.out) };
}

function groupMembers(group: string): string[] | undefined {
  let text: string;
  try {
    text = readFileSync('/etc/group', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f[0] === group) return (f[3] ?? '').split(',').filter(Boolean);
  }
  return undefined;
}

/** Safe characters for paths that go into the unit and env files. */
function checkPath(what: string, p: string): string {
  const abs = path.resolve(p);
  if (!/^[A-Za-z0-9_.,:/@+=-]+$/.test(abs)) throw new InstallError(`${what} '${p}' has characters a systemd unit cannot take (use letters, digits and . _ - / only)`);
  return abs;
}

/** Variables passed through sudo when `kkagent install` re-runs itself as root. */
const PASS_ENV = ['KRAKEN_AGENT_TOKEN', 'KRAKEN_SERVER_ADDR', 'KRAKEN_CLICKHOUSE_ADDR', 'KRAKEN_SYSTEM_ID', 'KRAKEN_INSTALL_PREFIX', 'KRAKEN_INSTALL_NO_SYSTEMD', 'KRAKEN_INSTALL_USER', 'KRAKEN_INSTALL_UNIT_DIR'];

/**
 * Installs the agent as a service: user, directories, binary, environment file, systemd unit,
 * then starts it when systemd runs. Idempotent: a second run upgrades the binary, updates the
 * values it is given and keeps the rest (the identity in the data dir above all).
 */
export async function installAgent(opts: InstallOptions, env: NodeJS.ProcessEnv = process.env): Promise<InstallResult | 'elevated'> {
  const line = opts.log ?? stdoutLine;
  const say = (msg: string) => line(`kkagent install: ${msg}`);
  const prefix = checkPath('--prefix', opts.prefix ?? env.KRAKEN_INSTALL_PREFIX ?? DEFAULT_PREFIX);
  const unitDir = checkPath('--unit-dir', opts.unitDir ?? env.KRAKEN_INSTALL_UNIT_DIR ?? DEFAULT_UNIT_DIR);
  const user = opts.user ?? env.KRAKEN_INSTALL_USER ?? DEFAULT_USER;
  if (!/^[a-z_][a-z0-9_.-]{0,31}\$?$/i.test(user)) throw new InstallError(`bad --user '${user}': a user name such as kraken`);
  const useSystemd = opts.systemd !== false && !flag(env.KRAKEN_INSTALL_NO_SYSTEMD);
  const envFile = path.join(prefix, 'kraken.env');
  const binary = path.join(prefix, 'kkagent');
  const unitPath = path.join(unitDir, UNIT_NAME);

  let existing: Record<string, string> = {};
  if (existsSync(envFile)) {
    try {
      existing = parseEnvFile(readFileSync(envFile, 'utf8'));
    } catch {
      /* not readable without root: the elevated run reads it */
    }
  }
  const serverRaw = opts.server ?? env.KRAKEN_SERVER_ADDR ?? existing.KRAKEN_SERVER_ADDR;
  if (!serverRaw) throw new InstallError('no server address: pass -s <server-url>, e.g. kkagent install -s http://kraken.example.com:6363');
  let server: string;
  try {
    server = parseServerUrl(serverRaw).toString().replace(/\/$/, '');
  } catch (err) {
    throw new InstallError((err as Error).message);
  }
  const dataDir = checkPath('--data-dir', opts.dataDir ?? existing.KRAKEN_DATA_DIR ?? path.join(prefix, 'data'));
  const source = path.resolve(opts.source ?? process.argv[1] ?? '');
  if (!source.endsWith('.js') && !existsSync(binary) && source !== binary) {
    throw new InstallError(`cannot install from ${source}: run install from the kkagent bundle (apps/agent/dist/kkagent.js or the file /install/agent serves)`);
  }
  const node = checkPath('the Node.js path', opts.node ?? process.execPath);

  // Root: needed to create the user, write outside our own dirs, or run as another user.
  const isRoot = process.getuid?.() === 0;
  if (!isRoot) {
    const reasons: string[] = [];
    if (os.userInfo().username !== user) reasons.push(`set up and run as user '${user}'`);
    if (!writable(prefix)) reasons.push(`write ${prefix}`);
    if (!writable(unitDir)) reasons.push(`write ${unitPath}`);
    if (useSystemd && existsSync(opts.systemdRunDir ?? '/run/systemd/system')) reasons.push('run systemctl');
    if (reasons.length) return elevate(reasons, env);
  }

  // 1. The user the service runs as.
  let ids = lookupUser(user);
  let userCreated = false;
  if (!ids) {
    if (!onPath('useradd')) throw new InstallError(`user '${user}' does not exist and there is no useradd here: create the user, or pass --user <existing user>`);
    const shell = existsSync('/bin/bash') ? '/bin/bash' : '/bin/sh';
    const r = run('useradd', ['--system', '--user-group', '--home-dir', prefix, '--no-create-home', '--shell', shell, '--comment', 'Kraken CI agent', user]);
    if (!r.ok) throw new InstallError(`could not create user '${user}': ${r.out}`);
    ids = lookupUser(user);
    if (!ids) throw new InstallError(`created user '${user}' but cannot look it up`);
    userCreated = true;
    say(`created user '${user}' (uid ${ids.uid})`);
  } else {
    say(`user '${user}' exists (uid ${ids.uid})`);
  }
  // Jobs with the docker and lxd executors need their sockets.
  if (isRoot && user !== 'root') {
    for (const group of ['docker', 'lxd']) {
      const members = groupMembers(group);
      if (!members || members.includes(user)) continue;
      const r = run('usermod', ['-aG', group, user]);
      say(r.ok ? `added '${user}' to group '${group}'` : `could not add '${user}' to group '${group}': ${r.out}`);
    }
  }

  // 2. Directories: the prefix (root's) and the data dir (the agent's: identity, job dirs).
  mkdirSync(prefix, { recursive: true, mode: 0o755 });
  mkdirSync(dataDir, { recursive: true, mode: 0o750 });
  const identity = path.join(dataDir, 'agent-identity.json');
  if (isRoot) chownSync(dataDir, ids.uid, ids.gid);
  if (existsSync(identity)) {
    if (isRoot) chownSync(identity, ids.uid, ids.gid);
    say(`kept the agent's identity ${identity}: it stays the same agent on the server`);
  }
  say(`data dir ${dataDir}`);

  // 3. The binary: this very bundle, copied in atomically (a running agent keeps its old copy).
  const same = existsSync(binary) && existsSync(source) && realpathSync(binary) === realpathSync(source);
  if (!same) {
    if (!existsSync(source)) throw new InstallError(`cannot find the kkagent bundle to install at ${source}`);
    const tmp = `${binary}.tmp-${process.pid}`;
    copyFileSync(source, tmp);
    chmodSync(tmp, 0o755);
    renameSync(tmp, binary);
  } else {
    chmodSync(binary, 0o755);
  }
  const check = run(node, [binary, '--version']);
  if (!check.ok) throw new InstallError(`the installed ${binary} does not run with ${node}: ${check.out}`);
  say(`installed ${binary} (kkagent ${check.out}), run by ${node}`);
  if (isRoot && user !== 'root') {
    const asUser = run('runuser', ['-u', user, '--', node, binary, '--version']);
    if (!asUser.ok) {
      say(`WARNING: user '${user}' cannot run ${node} ${binary} (${asUser.out || 'permission denied'}). Install Node.js ≥ 20 system-wide (e.g. /usr/bin/node) and run this again.`);
    }
  }

  // 4. The environment file (root's, 0600: it may hold the enrollment token, which jobs must not read).
  const token = env.KRAKEN_AGENT_TOKEN || undefined;
  const values: Record<string, string | undefined> = {
    ...existing,
    KRAKEN_SERVER_ADDR: server,
    KRAKEN_DATA_DIR: dataDir,
    ...((opts.clickhouseAddr ?? env.KRAKEN_CLICKHOUSE_ADDR) ? { KRAKEN_CLICKHOUSE_ADDR: opts.clickhouseAddr ?? env.KRAKEN_CLICKHOUSE_ADDR } : {}),
    ...(token ? { KRAKEN_AGENT_TOKEN: token } : {}),
    ...((opts.systemId ?? env.KRAKEN_SYSTEM_ID) ? { KRAKEN_SYSTEM_ID: opts.systemId ?? env.KRAKEN_SYSTEM_ID } : {}),
  };
  let envText: string;
  try {
    envText = formatEnvFile(values);
  } catch (err) {
    throw new InstallError((err as Error).message);
  }
  const envTmp = `${envFile}.tmp-${process.pid}`;
  writeFileSync(envTmp, envText, { mode: 0o600 });
  chmodSync(envTmp, 0o600);
  renameSync(envTmp, envFile);
  say(`wrote ${envFile} (server ${server}${values.KRAKEN_CLICKHOUSE_ADDR ? `, log intake ${values.KRAKEN_CLICKHOUSE_ADDR}` : ''}${values.KRAKEN_AGENT_TOKEN ? ', enrollment token' : ''})`);

  // 5. The systemd unit.
  mkdirSync(unitDir, { recursive: true });
  writeFileSync(unitPath, unitFile({ user, node, binary, envFile, workDir: dataDir }), { mode: 0o644 });
  say(`wrote ${unitPath}`);

  // 6. Start it.
  let started = false;
  const systemdRunning = existsSync(opts.systemdRunDir ?? '/run/systemd/system');
  if (useSystemd && systemdRunning && onPath('systemctl')) {
    // An upgrade restarts a running agent without waiting: it first lets its running job finish.
    const active = run('systemctl', ['is-active', '--quiet', 'kraken-agent']).ok;
    const steps = [['daemon-reload'], ['enable', 'kraken-agent'], active ? ['restart', '--no-block', 'kraken-agent'] : ['start', 'kraken-agent']];
    for (const args of steps) {
      const r = run('systemctl', args);
      if (!r.ok) throw new InstallError(`systemctl ${args.join(' ')} failed: ${r.out}\nSee: journalctl -u kraken-agent`);
    }
    started = true;
    say(
      active
        ? 'restarting the kraken-agent service with the new version (a running job is let finish first; systemctl status kraken-agent)'
        : 'started the kraken-agent service (systemctl status kraken-agent; logs: journalctl -u kraken-agent -f)',
    );
  } else {
    const why = !useSystemd ? '--no-systemd given' : 'systemd is not running here (no /run/systemd/system)';
    say(`${why}: the service was not started. Start it with:`);
    line(`    sudo systemctl daemon-reload && sudo systemctl enable --now kraken-agent`);
    line(`  or, without systemd:`);
    // setpriv execs the agent itself (runuser would stay its parent and SIGKILL it 2 s after a SIGTERM).
    line(`    sudo sh -c 'set -a; . ${envFile}; exec setpriv --reuid=${ids.uid} --regid=${ids.gid} --init-groups -- ${node} ${binary} run'`);
  }
  say(
    values.KRAKEN_AGENT_TOKEN
      ? 'the agent presents the enrollment token: it is authorized and in group "all" as soon as it connects'
      : `authorize the agent on the server's Discovered page (${server}/discovered), or install with KRAKEN_AGENT_TOKEN=<enrollment token> to skip that`,
  );
  return { prefix, binary, dataDir, envFile, unitPath, user, userCreated, started };
}

/** Runs the same command again through sudo, or fails with what root was needed for. */
function elevate(reasons: string[], env: NodeJS.ProcessEnv): 'elevated' {
  const need = `kkagent install needs root to ${reasons.join(', ')}`;
  if (!onPath('sudo')) throw new InstallError(`${need}: run it as root (sudo is not installed here)`);
  const canSudo = run('sudo', ['-n', 'true']).ok || process.stdin.isTTY;
  if (!canSudo) throw new InstallError(`${need}: run it as root, or with sudo (sudo needs a password and there is no terminal to ask for it)`);
  say(`${need}: running it with sudo`);
  const keep = PASS_ENV.filter((k) => env[k] !== undefined);
  const args = [...(keep.length ? [`--preserve-env=${keep.join(',')}`] : []), process.execPath, ...process.argv.slice(1)];
  const r = spawnSync('sudo', args, { stdio: 'inherit', env });
  if (r.status !== 0) throw new InstallError(`sudo kkagent install failed (exit ${r.status ?? r.signal})`);
  return 'elevated';
}

/** `kkagent install`: the commander command (options may also come before `install`). */
export function installCommand(parentOpts: () => Record<string, unknown>): Command {
  return new Command('install')
    .description('install this agent as a systemd service: user kraken, /opt/kraken/kkagent, /opt/kraken/kraken.env, kraken-agent.service')
    .addOption(new Option('-s, --server <url>', 'Kraken server URL, e.g. http://kraken:6363 (env KRAKEN_SERVER_ADDR)'))
    .addOption(new Option('-d, --data-dir <dir>', 'the agent\'s data dir (default <prefix>/data)'))
    .addOption(new Option('-c, --clickhouse-addr <addr>', 'log intake address written to kraken.env (env KRAKEN_CLICKHOUSE_ADDR)'))
    .addOption(new Option('--system-id <id>', 'report this system instead of the detected one (env KRAKEN_SYSTEM_ID)'))
    .addOption(new Option('--prefix <dir>', `install dir (env KRAKEN_INSTALL_PREFIX, default ${DEFAULT_PREFIX})`))
    .addOption(new Option('--no-systemd', 'write the unit but do not run systemctl (env KRAKEN_INSTALL_NO_SYSTEMD=1)'))
    .addOption(new Option('--user <name>', `user the service runs as, created if missing (env KRAKEN_INSTALL_USER, default ${DEFAULT_USER})`))
    .addOption(new Option('--unit-dir <dir>', `where the systemd unit goes (env KRAKEN_INSTALL_UNIT_DIR, default ${DEFAULT_UNIT_DIR})`))
    .action(async (_o, cmd: Command) => {
      const o = { ...parentOpts(), ...cmd.opts() } as InstallOptions;
      try {
        await installAgent(o);
      } catch (err) {
        if (err instanceof InstallError || err instanceof AgentConfigError) {
          process.stderr.write(`kkagent install: error: ${err.message}\n`);
          process.exit(1);
        }
        throw err;
      }
    });
}
