import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { AssignedStep } from '@kraken/protocol';
import { LocalExecutor } from '../executors/local';
import { makeJob, runCollect, tempDir } from '../executors/test-helpers';
import { commandsForStep, getTool, gitTool, repoNameFromUrl, shellQuote, shellTool, tools, UnknownToolError } from './index';

describe('shell tool', () => {
  test('cmd, script, cwd, env, timeout, shell_exe', () => {
    expect(shellTool({ tool: 'shell', index: 0, cmd: 'echo hi' })).toEqual([{ script: 'echo hi', env: {} }]);
    expect(
      shellTool({ tool: 'shell', index: 1, script: 'a\nb', cwd: 'src', env: { A: '1' }, timeout: 30, shell_exe: '/bin/bash' }),
    ).toEqual([{ script: 'set -e; a\nb', cwd: 'src', env: { A: '1' }, timeoutMs: 30_000, shell: '/bin/bash' }]);
  });
});

describe('tools index', () => {
  test('maps every tool name; an unknown tool is a clear error', () => {
    expect(Object.keys(tools).sort()).toEqual(['git', 'shell']);
    expect(getTool('shell')).toBe(shellTool);
    expect(() => getTool('pytest')).toThrow(UnknownToolError);
    expect(() => getTool('pytest')).toThrow("unknown tool 'pytest': this agent knows shell, git");
    expect(() => getTool('constructor')).toThrow(UnknownToolError);
    expect(() => commandsForStep({ tool: 'cache', index: 0 } as unknown as AssignedStep)).toThrow(/unknown tool 'cache'/);
    expect(commandsForStep({ tool: 'shell', cmd: 'true', index: 0 })).toHaveLength(1);
  });
});

describe('shellQuote', () => {
  test.each(['plain', 'with space', "it's", '$(touch x)', '`id`', 'a;b', 'new\nline', '', '-x', '*', '~'])('%j round-trips through sh', (v) => {
    const out = execFileSync('/bin/sh', ['-c', `printf %s ${shellQuote(v)}`], { encoding: 'utf8' });
    expect(out).toBe(v);
  });
});

describe('repoNameFromUrl', () => {
  test.each([
    ['/srv/git/repo.git', 'repo'],
    ['/srv/git/repo.git/', 'repo'],
    ['/srv/git/work/.git', 'work'],
    ['file:///srv/git/app', 'app'],
    ['https://github.com/Kraken-CI/kraken.git', 'kraken'],
    ['https://host/org/app.git?x=1#f', 'app'],
    ['git@github.com:org/lib.git', 'lib'],
    ['host:lib', 'lib'],
    ['ssh://git@host:2222/org/tool', 'tool'],
    ['file:///', 'repo'],
    ['..', 'repo'],
  ])('%s → %s', (url, name) => expect(repoNameFromUrl(url)).toBe(name));
});

