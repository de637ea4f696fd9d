import { Injectable, inject, signal } from '@angular/core';
import { Router } from '@angular/router';
import type { Me } from '@kraken/protocol';
import { ApiService } from '../api/api.service';

/** Who is logged in. `checked` turns true after the first GET /api/auth/me. */
@Injectable({ providedIn: 'root' })
export class AuthService {
  private readonly api = inject(ApiService);
  private readonly router = inject(Router);
  readonly user = signal<Me | null>(null);
  private pending?: Promise<Me | null>;

  /** Asks the server once who we are (a 401 means nobody). */
  check(): Promise<Me | null> {
    this.pending ??= this.api.me().then(
      (me) => {
        this.user.set(me);
        return me;
      },
      () => {
        this.user.set(null);
        return null;
      },
    );
    return this.pending;
  }

  async login(username: string, password: string): Promise<void> {
    const me = await this.api.login(username, password);
    this.user.set(me);
    this.pending = Promise.resolve(me);
  }

  async logout(): Promise<void> {
    try {
      await this.api.logout();
    } finally {
      this.loggedOut();
    }
  }

  /** The session is gone (logout or a 401): back to the login page. */
  loggedOut(returnUrl?: string): void {
    this.user.set(null);
    this.pending = Promise.resolve(null);
    void this.router.navigate(['/login'], returnUrl && returnUrl !== '/login' ? { queryParams: { returnUrl } } : {});
  }
}
