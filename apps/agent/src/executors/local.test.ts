import fs from 'node:fs';
import path from 'node:path';
import { jobDirPath, LocalExecutor, pruneJobDirs } from './local';
import { createExecutor, UnsupportedExecutorError } from './index';
import { killPids, makeJob, pidAlive, runCollect, tempDir } from './test-helpers';
import { shellTool } from '../tools/shell';

const pidsToReap: number[] = [];
const numbers = (lines: string[]) => lines.filter((l) => /^\d+$/.test(l)).map(Number);

let root: string;
let jobDir: string;
let ex: LocalExecutor;

beforeEach(async () => {
  root = tempDir();
  jobDir = path.join(root, 'jobs', '42');
  ex = new LocalExecutor({ baseEnv: { ...process.env, KRAKEN_AGENT_TOKEN: 'secret-token', KEEP_ME: 'yes' } });
  await ex.prepare(makeJob(), jobDir);
});

afterEach(() => {
  killPids(pidsToReap.splice(0));
  fs.rmSync(root, { recursive: true, force: true });
});

describe('LocalExecutor: output and exit codes', () => {
  test('stdout and stderr lines, exit 0', async () => {
    const r = await runCollect(ex, { script: 'echo hello; echo oops >&2; printf "a\\r\\nb\\r\\n"; printf "no newline"' });
    expect(r.outcome).toEqual({ status: 'exited', exitCode: 0 });
    expect(r.stdout).toEqual(['hello', 'a', 'b', 'no newline']);
    expect(r.stderr).toEqual(['oops']);
  });

  test('exit codes come back', async () => {
    expect((await runCollect(ex, { script: 'exit 3' })).outcome).toEqual({ status: 'exited', exitCode: 3 });
    expect((await runCollect(ex, { script: 'false' })).outcome).toEqual({ status: 'exited', exitCode: 1 });
    expect((await runCollect(ex, { script: 'nonexistent-command-xyz' })).outcome.exitCode).toBe(127);
  });

  test('a command killed by a signal: exitCode null, the signal named', async () => {
    const r = await runCollect(ex, { script: 'kill -9 $$' });
    expect(r.outcome.status).toBe('exited');
    expect(r.outcome.exitCode).toBeNull();
    expect(r.outcome.message).toMatch(/killed by signal SIGKILL/);
  });

  test('100,000 lines arrive in order', async () => {
    const r = await runCollect(ex, { script: 'seq 1 100000; seq 1 1000 >&2' });
    expect(r.outcome).toEqual({ status: 'exited', exitCode: 0 });
    expect(r.stdout.length).toBe(100_000);
    r.stdout.forEach((l, i) => {
      if (l !== String(i + 1)) throw new Error(`line ${i}: ${l}`);
    });
    expect(r.stderr.length).toBe(1000);
    expect(r.stderr[999]).toBe('1000');
  });

  test('very long lines come in 64 KiB pieces; binary junk and NUL are made safe', async () => {
    const r = await runCollect(ex, { script: "head -c 200000 /dev/zero | tr '\\0' a; echo; printf 'x\\377\\376y\\000z\\n'" });
    expect(r.outcome.exitCode).toBe(0);
    expect(r.stdout.slice(0, 4).map((l) => l.length)).toEqual([65536, 65536, 65536, 200000 - 3 * 65536]);
    expect(r.stdout[4]).toBe('x\uFFFD\uFFFDy\uFFFDz');
  });

  test('a script too long for one argument goes through a temporary file', async () => {
    const script = Array.from({ length: 20_000 }, (_, i) => `echo line-${i}`).join('\n');
    expect(Buffer.byteLength(script)).toBeGreaterThan(200_000);
    const r = await runCollect(ex, { script });
    expect(r.outcome.exitCode).toBe(0);
    expect(r.stdout.length).toBe(20_000);
    expect(r.stdout[19_999]).toBe('line-19999');
  });

  test('a shell that cannot start is an error outcome', async () => {
    const r = await runCollect(ex, { script: 'true', shell: '/nonexistent/sh' });
    expect(r.outcome.status).toBe('error');
    expect(r.outcome.message).toMatch(/cannot start \/nonexistent\/sh/);
  });

  test('shell with options (bash -o pipefail)', async () => {
    const r = await runCollect(ex, { script: 'false | true', shell: 'bash -o pipefail' });
    expect(r.outcome.exitCode).toBe(1);
  });

  test('stdin is /dev/null: a command reading it does not hang', async () => {
    const r = await runCollect(ex, { script: 'cat; echo done' });
    expect(r.stdout).toEqual(['done']);
  });
});

