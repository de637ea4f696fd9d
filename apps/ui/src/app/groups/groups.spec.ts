import { TestBed } from '@angular/core/testing';
import { HttpTestingController } from '@angular/common/http/testing';
import { MatDialog } from '@angular/material/dialog';
import { of } from 'rxjs';
import { GroupsPage } from './groups-page';
import { GroupPage } from './group-page';
import { agent, setup, tick } from '../testing/setup';

const groups = [
  { id: 1, name: 'all', builtin: true, agentsCount: 3, createdAt: '' },
  { id: 2, name: 'linux', builtin: false, agentsCount: 1, createdAt: '' },
];

describe('GroupsPage', () => {
  let http: HttpTestingController;
  beforeEach(() => (http = setup()));
  afterEach(() => TestBed.resetTestingModule());

  async function open() {
    const fixture = TestBed.createComponent(GroupsPage);
    fixture.detectChanges();
    await tick();
    http.expectOne('/api/groups').flush({ items: groups });
    await tick();
    await fixture.whenStable();
    return fixture;
  }

  it('lists groups with agent counts; the built-in one cannot be renamed or deleted', async () => {
    const fixture = await open();
    const el = fixture.nativeElement as HTMLElement;
    expect(el.textContent).toContain('built-in');
    const labels = [...el.querySelectorAll('button[aria-label]')].map((b) => b.getAttribute('aria-label'));
    expect(labels).toEqual(['Rename group linux', 'Delete group linux']);
  });

  it('creates a group, and shows why a name is refused', async () => {
    const fixture = await open();
    const page = fixture.componentInstance as unknown as { newName: string; create(): Promise<void> };
    page.newName = ' gpu ';
    let done = page.create();
    const post = http.expectOne((r) => r.method === 'POST' && r.url === '/api/groups');
    expect(post.request.body).toEqual({ name: 'gpu' });
    post.flush({ id: 3, name: 'gpu', builtin: false, agentsCount: 0, createdAt: '' });
    await tick();
    http.expectOne('/api/groups').flush({ items: groups });
    await done;

    page.newName = 'a/b';
    done = page.create();
    http
      .expectOne((r) => r.method === 'POST')
      .flush(
        { error: 'bad-request', message: 'invalid body', issues: [{ path: 'name', message: 'only letters, digits, spaces, dot, dash and underscore' }] },
        { status: 400, statusText: 'Bad Request' },
      );
    await tick();
    http.expectOne('/api/groups').flush({ items: groups });
    await done;
    await fixture.whenStable();
    expect((fixture.nativeElement as HTMLElement).querySelector('[role="alert"]')!.textContent).toContain(
      'Group name: only letters, digits, spaces, dot, dash and underscore',
    );
  });

  it('deletes only after confirmation', async () => {
    const dialog = TestBed.inject(MatDialog);
    const answer = vi.spyOn(dialog, 'open').mockReturnValue({ afterClosed: () => of(false) } as never);
    const fixture = await open();
    await fixture.componentInstance.remove(groups[1]);
    http.expectNone((r) => r.method === 'DELETE');
    answer.mockReturnValue({ afterClosed: () => of(true) } as never);
    const done = fixture.componentInstance.remove(groups[1]);
    await tick();
    http.expectOne((r) => r.method === 'DELETE' && r.url === '/api/groups/2').flush({});
    await tick();
    http.expectOne('/api/groups').flush({ items: [groups[0]] });
    await done;
  });
});

describe('GroupPage', () => {
  let http: HttpTestingController;
  beforeEach(() => (http = setup()));
  afterEach(() => TestBed.resetTestingModule());

  it("lists the group's agents and adds and removes them", async () => {
    const fixture = TestBed.createComponent(GroupPage);
    fixture.componentRef.setInput('id', '2');
    fixture.detectChanges();
    await tick();
    const answer = () => {
      for (const r of http.match('/api/groups/2')) r.flush(groups[1]);
      for (const r of http.match((r) => r.url === '/api/agents' && r.params.get('group') === '2'))
        r.flush({ items: [agent(7, { groups: [{ id: 1, name: 'all' }, { id: 2, name: 'linux' }] })], total: 1 });
    };
    answer();
    await tick();
    await fixture.whenStable();
    expect((fixture.nativeElement as HTMLElement).textContent).toContain('agent-7');

    const page = fixture.componentInstance as unknown as { toAdd: number[]; add(): Promise<void>; loadCandidates(): Promise<void> };
    const candidates = page.loadCandidates();
    http.expectOne((r) => r.url === '/api/agents' && r.params.get('authorized') === 'true').flush({ items: [agent(7, { groups: [{ id: 2, name: 'linux' }] }), agent(8)], total: 2 });
    await candidates;
    await fixture.whenStable();
    expect((fixture.componentInstance as unknown as { candidates(): { id: number }[] }).candidates().map((a) => a.id)).toEqual([8]);

    page.toAdd = [8];
    const added = page.add();
    const post = http.expectOne('/api/groups/2/agents');
    expect(post.request.body).toEqual({ agentIds: [8] });
    post.flush({});
    await tick();
    answer();
    for (const r of http.match((r) => r.url === '/api/agents')) r.flush({ items: [], total: 0 });
    await added;

    const removed = fixture.componentInstance.removeAgent(agent(7) as never);
    const del = http.expectOne('/api/groups/2/agents/7');
    expect(del.request.method).toBe('DELETE');
    del.flush({});
    await tick();
    answer();
    await removed;
  });
});
