import { ChangeDetectionStrategy, Component, effect, inject, input, signal, untracked } from '@angular/core';
import { FormsModule } from '@angular/forms';
import { DatePipe } from '@angular/common';
import { Router, RouterLink } from '@angular/router';
import { MatTableModule } from '@angular/material/table';
import { MatButtonModule } from '@angular/material/button';
import { MatFormFieldModule } from '@angular/material/form-field';
import { MatInputModule } from '@angular/material/input';
import { MatPaginatorModule, PageEvent } from '@angular/material/paginator';
import { MatCardModule } from '@angular/material/card';
import type { RunView } from '@kraken/protocol';
import { ApiService } from '../api/api.service';
import { NotifyService } from '../core/notify.service';
import { errorIssues, errorMessage } from '../core/errors';
import { poll } from '../core/poll';
import { jobDuration } from '../core/format';
import { StatusChip } from '../shared/status-chip';
import { EXAMPLE_SCHEMA, checkSchema, type SchemaProblem } from './schema-check';

export const RUNS_POLL_MS = 3000;

@Component({
  selector: 'kk-runs-page',
  changeDetection: ChangeDetectionStrategy.OnPush,
  imports: [FormsModule, DatePipe, RouterLink, MatTableModule, MatButtonModule, MatFormFieldModule, MatInputModule, MatPaginatorModule, MatCardModule, StatusChip],
  template: `
    <div class="page">
      <h1>Runs</h1>
      <mat-card appearance="outlined" class="submit">
        <mat-card-header><mat-card-title><h2>Run a workflow schema</h2></mat-card-title><mat-card-subtitle>YAML or JSON; each job runs on an agent of its <code>agents_group</code></mat-card-subtitle></mat-card-header>
        <mat-card-content>
          <form (ngSubmit)="submit()" aria-label="Run a workflow schema">
            <label for="schema" class="sr-only">Workflow schema</label>
            <textarea
              id="schema"
              name="schema"
              class="editor mono"
              spellcheck="false"
              rows="14"
              [(ngModel)]="schema"
              (ngModelChange)="edited()"
              [attr.aria-invalid]="problems().length > 0"
              aria-describedby="schema-problems"
            ></textarea>
            <div id="schema-problems" aria-live="polite">
              @if (problems().length) {
                <div class="banner-error" role="alert">
                  <strong>{{ problemsFrom() === 'server' ? 'The server rejected the schema:' : 'The schema has problems:' }}</strong>
                  <ul class="problems">
                    @for (p of problems(); track $index) {
                      <li><code>{{ p.path || '(schema)' }}</code>: {{ p.message }}</li>
                    }
                  </ul>
                </div>
              } @else if (schema.trim()) {
                <p class="muted ok">The schema is valid.</p>
              }
            </div>
            <div class="actions">
              <button mat-flat-button type="submit" [disabled]="busy() || problems().length > 0">{{ busy() ? 'Submitting…' : 'Run' }}</button>
              <button mat-button type="button" (click)="schema = example; edited()">Example</button>
              <span class="save">
                <mat-form-field subscriptSizing="dynamic" class="name">
                  <mat-label>Workflow name</mat-label>
                  <input matInput name="workflowName" [(ngModel)]="workflowName" autocomplete="off" maxlength="200" (keydown.enter)="$event.preventDefault(); save()" />
                </mat-form-field>
                <button mat-stroked-button type="button" (click)="save()" [disabled]="busy() || problems().length > 0 || !workflowName.trim()">Save as workflow</button>
              </span>
            </div>
          </form>
        </mat-card-content>
      </mat-card>

      <h2>Recent runs</h2>
      @if (workflowId(); as wf) {
        <p class="filter" role="status">
          Only the runs of workflow {{ runs()[0]?.name ?? '#' + wf }}. <a routerLink="/runs">Show all runs</a>
        </p>
      }
      @if (error(); as e) {
        <div class="banner-error" role="alert">{{ e }}</div>
      }
      <div class="table-wrap">
        <table mat-table [dataSource]="runs()" aria-label="Runs">
          <ng-container matColumnDef="id"><th mat-header-cell *matHeaderCellDef>ID</th><td mat-cell *matCellDef="let r"><a [routerLink]="['/runs', r.id]">{{ r.id }}</a></td></ng-container>
          <ng-container matColumnDef="name"><th mat-header-cell *matHeaderCellDef>Name</th><td mat-cell *matCellDef="let r"><a [routerLink]="['/runs', r.id]">{{ r.name }}</a></td></ng-container>
          <ng-container matColumnDef="status"><th mat-header-cell *matHeaderCellDef>Status</th><td mat-cell *matCellDef="let r"><kk-status [value]="r.status ?? r.state" /></td></ng-container>
          <ng-container matColumnDef="jobs"><th mat-header-cell *matHeaderCellDef>Jobs done</th><td mat-cell *matCellDef="let r">{{ r.jobsCompleted }} / {{ r.jobsTotal }}</td></ng-container>
          <ng-container matColumnDef="created"><th mat-header-cell *matHeaderCellDef>Created</th><td mat-cell *matCellDef="let r">{{ r.createdAt | date: 'medium' }}</td></ng-container>
          <ng-container matColumnDef="duration"><th mat-header-cell *matHeaderCellDef>Duration</th><td mat-cell *matCellDef="let r">{{ dur(r) }}</td></ng-container>
          <tr mat-header-row *matHeaderRowDef="columns"></tr>
          <tr mat-row *matRowDef="let row; columns: columns"></tr>
          <tr class="mat-row" *matNoDataRow><td class="mat-cell empty" [attr.colspan]="columns.length">{{ loading() ? 'Loading…' : 'No runs yet.' }}</td></tr>
        </table>
        <mat-paginator [length]="total()" [pageIndex]="pageIndex()" [pageSize]="pageSize" [hidePageSize]="true" (page)="paged($event)" aria-label="Runs pages" />
      </div>
    </div>
  `,
  styles: `
    .submit { margin-bottom: 16px; }
    form { display: flex; flex-direction: column; gap: 8px; }
    .editor { width: 100%; box-sizing: border-box; padding: 8px; border: 1px solid var(--mat-sys-outline); border-radius: 6px; background: var(--mat-sys-surface-container-lowest); color: inherit; resize: vertical; tab-size: 2; }
    .editor[aria-invalid='true'] { border-color: var(--mat-sys-error); }
    .problems { margin: 4px 0 0; padding-left: 20px; }
    .actions { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
    .save { display: flex; gap: 8px; align-items: center; margin-left: auto; }
    .name { width: 220px; }
    .ok { margin: 0; }
    .empty { padding: 16px; }
    .filter { margin: 0 0 8px; }
  `,
})
export class RunsPage {
  private readonly api = inject(ApiService);
  private readonly notify = inject(NotifyService);
  private readonly router = inject(Router);
  protected readonly columns = ['id', 'name', 'status', 'jobs', 'created', 'duration'];
  protected readonly example = EXAMPLE_SCHEMA;
  protected schema = EXAMPLE_SCHEMA;
  protected workflowName = '';
  protected readonly problems = signal<SchemaProblem[]>([]);
  protected readonly problemsFrom = signal<'browser' | 'server'>('browser');
  protected readonly busy = signal(false);
  protected readonly runs = signal<RunView[]>([]);
  protected readonly total = signal(0);
  protected readonly loading = signal(true);
  protected readonly error = signal<string | null>(null);
  protected readonly pageIndex = signal(0);
  protected readonly pageSize = 20;
  private checkTimer?: ReturnType<typeof setTimeout>;
  /** `?workflow=<id>`: only that saved workflow's runs (the Workflows page links here). */
  readonly workflow = input<string>();
  protected readonly workflowId = () => {
    const id = Number(this.workflow());
    return Number.isInteger(id) && id > 0 ? id : undefined;
  };
  protected readonly dur = (r: RunView) => jobDuration({ startedAt: r.createdAt, finishedAt: r.finishedAt });

