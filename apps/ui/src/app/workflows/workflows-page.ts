import { ChangeDetectionStrategy, Component, inject, signal } from '@angular/core';
import { DatePipe, JsonPipe } from '@angular/common';
import { Router, RouterLink } from '@angular/router';
import { MatTableModule } from '@angular/material/table';
import { MatButtonModule } from '@angular/material/button';
import type { WorkflowView } from '@kraken/protocol';
import { ApiService } from '../api/api.service';
import { NotifyService } from '../core/notify.service';
import { errorMessage } from '../core/errors';
import { poll } from '../core/poll';

export const WORKFLOWS_POLL_MS = 5000;

/** Saved workflow schemas: what each runs, and a button to start a run of one. */
@Component({
  selector: 'kk-workflows-page',
  changeDetection: ChangeDetectionStrategy.OnPush,
  imports: [DatePipe, JsonPipe, RouterLink, MatTableModule, MatButtonModule],
  template: `
    <div class="page">
      <h1>Workflows</h1>
      <p class="muted">Saved workflow schemas. Save one from the <a routerLink="/runs">Runs</a> page ("Save as workflow"); start a run of it here.</p>
      @if (error(); as e) {
        <div class="banner-error" role="alert">{{ e }}</div>
      }
      <div class="table-wrap">
        <table mat-table [dataSource]="workflows()" aria-label="Workflows" multiTemplateDataRows>
          <ng-container matColumnDef="name"><th mat-header-cell *matHeaderCellDef>Name</th><td mat-cell *matCellDef="let w">{{ w.name }}</td></ng-container>
          <ng-container matColumnDef="jobs">
            <th mat-header-cell *matHeaderCellDef>Jobs</th>
            <td mat-cell *matCellDef="let w">{{ jobsOf(w) }}</td>
          </ng-container>
          <ng-container matColumnDef="groups">
            <th mat-header-cell *matHeaderCellDef>Agent groups</th>
            <td mat-cell *matCellDef="let w">{{ groupsOf(w) }}</td>
          </ng-container>
          <ng-container matColumnDef="runs">
            <th mat-header-cell *matHeaderCellDef>Runs</th>
            <td mat-cell *matCellDef="let w">
              <a routerLink="/runs" [queryParams]="{ workflow: w.id }" [attr.aria-label]="w.runsCount + ' runs of ' + w.name">{{ w.runsCount }}</a>
            </td>
          </ng-container>
          <ng-container matColumnDef="created"><th mat-header-cell *matHeaderCellDef>Saved</th><td mat-cell *matCellDef="let w">{{ w.createdAt | date: 'medium' }}</td></ng-container>
          <ng-container matColumnDef="actions">
            <th mat-header-cell *matHeaderCellDef><span class="sr-only">Actions</span></th>
            <td mat-cell *matCellDef="let w" class="actions">
              <button mat-button type="button" (click)="toggle(w.id)" [attr.aria-expanded]="shown() === w.id" [attr.aria-controls]="'schema-' + w.id">
                {{ shown() === w.id ? 'Hide schema' : 'Schema' }}
              </button>
              <button mat-flat-button type="button" (click)="run(w)" [disabled]="starting() === w.id" [attr.aria-label]="'Run workflow ' + w.name">
                {{ starting() === w.id ? 'Starting…' : 'Run' }}
              </button>
            </td>
          </ng-container>
          <ng-container matColumnDef="schema">
            <td mat-cell *matCellDef="let w" [attr.colspan]="columns.length" class="schema-cell">
              @if (shown() === w.id) {
                <pre class="mono schema" [id]="'schema-' + w.id" [attr.aria-label]="'Schema of ' + w.name">{{ w.schema | json }}</pre>
              }
            </td>
          </ng-container>
          <tr mat-header-row *matHeaderRowDef="columns"></tr>
          <tr mat-row *matRowDef="let row; columns: columns"></tr>
          <tr mat-row *matRowDef="let row; columns: ['schema']" class="schema-row" [class.open]="shown() === row.id"></tr>
          <tr class="mat-row" *matNoDataRow>
            <td class="mat-cell empty" [attr.colspan]="columns.length">{{ loading() ? 'Loading…' : 'No saved workflows yet.' }}</td>
          </tr>
        </table>
      </div>
    </div>
  `,
  styles: `
    .actions { white-space: nowrap; text-align: right; }
    .actions button + button { margin-left: 8px; }
    .schema-row:not(.open) { height: 0; }
    .schema-row:not(.open) td { border-bottom-width: 0; padding: 0; }
    .schema { margin: 0 0 12px; padding: 8px; max-height: 320px; overflow: auto; background: var(--mat-sys-surface-container-low); border-radius: 6px; }
    .empty { padding: 16px; }
  `,
})
export class WorkflowsPage {
  private readonly api = inject(ApiService);
  private readonly notify = inject(NotifyService);
  private readonly router = inject(Router);
  protected readonly columns = ['name', 'jobs', 'groups', 'runs', 'created', 'actions'];
  protected readonly workflows = signal<WorkflowView[]>([]);
  protected readonly loading = signal(true);
  protected readonly error = signal<string | null>(null);
  protected readonly shown = signal<number | null>(null);
  protected readonly starting = signal<number | null>(null);

  constructor() {
    poll(() => this.load(), WORKFLOWS_POLL_MS);
  }

  async load(): Promise<void> {
    try {
      this.workflows.set((await this.api.workflows()).items);
      this.error.set(null);
    } catch (err) {
      this.error.set(errorMessage(err, 'Loading workflows'));
    } finally {
      this.loading.set(false);
    }
  }

  protected jobsOf(w: WorkflowView): string {
    return w.schema.jobs.map((j) => j.name).join(', ');
  }

  protected groupsOf(w: WorkflowView): string {
    return [...new Set(w.schema.jobs.flatMap((j) => j.environments.map((e) => e.agents_group)))].join(', ');
  }

  toggle(id: number): void {
    this.shown.set(this.shown() === id ? null : id);
  }

  async run(w: WorkflowView): Promise<void> {
    this.starting.set(w.id);
    try {
      const run = await this.api.runWorkflow(w.id);
      this.notify.info(`Run ${run.id} of '${w.name}' started`);
      await this.router.navigate(['/runs', run.id]);
    } catch (err) {
      this.notify.error(err, `Starting a run of '${w.name}'`);
    } finally {
      this.starting.set(null);
    }
  }
}
