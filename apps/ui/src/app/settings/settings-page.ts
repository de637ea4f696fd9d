import { ChangeDetectionStrategy, Component, inject, signal } from '@angular/core';
import { FormsModule } from '@angular/forms';
import { MatFormFieldModule } from '@angular/material/form-field';
import { MatInputModule } from '@angular/material/input';
import { MatButtonModule } from '@angular/material/button';
import { MatIconModule } from '@angular/material/icon';
import { MatCardModule } from '@angular/material/card';
import { MatDialog } from '@angular/material/dialog';
import type { Settings, UpdateSettingsBody } from '@kraken/protocol';
import { ApiService } from '../api/api.service';
import { NotifyService } from '../core/notify.service';
import { errorIssues, errorMessage } from '../core/errors';
import { confirmAction } from '../shared/confirm-dialog';

type Form = Pick<Settings, 'server_url' | 'clickhouse_addr' | 'minio_addr' | 'clickhouse_log_ttl'>;

/** The fields that differ between the loaded settings and the form. */
export function settingsChanges(loaded: Form, form: Form): UpdateSettingsBody {
  const body: UpdateSettingsBody = {};
  if (form.server_url.trim() !== loaded.server_url) body.server_url = form.server_url.trim();
  if (form.clickhouse_addr.trim() !== loaded.clickhouse_addr) body.clickhouse_addr = form.clickhouse_addr.trim();
  if (form.minio_addr.trim() !== loaded.minio_addr) body.minio_addr = form.minio_addr.trim();
  if (Number(form.clickhouse_log_ttl) !== loaded.clickhouse_log_ttl) body.clickhouse_log_ttl = Number(form.clickhouse_log_ttl);
  return body;
}

@Component({
  selector: 'kk-settings-page',
  changeDetection: ChangeDetectionStrategy.OnPush,
  imports: [FormsModule, MatFormFieldModule, MatInputModule, MatButtonModule, MatIconModule, MatCardModule],
  template: `
    <div class="page">
      <h1>Settings</h1>
      @if (error(); as e) {
        <div class="banner-error" role="alert">{{ e }}</div>
      }
      @if (loaded()) {
        <div class="grid-2">
          <mat-card appearance="outlined">
            <mat-card-header><mat-card-title><h2>Addresses</h2></mat-card-title><mat-card-subtitle>For agents that connect from a different network</mat-card-subtitle></mat-card-header>
            <mat-card-content>
              <form (ngSubmit)="save()" aria-label="Addresses and logs">
                <mat-form-field>
                  <mat-label>Kraken server URL</mat-label>
                  <input matInput name="server_url" [(ngModel)]="form.server_url" placeholder="http://kraken.example.com:6363" />
                  @if (fieldError('server_url'); as fe) { <mat-hint class="error-text">{{ fe }}</mat-hint> } @else { <mat-hint>Agents and the install script use it; empty means "this page's address".</mat-hint> }
                </mat-form-field>
                <button mat-button type="button" class="helper" (click)="usePageAddress()">Use this page's address ({{ origin }})</button>
                <mat-form-field>
                  <mat-label>ClickHouse (log intake) address</mat-label>
                  <input matInput name="clickhouse_addr" [(ngModel)]="form.clickhouse_addr" placeholder="host:9001" />
                  @if (fieldError('clickhouse_addr'); as fe) { <mat-hint class="error-text">{{ fe }}</mat-hint> } @else { <mat-hint>Empty: agents send logs to this server.</mat-hint> }
                </mat-form-field>
                <mat-form-field>
                  <mat-label>MinIO / S3 address</mat-label>
                  <input matInput name="minio_addr" [(ngModel)]="form.minio_addr" placeholder="host:9999" />
                  @if (fieldError('minio_addr'); as fe) { <mat-hint class="error-text">{{ fe }}</mat-hint> }
                </mat-form-field>
                <mat-form-field>
                  <mat-label>Logs TTL in months</mat-label>
                  <input matInput type="number" min="1" max="120" name="clickhouse_log_ttl" [(ngModel)]="form.clickhouse_log_ttl" required />
                  @if (fieldError('clickhouse_log_ttl'); as fe) { <mat-hint class="error-text">{{ fe }}</mat-hint> }
                </mat-form-field>
                <div class="actions">
                  <button mat-flat-button type="submit" [disabled]="busy()">Save</button>
                  <button mat-button type="button" (click)="reset()">Revert</button>
                </div>
              </form>
            </mat-card-content>
          </mat-card>
          <mat-card appearance="outlined">
            <mat-card-header><mat-card-title><h2>Enrollment token</h2></mat-card-title><mat-card-subtitle>Agents started with this token are authorized at once</mat-card-subtitle></mat-card-header>
            <mat-card-content>
              <div class="token">
                <code aria-label="Enrollment token">{{ showToken() ? token() : '•'.repeat(24) }}</code>
                <button mat-button type="button" (click)="showToken.set(!showToken())" [attr.aria-pressed]="showToken()">{{ showToken() ? 'Hide' : 'Show' }}</button>
              </div>
              <button mat-stroked-button type="button" (click)="regenerate()" [disabled]="busy()">Regenerate</button>
            </mat-card-content>
          </mat-card>
        </div>
      } @else if (!error()) {
        <p class="muted">Loading…</p>
      }
    </div>
  `,
  styles: `
    form { display: flex; flex-direction: column; gap: 8px; max-width: 560px; }
    .helper { align-self: flex-start; margin-top: -4px; }
    .actions { display: flex; gap: 8px; }
    .token { display: flex; align-items: center; gap: 8px; margin-bottom: 12px; flex-wrap: wrap; }
    .token code { word-break: break-all; padding: 4px 8px; background: var(--mat-sys-surface-container); border-radius: 4px; }
  `,
})
export class SettingsPage {
  private readonly api = inject(ApiService);
  private readonly notify = inject(NotifyService);
  private readonly dialog = inject(MatDialog);
  protected readonly origin = window.location.origin;
  protected readonly loaded = signal<Settings | null>(null);
  protected readonly error = signal<string | null>(null);
  protected readonly busy = signal(false);
  protected readonly showToken = signal(false);
  protected readonly token = signal('');
  protected readonly fieldErrors = signal<Record<string, string>>({});
  protected form: Form = { server_url: '', clickhouse_addr: '', minio_addr: '', clickhouse_log_ttl: 6 };

