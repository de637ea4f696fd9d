import { HttpErrorResponse } from '@angular/common/http';
import { errorIssues, errorMessage } from './errors';

describe('errorMessage', () => {
  it('uses the API error message and the status', () => {
    const err = new HttpErrorResponse({ status: 409, statusText: 'Conflict', error: { error: 'conflict', message: 'group linux exists' } });
    expect(errorMessage(err, 'Creating group linux')).toBe('Creating group linux failed: group linux exists (HTTP 409)');
  });

  it('says when the server cannot be reached', () => {
    expect(errorMessage(new HttpErrorResponse({ status: 0 }))).toBe('the server cannot be reached (is it running?)');
  });

  it('falls back to the status text, a short text body, or an Error', () => {
    expect(errorMessage(new HttpErrorResponse({ status: 502, statusText: 'Bad Gateway', error: null }))).toBe('HTTP 502 Bad Gateway');
    expect(errorMessage(new HttpErrorResponse({ status: 500, error: 'boom' }))).toBe('boom (HTTP 500)');
    expect(errorMessage(new Error('oops'), 'Saving')).toBe('Saving failed: oops');
  });
});

describe('errorIssues', () => {
  it('returns the field problems of a 400', () => {
    const issues = [{ path: 'name', message: 'required' }];
    expect(errorIssues(new HttpErrorResponse({ status: 400, error: { error: 'bad-request', message: 'x', issues } }))).toEqual(issues);
    expect(errorIssues(new HttpErrorResponse({ status: 500, error: 'x' }))).toEqual([]);
    expect(errorIssues(new Error('x'))).toEqual([]);
  });
});
