import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import type { HostInfo, Isolation } from '@kraken/protocol';
import { AGENT_VERSION } from '../version';

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** Parses /etc/os-release into its KEY=value pairs. */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]] = m[2].replace(/^["']|["']$/g, '');
  }
  return out;
}

export function detectIsolation(): Isolation {
  if (existsSync('/.dockerenv') || existsSync('/run/.containerenv')) return 'docker';
  const cgroup = readText('/proc/1/cgroup');
  if (/docker|containerd|kubepods|libpod/.test(cgroup)) return 'docker';
  const environ = readText('/proc/1/environ');
  if (/container=lxc/.test(environ) || existsSync('/dev/lxd/sock')) return 'lxc';
  return 'bare-metal';
}

/** GET on a unix socket, answering the parsed JSON or undefined (daemon absent or not answering). */
function getJsonOverSocket(socketPath: string, urlPath: string, timeoutMs = 2000): Promise<unknown> {
  return new Promise((resolve) => {
    if (!existsSync(socketPath)) return resolve(undefined);
    const req = http.get({ socketPath, path: urlPath, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body));
        } catch {
          resolve(undefined);
        }
      });
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

export function dockerSocketPath(env = process.env): string {
  const host = env.DOCKER_HOST;
  if (host?.startsWith('unix://')) return host.slice('unix://'.length);
  return '/var/run/docker.sock';
}

export function lxdSocketPaths(env = process.env): string[] {
  return [env.LXD_DIR && `${env.LXD_DIR}/unix.socket`, '/var/lib/lxd/unix.socket', '/var/snap/lxd/common/lxd/unix.socket'].filter(
    (p): p is string => !!p,
  );
}

export async function detectCapabilities(env = process.env): Promise<HostInfo['capabilities']> {
  const caps: HostInfo['capabilities'] = {};
  const docker = (await getJsonOverSocket(dockerSocketPath(env), '/version')) as { Version?: string } | undefined;
  if (docker?.Version) caps.docker = docker.Version;
  for (const sock of lxdSocketPaths(env)) {
    const lxd = (await getJsonOverSocket(sock, '/1.0')) as { metadata?: { environment?: { server_version?: string } } } | undefined;
    const v = lxd?.metadata?.environment?.server_version;
    if (v) {
      caps.lxd = v;
      break;
    }
  }
  return caps;
}

export async function collectHostInfo(systemId?: string): Promise<HostInfo> {
  const osr = parseOsRelease(readText('/etc/os-release'));
  const platform = os.platform();
  const distroName = osr.ID ?? platform;
  const distroVersion = osr.VERSION_ID ?? os.release();
  return {
    hostname: os.hostname(),
    system: systemId ?? `${distroName}-${distroVersion}`,
    systemType: platform === 'linux' ? 'linux' : platform === 'win32' ? 'windows' : platform === 'darwin' ? 'darwin' : 'other',
    distroName,
    distroVersion,
    isolation: detectIsolation(),
    capabilities: await detectCapabilities(),
    cpus: os.cpus().length,
    memoryMb: Math.round(os.totalmem() / 1024 / 1024),
    agentVersion: AGENT_VERSION,
  };
}
