import { ChangeDetectionStrategy, Component, computed, inject, signal } from '@angular/core';
import { RouterLink } from '@angular/router';
import { MatTableModule } from '@angular/material/table';
import { MatCheckboxModule } from '@angular/material/checkbox';
import { MatButtonModule } from '@angular/material/button';
import { MatIconModule } from '@angular/material/icon';
import { MatPaginatorModule, PageEvent } from '@angular/material/paginator';
import type { Agent } from '@kraken/protocol';
import { ApiService } from '../api/api.service';
import { NotifyService } from '../core/notify.service';
import { errorMessage } from '../core/errors';
import { poll } from '../core/poll';
import { system, timeAgo } from '../core/format';
import { CountsService } from '../core/counts.service';
import { StatusChip } from '../shared/status-chip';

/** Agents waiting for authorization; check some and press Authorize. */
@Component({
  selector: 'kk-discovered-page',
  changeDetection: ChangeDetectionStrategy.OnPush,
  imports: [RouterLink, MatTableModule, MatCheckboxModule, MatButtonModule, MatIconModule, MatPaginatorModule, StatusChip],
  template: `
    <div class="page">
      <div class="toolbar-row">
        <h1>Discovered agents</h1>
        <span class="spacer"></span>
        <button mat-stroked-button type="button" (click)="load()"><mat-icon aria-hidden="true">refresh</mat-icon> Refresh</button>
        <button mat-flat-button type="button" [disabled]="!selected().size || busy()" (click)="authorize()">
          Authorize{{ selected().size ? ' (' + selected().size + ')' : '' }}
        </button>
      </div>
      <p class="muted">
        Agents that connected but are not authorized yet get no jobs. Authorized agents move to the Agents page, in group <strong>all</strong>.
      </p>
      @if (error(); as e) {
        <div class="banner-error" role="alert">{{ e }}</div>
      }
      <div class="table-wrap">
        <table mat-table [dataSource]="agents()" aria-label="Discovered agents">
          <ng-container matColumnDef="select">
            <th mat-header-cell *matHeaderCellDef>
              <mat-checkbox [checked]="allSelected()" [indeterminate]="selected().size > 0 && !allSelected()" (change)="toggleAll($event.checked)" aria-label="Select all" />
            </th>
            <td mat-cell *matCellDef="let a">
              <mat-checkbox [checked]="selected().has(a.id)" (change)="toggle(a.id, $event.checked)" [aria-label]="'Select agent ' + a.name" />
            </td>
          </ng-container>
          <ng-container matColumnDef="id"><th mat-header-cell *matHeaderCellDef>ID</th><td mat-cell *matCellDef="let a">{{ a.id }}</td></ng-container>
          <ng-container matColumnDef="name">
            <th mat-header-cell *matHeaderCellDef>Name</th>
            <td mat-cell *matCellDef="let a"><a [routerLink]="['/agents', a.id]">{{ a.name }}</a></td>
          </ng-container>
          <ng-container matColumnDef="address"><th mat-header-cell *matHeaderCellDef>Address</th><td mat-cell *matCellDef="let a" class="mono">{{ a.address }}</td></ng-container>
          <ng-container matColumnDef="system"><th mat-header-cell *matHeaderCellDef>System</th><td mat-cell *matCellDef="let a">{{ sys(a) }}</td></ng-container>
          <ng-container matColumnDef="state"><th mat-header-cell *matHeaderCellDef>State</th><td mat-cell *matCellDef="let a"><kk-status [value]="a.state" /></td></ng-container>
          <ng-container matColumnDef="lastSeen"><th mat-header-cell *matHeaderCellDef>Last seen</th><td mat-cell *matCellDef="let a">{{ ago(a.lastSeen) }}</td></ng-container>
          <tr mat-header-row *matHeaderRowDef="columns"></tr>
          <tr mat-row *matRowDef="let row; columns: columns" [class.sel]="selected().has(row.id)"></tr>
          <tr class="mat-row" *matNoDataRow><td class="mat-cell empty" [attr.colspan]="columns.length">{{ loading() ? 'Loading…' : 'No agents are waiting for authorization.' }}</td></tr>
        </table>
        <mat-paginator [length]="total()" [pageIndex]="pageIndex()" [pageSize]="pageSize" [hidePageSize]="true" (page)="paged($event)" aria-label="Discovered agents pages" />
      </div>
    </div>
  `,
  styles: `
    .empty { padding: 16px; }
    tr.sel { background: var(--mat-sys-secondary-container); }
  `,
})
export class DiscoveredPage {
  private readonly api = inject(ApiService);
  private readonly notify = inject(NotifyService);
  private readonly counts = inject(CountsService);
  protected readonly columns = ['select', 'id', 'name', 'address', 'system', 'state', 'lastSeen'];
  protected readonly agents = signal<Agent[]>([]);
  protected readonly total = signal(0);
  protected readonly selected = signal<ReadonlySet<number>>(new Set());
  protected readonly loading = signal(true);
  protected readonly busy = signal(false);
  protected readonly error = signal<string | null>(null);
  protected readonly pageIndex = signal(0);
  protected readonly pageSize = 50;
  protected readonly allSelected = computed(() => this.agents().length > 0 && this.agents().every((a) => this.selected().has(a.id)));
  protected readonly sys = system;
  protected readonly ago = (iso: string | null) => timeAgo(iso);

  constructor() {
    poll(() => this.load(), 5000);
  }

  async load(): Promise<void> {
    try {
      const page = await this.api.agents({ authorized: false, sort: 'lastSeen', order: 'desc', offset: this.pageIndex() * this.pageSize, limit: this.pageSize });
      this.agents.set(page.items);
      this.total.set(page.total);
      // Forget selections of agents that left the list.
      const present = new Set(page.items.map((a) => a.id));
      this.selected.update((s) => new Set([...s].filter((id) => present.has(id))));
      this.error.set(null);
    } catch (err) {
      this.error.set(errorMessage(err, 'Loading discovered agents'));
    } finally {
      this.loading.set(false);
    }
  }

  paged(e: PageEvent): void {
    this.pageIndex.set(e.pageIndex);
    void this.load();
  }

  toggle(id: number, on: boolean): void {
    this.selected.update((s) => {
      const n = new Set(s);
      if (on) n.add(id);
      else n.delete(id);
      return n;
    });
  }

  toggleAll(on: boolean): void {
    this.selected.set(on ? new Set(this.agents().map((a) => a.id)) : new Set());
  }

  async authorize(): Promise<void> {
    const ids = [...this.selected()];
    this.busy.set(true);
    try {
      await this.api.authorizeAgents(ids);
      this.notify.info(`${ids.length} agent${ids.length === 1 ? '' : 's'} authorized; see them on the Agents page`);
      this.selected.set(new Set());
    } catch (err) {
      this.notify.error(err, 'Authorizing agents');
    } finally {
      this.busy.set(false);
    }
    await this.load();
    void this.counts.refresh();
  }
}
