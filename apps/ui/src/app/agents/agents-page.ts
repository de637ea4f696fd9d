import { ChangeDetectionStrategy, Component, inject, signal } from '@angular/core';
import { FormsModule } from '@angular/forms';
import { ActivatedRoute, Router, RouterLink } from '@angular/router';
import { MatTableModule } from '@angular/material/table';
import { MatPaginatorModule, PageEvent } from '@angular/material/paginator';
import { MatSortModule, Sort } from '@angular/material/sort';
import { MatSlideToggleModule } from '@angular/material/slide-toggle';
import { MatFormFieldModule } from '@angular/material/form-field';
import { MatInputModule } from '@angular/material/input';
import { MatSelectModule } from '@angular/material/select';
import { MatButtonModule } from '@angular/material/button';
import { MatIconModule } from '@angular/material/icon';
import { MatDialog } from '@angular/material/dialog';
import { MatProgressBarModule } from '@angular/material/progress-bar';
import type { Agent, Group } from '@kraken/protocol';
import { ApiService, type AgentListQuery } from '../api/api.service';
import { NotifyService } from '../core/notify.service';
import { errorMessage } from '../core/errors';
import { poll } from '../core/poll';
import { capabilities, memory, system, timeAgo } from '../core/format';
import { CountsService } from '../core/counts.service';
import { StatusChip } from '../shared/status-chip';
import { confirmAction } from '../shared/confirm-dialog';

export const AGENTS_POLL_MS = 5000;

