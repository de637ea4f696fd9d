import { TestBed } from '@angular/core/testing';
import { HttpTestingController } from '@angular/common/http/testing';
import { MatDialog } from '@angular/material/dialog';
import { of } from 'rxjs';
import { RunPage } from './run-page';
import { setup, tick } from '../testing/setup';

function job(id: number, over: Record<string, unknown> = {}) {
  return {
    id,
    runId: 9,
    name: `job-${id}`,
    group: 'linux',
    executor: 'local',
    system: 'any',
    state: 'running',
    completionStatus: null,
    note: null,
    agent: { id: 4, name: 'builder' },
    attempt: 1,
    retries: 1,
    timeout: 600,
    createdAt: '2026-11-30T10:00:00Z',
    assignedAt: '2026-11-30T10:00:00Z',
    startedAt: '2026-11-30T10:00:00Z',
    finishedAt: null,
    steps: [{ index: 0, tool: 'shell', name: 'make', status: 'running', exitCode: null, durationMs: null, startedAt: '2026-11-30T10:00:00Z', outputTail: '', message: null }],
    ...over,
  };
}

const run = (jobs: unknown[], over: Record<string, unknown> = {}) => ({
  id: 9,
  workflowId: null,
  name: 'nightly',
  state: 'in-progress',
  status: null,
  createdAt: '2026-11-30T10:00:00Z',
  finishedAt: null,
  jobsTotal: jobs.length,
  jobsCompleted: 0,
  jobs,
  ...over,
});

describe('RunPage', () => {
  let http: HttpTestingController;
  beforeEach(() => (http = setup()));
  afterEach(() => TestBed.resetTestingModule());

  async function open(body: object) {
    const fixture = TestBed.createComponent(RunPage);
    fixture.componentRef.setInput('id', '9');
    fixture.detectChanges();
    await tick();
    for (const r of http.match('/api/runs/9')) r.flush(body);
    await tick();
    await fixture.whenStable();
    return fixture;
  }

  it('shows each job with its agent, group, status, note and steps', async () => {
    const fixture = await open(
      run([
        job(1),
        job(2, { state: 'queued', agent: null, startedAt: null, note: "no agents in group 'gpu'", group: 'gpu', steps: [] }),
        job(3, { state: 'completed', completionStatus: 'failed', finishedAt: '2026-11-30T10:00:03Z' }),
      ]),
    );
    for (const r of http.match((r) => r.url.startsWith('/api/jobs/'))) r.flush({ items: [], next: null });
    const el = fixture.nativeElement as HTMLElement;
    const text = el.textContent!;
    expect(text).toContain('Run 9: nightly');
    expect(text).toContain('builder');
    expect(text).toContain("no agents in group 'gpu'");
    expect(text).toContain('failed');
    expect(text).toContain('3.0 s');
    expect(text).toContain('make'); // the steps, jobs expanded (three or fewer)
    // Only unfinished jobs can be cancelled.
    const cancels = [...el.querySelectorAll('button')].filter((b) => /^Cancel job/.test(b.getAttribute('aria-label') ?? ''));
    expect(cancels.map((b) => b.getAttribute('aria-label'))).toEqual(['Cancel job job-1', 'Cancel job job-2']);
  });

  it('cancels a job after confirmation', async () => {
    const dialog = TestBed.inject(MatDialog);
    vi.spyOn(dialog, 'open').mockReturnValue({ afterClosed: () => of(true) } as never);
    const fixture = await open(run([job(1)]));
    for (const r of http.match((r) => r.url.startsWith('/api/jobs/1/logs'))) r.flush({ items: [], next: null });
    const done = fixture.componentInstance.cancel(job(1) as never);
    await tick();
    const post = http.expectOne('/api/jobs/1/cancel');
    expect(post.request.method).toBe('POST');
    post.flush({});
    await tick();
    for (const r of http.match('/api/runs/9')) r.flush(run([job(1, { state: 'completed', completionStatus: 'cancelled' })]));
    await done;
  });

  it('cancels the whole run with one request after confirmation', async () => {
    const dialog = TestBed.inject(MatDialog);
    vi.spyOn(dialog, 'open').mockReturnValue({ afterClosed: () => of(true) } as never);
    const r = run([job(1), job(2)]);
    const fixture = await open(r);
    for (const l of http.match((q) => q.url.startsWith('/api/jobs/'))) l.flush({ items: [], next: null });
    const done = fixture.componentInstance.cancelRun(r as never);
    await tick();
    const post = http.expectOne('/api/runs/9/cancel');
    expect(post.request.method).toBe('POST');
    http.expectNone((q) => /\/api\/jobs\/\d+\/cancel/.test(q.url));
    post.flush(run([job(1, { state: 'completed', completionStatus: 'cancelled' }), job(2, { state: 'completed', completionStatus: 'cancelled' })]));
    await tick();
    for (const q of http.match('/api/runs/9')) q.flush(run([job(1, { state: 'completed', completionStatus: 'cancelled' })]));
    await done;
    expect(document.body.textContent).toContain('Run 9 cancelled');
  });

  it('shows a missing run in words', async () => {
    const fixture = TestBed.createComponent(RunPage);
    fixture.componentRef.setInput('id', '9');
    fixture.detectChanges();
    await tick();
    for (const r of http.match('/api/runs/9')) r.flush({ error: 'not-found', message: 'run 9 not found' }, { status: 404, statusText: 'Not Found' });
    await tick();
    await fixture.whenStable();
    expect((fixture.nativeElement as HTMLElement).querySelector('[role="alert"]')!.textContent).toContain('Loading run 9 failed: run 9 not found (HTTP 404)');
  });
});
