import { ChangeDetectionStrategy, Component, computed, inject, signal } from '@angular/core';
import { NavigationEnd, Router, RouterLink, RouterLinkActive, RouterOutlet } from '@angular/router';
import { MatToolbarModule } from '@angular/material/toolbar';
import { MatButtonModule } from '@angular/material/button';
import { MatMenuModule } from '@angular/material/menu';
import { MatIconModule } from '@angular/material/icon';
import { MatBadgeModule } from '@angular/material/badge';
import { AuthService } from './core/auth.service';
import { CountsService } from './core/counts.service';
import { NotifyService } from './core/notify.service';

@Component({
  selector: 'kk-root',
  changeDetection: ChangeDetectionStrategy.OnPush,
  imports: [RouterOutlet, RouterLink, RouterLinkActive, MatToolbarModule, MatButtonModule, MatMenuModule, MatIconModule, MatBadgeModule],
  template: `
    <a class="skip-link" href="#main">Skip to content</a>
    @if (auth.user(); as user) {
      <mat-toolbar class="topbar" role="navigation" aria-label="Main">
        <a routerLink="/agents" class="brand" aria-label="Kraken home">Kraken</a>
        <button
          mat-button
          [matMenuTriggerFor]="agentsMenu"
          class="nav-btn"
          [class.active]="agentsActive()"
          aria-label="Agents menu"
          [matBadge]="counts()?.discovered || null"
          [matBadgeHidden]="!counts()?.discovered"
          matBadgeColor="warn"
          matBadgeSize="small"
          [matBadgeDescription]="(counts()?.discovered ?? 0) + ' agents waiting for authorization'"
        >
          Agents
          <mat-icon iconPositionEnd aria-hidden="true">arrow_drop_down</mat-icon>
        </button>
        <mat-menu #agentsMenu="matMenu">
          <a mat-menu-item routerLink="/agents">
            <span>Agents</span>
            <span class="count" [attr.aria-label]="(counts()?.authorized ?? 0) + ' authorized agents'">{{ counts()?.authorized ?? '…' }}</span>
          </a>
          <a mat-menu-item routerLink="/groups">Groups</a>
          <a mat-menu-item routerLink="/discovered">
            <span>Discovered</span>
            <span class="count" [class.waiting]="(counts()?.discovered ?? 0) > 0" [attr.aria-label]="(counts()?.discovered ?? 0) + ' agents waiting for authorization'">{{
              counts()?.discovered ?? '…'
            }}</span>
          </a>
          <a mat-menu-item routerLink="/download">Download</a>
        </mat-menu>
        <a mat-button routerLink="/workflows" routerLinkActive="active" class="nav-btn">Workflows</a>
        <a mat-button routerLink="/runs" routerLinkActive="active" class="nav-btn">Runs</a>
        <a mat-button routerLink="/settings" routerLinkActive="active" class="nav-btn">Settings</a>
        <span class="spacer"></span>
        @if (counts(); as c) {
          <span class="summary" aria-live="polite">
            <a routerLink="/agents" class="summary-item" title="authorized agents, connected">{{ c.connected }} connected</a>
            @if (c.discovered > 0) {
              <a routerLink="/discovered" class="summary-item waiting">{{ c.discovered }} waiting</a>
            }
          </span>
        }
        <button mat-icon-button [matMenuTriggerFor]="userMenu" [attr.aria-label]="'User ' + user.username">
          <mat-icon aria-hidden="true">account_circle</mat-icon>
        </button>
        <mat-menu #userMenu="matMenu">
          <div mat-menu-item disabled>Logged in as {{ user.username }}</div>
          <button mat-menu-item (click)="logout()">Log out</button>
        </mat-menu>
      </mat-toolbar>
      @if (countsError(); as e) {
        <div class="banner-error conn" role="alert">{{ e }}</div>
      }
    }
    <main id="main" tabindex="-1">
      <router-outlet />
    </main>
  `,
  styles: `
    .topbar { position: sticky; top: 0; z-index: 10; gap: 4px; background: var(--mat-sys-primary-container); color: var(--mat-sys-on-primary-container); overflow-x: auto; }
    .brand { font: var(--mat-sys-title-large); color: inherit; text-decoration: none; margin-right: 16px; }
    .nav-btn.active { background: color-mix(in srgb, currentColor 12%, transparent); }
    .count { margin-left: 12px; padding: 0 8px; border-radius: 10px; font-size: 12px; background: var(--mat-sys-surface-container-highest); }
    .count.waiting { background: var(--mat-sys-error); color: var(--mat-sys-on-error); }
    .spacer { flex: 1 1 auto; }
    .summary { display: flex; gap: 8px; font-size: 13px; margin-right: 8px; }
    .summary-item { color: inherit; }
    .summary-item.waiting { font-weight: 500; color: var(--mat-sys-error); }
    .conn { margin: 8px 24px; }
    main:focus { outline: none; }
    .skip-link { position: absolute; left: -9999px; }
    .skip-link:focus { left: 8px; top: 8px; z-index: 100; background: white; padding: 8px; }
    @media (max-width: 700px) { .summary { display: none; } .brand { margin-right: 4px; } }
  `,
})
export class App {
  protected readonly auth = inject(AuthService);
  private readonly countsService = inject(CountsService);
  private readonly router = inject(Router);
  private readonly notify = inject(NotifyService);
  protected readonly counts = this.countsService.counts;
  protected readonly countsError = this.countsService.error;
  private readonly url = signal(this.router.url);
  protected readonly agentsActive = computed(() => /^\/(agents|groups|discovered|download)/.test(this.url()));

  constructor() {
    let previousPath: string | null = null;
    this.router.events.subscribe((ev) => {
      this.url.set(this.router.url);
      if (!(ev instanceof NavigationEnd)) return;
      // After moving to another page, put the keyboard and screen-reader focus on its content.
      const path = ev.urlAfterRedirects.split(/[?#]/)[0];
      if (previousPath !== null && path !== previousPath) setTimeout(() => document.getElementById('main')?.focus({ preventScroll: true }));
      previousPath = path;
    });
  }

  async logout(): Promise<void> {
    try {
      await this.auth.logout();
    } catch (err) {
      this.notify.error(err, 'Logging out');
    }
  }
}