describe('LocalExecutor: environment and cwd', () => {
  test('env: agent env + KRAKEN_* + the command env; the agent token is hidden', async () => {
    const r = await runCollect(ex, {
      script: 'echo "$KRAKEN_JOB_ID $KRAKEN_RUN_ID $KRAKEN_JOB_NAME|$KRAKEN_EXECUTOR|$KEEP_ME|$FOO|${KRAKEN_AGENT_TOKEN:-unset}"; echo "$KRAKEN_JOB_DIR"; pwd -P',
      env: { FOO: 'bar baz' },
    });
    expect(r.stdout[0]).toBe('42 7 test job|local|yes|bar baz|unset');
    const real = fs.realpathSync(jobDir);
    expect(r.stdout[1]).toBe(real);
    expect(r.stdout[2]).toBe(real);
  });

  test('cwd relative to the job dir', async () => {
    fs.mkdirSync(path.join(jobDir, 'sub', 'dir'), { recursive: true });
    const r = await runCollect(ex, { script: 'pwd -P', cwd: 'sub/dir' });
    expect(r.stdout).toEqual([path.join(fs.realpathSync(jobDir), 'sub', 'dir')]);
    const r2 = await runCollect(ex, { script: 'pwd -P', cwd: './sub/../sub' });
    expect(r2.stdout).toEqual([path.join(fs.realpathSync(jobDir), 'sub')]);
  });

  test.each([
    ['..', /outside the job dir/],
    ['../..', /outside the job dir/],
    ['sub/../../x', /outside the job dir/],
    ['/tmp', /outside the job dir/],
    ['missing', /does not exist/],
    ['afile', /not a directory/],
    ['escape', /through a symbolic link/],
  ])('cwd %s is rejected as an error outcome', async (cwd, message) => {
    fs.mkdirSync(path.join(jobDir, 'sub'));
    fs.writeFileSync(path.join(jobDir, 'afile'), '');
    fs.symlinkSync(root, path.join(jobDir, 'escape'));
    const r = await runCollect(ex, { script: 'touch created-here', cwd });
    expect(r.outcome.status).toBe('error');
    expect(r.outcome.exitCode).toBeNull();
    expect(r.outcome.message).toMatch(message);
    expect(r.lines).toEqual([]);
  });

  test('prepare makes a fresh dir: leftovers, even read-only ones, are removed', async () => {
    fs.mkdirSync(path.join(jobDir, 'ro', 'deep'), { recursive: true });
    fs.writeFileSync(path.join(jobDir, 'ro', 'deep', 'f'), 'x');
    fs.chmodSync(path.join(jobDir, 'ro', 'deep'), 0o555);
    fs.chmodSync(path.join(jobDir, 'ro'), 0o555);
    fs.writeFileSync(path.join(jobDir, 'old'), 'x');
    const ex2 = new LocalExecutor();
    await ex2.prepare(makeJob({ id: 43 }), jobDir);
    expect(fs.readdirSync(jobDir)).toEqual([]);
    await ex2.cleanup();
    expect(fs.existsSync(jobDir)).toBe(true); // the dir stays for inspection
  });

  test('prepare refuses a relative dir and reports an unwritable one', async () => {
    await expect(new LocalExecutor().prepare(makeJob(), 'relative/dir')).rejects.toThrow(/absolute/);
    await expect(new LocalExecutor().prepare(makeJob(), '/')).rejects.toThrow(/refusing/);
    if (process.getuid?.() !== 0) {
      const locked = path.join(root, 'locked');
      fs.mkdirSync(locked, { mode: 0o555 });
      await expect(new LocalExecutor().prepare(makeJob(), path.join(locked, 'job'))).rejects.toThrow(/cannot create the job dir/);
      fs.chmodSync(locked, 0o755);
    }
  });

  test('run before prepare is an error outcome', async () => {
    const r = await runCollect(new LocalExecutor(), { script: 'true' });
    expect(r.outcome.status).toBe('error');
  });
});

