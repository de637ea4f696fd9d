import { TestBed } from '@angular/core/testing';
import { HttpClient } from '@angular/common/http';
import { HttpTestingController } from '@angular/common/http/testing';
import { Router } from '@angular/router';
import { firstValueFrom } from 'rxjs';
import { setup, tick } from '../testing/setup';

describe('authInterceptor', () => {
  let http: HttpTestingController;
  beforeEach(() => (http = setup()));
  afterEach(() => TestBed.resetTestingModule());

  it('marks API calls so the server sends no Basic challenge', () => {
    void firstValueFrom(TestBed.inject(HttpClient).get('/api/agents/counts'));
    const req = http.expectOne('/api/agents/counts');
    expect(req.request.headers.get('X-Requested-With')).toBe('XMLHttpRequest');
    req.flush({ authorized: 0, discovered: 0, connected: 0 });
  });

  it('sends the user to the login page when the session is gone', async () => {
    const router = TestBed.inject(Router);
    const navigate = vi.spyOn(router, 'navigate').mockResolvedValue(true);
    const call = firstValueFrom(TestBed.inject(HttpClient).get('/api/agents')).catch((e: unknown) => e);
    http.expectOne('/api/agents').flush({ error: 'unauthenticated', message: 'log in first' }, { status: 401, statusText: 'Unauthorized' });
    await call;
    await tick();
    expect(navigate).toHaveBeenCalledWith(['/login'], expect.anything());
  });
});
