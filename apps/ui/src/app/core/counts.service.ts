import { Injectable, effect, inject, signal } from '@angular/core';
import type { AgentCounts } from '@kraken/protocol';
import { ApiService } from '../api/api.service';
import { AuthService } from './auth.service';
import { errorMessage } from './errors';

export const COUNTS_POLL_MS = 5000;

/** The agents' counts for the top bar badges, polled while someone is logged in. */
@Injectable({ providedIn: 'root' })
export class CountsService {
  private readonly api = inject(ApiService);
  private readonly auth = inject(AuthService);
  readonly counts = signal<AgentCounts | null>(null);
  /** Set while the server cannot be reached, so the user knows the data is stale. */
  readonly error = signal<string | null>(null);
  private timer?: ReturnType<typeof setInterval>;

  constructor() {
    effect(() => {
      if (this.auth.user()) this.start();
      else this.stop();
    });
  }

  async refresh(): Promise<void> {
    try {
      this.counts.set(await this.api.agentCounts());
      this.error.set(null);
    } catch (err) {
      this.error.set(errorMessage(err, 'Refreshing agent counts'));
    }
  }

  private start(): void {
    if (this.timer) return;
    void this.refresh();
    this.timer = setInterval(() => {
      if (document.visibilityState !== 'hidden') void this.refresh();
    }, COUNTS_POLL_MS);
  }

  private stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.counts.set(null);
  }
}