describe('LocalExecutor: scripts from the shell tool', () => {
  const run = (step: { cmd?: string; script?: string }) => runCollect(ex, shellTool({ tool: 'shell', index: 0, ...step })[0]);

  test('a script fails at its first failing line, with that line’s code', async () => {
    const r = await run({ script: 'echo one\nsh -c "exit 5"\necho two' });
    expect(r.outcome).toEqual({ status: 'exited', exitCode: 5 });
    expect(r.stdout).toEqual(['one']);
  });

  test('error messages keep the script’s line numbers', async () => {
    const r = await run({ script: 'echo one\nno-such-command-xyz\necho two' });
    expect(r.outcome.exitCode).toBe(127);
    expect(r.stderr.join('\n')).toMatch(/\b2\b.*no-such-command-xyz/);
  });

  test('multi-line constructs work in scripts', async () => {
    const r = await run({ script: 'if true; then\n  echo yes\nfi\ncat <<EOF\nheredoc $KRAKEN_JOB_ID\nEOF\nfor i in 1 2; do echo $i; done' });
    expect(r.outcome.exitCode).toBe(0);
    expect(r.stdout).toEqual(['yes', 'heredoc 42', '1', '2']);
  });

  test('cmd keeps shell semantics: the last command decides', async () => {
    const r = await run({ cmd: 'false; echo after' });
    expect(r.outcome).toEqual({ status: 'exited', exitCode: 0 });
    expect(r.stdout).toEqual(['after']);
  });
});

