import { TestBed } from '@angular/core/testing';
import { HttpTestingController } from '@angular/common/http/testing';
import { Router } from '@angular/router';
import { AgentsPage } from './agents-page';
import { agent, setup, tick } from '../testing/setup';

describe('AgentsPage', () => {
  let http: HttpTestingController;
  beforeEach(() => (http = setup()));
  afterEach(() => TestBed.resetTestingModule());

  async function open() {
    const fixture = TestBed.createComponent(AgentsPage);
    fixture.detectChanges();
    http.expectOne('/api/groups').flush({ items: [{ id: 1, name: 'all', builtin: true, agentsCount: 2, createdAt: '' }] });
    await tick();
    return fixture;
  }

  it('asks the server for one page of authorized agents and shows them', async () => {
    const fixture = await open();
    const req = http.expectOne((r) => r.url === '/api/agents');
    expect(req.request.params.toString()).toBe('authorized=true&offset=0&limit=30&sort=id&order=asc');
    req.flush({ items: [agent(1), agent(2, { state: 'offline', disabled: true, currentJobs: [{ id: 7, name: 'build', runId: 3 }] })], total: 10_000 });
    await fixture.whenStable();
    const text = (fixture.nativeElement as HTMLElement).textContent!;
    expect(text).toContain('agent-1');
    expect(text).toContain('10.0.0.2');
    expect(text).toContain('linux / debian-12');
    expect(text).toContain('docker 20.10.24');
    expect(text).toContain('2 / 4.0 GiB');
    expect(text).toContain('offline');
    expect(text).toContain('1 – 30 of 10000');
    const jobLink = (fixture.nativeElement as HTMLElement).querySelector('a[href="/runs/3#job-7"]');
    expect(jobLink?.textContent).toContain('build');
    const toggles = (fixture.nativeElement as HTMLElement).querySelectorAll('mat-slide-toggle button[role="switch"]');
    expect([...toggles].map((t) => t.getAttribute('aria-checked'))).toEqual(['true', 'false']);
  });

  it('sorts and pages on the server', async () => {
    const fixture = await open();
    http.expectOne((r) => r.url === '/api/agents').flush({ items: [], total: 100 });
    await fixture.whenStable();
    const page = fixture.componentInstance;
    page.sorted({ active: 'lastSeen', direction: 'desc' });
    expect(http.expectOne((r) => r.url === '/api/agents').request.params.toString()).toBe('authorized=true&offset=0&limit=30&sort=lastSeen&order=desc');
    page.paged({ pageIndex: 2, pageSize: 30, length: 100 });
    expect(http.expectOne((r) => r.url === '/api/agents').request.params.get('offset')).toBe('60');
  });

  it('keeps the view in the URL and starts from it', async () => {
    const router = TestBed.inject(Router);
    const navigate = vi.spyOn(router, 'navigate').mockResolvedValue(true);
    const fixture = await open();
    http.expectOne((r) => r.url === '/api/agents').flush({ items: [], total: 100 });
    fixture.componentInstance.sorted({ active: 'name', direction: 'desc' });
    http.expectOne((r) => r.url === '/api/agents').flush({ items: [], total: 100 });
    expect(navigate).toHaveBeenLastCalledWith([], expect.objectContaining({ queryParams: expect.objectContaining({ sort: 'name', order: 'desc', page: null }), replaceUrl: true }));
  });

  it('shows an API error in words', async () => {
    const fixture = await open();
    http.expectOne((r) => r.url === '/api/agents').flush({ error: 'bad-request', message: 'invalid query: sort: bad' }, { status: 400, statusText: 'Bad Request' });
    await fixture.whenStable();
    const alert = (fixture.nativeElement as HTMLElement).querySelector('[role="alert"]');
    expect(alert?.textContent).toContain('Loading agents failed: invalid query: sort: bad (HTTP 400)');
  });

  it('turns an agent off with the enabled switch', async () => {
    const fixture = await open();
    http.expectOne((r) => r.url === '/api/agents').flush({ items: [agent(4)], total: 1 });
    await fixture.whenStable();
    const done = fixture.componentInstance.setEnabled(agent(4) as never, false);
    const put = http.expectOne('/api/agents/4');
    expect(put.request.method).toBe('PUT');
    expect(put.request.body).toEqual({ disabled: true });
    put.flush(agent(4, { disabled: true }));
    await tick();
    http.expectOne((r) => r.url === '/api/agents').flush({ items: [agent(4, { disabled: true })], total: 1 });
    await done;
  });
});