/** Authorized agents, paged, sorted and filtered by the server (so 10,000 agents cost one page). */
@Component({
  selector: 'kk-agents-page',
  changeDetection: ChangeDetectionStrategy.OnPush,
  imports: [
    FormsModule,
    RouterLink,
    MatTableModule,
    MatPaginatorModule,
    MatSortModule,
    MatSlideToggleModule,
    MatFormFieldModule,
    MatInputModule,
    MatSelectModule,
    MatButtonModule,
    MatIconModule,
    MatProgressBarModule,
    StatusChip,
  ],
  template: `
    <div class="page">
      <div class="toolbar-row">
        <h1>Agents</h1>
        <span class="spacer"></span>
        <mat-form-field subscriptSizing="dynamic">
          <mat-label>Search agents</mat-label>
          <input matInput placeholder="name, address or system" [ngModel]="q()" (ngModelChange)="search($event)" name="q" />
        </mat-form-field>
        <mat-form-field subscriptSizing="dynamic" class="narrow">
          <mat-label>State</mat-label>
          <mat-select [ngModel]="state()" (ngModelChange)="state.set($event); first()" name="state">
            <mat-option value="">any</mat-option>
            <mat-option value="connected">connected</mat-option>
            <mat-option value="offline">offline</mat-option>
          </mat-select>
        </mat-form-field>
        <mat-form-field subscriptSizing="dynamic" class="narrow">
          <mat-label>Group</mat-label>
          <mat-select [ngModel]="group()" (ngModelChange)="group.set($event); first()" name="group">
            <mat-option [value]="0">any</mat-option>
            @for (g of groups(); track g.id) {
              <mat-option [value]="g.id">{{ g.name }}</mat-option>
            }
          </mat-select>
        </mat-form-field>
        <button mat-stroked-button type="button" (click)="load()"><mat-icon aria-hidden="true">refresh</mat-icon> Refresh</button>
      </div>
      @if (error(); as e) {
        <div class="banner-error" role="alert">{{ e }}</div>
      }
      <div class="table-wrap">
        @if (loading()) {
          <mat-progress-bar mode="indeterminate" aria-label="Loading agents" />
        }
        <table mat-table [dataSource]="agents()" matSort [matSortActive]="sort()" [matSortDirection]="order()" (matSortChange)="sorted($event)" aria-label="Agents">
          <ng-container matColumnDef="id">
            <th mat-header-cell *matHeaderCellDef mat-sort-header>ID</th>
            <td mat-cell *matCellDef="let a">{{ a.id }}</td>
          </ng-container>
          <ng-container matColumnDef="name">
            <th mat-header-cell *matHeaderCellDef mat-sort-header>Name</th>
            <td mat-cell *matCellDef="let a"><a [routerLink]="['/agents', a.id]">{{ a.name }}</a></td>
          </ng-container>
          <ng-container matColumnDef="address">
            <th mat-header-cell *matHeaderCellDef mat-sort-header>Address</th>
            <td mat-cell *matCellDef="let a"><a [routerLink]="['/agents', a.id]" class="mono">{{ a.address }}</a></td>
          </ng-container>
          <ng-container matColumnDef="system">
            <th mat-header-cell *matHeaderCellDef>System</th>
            <td mat-cell *matCellDef="let a">{{ sys(a) }}</td>
          </ng-container>
          <ng-container matColumnDef="isolation">
            <th mat-header-cell *matHeaderCellDef>Isolation</th>
            <td mat-cell *matCellDef="let a">{{ a.hostInfo?.isolation ?? '—' }}</td>
          </ng-container>
          <ng-container matColumnDef="capabilities">
            <th mat-header-cell *matHeaderCellDef>Capabilities</th>
            <td mat-cell *matCellDef="let a">{{ caps(a) }}</td>
          </ng-container>
          <ng-container matColumnDef="resources">
            <th mat-header-cell *matHeaderCellDef>CPUs / memory</th>
            <td mat-cell *matCellDef="let a">{{ a.hostInfo ? a.hostInfo.cpus + ' / ' + mem(a.hostInfo.memoryMb) : '—' }}</td>
          </ng-container>
          <ng-container matColumnDef="state">
            <th mat-header-cell *matHeaderCellDef mat-sort-header="lastSeen">State / last seen</th>
            <td mat-cell *matCellDef="let a"><kk-status [value]="a.state" /> <span class="muted small">{{ ago(a.lastSeen) }}</span></td>
          </ng-container>
          <ng-container matColumnDef="enabled">
            <th mat-header-cell *matHeaderCellDef>Enabled</th>
            <td mat-cell *matCellDef="let a">
              <mat-slide-toggle [checked]="!a.disabled" (change)="setEnabled(a, $event.checked)" [aria-label]="'Agent ' + a.name + ' enabled'" />
            </td>
          </ng-container>
          <ng-container matColumnDef="groups">
            <th mat-header-cell *matHeaderCellDef>Groups</th>
            <td mat-cell *matCellDef="let a">
              @for (g of a.groups; track g.id) {
                <a class="chip" [routerLink]="['/groups', g.id]">{{ g.name }}</a>
              }
            </td>
          </ng-container>
          <ng-container matColumnDef="job">
            <th mat-header-cell *matHeaderCellDef>Current job</th>
            <td mat-cell *matCellDef="let a">
              @for (j of a.currentJobs; track j.id) {
                <a [routerLink]="['/runs', j.runId]" [fragment]="'job-' + j.id">{{ j.name }}</a>
              } @empty {
                <span class="muted">idle</span>
              }
            </td>
          </ng-container>
          <ng-container matColumnDef="actions">
            <th mat-header-cell *matHeaderCellDef><span class="sr-only">Actions</span></th>
            <td mat-cell *matCellDef="let a">
              <button mat-icon-button type="button" (click)="remove(a)" [attr.aria-label]="'Delete agent ' + a.name"><mat-icon aria-hidden="true">delete</mat-icon></button>
            </td>
          </ng-container>
          <tr mat-header-row *matHeaderRowDef="columns; sticky: true"></tr>
          <tr mat-row *matRowDef="let row; columns: columns"></tr>
          <tr class="mat-row" *matNoDataRow>
            <td class="mat-cell empty" [attr.colspan]="columns.length">
              {{ loading() ? 'Loading…' : 'No authorized agents' + (q() || state() || group() ? ' match the filter.' : ' yet. New agents wait on the Discovered page.') }}
            </td>
          </tr>
        </table>
        <mat-paginator [length]="total()" [pageIndex]="pageIndex()" [pageSize]="pageSize()" [pageSizeOptions]="[10, 30, 100]" [showFirstLastButtons]="true" (page)="paged($event)" aria-label="Agents pages" />
      </div>
    </div>
  `,
  styles: `
    .narrow { width: 150px; }
    .small { font-size: 12px; }
    .empty { padding: 16px; }
    td.mat-mdc-cell, th.mat-mdc-header-cell { padding: 0 8px; }
  `,
})
export class AgentsPage {
  private readonly api = inject(ApiService);
  private readonly notify = inject(NotifyService);
  private readonly dialog = inject(MatDialog);
  private readonly counts = inject(CountsService);
  private readonly router = inject(Router);
  private readonly route = inject(ActivatedRoute);

