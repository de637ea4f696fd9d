import { ChangeDetectionStrategy, Component, DestroyRef, ElementRef, computed, effect, inject, input, signal, untracked, viewChild } from '@angular/core';
import { HttpErrorResponse } from '@angular/common/http';
import { MatButtonModule } from '@angular/material/button';
import { MatSelectModule } from '@angular/material/select';
import { MatFormFieldModule } from '@angular/material/form-field';
import type { LogLevel, LogLine, LogsPage, LogsQuery } from '@kraken/protocol';
import { clockTime } from '../core/format';
import { errorMessage } from '../core/errors';

/** A page of a log from `q.cursor` on (none: from the start). */
export type LogSource = (q: Partial<LogsQuery>) => Promise<LogsPage>;

const PAGE = 1000;
const MAX_LINES = 20_000;
const lineKey = (l: LogLine) => `${l.time}|${l.seq}|${l.step ?? ''}|${l.service ?? ''}`;

/**
 * Shows log lines from a cursor-paged source. While `live` is true it keeps asking for lines
 * after the last cursor every `pollMs`, so a running job's output appears as it comes.
 */
@Component({
  selector: 'kk-log-view',
  changeDetection: ChangeDetectionStrategy.OnPush,
  imports: [MatButtonModule, MatSelectModule, MatFormFieldModule],
  template: `
    <div class="head">
      <mat-form-field subscriptSizing="dynamic" class="level">
        <mat-label>Level</mat-label>
        <mat-select [value]="level()" (valueChange)="setLevel($event)">
          <mat-option value="">all</mat-option>
          <mat-option value="info">info and above</mat-option>
          <mat-option value="warn">warnings and errors</mat-option>
          <mat-option value="error">errors</mat-option>
        </mat-select>
      </mat-form-field>
      <span class="muted" aria-live="polite">{{ shown().length }} line{{ shown().length === 1 ? '' : 's' }}{{ live() ? ' · live' : '' }}</span>
      <span class="spacer"></span>
      <button mat-button type="button" (click)="reload()">Reload</button>
    </div>
    @if (error(); as e) {
      <div class="banner-error" role="alert">{{ e }}</div>
    }
    <pre #box class="log" tabindex="0" [attr.aria-label]="label()" role="log">@for (l of shown(); track $index) {<span class="line lvl-{{ l.level }}"><span class="t" [title]="l.time">{{ clock(l.time) }}</span> @if (l.step !== null && l.step !== undefined) {<span class="s">[{{ l.step }}]</span> }{{ l.message }}
</span>} @empty {<span class="muted">{{ loading() ? 'loading…' : emptyText() }}</span>}</pre>
  `,
  styles: `
    .head { display: flex; align-items: center; gap: 12px; flex-wrap: wrap; margin-bottom: 4px; }
    .level { width: 190px; }
    .spacer { flex: 1; }
    .log { background: #1e1e1e; color: #e0e0e0; padding: 8px 12px; border-radius: 6px; max-height: 480px; overflow: auto; margin: 0; white-space: pre-wrap; word-break: break-all; }
    .log .muted { color: #aaa; }
    .t { color: #8a8a8a; }
    .s { color: #7fb3ff; }
    .lvl-error, .lvl-critical { color: #ff8a80; }
    .lvl-warn { color: #ffd180; }
  `,
})
export class LogView {
  readonly source = input.required<LogSource>();
  readonly live = input(false);
  readonly pollMs = input(2000);
  readonly label = input('Log');
  readonly emptyText = input('no log lines yet');
  /**
   * URL of a Server-Sent Events tail (each event one line, its id a cursor), used while live;
   * without it, or when the stream fails, the view polls the source instead.
   */
  readonly streamUrl = input<string | null>(null);

  protected readonly clock = clockTime;
  protected readonly lines = signal<LogLine[]>([]);
  protected readonly error = signal<string | null>(null);
  protected readonly loading = signal(true);
  /** Minimum level shown; '' for all. */
  protected readonly level = signal<LogLevel | ''>('');
  protected readonly shown = computed(() => this.lines());
  private readonly box = viewChild<ElementRef<HTMLElement>>('box');

