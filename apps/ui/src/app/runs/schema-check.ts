import { parseWorkflow } from '@kraken/protocol';

export interface SchemaProblem {
  path: string;
  message: string;
}

export const EXAMPLE_SCHEMA = `name: demo
jobs:
  - name: hello
    timeout: 600
    steps:
      - tool: shell
        cmd: echo hello from $(hostname)
    environments:
      - system: any
        agents_group: all
        executor: local
`;

/** Checks a workflow schema (YAML or JSON text) in the browser, with the server's own rules. */
export function checkSchema(text: string): SchemaProblem[] {
  if (!text.trim()) return [{ path: '', message: 'the schema is empty' }];
  const result = parseWorkflow(text);
  return result.ok ? [] : result.issues.map((i) => ({ path: i.path, message: i.message }));
}
