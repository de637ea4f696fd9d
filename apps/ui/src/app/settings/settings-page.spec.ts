import { TestBed } from '@angular/core/testing';
import { HttpTestingController } from '@angular/common/http/testing';
import { SettingsPage, settingsChanges } from './settings-page';
import { setup, tick } from '../testing/setup';

const loaded = { server_url: '', clickhouse_addr: '', minio_addr: '', clickhouse_log_ttl: 6, enrollment_token: 'tok-0123456789abcdef' };

describe('settingsChanges', () => {
  it('sends only what changed', () => {
    expect(settingsChanges(loaded, { ...loaded })).toEqual({});
    expect(settingsChanges(loaded, { ...loaded, server_url: ' http://k:6363 ', clickhouse_log_ttl: '12' as unknown as number })).toEqual({
      server_url: 'http://k:6363',
      clickhouse_log_ttl: 12,
    });
  });
});

describe('SettingsPage', () => {
  let http: HttpTestingController;
  beforeEach(() => (http = setup()));
  afterEach(() => TestBed.resetTestingModule());

  it("fills in this page's address and shows the server's field errors", async () => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const fixture = TestBed.createComponent(SettingsPage);
    fixture.detectChanges();
    http.expectOne('/api/settings').flush(loaded);
    await tick();
    await fixture.whenStable();
    const el = fixture.nativeElement as HTMLElement;
    expect(el.textContent).not.toContain('tok-0123456789abcdef'); // hidden until asked

    const use = [...el.querySelectorAll('button')].find((b) => b.textContent!.includes("Use this page's address"))!;
    use.click();
    await fixture.whenStable();
    expect(el.querySelector<HTMLInputElement>('input[name="server_url"]')!.value).toBe(window.location.origin);

    const save = fixture.componentInstance.save();
    const put = http.expectOne('/api/settings');
    expect(put.request.method).toBe('PUT');
    expect(put.request.body).toEqual({ server_url: window.location.origin });
    put.flush(
      { error: 'bad-request', message: 'invalid body: server_url: must be an http(s) URL', issues: [{ path: 'server_url', message: 'must be an http(s) URL' }] },
      { status: 400, statusText: 'Bad Request' },
    );
    await save;
    await fixture.whenStable();
    expect(el.textContent).toContain('must be an http(s) URL');
    expect(logged).toHaveBeenCalledWith(expect.stringContaining('Saving settings failed: invalid body'), expect.anything());
  });

  it('shows the token on request', async () => {
    const fixture = TestBed.createComponent(SettingsPage);
    fixture.detectChanges();
    http.expectOne('/api/settings').flush(loaded);
    await tick();
    await fixture.whenStable();
    const el = fixture.nativeElement as HTMLElement;
    [...el.querySelectorAll('button')].find((b) => b.textContent!.trim() === 'Show')!.click();
    await tick();
    await fixture.whenStable();
    expect(el.textContent).toContain('tok-0123456789abcdef');
  });
});
