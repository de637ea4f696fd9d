import { ChangeDetectionStrategy, Component, inject, signal } from '@angular/core';
import { FormsModule } from '@angular/forms';
import { RouterLink } from '@angular/router';
import { MatTableModule } from '@angular/material/table';
import { MatButtonModule } from '@angular/material/button';
import { MatIconModule } from '@angular/material/icon';
import { MatFormFieldModule } from '@angular/material/form-field';
import { MatInputModule } from '@angular/material/input';
import { MatDialog } from '@angular/material/dialog';
import type { Group } from '@kraken/protocol';
import { ApiService } from '../api/api.service';
import { NotifyService } from '../core/notify.service';
import { errorIssues, errorMessage } from '../core/errors';
import { poll } from '../core/poll';
import { confirmAction } from '../shared/confirm-dialog';

@Component({
  selector: 'kk-groups-page',
  changeDetection: ChangeDetectionStrategy.OnPush,
  imports: [FormsModule, RouterLink, MatTableModule, MatButtonModule, MatIconModule, MatFormFieldModule, MatInputModule],
  template: `
    <div class="page">
      <div class="toolbar-row">
        <h1>Groups</h1>
        <span class="spacer"></span>
        <form class="create" (ngSubmit)="create()" aria-label="New group">
          <mat-form-field subscriptSizing="dynamic">
            <mat-label>New group name</mat-label>
            <input matInput name="newName" [(ngModel)]="newName" required maxlength="100" />
          </mat-form-field>
          <button mat-flat-button type="submit" [disabled]="!newName.trim() || busy()">Add group</button>
        </form>
      </div>
      @if (createError(); as e) {
        <div class="banner-error" role="alert">{{ e }}</div>
      }
      @if (error(); as e) {
        <div class="banner-error" role="alert">{{ e }}</div>
      }
      <div class="table-wrap">
        <table mat-table [dataSource]="groups()" aria-label="Groups">
          <ng-container matColumnDef="id"><th mat-header-cell *matHeaderCellDef>ID</th><td mat-cell *matCellDef="let g">{{ g.id }}</td></ng-container>
          <ng-container matColumnDef="name">
            <th mat-header-cell *matHeaderCellDef>Name</th>
            <td mat-cell *matCellDef="let g">
              @if (editing() === g.id) {
                <form class="rename" (ngSubmit)="rename(g)" [attr.aria-label]="'Rename group ' + g.name">
                  <mat-form-field subscriptSizing="dynamic">
                    <mat-label>Name</mat-label>
                    <input matInput name="rename" [(ngModel)]="renameTo" required maxlength="100" (keydown.escape)="editing.set(null)" />
                  </mat-form-field>
                  <button mat-button type="submit">Save</button>
                  <button mat-button type="button" (click)="editing.set(null)">Cancel</button>
                </form>
              } @else {
                <a [routerLink]="['/groups', g.id]">{{ g.name }}</a>
                @if (g.builtin) {
                  <span class="chip">built-in</span>
                }
              }
            </td>
          </ng-container>
          <ng-container matColumnDef="agents"><th mat-header-cell *matHeaderCellDef>Agents</th><td mat-cell *matCellDef="let g">{{ g.agentsCount }}</td></ng-container>
          <ng-container matColumnDef="actions">
            <th mat-header-cell *matHeaderCellDef><span class="sr-only">Actions</span></th>
            <td mat-cell *matCellDef="let g">
              @if (!g.builtin) {
                <button mat-icon-button type="button" (click)="startRename(g)" [attr.aria-label]="'Rename group ' + g.name"><mat-icon aria-hidden="true">edit</mat-icon></button>
                <button mat-icon-button type="button" (click)="remove(g)" [attr.aria-label]="'Delete group ' + g.name"><mat-icon aria-hidden="true">delete</mat-icon></button>
              }
            </td>
          </ng-container>
          <tr mat-header-row *matHeaderRowDef="columns"></tr>
          <tr mat-row *matRowDef="let row; columns: columns"></tr>
        </table>
      </div>
    </div>
  `,
  styles: `
    form.create, form.rename { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
  `,
})
export class GroupsPage {
  private readonly api = inject(ApiService);
  private readonly notify = inject(NotifyService);
  private readonly dialog = inject(MatDialog);
  protected readonly columns = ['id', 'name', 'agents', 'actions'];
  protected readonly groups = signal<Group[]>([]);
  protected readonly error = signal<string | null>(null);
  protected readonly createError = signal<string | null>(null);
  protected readonly busy = signal(false);
  protected readonly editing = signal<number | null>(null);
  protected newName = '';
  protected renameTo = '';

  constructor() {
    poll(() => this.load(), 10_000);
  }

  async load(): Promise<void> {
    try {
      this.groups.set((await this.api.groups()).items);
      this.error.set(null);
    } catch (err) {
      this.error.set(errorMessage(err, 'Loading groups'));
    }
  }

  async create(): Promise<void> {
    const name = this.newName.trim();
    this.busy.set(true);
    try {
      await this.api.createGroup(name);
      this.newName = '';
      this.createError.set(null);
      this.notify.info(`Group ${name} created`);
    } catch (err) {
      const issues = errorIssues(err);
      this.createError.set(issues.length ? `Group name: ${issues.map((i) => i.message).join('; ')}` : errorMessage(err, `Creating group ${name}`));
    } finally {
      this.busy.set(false);
    }
    await this.load();
  }

  startRename(g: Group): void {
    this.renameTo = g.name;
    this.editing.set(g.id);
  }

  async rename(g: Group): Promise<void> {
    try {
      await this.api.renameGroup(g.id, this.renameTo.trim());
      this.editing.set(null);
      this.notify.info(`Group renamed to ${this.renameTo.trim()}`);
    } catch (err) {
      this.notify.error(err, `Renaming group ${g.name}`);
    }
    await this.load();
  }

  async remove(g: Group): Promise<void> {
    const ok = await confirmAction(this.dialog, {
      title: `Delete group ${g.name}?`,
      message: `${g.agentsCount} agent(s) leave the group (the agents stay). Jobs that name agents_group: ${g.name} will find no agents.`,
      confirm: 'Delete',
    });
    if (!ok) return;
    await this.notify.attempt(`Deleting group ${g.name}`, () => this.api.deleteGroup(g.id), `Group ${g.name} deleted`);
    await this.load();
  }
}
