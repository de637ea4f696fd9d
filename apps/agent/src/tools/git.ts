import type { AssignedStep } from '@kraken/protocol';
import { shellQuote } from './quote';
import type { Tool, ToolCommand } from './tool';

export type GitAssignedStep = Extract<AssignedStep, { tool: 'git' }>;

/**
 * The directory `git clone` would pick for a URL: its last path component without `.git`
 * (`/srv/repo.git` → `repo`, `https://host/org/app.git/` → `app`, `git@host:org/lib.git` → `lib`,
 * `file:///x/y/` → `y`). Falls back to `repo` when nothing usable is left.
 */
export function repoNameFromUrl(url: string): string {
  let s = url.trim().replace(/[?#].*$/, '');
  s = s.replace(/[/\\]+$/, '').replace(/\/\.git$/, '').replace(/[/\\]+$/, '');
  const last = s.split(/[/\\:]/).pop() ?? '';
  const name = last.replace(/\.git$/, '').replace(/\.bundle$/, '');
  return name === '' || name === '.' || name === '..' ? 'repo' : name;
}

/**
 * The `git` tool: clones `url` into `destination` (relative to the step's `cwd`, itself relative
 * to the job dir; default: the name derived from the URL) and checks out `branch` (a branch or
 * tag; default the remote's default branch) and/or `commit` (detached; when `branch` is given
 * too, the commit is checked out after cloning that branch).
 *
 * Any URL `git clone` takes works: a local (bare) repository path, `file://`, `http(s)://`,
 * `ssh://`, `git@host:path`. The `ext::` transport is refused. A commit that no branch of the
 * remote contains is fetched by hash (works where the server allows it, e.g. GitHub).
 * Every field value is shell-quoted, and `--` ends git's options, so values cannot inject
 * commands or options. `GIT_TERMINAL_PROMPT=0` (overridable by the step's `env`) makes a
 * clone that needs credentials fail at once instead of waiting for input; since the command
 * runs in a new session without a terminal, ssh cannot prompt either.
 */
export const gitTool: Tool<GitAssignedStep> = (step) => {
  const url = step.url.trim();
  if (url === '') throw new Error(`step ${step.index}: the git tool needs a \`url\``);
  const dest = step.destination !== undefined && step.destination.trim() !== '' ? step.destination : repoNameFromUrl(url);
  const lines = ['set -e'];
  const branch = step.branch !== undefined ? ` ${shellQuote(`--branch=${step.branch}`)}` : '';
  lines.push(`git -c protocol.ext.allow=never clone${branch} -- ${shellQuote(url)} ${shellQuote(dest)}`);
  lines.push(`cd -- ${shellQuote(dest)}`);
  if (step.commit !== undefined) {
    const commit = shellQuote(step.commit);
    lines.push(`git cat-file -e ${shellQuote(`${step.commit}^{commit}`)} 2>/dev/null || git fetch -q origin ${commit}`);
    lines.push(`git -c advice.detachedHead=false checkout -q --detach ${commit}`);
  }
  lines.push(`printf 'HEAD is at %s in %s\\n' "$(git rev-parse HEAD)" ${shellQuote(dest)}`);
  const cmd: ToolCommand = { script: lines.join('\n'), env: { GIT_TERMINAL_PROMPT: '0', ...(step.env ?? {}) } };
  if (step.cwd !== undefined && step.cwd !== '') cmd.cwd = step.cwd;
  if (step.timeout !== undefined) cmd.timeoutMs = step.timeout * 1000;
  return [cmd];
};
