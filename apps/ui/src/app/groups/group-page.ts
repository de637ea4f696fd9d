import { ChangeDetectionStrategy, Component, computed, effect, inject, input, signal, untracked } from '@angular/core';
import { FormsModule } from '@angular/forms';
import { RouterLink } from '@angular/router';
import { MatTableModule } from '@angular/material/table';
import { MatButtonModule } from '@angular/material/button';
import { MatIconModule } from '@angular/material/icon';
import { MatFormFieldModule } from '@angular/material/form-field';
import { MatSelectModule } from '@angular/material/select';
import { MatInputModule } from '@angular/material/input';
import { MatPaginatorModule, PageEvent } from '@angular/material/paginator';
import type { Agent, Group } from '@kraken/protocol';
import { ApiService } from '../api/api.service';
import { NotifyService } from '../core/notify.service';
import { errorMessage } from '../core/errors';
import { poll } from '../core/poll';
import { system } from '../core/format';
import { StatusChip } from '../shared/status-chip';

/** One group: its agents, with add and remove. */
@Component({
  selector: 'kk-group-page',
  changeDetection: ChangeDetectionStrategy.OnPush,
  imports: [FormsModule, RouterLink, MatTableModule, MatButtonModule, MatIconModule, MatFormFieldModule, MatSelectModule, MatInputModule, MatPaginatorModule, StatusChip],
  template: `
    <div class="page">
      <p class="crumbs"><a routerLink="/groups">Groups</a> ›</p>
      @if (error(); as e) {
        <div class="banner-error" role="alert">{{ e }}</div>
      }
      @if (group(); as g) {
        <div class="toolbar-row">
          <h1>Group {{ g.name }}</h1>
          @if (g.builtin) {
            <span class="chip">built-in: every authorized agent</span>
          }
          <span class="spacer"></span>
          <form class="add" (ngSubmit)="add()" aria-label="Add agents to the group">
            <mat-form-field subscriptSizing="dynamic" class="pick">
              <mat-label>Agents to add</mat-label>
              <mat-select multiple name="toAdd" [(ngModel)]="toAdd" (openedChange)="$event && loadCandidates()">
                @for (a of candidates(); track a.id) {
                  <mat-option [value]="a.id">{{ a.name }} ({{ a.address }})</mat-option>
                } @empty {
                  <mat-option disabled>no other authorized agents</mat-option>
                }
              </mat-select>
            </mat-form-field>
            <button mat-flat-button type="submit" [disabled]="!toAdd.length">Add</button>
          </form>
        </div>
        <div class="table-wrap">
          <table mat-table [dataSource]="agents()" aria-label="Agents in the group">
            <ng-container matColumnDef="name">
              <th mat-header-cell *matHeaderCellDef>Name</th>
              <td mat-cell *matCellDef="let a"><a [routerLink]="['/agents', a.id]">{{ a.name }}</a></td>
            </ng-container>
            <ng-container matColumnDef="address"><th mat-header-cell *matHeaderCellDef>Address</th><td mat-cell *matCellDef="let a" class="mono">{{ a.address }}</td></ng-container>
            <ng-container matColumnDef="system"><th mat-header-cell *matHeaderCellDef>System</th><td mat-cell *matCellDef="let a">{{ sys(a) }}</td></ng-container>
            <ng-container matColumnDef="state"><th mat-header-cell *matHeaderCellDef>State</th><td mat-cell *matCellDef="let a"><kk-status [value]="a.state" /></td></ng-container>
            <ng-container matColumnDef="actions">
              <th mat-header-cell *matHeaderCellDef><span class="sr-only">Actions</span></th>
              <td mat-cell *matCellDef="let a">
                <button mat-button type="button" (click)="removeAgent(a)" [attr.aria-label]="'Remove ' + a.name + ' from the group'">Remove</button>
              </td>
            </ng-container>
            <tr mat-header-row *matHeaderRowDef="columns"></tr>
            <tr mat-row *matRowDef="let row; columns: columns"></tr>
            <tr class="mat-row" *matNoDataRow><td class="mat-cell empty" [attr.colspan]="columns.length">No agents in this group.</td></tr>
          </table>
          <mat-paginator [length]="total()" [pageIndex]="pageIndex()" [pageSize]="pageSize" [hidePageSize]="true" (page)="paged($event)" aria-label="Group agents pages" />
        </div>
      }
    </div>
  `,
  styles: `
    .crumbs { margin: 0; }
    form.add { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
    .pick { min-width: 260px; }
    .empty { padding: 16px; }
  `,
})
export class GroupPage {
  private readonly api = inject(ApiService);
  private readonly notify = inject(NotifyService);
  readonly id = input.required<string>();
  private readonly groupId = computed(() => Number(this.id()));
  protected readonly columns = ['name', 'address', 'system', 'state', 'actions'];
  protected readonly group = signal<Group | null>(null);
  protected readonly agents = signal<Agent[]>([]);
  protected readonly total = signal(0);
  protected readonly candidates = signal<Agent[]>([]);
  protected readonly error = signal<string | null>(null);
  protected readonly pageIndex = signal(0);
  protected readonly pageSize = 50;
  protected toAdd: number[] = [];
  protected readonly sys = system;

  constructor() {
    poll(() => this.load(), 5000);
    effect(() => {
      this.groupId();
      untracked(() => void this.load());
    });
  }

  async load(): Promise<void> {
    const id = this.groupId();
    try {
      const [g, page] = await Promise.all([
        this.api.group(id),
        this.api.agents({ group: id, offset: this.pageIndex() * this.pageSize, limit: this.pageSize, sort: 'name', order: 'asc' }),
      ]);
      this.group.set(g);
      this.agents.set(page.items);
      this.total.set(page.total);
      this.error.set(null);
    } catch (err) {
      this.error.set(errorMessage(err, `Loading group ${id}`));
    }
  }

  /** Authorized agents not in the group yet (the first 500 by name). */
  async loadCandidates(): Promise<void> {
    try {
      const page = await this.api.agents({ authorized: true, limit: 500, sort: 'name', order: 'asc' });
      const id = this.groupId();
      this.candidates.set(page.items.filter((a) => !a.groups.some((g) => g.id === id)));
    } catch (err) {
      this.notify.error(err, 'Loading agents');
    }
  }

  paged(e: PageEvent): void {
    this.pageIndex.set(e.pageIndex);
    void this.load();
  }

  async add(): Promise<void> {
    const ids = this.toAdd;
    try {
      await this.api.addGroupAgents(this.groupId(), ids);
      this.notify.info(`${ids.length} agent${ids.length === 1 ? '' : 's'} added`);
      this.toAdd = [];
    } catch (err) {
      this.notify.error(err, 'Adding agents to the group');
    }
    await Promise.all([this.load(), this.loadCandidates()]);
  }

  async removeAgent(a: Agent): Promise<void> {
    await this.notify.attempt(`Removing ${a.name}`, () => this.api.removeGroupAgent(this.groupId(), a.id), `${a.name} removed from the group`);
    await this.load();
  }
}
