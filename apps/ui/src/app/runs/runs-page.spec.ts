import { TestBed } from '@angular/core/testing';
import { HttpTestingController } from '@angular/common/http/testing';
import { RunsPage } from './runs-page';
import { setup, tick } from '../testing/setup';
import { EXAMPLE_SCHEMA } from './schema-check';

describe('RunsPage', () => {
  let http: HttpTestingController;
  beforeEach(() => (http = setup()));
  afterEach(() => TestBed.resetTestingModule());

  async function open() {
    const fixture = TestBed.createComponent(RunsPage);
    fixture.detectChanges();
    await tick();
    http.expectOne((r) => r.url === '/api/runs').flush({
      items: [{ id: 3, workflowId: null, name: 'demo', state: 'completed', status: 'ok', createdAt: '2026-11-30T10:00:00Z', finishedAt: '2026-11-30T10:00:05Z', jobsTotal: 1, jobsCompleted: 1 }],
      total: 1,
    });
    await fixture.whenStable();
    return fixture;
  }

  it('lists runs with their status and jobs', async () => {
    const fixture = await open();
    const text = (fixture.nativeElement as HTMLElement).textContent!;
    expect(text).toContain('demo');
    expect(text).toContain('1 / 1');
    expect(text).toContain('5.0 s');
  });

  it('does not send a schema the browser already knows is wrong, and says where', async () => {
    const fixture = await open();
    const el = fixture.nativeElement as HTMLElement;
    const editor = el.querySelector<HTMLTextAreaElement>('textarea#schema')!;
    editor.value = EXAMPLE_SCHEMA.replace('agents_group: all', 'agents_grup: all');
    editor.dispatchEvent(new Event('input'));
    await fixture.componentInstance.submit();
    await fixture.whenStable();
    http.expectNone('/api/runs');
    expect(el.querySelector('[role="alert"]')!.textContent).toContain('jobs[0].environments[0].agents_group');
  });

  it("shows the server's problems by path", async () => {
    const fixture = await open();
    const submitted = fixture.componentInstance.submit();
    const post = http.expectOne((r) => r.url === '/api/runs' && r.method === 'POST');
    expect(post.request.body).toEqual({ schema: EXAMPLE_SCHEMA });
    post.flush(
      { error: 'bad-request', message: 'bad schema', issues: [{ path: 'jobs[0].environments[0].agents_group', message: "no group named 'all'" }] },
      { status: 400, statusText: 'Bad Request' },
    );
    await submitted;
    await fixture.whenStable();
    const alert = (fixture.nativeElement as HTMLElement).querySelector('[role="alert"]')!.textContent!;
    expect(alert).toContain('The server rejected the schema');
    expect(alert).toContain("jobs[0].environments[0].agents_group: no group named 'all'");
  });

  it('saves the schema as a named workflow, and says when the name is taken', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const fixture = await open();
    const el = fixture.nativeElement as HTMLElement;
    const save = () => [...el.querySelectorAll<HTMLButtonElement>('button')].find((b) => b.textContent!.includes('Save as workflow'))!;
    expect(save().disabled).toBe(true); // no name yet
    const name = el.querySelector<HTMLInputElement>('input[name="workflowName"]')!;
    name.value = 'nightly';
    name.dispatchEvent(new Event('input'));
    await fixture.whenStable();
    expect(save().disabled).toBe(false);

    save().click();
    const post = http.expectOne((r) => r.url === '/api/workflows' && r.method === 'POST');
    expect(post.request.body).toEqual({ name: 'nightly', schema: EXAMPLE_SCHEMA });
    post.flush({ id: 1, name: 'nightly', schema: {}, createdAt: '2026-11-30T10:00:00Z', runsCount: 0 }, { status: 201, statusText: 'Created' });
    await tick();
    await fixture.whenStable();
    expect(document.body.textContent).toContain("Workflow 'nightly' saved");
    expect(name.value).toBe('');

    name.value = 'nightly';
    name.dispatchEvent(new Event('input'));
    await fixture.whenStable();
    save().click();
    http.expectOne((r) => r.url === '/api/workflows').flush({ error: 'conflict', message: "a workflow named 'nightly' already exists" }, { status: 409, statusText: 'Conflict' });
    await tick();
    await fixture.whenStable();
    expect(document.body.textContent).toContain("a workflow named 'nightly' already exists");
  });

  it("shows only one workflow's runs when asked (?workflow=)", async () => {
    const fixture = TestBed.createComponent(RunsPage);
    fixture.componentRef.setInput('workflow', '7');
    fixture.detectChanges();
    await tick();
    const req = http.expectOne((r) => r.url === '/api/runs');
    expect(req.request.params.get('workflow')).toBe('7');
    req.flush({ items: [{ id: 4, workflowId: 7, name: 'nightly', state: 'completed', status: 'ok', createdAt: '2026-11-30T10:00:00Z', finishedAt: '2026-11-30T10:00:05Z', jobsTotal: 1, jobsCompleted: 1 }], total: 1 });
    await tick();
    await fixture.whenStable();
    const el = fixture.nativeElement as HTMLElement;
    expect(el.querySelector('[role="status"]')!.textContent).toContain('Only the runs of workflow nightly');
    expect(el.querySelector<HTMLAnchorElement>('[role="status"] a')!.getAttribute('href')).toBe('/runs');
  });
});
