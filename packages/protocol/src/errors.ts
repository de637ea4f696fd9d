import type { z } from 'zod';

/** One problem in an input, with the path of the field it concerns, e.g. `jobs[1].environments[0].agents_group`. */
export interface FieldIssue {
  path: string;
  message: string;
}

export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}

/** zod's message for a missing field reads "Invalid input: expected string, received undefined". */
function friendlyMessage(message: string): string {
  if (/received undefined$/.test(message)) return 'required';
  return message.replace(/^Invalid input: /, '').replace(/^Invalid discriminator value\. Expected /, 'must be one of ');
}

export function issuesOf(error: z.ZodError): FieldIssue[] {
  const out: FieldIssue[] = [];
  for (const issue of error.issues) {
    // A union whose every branch failed: report the branch issues rather than "invalid input".
    if (issue.code === 'invalid_union' && 'errors' in issue && Array.isArray(issue.errors) && issue.errors.length === 1) {
      for (const sub of issue.errors[0] as z.core.$ZodIssue[]) {
        out.push({ path: formatPath([...issue.path, ...sub.path]), message: friendlyMessage(sub.message) });
      }
      continue;
    }
    out.push({ path: formatPath(issue.path), message: friendlyMessage(issue.message) });
  }
  return out;
}

/** A one-line summary such as `name: required; groups[0]: expected number`. */
export function describeIssues(issues: FieldIssue[]): string {
  return issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
}
