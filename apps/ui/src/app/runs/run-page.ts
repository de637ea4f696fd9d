import { ChangeDetectionStrategy, Component, computed, effect, inject, input, signal, untracked } from '@angular/core';
import { DatePipe } from '@angular/common';
import { ActivatedRoute, RouterLink } from '@angular/router';
import { MatTableModule } from '@angular/material/table';
import { MatButtonModule } from '@angular/material/button';
import { MatExpansionModule } from '@angular/material/expansion';
import { MatDialog } from '@angular/material/dialog';
import type { JobView, RunView, StepView } from '@kraken/protocol';
import { ApiService } from '../api/api.service';
import type { LogsQuery } from '@kraken/protocol';
import { NotifyService } from '../core/notify.service';
import { errorMessage } from '../core/errors';
import { poll } from '../core/poll';
import { duration, jobDuration, jobStatus } from '../core/format';
import { StatusChip } from '../shared/status-chip';
import { LogSource, LogView } from '../shared/log-view';
import { confirmAction } from '../shared/confirm-dialog';

export const RUN_POLL_MS = 2000;

@Component({
  selector: 'kk-run-page',
  changeDetection: ChangeDetectionStrategy.OnPush,
  imports: [DatePipe, RouterLink, MatTableModule, MatButtonModule, MatExpansionModule, StatusChip, LogView],
  template: `
    <div class="page">
      <p class="crumbs"><a routerLink="/runs">Runs</a> ›</p>
      @if (error(); as e) {
        <div class="banner-error" role="alert">{{ e }}</div>
      }
      @if (run(); as r) {
        <div class="toolbar-row">
          <h1>Run {{ r.id }}: {{ r.name }}</h1>
          <kk-status [value]="r.status ?? r.state" />
          <span class="muted">{{ r.jobsCompleted }} of {{ r.jobsTotal }} jobs done</span>
          <span class="spacer"></span>
          @if (r.state !== 'completed') {
            <button mat-stroked-button type="button" (click)="cancelRun(r)">Cancel run</button>
          }
        </div>
        <p class="muted">Created {{ r.createdAt | date: 'medium' }}@if (r.finishedAt) {, finished {{ r.finishedAt | date: 'medium' }}}.</p>

        <div class="table-wrap">
          <table mat-table [dataSource]="jobs()" aria-label="Jobs of the run">
            <ng-container matColumnDef="name"><th mat-header-cell *matHeaderCellDef>Job</th><td mat-cell *matCellDef="let j"><a [href]="'#job-' + j.id" (click)="open(j.id, $event)">{{ j.name }}</a></td></ng-container>
            <ng-container matColumnDef="status"><th mat-header-cell *matHeaderCellDef>State / status</th><td mat-cell *matCellDef="let j"><kk-status [value]="status(j)" /></td></ng-container>
            <ng-container matColumnDef="agent">
              <th mat-header-cell *matHeaderCellDef>Agent</th>
              <td mat-cell *matCellDef="let j">
                @if (j.agent) {
                  <a [routerLink]="['/agents', j.agent.id]">{{ j.agent.name }}</a>
                } @else {
                  <span class="muted">—</span>
                }
              </td>
            </ng-container>
            <ng-container matColumnDef="group"><th mat-header-cell *matHeaderCellDef>Group</th><td mat-cell *matCellDef="let j">{{ j.group }}</td></ng-container>
            <ng-container matColumnDef="env"><th mat-header-cell *matHeaderCellDef>Executor / system</th><td mat-cell *matCellDef="let j">{{ j.executor }} / {{ j.system }}</td></ng-container>
            <ng-container matColumnDef="duration"><th mat-header-cell *matHeaderCellDef>Duration</th><td mat-cell *matCellDef="let j">{{ dur(j) }}</td></ng-container>
            <ng-container matColumnDef="note"><th mat-header-cell *matHeaderCellDef>Note</th><td mat-cell *matCellDef="let j" class="note">{{ j.note ?? '' }}</td></ng-container>
            <ng-container matColumnDef="actions">
              <th mat-header-cell *matHeaderCellDef><span class="sr-only">Actions</span></th>
              <td mat-cell *matCellDef="let j">
                @if (j.state !== 'completed') {
                  <button mat-button type="button" (click)="cancel(j)" [attr.aria-label]="'Cancel job ' + j.name">Cancel</button>
                }
              </td>
            </ng-container>
            <tr mat-header-row *matHeaderRowDef="columns"></tr>
            <tr mat-row *matRowDef="let row; columns: columns"></tr>
          </table>
        </div>

        <h2>Steps and logs</h2>
        <mat-accordion multi>
          @for (j of jobs(); track j.id) {
            <mat-expansion-panel [id]="'job-' + j.id" [expanded]="expanded().has(j.id)" (opened)="setOpen(j.id, true)" (closed)="setOpen(j.id, false)">
              <mat-expansion-panel-header>
                <mat-panel-title>{{ j.name }}</mat-panel-title>
                <mat-panel-description><kk-status [value]="status(j)" />&nbsp;{{ j.agent ? 'on ' + j.agent.name : '' }}</mat-panel-description>
              </mat-expansion-panel-header>
              <ng-template matExpansionPanelContent>
                <table class="steps" [attr.aria-label]="'Steps of job ' + j.name">
                  <thead><tr><th>#</th><th>Step</th><th>Tool</th><th>Status</th><th>Exit code</th><th>Duration</th><th>Output</th></tr></thead>
                  <tbody>
                    @for (s of j.steps; track s.index) {
                      <tr>
                        <td>{{ s.index }}</td>
                        <td>{{ s.name }}</td>
                        <td>{{ s.tool }}</td>
                        <td><kk-status [value]="s.status" /></td>
                        <td>{{ s.exitCode ?? '—' }}</td>
                        <td>{{ stepDur(s) }}</td>
                        <td>
                          @if (s.outputTail || s.message) {
                            <details>
                              <summary>show</summary>
                              @if (s.message) {<p class="error-text">{{ s.message }}</p>}
                              <pre class="tail">{{ s.outputTail }}</pre>
                            </details>
                          }
                        </td>
                      </tr>
                    }
                  </tbody>
                </table>
                <h3 class="log-title">Log</h3>
                <kk-log-view [source]="logSource(j.id)" [streamUrl]="'/api/jobs/' + j.id + '/logs/stream'" [live]="j.state !== 'completed'" [label]="'Log of job ' + j.name" />
              </ng-template>
            </mat-expansion-panel>
          }
        </mat-accordion>
      } @else if (!error()) {
        <p class="muted">Loading…</p>
      }
    </div>
  `,
  styles: `
    .crumbs { margin: 0; }
    .note { max-width: 320px; font-size: 12px; }
    mat-accordion { display: block; margin-bottom: 24px; }
    table.steps { border-collapse: collapse; width: 100%; margin-bottom: 8px; font-size: 14px; }
    table.steps th, table.steps td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--mat-sys-outline-variant); vertical-align: top; }
    .tail { max-height: 240px; overflow: auto; background: var(--mat-sys-surface-container); padding: 6px; white-space: pre-wrap; }
    .log-title { font: var(--mat-sys-title-small); margin: 12px 0 4px; }
  `,
})
export class RunPage {
  private readonly api = inject(ApiService);
  private readonly notify = inject(NotifyService);
  private readonly dialog = inject(MatDialog);
  private readonly route = inject(ActivatedRoute);
  readonly id = input.required<string>();
  private readonly runId = computed(() => Number(this.id()));
  protected readonly columns = ['name', 'status', 'agent', 'group', 'env', 'duration', 'note', 'actions'];
  protected readonly run = signal<RunView | null>(null);
  protected readonly jobs = computed(() => this.run()?.jobs ?? []);
  protected readonly error = signal<string | null>(null);
  protected readonly expanded = signal<ReadonlySet<number>>(new Set());
  private readonly sources = new Map<number, LogSource>();
  private firstLoad = true;
  protected readonly status = jobStatus;
  protected readonly dur = (j: JobView) => jobDuration(j);
  protected readonly stepDur = (s: StepView) => duration(s.durationMs ?? (s.startedAt && s.status === 'running' ? Date.now() - new Date(s.startedAt).getTime() : null));

