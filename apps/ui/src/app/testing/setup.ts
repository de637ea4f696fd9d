import { provideHttpClient, withInterceptors } from '@angular/common/http';
import { HttpTestingController, provideHttpClientTesting } from '@angular/common/http/testing';
import { provideZonelessChangeDetection } from '@angular/core';
import { TestBed } from '@angular/core/testing';
import { provideRouter } from '@angular/router';
import { authInterceptor } from '../core/auth.interceptor';

/** TestBed with the real HttpClient (and our interceptor) talking to HttpTestingController. */
export function setup(): HttpTestingController {
  TestBed.configureTestingModule({
    providers: [
      provideZonelessChangeDetection(),
      provideHttpClient(withInterceptors([authInterceptor])),
      provideHttpClientTesting(),
      provideRouter([]),
    ],
  });
  return TestBed.inject(HttpTestingController);
}

/** Lets pending timers (setTimeout 0) and promise callbacks run. */
export const tick = (ms = 0) => new Promise<void>((r) => setTimeout(r, ms));

export function agent(id: number, over: Record<string, unknown> = {}) {
  return {
    id,
    name: `agent-${id}`,
    address: `10.0.0.${id}`,
    authorized: true,
    disabled: false,
    deleted: false,
    state: 'connected',
    lastSeen: new Date().toISOString(),
    createdAt: '2026-11-30T10:00:00Z',
    hostInfo: {
      hostname: `host-${id}`,
      system: 'debian-12',
      systemType: 'linux',
      distroName: 'debian',
      distroVersion: '12',
      isolation: 'bare-metal',
      capabilities: { docker: '20.10.24' },
      cpus: 2,
      memoryMb: 4096,
      agentVersion: '0.1.0',
    },
    slots: 1,
    groups: [{ id: 1, name: 'all' }],
    currentJobs: [],
    ...over,
  };
}
