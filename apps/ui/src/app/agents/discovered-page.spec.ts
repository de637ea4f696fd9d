import { TestBed } from '@angular/core/testing';
import { HttpTestingController } from '@angular/common/http/testing';
import { DiscoveredPage } from './discovered-page';
import { agent, setup, tick } from '../testing/setup';

describe('DiscoveredPage', () => {
  let http: HttpTestingController;
  beforeEach(() => (http = setup()));
  afterEach(() => TestBed.resetTestingModule());

  it('authorizes the checked agents and reloads the list', async () => {
    const fixture = TestBed.createComponent(DiscoveredPage);
    fixture.detectChanges();
    await tick();
    const list = http.expectOne((r) => r.url === '/api/agents');
    expect(list.request.params.get('authorized')).toBe('false');
    expect(list.request.params.get('sort')).toBe('lastSeen');
    list.flush({ items: [agent(5, { authorized: false, groups: [] }), agent(6, { authorized: false, groups: [] })], total: 2 });
    await tick();
    await fixture.whenStable();

    const el = fixture.nativeElement as HTMLElement;
    const button = [...el.querySelectorAll('button')].find((b) => b.textContent!.includes('Authorize'))!;
    expect(button.disabled).toBe(true);
    const box = el.querySelector<HTMLInputElement>('input[type="checkbox"][aria-label="Select agent agent-6"]')!;
    box.click();
    await fixture.whenStable();
    expect(button.textContent).toContain('Authorize (1)');
    expect(button.disabled).toBe(false);

    button.click();
    const patch = http.expectOne('/api/agents');
    expect(patch.request.method).toBe('PATCH');
    expect(patch.request.body).toEqual([{ id: 6, authorized: true }]);
    patch.flush({});
    await tick();
    http.expectOne((r) => r.url === '/api/agents' && r.method === 'GET').flush({ items: [agent(5, { authorized: false, groups: [] })], total: 1 });
    await tick();
    await fixture.whenStable();
    expect(el.textContent).not.toContain('agent-6');
    expect(button.textContent).not.toContain('(1)');
  });
});
