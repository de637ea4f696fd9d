import { ChangeDetectionStrategy, Component, computed, effect, inject, input, signal, untracked } from '@angular/core';
import { FormsModule } from '@angular/forms';
import { DatePipe } from '@angular/common';
import { Router, RouterLink } from '@angular/router';
import { MatTabsModule } from '@angular/material/tabs';
import { MatFormFieldModule } from '@angular/material/form-field';
import { MatInputModule } from '@angular/material/input';
import { MatSelectModule } from '@angular/material/select';
import { MatButtonModule } from '@angular/material/button';
import { MatSlideToggleModule } from '@angular/material/slide-toggle';
import { MatCardModule } from '@angular/material/card';
import { MatTableModule } from '@angular/material/table';
import { MatDialog } from '@angular/material/dialog';
import type { Agent, Group, JobView } from '@kraken/protocol';
import { ApiService } from '../api/api.service';
import type { LogsQuery } from '@kraken/protocol';
import { NotifyService } from '../core/notify.service';
import { errorMessage } from '../core/errors';
import { poll } from '../core/poll';
import { capabilities, jobDuration, jobStatus, memory, timeAgo } from '../core/format';
import { StatusChip } from '../shared/status-chip';
import { LogSource, LogView } from '../shared/log-view';
import { confirmAction } from '../shared/confirm-dialog';

