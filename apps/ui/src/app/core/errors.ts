import { HttpErrorResponse } from '@angular/common/http';

export interface FieldProblem {
  path: string;
  message: string;
}

/** The API's error body: `{error, message, issues?}`. */
interface ApiErrorBody {
  error?: string;
  message?: string;
  issues?: FieldProblem[];
}

/** Field problems listed in an API error, if any. */
export function errorIssues(err: unknown): FieldProblem[] {
  if (err instanceof HttpErrorResponse && err.error && typeof err.error === 'object') {
    const issues = (err.error as ApiErrorBody).issues;
    if (Array.isArray(issues)) return issues;
  }
  return [];
}

/** Turns whatever a failed call threw into one sentence a person can read. */
export function errorMessage(err: unknown, doing?: string): string {
  const prefix = doing ? `${doing} failed: ` : '';
  if (err instanceof HttpErrorResponse) {
    if (err.status === 0) return `${prefix}the server cannot be reached (is it running?)`;
    const body = err.error as ApiErrorBody | string | null;
    if (body && typeof body === 'object' && typeof body.message === 'string') return `${prefix}${body.message} (HTTP ${err.status})`;
    if (typeof body === 'string' && body.trim() && body.length < 300) return `${prefix}${body.trim()} (HTTP ${err.status})`;
    return `${prefix}HTTP ${err.status} ${err.statusText || 'error'}`;
  }
  if (err instanceof Error) return `${prefix}${err.message}`;
  return `${prefix}${String(err)}`;
}
