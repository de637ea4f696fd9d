import { ChangeDetectionStrategy, Component, inject, signal } from '@angular/core';
import { FormsModule } from '@angular/forms';
import { ActivatedRoute, Router } from '@angular/router';
import { MatCardModule } from '@angular/material/card';
import { MatFormFieldModule } from '@angular/material/form-field';
import { MatInputModule } from '@angular/material/input';
import { MatButtonModule } from '@angular/material/button';
import { AuthService } from '../core/auth.service';
import { errorMessage } from '../core/errors';

@Component({
  selector: 'kk-login-page',
  changeDetection: ChangeDetectionStrategy.OnPush,
  imports: [FormsModule, MatCardModule, MatFormFieldModule, MatInputModule, MatButtonModule],
  template: `
    <div class="wrap">
      <mat-card class="card">
        <mat-card-header><mat-card-title><h1>Kraken</h1></mat-card-title><mat-card-subtitle>Log in to manage agents and runs</mat-card-subtitle></mat-card-header>
        <mat-card-content>
          <form (ngSubmit)="submit()" #f="ngForm" aria-label="Log in">
            <mat-form-field appearance="outline">
              <mat-label>User name</mat-label>
              <input matInput name="username" autocomplete="username" required [(ngModel)]="username" />
            </mat-form-field>
            <mat-form-field appearance="outline">
              <mat-label>Password</mat-label>
              <input matInput type="password" name="password" autocomplete="current-password" required [(ngModel)]="password" />
            </mat-form-field>
            @if (error(); as e) {
              <div class="banner-error" role="alert">{{ e }}</div>
            }
            <button mat-flat-button type="submit" [disabled]="busy() || !f.valid">{{ busy() ? 'Logging in…' : 'Log in' }}</button>
          </form>
        </mat-card-content>
      </mat-card>
    </div>
  `,
  styles: `
    .wrap { display: flex; justify-content: center; padding: 10vh 16px; }
    .card { width: 380px; max-width: 100%; }
    h1 { margin: 0; font: var(--mat-sys-headline-medium); }
    form { display: flex; flex-direction: column; gap: 4px; margin-top: 16px; }
  `,
})
export class LoginPage {
  private readonly auth = inject(AuthService);
  private readonly router = inject(Router);
  private readonly route = inject(ActivatedRoute);
  protected username = 'admin';
  protected password = '';
  protected readonly busy = signal(false);
  protected readonly error = signal<string | null>(null);

  constructor() {
    // Already logged in (e.g. a bookmark of /login): straight on.
    void this.auth.check().then((me) => {
      if (me) void this.router.navigateByUrl(this.returnUrl());
    });
  }

  private returnUrl(): string {
    const back = this.route.snapshot.queryParamMap.get('returnUrl');
    return back && back.startsWith('/') && !back.startsWith('//') && !back.startsWith('/login') ? back : '/agents';
  }

  async submit(): Promise<void> {
    this.busy.set(true);
    this.error.set(null);
    try {
      await this.auth.login(this.username, this.password);
      await this.router.navigateByUrl(this.returnUrl());
    } catch (err) {
      this.error.set(errorMessage(err, 'Logging in'));
    } finally {
      this.busy.set(false);
    }
  }
}