  constructor() {
    void this.load();
  }

  fieldError(name: string): string | undefined {
    return this.fieldErrors()[name];
  }

  async load(): Promise<void> {
    try {
      const s = await this.api.settings();
      this.apply(s);
      this.error.set(null);
    } catch (err) {
      this.error.set(errorMessage(err, 'Loading settings'));
    }
  }

  private apply(s: Settings): void {
    this.form = { server_url: s.server_url, clickhouse_addr: s.clickhouse_addr, minio_addr: s.minio_addr, clickhouse_log_ttl: s.clickhouse_log_ttl };
    this.token.set(s.enrollment_token);
    this.loaded.set(s);
  }

  reset(): void {
    const s = this.loaded();
    if (s) this.apply({ ...s });
    this.fieldErrors.set({});
  }

  usePageAddress(): void {
    this.form = { ...this.form, server_url: this.origin };
    this.loaded.update((s) => (s ? { ...s } : s)); // re-render
  }

  async save(): Promise<void> {
    const s = this.loaded();
    if (!s) return;
    const body = settingsChanges(s, this.form);
    if (!Object.keys(body).length) {
      this.notify.info('Nothing changed');
      return;
    }
    this.busy.set(true);
    try {
      this.apply(await this.api.updateSettings(body));
      this.fieldErrors.set({});
      this.notify.info('Settings saved');
    } catch (err) {
      const issues = errorIssues(err);
      this.fieldErrors.set(Object.fromEntries(issues.map((i) => [i.path, i.message])));
      this.notify.error(err, 'Saving settings');
    } finally {
      this.busy.set(false);
    }
  }

  async regenerate(): Promise<void> {
    const ok = await confirmAction(this.dialog, {
      title: 'Regenerate the enrollment token?',
      message: 'Agents that still use the old token will wait on the Discovered page until you authorize them.',
      confirm: 'Regenerate',
    });
    if (!ok) return;
    this.busy.set(true);
    try {
      const s = await this.api.regenerateToken();
      this.token.set(s.enrollment_token);
      this.showToken.set(true);
      this.notify.info('New enrollment token generated');
    } catch (err) {
      this.notify.error(err, 'Regenerating the token');
    } finally {
      this.busy.set(false);
    }
  }
}