  constructor() {
    poll(async () => {
      if (this.run()?.state !== 'completed') await this.load();
    }, RUN_POLL_MS);
    effect(() => {
      this.runId();
      untracked(() => {
        this.firstLoad = true;
        this.run.set(null);
        void this.load();
      });
    });
  }

  /** One stable source per job, so the log view is not restarted at every poll. */
  logSource(jobId: number): LogSource {
    let s = this.sources.get(jobId);
    if (!s) {
      s = (q: Partial<LogsQuery>) => this.api.jobLogs(jobId, q);
      this.sources.set(jobId, s);
    }
    return s;
  }

  async load(): Promise<void> {
    const id = this.runId();
    if (!Number.isInteger(id) || id <= 0) {
      this.error.set(`"${this.id()}" is not a run id`);
      return;
    }
    try {
      const r = await this.api.run(id);
      this.run.set(r);
      this.error.set(null);
      if (this.firstLoad) {
        this.firstLoad = false;
        const jobs = r.jobs ?? [];
        const frag = /^job-(\d+)$/.exec(this.route.snapshot.fragment ?? '');
        const open = frag ? [Number(frag[1])] : jobs.length <= 3 ? jobs.map((j) => j.id) : [];
        this.expanded.set(new Set(open));
      }
    } catch (err) {
      this.error.set(errorMessage(err, `Loading run ${id}`));
    }
  }

  open(jobId: number, ev: Event): void {
    ev.preventDefault();
    this.setOpen(jobId, true);
    setTimeout(() => document.getElementById(`job-${jobId}`)?.scrollIntoView({ behavior: 'smooth' }));
  }

  setOpen(jobId: number, open: boolean): void {
    this.expanded.update((s) => {
      const n = new Set(s);
      if (open) n.add(jobId);
      else n.delete(jobId);
      return n;
    });
  }

  async cancel(j: JobView): Promise<void> {
    if (!(await confirmAction(this.dialog, { title: `Cancel job ${j.name}?`, message: 'Its running step is stopped and the job completes as cancelled.', confirm: 'Cancel job' }))) return;
    await this.notify.attempt(`Cancelling job ${j.name}`, () => this.api.cancelJob(j.id), `Job ${j.name} cancelled`);
    await this.load();
  }

  async cancelRun(r: RunView): Promise<void> {
    const open = (r.jobs ?? []).filter((j) => j.state !== 'completed');
    if (!(await confirmAction(this.dialog, { title: `Cancel run ${r.id}?`, message: `${open.length} unfinished job(s) will be cancelled.`, confirm: 'Cancel run' }))) return;
    await this.notify.attempt(`Cancelling run ${r.id}`, () => this.api.cancelRun(r.id), `Run ${r.id} cancelled`);
    await this.load();
  }
}