  constructor() {
    poll(() => this.load(), RUNS_POLL_MS);
    // Following "Show all runs" (or another workflow's link) keeps this page: load for the new filter.
    let first = true;
    effect(() => {
      this.workflow();
      if (first) {
        first = false;
        return;
      }
      untracked(() => {
        this.pageIndex.set(0);
        void this.load();
      });
    });
  }

  edited(): void {
    clearTimeout(this.checkTimer);
    this.checkTimer = setTimeout(() => {
      this.problems.set(checkSchema(this.schema));
      this.problemsFrom.set('browser');
    }, 250);
  }

  async load(): Promise<void> {
    try {
      const page = await this.api.runs(this.pageIndex() * this.pageSize, this.pageSize, this.workflowId());
      this.runs.set(page.items);
      this.total.set(page.total);
      this.error.set(null);
    } catch (err) {
      this.error.set(errorMessage(err, 'Loading runs'));
    } finally {
      this.loading.set(false);
    }
  }

  paged(e: PageEvent): void {
    this.pageIndex.set(e.pageIndex);
    void this.load();
  }

  async submit(): Promise<void> {
    await this.send('Submitting the run', async () => {
      const run = await this.api.submitRun(this.schema);
      this.notify.info(`Run ${run.id} submitted`);
      await this.router.navigate(['/runs', run.id]);
    });
  }

  /** Stores the schema under the name given, to be run again from the Workflows page. */
  async save(): Promise<void> {
    const name = this.workflowName.trim();
    if (!name) return;
    await this.send(`Saving workflow '${name}'`, async () => {
      await this.api.saveWorkflow(name, this.schema);
      this.notify.info(`Workflow '${name}' saved`);
      this.workflowName = '';
    });
  }

  /** Checks the schema here first, then sends it; the server's problems are shown by path. */
  private async send(doing: string, action: () => Promise<void>): Promise<void> {
    clearTimeout(this.checkTimer);
    const local = checkSchema(this.schema);
    this.problems.set(local);
    this.problemsFrom.set('browser');
    if (local.length) return;
    this.busy.set(true);
    try {
      await action();
    } catch (err) {
      const issues = errorIssues(err);
      if (issues.length) {
        this.problems.set(issues);
        this.problemsFrom.set('server');
      } else {
        this.notify.error(err, doing);
      }
    } finally {
      this.busy.set(false);
    }
  }
}