@Component({
  selector: 'kk-agent-page',
  changeDetection: ChangeDetectionStrategy.OnPush,
  imports: [
    FormsModule,
    DatePipe,
    RouterLink,
    MatTabsModule,
    MatFormFieldModule,
    MatInputModule,
    MatSelectModule,
    MatButtonModule,
    MatSlideToggleModule,
    MatCardModule,
    MatTableModule,
    StatusChip,
    LogView,
  ],
  template: `
    <div class="page">
      <p class="crumbs"><a routerLink="/agents">Agents</a> ›</p>
      @if (error(); as e) {
        <div class="banner-error" role="alert">{{ e }}</div>
      }
      @if (agent(); as a) {
        <div class="toolbar-row">
          <h1>Agent {{ a.name }}</h1>
          <kk-status [value]="a.state" />
          @if (!a.authorized) {
            <span class="chip status-cancelled">not authorized</span>
            <button mat-flat-button type="button" (click)="authorize(a)">Authorize</button>
          }
          <span class="spacer"></span>
          <button mat-stroked-button type="button" (click)="remove(a)">Delete</button>
        </div>
        <mat-tab-group animationDuration="0ms">
          <mat-tab label="Overview">
            <div class="grid-2 tab-body">
              <mat-card appearance="outlined">
                <mat-card-header><mat-card-title><h2>General</h2></mat-card-title></mat-card-header>
                <mat-card-content>
                  <form class="inline" (ngSubmit)="rename(a)" aria-label="Rename agent">
                    <mat-form-field subscriptSizing="dynamic">
                      <mat-label>Agent name</mat-label>
                      <input matInput name="name" [(ngModel)]="name" required maxlength="200" />
                    </mat-form-field>
                    <button mat-stroked-button type="submit" [disabled]="!name.trim() || name.trim() === a.name">Rename</button>
                  </form>
                  <dl class="kv">
                    <dt>ID</dt><dd>{{ a.id }}</dd>
                    <dt>Address</dt><dd class="mono">{{ a.address }}</dd>
                    <dt>State</dt><dd>{{ a.state }}, last seen {{ ago(a.lastSeen) }}</dd>
                    <dt>Enabled</dt>
                    <dd><mat-slide-toggle [checked]="!a.disabled" (change)="setEnabled(a, $event.checked)" aria-label="Agent enabled">{{ a.disabled ? 'disabled' : 'enabled' }}</mat-slide-toggle></dd>
                    <dt>Authorized</dt><dd>{{ a.authorized ? 'yes' : 'no' }}</dd>
                    <dt>Slots</dt><dd>{{ a.slots }}</dd>
                    <dt>Created</dt><dd>{{ a.createdAt | date: 'medium' }}</dd>
                    <dt>Current jobs</dt>
                    <dd>
                      @for (j of a.currentJobs; track j.id) {
                        <a [routerLink]="['/runs', j.runId]" [fragment]="'job-' + j.id">{{ j.name }} (run {{ j.runId }})</a>
                      } @empty { idle }
                    </dd>
                  </dl>
                </mat-card-content>
              </mat-card>
              <mat-card appearance="outlined">
                <mat-card-header><mat-card-title><h2>Groups</h2></mat-card-title></mat-card-header>
                <mat-card-content>
                  <form class="inline" (ngSubmit)="saveGroups(a)" aria-label="Agent groups">
                    <mat-form-field class="groups-field">
                      <mat-label>Groups</mat-label>
                      <mat-select multiple name="groups" [(ngModel)]="selectedGroups">
                        @for (g of allGroups(); track g.id) {
                          <mat-option [value]="g.id">{{ g.name }}</mat-option>
                        }
                      </mat-select>
                    </mat-form-field>
                    <button mat-flat-button type="submit" [disabled]="!groupsChanged()">Save</button>
                  </form>
                  <p>
                    @for (g of a.groups; track g.id) {
                      <a class="chip" [routerLink]="['/groups', g.id]">{{ g.name }}</a>
                    } @empty {
                      <span class="muted">in no group: it gets no jobs</span>
                    }
                  </p>
                </mat-card-content>
              </mat-card>
              <mat-card appearance="outlined">
                <mat-card-header><mat-card-title><h2>Host info</h2></mat-card-title></mat-card-header>
                <mat-card-content>
                  @if (a.hostInfo; as h) {
                    <dl class="kv">
                      <dt>Host name</dt><dd>{{ h.hostname }}</dd>
                      <dt>System</dt><dd>{{ h.systemType }} / {{ h.system }}</dd>
                      <dt>Distribution</dt><dd>{{ h.distroName }} {{ h.distroVersion }}</dd>
                      <dt>Isolation</dt><dd>{{ h.isolation }}</dd>
                      <dt>Capabilities</dt><dd>{{ caps(a) }}</dd>
                      <dt>CPUs</dt><dd>{{ h.cpus }}</dd>
                      <dt>Memory</dt><dd>{{ mem(h.memoryMb) }}</dd>
                      <dt>Agent version</dt><dd>{{ h.agentVersion }}</dd>
                    </dl>
                  } @else {
                    <p class="muted">The agent has not reported its host yet.</p>
                  }
                </mat-card-content>
              </mat-card>
            </div>
          </mat-tab>
          <mat-tab label="Jobs">
            <div class="tab-body">
              @if (jobsError(); as e) {
                <div class="banner-error" role="alert">{{ e }}</div>
              }
              <div class="table-wrap">
                <table mat-table [dataSource]="jobs()" aria-label="Jobs of this agent">
                  <ng-container matColumnDef="id"><th mat-header-cell *matHeaderCellDef>ID</th><td mat-cell *matCellDef="let j">{{ j.id }}</td></ng-container>
                  <ng-container matColumnDef="name">
                    <th mat-header-cell *matHeaderCellDef>Job</th>
                    <td mat-cell *matCellDef="let j"><a [routerLink]="['/runs', j.runId]" [fragment]="'job-' + j.id">{{ j.name }}</a></td>
                  </ng-container>
                  <ng-container matColumnDef="run"><th mat-header-cell *matHeaderCellDef>Run</th><td mat-cell *matCellDef="let j"><a [routerLink]="['/runs', j.runId]">{{ j.runId }}</a></td></ng-container>
                  <ng-container matColumnDef="status"><th mat-header-cell *matHeaderCellDef>Status</th><td mat-cell *matCellDef="let j"><kk-status [value]="status(j)" /></td></ng-container>
                  <ng-container matColumnDef="started"><th mat-header-cell *matHeaderCellDef>Started</th><td mat-cell *matCellDef="let j">{{ j.startedAt | date: 'medium' }}</td></ng-container>
                  <ng-container matColumnDef="duration"><th mat-header-cell *matHeaderCellDef>Duration</th><td mat-cell *matCellDef="let j">{{ dur(j) }}</td></ng-container>
                  <tr mat-header-row *matHeaderRowDef="jobColumns"></tr>
                  <tr mat-row *matRowDef="let row; columns: jobColumns"></tr>
                  <tr class="mat-row" *matNoDataRow><td class="mat-cell empty" [attr.colspan]="jobColumns.length">No jobs yet.</td></tr>
                </table>
              </div>
              <p class="muted">{{ jobsTotal() }} jobs in total; the latest {{ jobs().length }} shown.</p>
            </div>
          </mat-tab>
          <mat-tab label="Logs">
            <div class="tab-body">
              <kk-log-view [source]="logSource()" [live]="true" [pollMs]="5000" label="Agent log" emptyText="no log lines from this agent" />
            </div>
          </mat-tab>
        </mat-tab-group>
      } @else if (!error()) {
        <p class="muted">Loading…</p>
      }
    </div>
  `,
  styles: `
    .crumbs { margin: 0; }
    .tab-body { padding: 16px 0; }
    form.inline { display: flex; gap: 12px; align-items: center; flex-wrap: wrap; margin-bottom: 12px; }
    .groups-field { min-width: 240px; }
    .empty { padding: 16px; }
  `,
})
export class AgentPage {
  private readonly api = inject(ApiService);
  private readonly notify = inject(NotifyService);
  private readonly dialog = inject(MatDialog);
  private readonly router = inject(Router);
  readonly id = input.required<string>();
  private readonly agentId = computed(() => Number(this.id()));