describe('git tool: real clones of a local bare repository', () => {
  let root: string;
  let bare: string;
  let ex: LocalExecutor;
  let jobDir: string;
  const c: Record<string, string> = {};
  const gitEnv = {
    ...process.env,
    GIT_AUTHOR_NAME: 't',
    GIT_AUTHOR_EMAIL: 't@example.com',
    GIT_COMMITTER_NAME: 't',
    GIT_COMMITTER_EMAIL: 't@example.com',
    GIT_CONFIG_GLOBAL: '/dev/null',
  };
  const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, env: gitEnv, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  const head = (dir: string) => git(dir, 'rev-parse', 'HEAD');
  const step = (over: Partial<Extract<AssignedStep, { tool: 'git' }>>): Extract<AssignedStep, { tool: 'git' }> => ({ tool: 'git', index: 0, url: bare, ...over });
  const clone = (over: Partial<Extract<AssignedStep, { tool: 'git' }>>) => runCollect(ex, gitTool(step(over))[0], { timeoutMs: 60_000 });

  beforeAll(() => {
    root = tempDir('kraken-git-');
    bare = path.join(root, 'origin.git');
    const work = path.join(root, 'work');
    git(root, 'init', '-q', '--bare', '--initial-branch=main', bare);
    git(root, 'clone', '-q', bare, work);
    git(work, 'checkout', '-q', '-b', 'main');
    fs.writeFileSync(path.join(work, 'f.txt'), 'one\n');
    git(work, 'add', '.');
    git(work, 'commit', '-q', '-m', 'first');
    c.first = head(work);
    fs.writeFileSync(path.join(work, 'f.txt'), 'two\n');
    git(work, 'commit', '-q', '-am', 'second');
    c.second = head(work);
    git(work, 'checkout', '-q', '-b', 'feature');
    fs.writeFileSync(path.join(work, 'f.txt'), 'feature\n');
    git(work, 'commit', '-q', '-am', 'on feature');
    c.feature = head(work);
    git(work, 'push', '-q', 'origin', 'main', 'feature');
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
  beforeEach(async () => {
    ex = new LocalExecutor({ baseEnv: gitEnv });
    jobDir = path.join(root, 'job');
    await ex.prepare(makeJob(), jobDir);
  });

  test('the default branch into the name derived from the url', async () => {
    const r = await clone({});
    expect(r.outcome).toEqual({ status: 'exited', exitCode: 0 });
    const dir = path.join(jobDir, 'origin');
    expect(fs.readFileSync(path.join(dir, 'f.txt'), 'utf8')).toBe('two\n');
    expect(head(dir)).toBe(c.second);
    expect(r.stdout).toContain(`HEAD is at ${c.second} in origin`);
  });

  test('a branch', async () => {
    const r = await clone({ branch: 'feature', destination: 'src' });
    expect(r.outcome.exitCode).toBe(0);
    expect(head(path.join(jobDir, 'src'))).toBe(c.feature);
    expect(git(path.join(jobDir, 'src'), 'rev-parse', '--abbrev-ref', 'HEAD')).toBe('feature');
  });

  test('a commit (full hash, and a short hash of a commit only on another branch)', async () => {
    const r = await clone({ commit: c.first, destination: 'a' });
    expect(r.outcome.exitCode).toBe(0);
    expect(head(path.join(jobDir, 'a'))).toBe(c.first);
    expect(fs.readFileSync(path.join(jobDir, 'a', 'f.txt'), 'utf8')).toBe('one\n');
    const r2 = await clone({ commit: c.feature.slice(0, 10), destination: 'b' });
    expect(r2.outcome.exitCode).toBe(0);
    expect(head(path.join(jobDir, 'b'))).toBe(c.feature);
  });

  test('a file:// url, a cwd and a nested destination', async () => {
    fs.mkdirSync(path.join(jobDir, 'w'));
    const r = await clone({ url: `file://${bare}`, cwd: 'w', destination: 'deep/er', branch: 'main', commit: c.first });
    expect(r.outcome.exitCode).toBe(0);
    expect(head(path.join(jobDir, 'w', 'deep', 'er'))).toBe(c.first);
  });

  test('field values cannot inject commands or options', async () => {
    const marker = path.join(root, 'pwned');
    const r = await clone({ destination: `x; touch ${marker}`, branch: `$(touch ${marker})` });
    expect(r.outcome.exitCode).not.toBe(0); // no such branch
    expect(fs.existsSync(marker)).toBe(false);
    const r2 = await clone({ destination: `d'q"$(touch ${marker})` });
    expect(r2.outcome.exitCode).toBe(0);
    expect(fs.existsSync(path.join(jobDir, `d'q"$(touch ${marker})`, 'f.txt'))).toBe(true);
    const r3 = await clone({ url: `--upload-pack=touch ${marker}` });
    expect(r3.outcome.exitCode).not.toBe(0);
    const r4 = await clone({ url: `ext::sh -c touch% ${marker}` });
    expect(r4.outcome.exitCode).not.toBe(0);
    expect(fs.existsSync(marker)).toBe(false);
  });

  test('a missing repository or commit fails the step with git’s message', async () => {
    const r = await clone({ url: path.join(root, 'nope.git') });
    expect(r.outcome.exitCode).toBe(128);
    expect(r.stderr.join('\n')).toMatch(/does not exist|not a git repository|Could not read/i);
    const r2 = await clone({ commit: 'deadbeefdeadbeef', destination: 'z' });
    expect(r2.outcome.exitCode).not.toBe(0);
  });

  test('GIT_TERMINAL_PROMPT=0 unless the step overrides it', () => {
    expect(gitTool(step({}))[0].env).toEqual({ GIT_TERMINAL_PROMPT: '0' });
    expect(gitTool(step({ env: { GIT_TERMINAL_PROMPT: '1', X: 'y' }, timeout: 5 }))[0]).toMatchObject({ env: { GIT_TERMINAL_PROMPT: '1', X: 'y' }, timeoutMs: 5000 });
  });
});
