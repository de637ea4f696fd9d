import { MAX_RUN_JOBS, parseWorkflow } from './workflow';
import { agentToServerMessageSchema } from './agent-messages';

const job = (over: Record<string, unknown> = {}) => ({
  name: 'build',
  steps: [{ tool: 'shell', cmd: 'make' }],
  environments: [{ system: 'any', agents_group: 'all' }],
  ...over,
});

describe('workflow schema', () => {
  it('fills in the defaults', () => {
    const r = parseWorkflow({ jobs: [job()] });
    expect(r).toEqual({
      ok: true,
      workflow: { jobs: [{ ...job(), timeout: 600, retries: 1, environments: [{ system: 'any', agents_group: 'all', executor: 'local' }] }] },
    });
  });

  it('reads YAML and JSON text', () => {
    const yaml = 'jobs:\n  - name: a\n    steps:\n      - {tool: git, url: /srv/repo.git, branch: main}\n    environments:\n      - {system: [debian-12, ubuntu-24.04], agents_group: linux}\n';
    const r = parseWorkflow(yaml);
    expect(r.ok && r.workflow.jobs[0].environments[0].system).toEqual(['debian-12', 'ubuntu-24.04']);
    expect(parseWorkflow(JSON.stringify({ jobs: [job()] })).ok).toBe(true);
  });

  it('lists every problem by path, at once', () => {
    const r = parseWorkflow({
      jobs: [
        job({ steps: [{ tool: 'shell' }, { tool: 'rocket' }] }),
        job({ environments: [{ system: 'any' }], timeout: 0 }),
        job({ surprise: true }),
      ],
    });
    expect(r.ok).toBe(false);
    const paths = !r.ok ? r.issues.map((i) => `${i.path}: ${i.message}`) : [];
    expect(paths).toEqual(
      expect.arrayContaining([
        'jobs[0].steps[0].cmd: give exactly one of cmd or script',
        "jobs[0].steps[1].tool: must be one of 'shell' | 'git'",
        'jobs[1].environments[0].agents_group: required',
        'jobs[1].timeout: at least 1 second',
        expect.stringMatching(/^jobs\[2\]: .*surprise/),
      ]),
    );
  });

  it('refuses two jobs with one name', () => {
    const r = parseWorkflow({ jobs: [job(), job()] });
    expect(r).toEqual({ ok: false, issues: [{ path: 'jobs[1].name', message: "duplicate job name 'build' (also jobs[0])" }] });
  });

  it('bounds the jobs of one run, counting every environment and system', () => {
    const systems = Array.from({ length: 100 }, (_, i) => `sys-${i}`);
    const wide = job({ environments: Array.from({ length: 101 }, () => ({ system: systems, agents_group: 'all' })) });
    expect(parseWorkflow({ jobs: [wide] })).toEqual({
      ok: false,
      issues: [{ path: 'jobs', message: `a run may have at most ${MAX_RUN_JOBS} jobs (one per job × environment × system); this schema makes 10100` }],
    });
    const fits = job({ environments: Array.from({ length: 100 }, () => ({ system: systems, agents_group: 'all' })) });
    expect(parseWorkflow({ jobs: [fits] }).ok).toBe(true);
  });

  it('says what is wrong with text that is not YAML, or not a schema', () => {
    const bad = parseWorkflow('jobs: [unclosed');
    expect(bad.ok === false && bad.issues[0].message).toMatch(/^not valid YAML or JSON/);
    const list = parseWorkflow('- a\n- b\n');
    expect(list.ok === false && list.issues[0].message).toContain('an object with `jobs`');
  });

  it('rejects environment variable names a shell cannot take', () => {
    const r = parseWorkflow({ jobs: [job({ steps: [{ tool: 'shell', cmd: 'env', env: { 'BAD-NAME': 'x' } }] })] });
    expect(r.ok === false && r.issues[0].path).toBe('jobs[0].steps[0].env.BAD-NAME');
  });
});

describe('agent messages', () => {
  it('accepts the job reports an agent sends and refuses unknown types', () => {
    expect(agentToServerMessageSchema.safeParse({ type: 'job-finished', jobId: 3, status: 'ok' }).success).toBe(true);
    expect(agentToServerMessageSchema.safeParse({ type: 'job-finished', jobId: 3, status: 'agent-lost' }).success).toBe(false);
    expect(agentToServerMessageSchema.safeParse({ type: 'launch' }).success).toBe(false);
  });
});