describe('LocalExecutor: timeout, cancel and process trees', () => {
  test('timeout kills sleep 600, its children and grandchildren', async () => {
    const script = [
      'sleep 600 & echo $!',
      "sh -c 'sleep 600 & echo $!; sleep 600 & echo $!; echo $$; wait' &",
      'echo $$',
      'sleep 600',
    ].join('\n');
    const r = await runCollect(ex, { script }, { timeoutMs: 1500, killGraceMs: 500, onLineAlso: (l) => /^\d+$/.test(l) && pidsToReap.push(Number(l)) });
    expect(r.outcome.status).toBe('timeout');
    expect(r.outcome.message).toMatch(/timed out after 1500 ms/);
    const pids = numbers(r.stdout);
    expect(pids.length).toBe(5);
    for (const pid of pids) expect(pidAlive(pid)).toBe(false);
    expect(r.ms).toBeLessThan(10_000);
  });

  test('the command’s own timeoutMs applies when shorter', async () => {
    const r = await runCollect(ex, { script: 'sleep 600', timeoutMs: 300 }, { timeoutMs: 60_000 });
    expect(r.outcome.status).toBe('timeout');
  });

  test('cancel kills the tree; a child ignoring SIGTERM gets SIGKILL after the grace period', async () => {
    const ac = new AbortController();
    const script = [
      "sh -c 'trap \"\" TERM; echo $$; sleep 600 & echo $!; while :; do sleep 1; done' &",
      "sh -c 'sleep 600' &",
      'echo $!',
      'sleep 0.2; echo ready',
      'wait',
    ].join('\n');
    const r = await runCollect(
      ex,
      { script },
      {
        signal: ac.signal,
        killGraceMs: 700,
        onLineAlso: (l) => {
          if (/^\d+$/.test(l)) pidsToReap.push(Number(l));
          if (l === 'ready') ac.abort();
        },
      },
    );
    expect(r.outcome.status).toBe('cancelled');
    expect(r.outcome.message).toMatch(/SIGKILL after a 700 ms grace/);
    const pids = numbers(r.stdout);
    expect(pids.length).toBe(3);
    for (const pid of pids) expect(pidAlive(pid)).toBe(false);
    expect(r.ms).toBeGreaterThanOrEqual(700);
  });

  test('cancel of a well-behaved tree needs no SIGKILL', async () => {
    const ac = new AbortController();
    const r = await runCollect(ex, { script: 'echo go; sleep 600' }, { signal: ac.signal, killGraceMs: 5000, onLineAlso: (l) => l === 'go' && ac.abort() });
    expect(r.outcome).toEqual({ status: 'cancelled', exitCode: null, message: 'cancelled' });
    expect(r.ms).toBeLessThan(4000);
  });

  test('a signal aborted before the start runs nothing', async () => {
    const ac = new AbortController();
    ac.abort();
    const r = await runCollect(ex, { script: 'touch ran' }, { signal: ac.signal });
    expect(r.outcome.status).toBe('cancelled');
    expect(fs.existsSync(path.join(jobDir, 'ran'))).toBe(false);
  });

  test('background processes a finished command left are killed; output before is kept', async () => {
    const r = await runCollect(ex, { script: 'sleep 600 & echo $!; (sleep 600 >/dev/null 2>&1 &) ; echo done' }, { killGraceMs: 300 });
    expect(r.outcome.status).toBe('exited');
    expect(r.outcome.exitCode).toBe(0);
    expect(r.outcome.message).toMatch(/background processes/);
    const [pid] = numbers(r.stdout);
    pidsToReap.push(pid);
    expect(r.stdout).toContain('done');
    expect(pidAlive(pid)).toBe(false);
    // no sleep 600 of this job dir's group is left anywhere
  });

  test('output written just before exit is drained', async () => {
    const r = await runCollect(ex, { script: 'seq 1 5000 & wait; printf tail' });
    expect(r.stdout.length).toBe(5001);
    expect(r.stdout[5000]).toBe('tail');
  });

  test('cleanup kills commands whose run() was abandoned', async () => {
    const pids: number[] = [];
    const p = runCollect(ex, { script: 'echo $$; sleep 600' }, { onLineAlso: (l) => pids.push(Number(l)) });
    while (pids.length === 0) await new Promise((r) => setTimeout(r, 20));
    pidsToReap.push(...pids);
    await ex.cleanup();
    const r = await p;
    expect(r.outcome.exitCode).toBeNull();
    expect(pidAlive(pids[0])).toBe(false);
  });
});

describe('job dirs', () => {
  test('jobDirPath and pruneJobDirs', async () => {
    expect(jobDirPath('/opt/kraken/data', 12)).toBe('/opt/kraken/data/jobs/12');
    const jobs = path.join(root, 'jobs');
    fs.mkdirSync(path.join(jobs, '1', 'x'), { recursive: true });
    fs.mkdirSync(path.join(jobs, '2'));
    expect((await pruneJobDirs(jobs, [42, '2'])).sort()).toEqual(['1']);
    expect(fs.readdirSync(jobs).sort()).toEqual(['2', '42']);
    expect(await pruneJobDirs(path.join(root, 'none'), [])).toEqual([]);
  });
});

describe('createExecutor', () => {
  test('local → LocalExecutor; docker and lxd are not supported yet', () => {
    expect(createExecutor('local')).toBeInstanceOf(LocalExecutor);
    expect(() => createExecutor('docker')).toThrow(UnsupportedExecutorError);
    expect(() => createExecutor('lxd')).toThrow("executor 'lxd' is not supported by this agent yet");
  });
});