  protected readonly columns = ['id', 'name', 'address', 'system', 'isolation', 'capabilities', 'resources', 'state', 'enabled', 'groups', 'job', 'actions'];
  protected readonly agents = signal<Agent[]>([]);
  protected readonly total = signal(0);
  protected readonly groups = signal<Group[]>([]);
  protected readonly loading = signal(true);
  protected readonly error = signal<string | null>(null);
  protected readonly q = signal('');
  protected readonly state = signal<'' | 'connected' | 'offline'>('');
  protected readonly group = signal(0);
  protected readonly sort = signal('id');
  protected readonly order = signal<'asc' | 'desc'>('asc');
  protected readonly pageIndex = signal(0);
  protected readonly pageSize = signal(30);
  private searchTimer?: ReturnType<typeof setTimeout>;
  private seq = 0;

  protected readonly sys = system;
  protected readonly caps = capabilities;
  protected readonly mem = memory;
  protected readonly ago = (iso: string | null) => timeAgo(iso);

  constructor() {
    // The view (filter, sort, page) lives in the URL, so reloads, links and Back keep it.
    const p = this.route.snapshot.queryParamMap;
    this.q.set(p.get('q') ?? '');
    const state = p.get('state');
    if (state === 'connected' || state === 'offline') this.state.set(state);
    this.group.set(Number(p.get('group')) || 0);
    const sort = p.get('sort');
    if (sort && ['id', 'name', 'address', 'lastSeen', 'createdAt', 'state'].includes(sort)) this.sort.set(sort);
    if (p.get('order') === 'desc') this.order.set('desc');
    this.pageIndex.set(Math.max(0, Number(p.get('page')) || 0));
    const size = Number(p.get('size'));
    if ([10, 30, 100].includes(size)) this.pageSize.set(size);
    poll(() => this.load(), AGENTS_POLL_MS);
    this.api.groups().then(
      (g) => this.groups.set(g.items),
      (err) => this.notify.error(err, 'Loading groups'),
    );
  }

  /** The query for the current page, filter and sort. */
  query(): AgentListQuery {
    return {
      authorized: true,
      q: this.q().trim() || undefined,
      state: this.state() || undefined,
      group: this.group() || undefined,
      offset: this.pageIndex() * this.pageSize(),
      limit: this.pageSize(),
      sort: this.sort(),
      order: this.order(),
    };
  }

  /** Puts the current view into the URL (without a new history entry). */
  private remember(): void {
    const queryParams = {
      q: this.q().trim() || null,
      state: this.state() || null,
      group: this.group() || null,
      sort: this.sort() === 'id' ? null : this.sort(),
      order: this.order() === 'asc' ? null : this.order(),
      page: this.pageIndex() || null,
      size: this.pageSize() === 30 ? null : this.pageSize(),
    };
    void this.router.navigate([], { relativeTo: this.route, queryParams, replaceUrl: true });
  }

  async load(): Promise<void> {
    const mine = ++this.seq;
    try {
      const page = await this.api.agents(this.query());
      if (mine !== this.seq) return; // a newer request is on its way
      this.agents.set(page.items);
      this.total.set(page.total);
      this.error.set(null);
    } catch (err) {
      if (mine === this.seq) this.error.set(errorMessage(err, 'Loading agents'));
    } finally {
      if (mine === this.seq) this.loading.set(false);
    }
  }

  search(value: string): void {
    this.q.set(value);
    clearTimeout(this.searchTimer);
    this.searchTimer = setTimeout(() => this.first(), 300);
  }

  first(): void {
    this.pageIndex.set(0);
    this.remember();
    void this.load();
  }

  sorted(s: Sort): void {
    this.sort.set(s.direction ? s.active : 'id');
    this.order.set(s.direction || 'asc');
    this.first();
  }

  paged(e: PageEvent): void {
    this.pageIndex.set(e.pageIndex);
    this.pageSize.set(e.pageSize);
    this.remember();
    void this.load();
  }

  async setEnabled(agent: Agent, enabled: boolean): Promise<void> {
    await this.notify.attempt(`${enabled ? 'Enabling' : 'Disabling'} agent ${agent.name}`, () => this.api.updateAgent(agent.id, { disabled: !enabled }), `Agent ${agent.name} ${enabled ? 'enabled' : 'disabled'}`);
    await this.load();
  }

  async remove(agent: Agent): Promise<void> {
    const ok = await confirmAction(this.dialog, {
      title: `Delete agent ${agent.name}?`,
      message: `Agent ${agent.name} (${agent.address}) will be removed from the list and get no more jobs. If it connects again it shows up on the Discovered page.`,
      confirm: 'Delete',
    });
    if (!ok) return;
    await this.notify.attempt(`Deleting agent ${agent.name}`, () => this.api.deleteAgent(agent.id), `Agent ${agent.name} deleted`);
    await this.load();
    void this.counts.refresh();
  }
}
