import fs from 'node:fs';

/**
 * Process-group helpers for the local executor. A command runs as the leader of its own process
 * group (spawned with `detached: true`, i.e. setsid), so signalling `-pgid` reaches it and every
 * descendant that did not move to another group or session on purpose.
 */

/** Sends `sig` to the group; false when the group has no process left (ESRCH). */
export function signalGroup(pgid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, sig);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') return false;
    if (code === 'EPERM') return true; // members we may not signal (e.g. sudo): still there
    throw err;
  }
}

/**
 * Whether the group has a process that is not a zombie. Exited processes whose parent is gone
 * stay zombies until init reaps them, which some container inits do late or never; they still
 * count for kill(2), so on Linux /proc tells the live ones apart.
 */
export function groupAlive(pgid: number): boolean {
  if (!signalGroup(pgid, 0)) return false;
  if (process.platform !== 'linux') return true;
  let names: string[];
  try {
    names = fs.readdirSync('/proc');
  } catch {
    return true;
  }
  for (const name of names) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${name}/stat`, 'latin1');
    } catch {
      continue; // gone meanwhile
    }
    // "pid (comm) state ppid pgrp …" — comm may hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ', 3);
    if (Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X') return true;
  }
  return false;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Waits until the group is gone or `ms` passed; true when gone. */
export async function waitGroupGone(pgid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  let interval = 5;
  for (;;) {
    if (!groupAlive(pgid)) return true;
    const left = deadline - Date.now();
    if (left <= 0) return false;
    await sleep(Math.min(interval, left));
    interval = Math.min(interval * 2, 50);
  }
}

export interface KillResult {
  /** The group was alive when the kill started. */
  hadProcesses: boolean;
  /** SIGKILL was needed: something outlived the grace period. */
  usedSigkill: boolean;
  /** Every process of the group is gone (false only if something survived SIGKILL for `killWaitMs`). */
  gone: boolean;
}

/** How long to wait for a SIGKILLed group to disappear before giving up. */
export const KILL_WAIT_MS = 5000;

/** SIGTERM (+SIGCONT, so stopped processes can act on it), `graceMs`, then SIGKILL. */
export async function killGroup(pgid: number, graceMs: number, killWaitMs = KILL_WAIT_MS): Promise<KillResult> {
  if (!groupAlive(pgid)) return { hadProcesses: false, usedSigkill: false, gone: true };
  if (graceMs > 0 && signalGroup(pgid, 'SIGTERM')) {
    signalGroup(pgid, 'SIGCONT');
    if (await waitGroupGone(pgid, graceMs)) return { hadProcesses: true, usedSigkill: false, gone: true };
  }
  if (!signalGroup(pgid, 'SIGKILL')) return { hadProcesses: true, usedSigkill: false, gone: true };
  return { hadProcesses: true, usedSigkill: true, gone: await waitGroupGone(pgid, killWaitMs) };
}
