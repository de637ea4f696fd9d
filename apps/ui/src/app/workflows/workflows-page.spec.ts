import { TestBed } from '@angular/core/testing';
import { HttpTestingController } from '@angular/common/http/testing';
import { Router } from '@angular/router';
import { WorkflowsPage } from './workflows-page';
import { setup, tick } from '../testing/setup';

const nightly = {
  id: 7,
  name: 'nightly',
  createdAt: '2026-11-30T10:00:00Z',
  runsCount: 2,
  schema: {
    jobs: [
      { name: 'build', timeout: 600, retries: 1, steps: [{ tool: 'shell', cmd: 'make' }], environments: [{ system: 'any', agents_group: 'linux', executor: 'local' }] },
      { name: 'test', timeout: 600, retries: 1, steps: [{ tool: 'shell', cmd: 'make test' }], environments: [{ system: 'any', agents_group: 'all', executor: 'local' }] },
    ],
  },
};

describe('WorkflowsPage', () => {
  let http: HttpTestingController;
  beforeEach(() => (http = setup()));
  afterEach(() => TestBed.resetTestingModule());

  async function open(items: unknown[] = [nightly]) {
    const fixture = TestBed.createComponent(WorkflowsPage);
    fixture.detectChanges();
    await tick();
    http.expectOne((r) => r.url === '/api/workflows' && r.method === 'GET').flush({ items });
    await tick();
    await fixture.whenStable();
    return fixture;
  }
  const button = (el: HTMLElement, text: string) => [...el.querySelectorAll<HTMLButtonElement>('button')].find((b) => b.textContent!.trim() === text)!;

  it('lists saved workflows with their jobs, groups and runs', async () => {
    const fixture = await open();
    const row = (fixture.nativeElement as HTMLElement).querySelector('tr.mat-mdc-row')!.textContent!;
    expect(row).toContain('nightly');
    expect(row).toContain('build, test');
    expect(row).toContain('linux, all');
    expect(row).toContain('2');
    // The runs count leads to that workflow's runs.
    const runs = (fixture.nativeElement as HTMLElement).querySelector<HTMLAnchorElement>('a[aria-label="2 runs of nightly"]')!;
    expect(runs.getAttribute('href')).toBe('/runs?workflow=7');
  });

  it('says when there are none', async () => {
    const fixture = await open([]);
    expect((fixture.nativeElement as HTMLElement).textContent).toContain('No saved workflows yet.');
  });

  it('shows the schema on demand', async () => {
    const fixture = await open();
    const el = fixture.nativeElement as HTMLElement;
    expect(el.querySelector('#schema-7')).toBeNull();
    button(el, 'Schema').click();
    await fixture.whenStable();
    expect(el.querySelector('#schema-7')!.textContent).toContain('make test');
    expect(button(el, 'Hide schema').getAttribute('aria-expanded')).toBe('true');
  });

  it('starts a run and opens it', async () => {
    const fixture = await open();
    const navigate = vi.spyOn(TestBed.inject(Router), 'navigate').mockResolvedValue(true);
    button(fixture.nativeElement, 'Run').click();
    const post = http.expectOne((r) => r.url === '/api/workflows/7/runs' && r.method === 'POST');
    post.flush({ id: 42, workflowId: 7, name: 'nightly', state: 'in-progress', status: null, createdAt: '2026-11-30T10:00:00Z', finishedAt: null, jobsTotal: 2, jobsCompleted: 0 }, { status: 201, statusText: 'Created' });
    await tick();
    expect(navigate).toHaveBeenCalledWith(['/runs', 42]);
  });

  it('says why a run could not start', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const fixture = await open();
    button(fixture.nativeElement, 'Run').click();
    http.expectOne('/api/workflows/7/runs').flush({ error: 'not-found', message: 'workflow 7 not found' }, { status: 404, statusText: 'Not Found' });
    await tick();
    await fixture.whenStable();
    expect(document.body.textContent).toContain('workflow 7 not found');
  });
});