  private keys = new Set<string>();
  /** Cursor of the last page fetched; the next poll asks again from it and drops what it has seen. */
  private cursor: string | null = null;
  private timer?: ReturnType<typeof setTimeout>;
  private generation = 0;
  private destroyed = false;
  private events?: EventSource;
  /** The stream failed for good in this view: poll instead. */
  private streamBroken = false;

  constructor() {
    inject(DestroyRef).onDestroy(() => {
      this.destroyed = true;
      clearTimeout(this.timer);
      this.closeStream();
    });
    // (Re)start when the source changes; one more fetch when live turns off, to get the last lines.
    effect(() => {
      this.source();
      untracked(() => this.reload());
    });
    effect(() => {
      const live = this.live();
      untracked(() => {
        if (live) this.schedule();
        else {
          this.closeStream();
          void this.fetchNew(this.generation);
        }
      });
    });
  }

  setLevel(level: LogLevel | ''): void {
    this.level.set(level);
    this.reload();
  }

  reload(): void {
    this.closeStream();
    this.generation++;
    this.keys = new Set();
    this.cursor = null;
    this.lines.set([]);
    this.loading.set(true);
    void this.fetchNew(this.generation).then(() => this.schedule());
  }

  private schedule(): void {
    clearTimeout(this.timer);
    if (this.destroyed || !this.live()) return;
    if (this.openStream()) return;
    const gen = this.generation;
    this.timer = setTimeout(async () => {
      await this.fetchNew(gen);
      if (gen === this.generation) this.schedule();
    }, this.pollMs());
  }

  /** Follows the SSE tail from the last cursor; false when there is none to follow. */
  private openStream(): boolean {
    const base = this.streamUrl();
    if (!base || this.streamBroken || typeof EventSource === 'undefined') return false;
    if (this.events) return true;
    const url = new URL(base, window.location.href);
    if (this.cursor) url.searchParams.set('cursor', this.cursor);
    if (this.level()) url.searchParams.set('level', this.level());
    const gen = this.generation;
    const es = new EventSource(url.toString(), { withCredentials: true });
    this.events = es;
    es.onmessage = (ev: MessageEvent<string>) => {
      if (gen !== this.generation) return;
      try {
        this.add([JSON.parse(ev.data) as LogLine]);
        if (ev.lastEventId) this.cursor = ev.lastEventId;
        this.error.set(null);
      } catch {
        /* not a log line: ignore */
      }
    };
    es.onerror = () => {
      // EventSource reconnects by itself (from the last event id); once it gives up, poll instead.
      if (es.readyState === EventSource.CLOSED && this.events === es) {
        this.events = undefined;
        this.streamBroken = true;
        this.schedule();
      }
    };
    return true;
  }

  private closeStream(): void {
    this.events?.close();
    this.events = undefined;
  }

  /** Reads pages from the last cursor until the source has no more. */
  private async fetchNew(gen: number): Promise<void> {
    try {
      for (let i = 0; i < 50; i++) {
        const q: Partial<LogsQuery> = { limit: PAGE };
        if (this.cursor) q.cursor = this.cursor;
        const level = this.level();
        if (level) q.level = level;
        const page = await this.source()(q);
        if (gen !== this.generation) return;
        this.add(page.items);
        if (!page.next) break;
        this.cursor = page.next;
      }
      this.error.set(null);
    } catch (err) {
      if (gen !== this.generation) return;
      this.error.set(
        err instanceof HttpErrorResponse && err.status === 404 && !this.lines().length ? 'Logs are not available from this server (yet).' : errorMessage(err, 'Loading the log'),
      );
    } finally {
      if (gen === this.generation) this.loading.set(false);
    }
  }

  private add(items: LogLine[]): void {
    const fresh = items.filter((l) => {
      const k = lineKey(l);
      if (this.keys.has(k)) return false;
      this.keys.add(k);
      return true;
    });
    if (!fresh.length) return;
    const el = this.box()?.nativeElement;
    const atBottom = !el || el.scrollHeight - el.scrollTop - el.clientHeight < 40;
    this.lines.update((old) => {
      const all = old.concat(fresh);
      return all.length > MAX_LINES ? all.slice(all.length - MAX_LINES) : all;
    });
    if (atBottom && el) setTimeout(() => (el.scrollTop = el.scrollHeight));
  }
}
