import { EXAMPLE_SCHEMA, checkSchema } from './schema-check';

describe('checkSchema', () => {
  it('accepts the example', () => {
    expect(checkSchema(EXAMPLE_SCHEMA)).toEqual([]);
  });

  it('names the path of a missing agents_group', () => {
    const problems = checkSchema(EXAMPLE_SCHEMA.replace('        agents_group: all\n', ''));
    expect(problems.map((p) => p.path)).toContain('jobs[0].environments[0].agents_group');
  });

  it('lists every problem, with paths into steps', () => {
    const text = `jobs:
  - name: a
    steps:
      - tool: shell
    environments:
      - system: any
        agents_group: all
        executor: podman
`;
    const paths = checkSchema(text).map((p) => p.path);
    expect(paths).toContain('jobs[0].environments[0].executor');
    expect(paths.some((p) => p.startsWith('jobs[0].steps[0]'))).toBe(true);
  });

  it('explains text that is neither YAML nor JSON, and an empty schema', () => {
    expect(checkSchema('jobs: [\n')[0].message).toMatch(/not valid YAML or JSON/);
    expect(checkSchema('  ')).toEqual([{ path: '', message: 'the schema is empty' }]);
  });

  it('accepts JSON too', () => {
    const json = JSON.stringify({ jobs: [{ name: 'j', steps: [{ tool: 'shell', cmd: 'true' }], environments: [{ system: 'any', agents_group: 'all' }] }] });
    expect(checkSchema(json)).toEqual([]);
  });
});