  protected readonly agent = signal<Agent | null>(null);
  protected readonly error = signal<string | null>(null);
  protected readonly allGroups = signal<Group[]>([]);
  protected readonly jobs = signal<JobView[]>([]);
  protected readonly jobsTotal = signal(0);
  protected readonly jobsError = signal<string | null>(null);
  protected readonly jobColumns = ['id', 'name', 'run', 'status', 'started', 'duration'];
  protected name = '';
  protected selectedGroups: number[] = [];
  /** The groups as last loaded, to tell whether the selection changed. */
  private loadedGroups: number[] = [];

  protected readonly logSource = computed<LogSource>(() => {
    const id = this.agentId();
    return (q: Partial<LogsQuery>) => this.api.agentLogs(id, q);
  });
  protected readonly caps = capabilities;
  protected readonly mem = memory;
  protected readonly status = jobStatus;
  protected readonly dur = (j: JobView) => jobDuration(j);
  protected readonly ago = (iso: string | null) => timeAgo(iso);

  constructor() {
    poll(() => this.load(), 5000);
    effect(() => {
      this.agentId();
      untracked(() => {
        this.agent.set(null);
        void this.load(true);
      });
    });
    this.api.groups().then(
      (g) => this.allGroups.set(g.items),
      (err) => this.notify.error(err, 'Loading groups'),
    );
  }

  groupsChanged(): boolean {
    const a = [...this.selectedGroups].sort().join(',');
    return a !== [...this.loadedGroups].sort().join(',');
  }

  async load(reset = false): Promise<void> {
    const id = this.agentId();
    if (!Number.isInteger(id) || id <= 0) {
      this.error.set(`"${this.id()}" is not an agent id`);
      return;
    }
    try {
      const a = await this.api.agent(id);
      const prev = this.agent();
      this.agent.set(a);
      this.error.set(null);
      // Keep what the user is editing; take the server's values on first load or when untouched.
      if (reset || !prev || this.name === prev.name) this.name = a.name;
      const ids = a.groups.map((g) => g.id);
      if (reset || !prev || !this.groupsChanged()) this.selectedGroups = ids;
      this.loadedGroups = ids;
    } catch (err) {
      this.error.set(errorMessage(err, `Loading agent ${id}`));
    }
    try {
      const page = await this.api.agentJobs(id);
      this.jobs.set(page.items);
      this.jobsTotal.set(page.total);
      this.jobsError.set(null);
    } catch (err) {
      this.jobsError.set(errorMessage(err, 'Loading the job history'));
    }
  }

  async rename(a: Agent): Promise<void> {
    try {
      const updated = await this.api.updateAgent(a.id, { name: this.name.trim() });
      this.notify.info(`Agent renamed to ${updated.name}`);
    } catch (err) {
      this.notify.error(err, 'Renaming the agent');
    }
    await this.load(true);
  }

  async saveGroups(a: Agent): Promise<void> {
    await this.notify.attempt('Saving the groups', () => this.api.updateAgent(a.id, { groups: this.selectedGroups }), `Groups of ${a.name} saved`);
    await this.load(true);
  }

  async setEnabled(a: Agent, enabled: boolean): Promise<void> {
    try {
      await this.api.updateAgent(a.id, { disabled: !enabled });
    } catch (err) {
      this.notify.error(err, enabled ? 'Enabling the agent' : 'Disabling the agent');
    }
    await this.load();
  }

  async authorize(a: Agent): Promise<void> {
    await this.notify.attempt('Authorizing the agent', () => this.api.authorizeAgents([a.id]), `Agent ${a.name} authorized`);
    await this.load(true);
  }

  async remove(a: Agent): Promise<void> {
    if (!(await confirmAction(this.dialog, { title: `Delete agent ${a.name}?`, message: `Agent ${a.name} (${a.address}) gets no more jobs and leaves the list.`, confirm: 'Delete' }))) return;
    try {
      await this.api.deleteAgent(a.id);
      this.notify.info(`Agent ${a.name} deleted`);
      await this.router.navigate(['/agents']);
    } catch (err) {
      this.notify.error(err, 'Deleting the agent');
    }
  }
}
