import { TestBed } from '@angular/core/testing';
import { LogView } from './log-view';
import { setup, tick } from '../testing/setup';
import type { LogLine, LogsQuery } from '@kraken/protocol';

const line = (seq: number, message: string, step: number | null = 0): LogLine => ({
  time: `2026-11-30T12:00:0${seq}.000000Z`,
  seq: 0,
  level: 'info',
  message,
  service: 'tool',
  host: 'h1',
  agent: 1,
  run: 1,
  job: 1,
  step,
  tool: step === null ? null : 'shell',
});

describe('LogView', () => {
  beforeEach(() => setup());
  afterEach(() => TestBed.resetTestingModule());

  it('follows the cursor, keeps polling while live and never shows a line twice', async () => {
    const calls: Partial<LogsQuery>[] = [];
    const pages: Record<string, { items: LogLine[]; next: string | null }[]> = {
      start: [{ items: [line(1, 'cloning'), line(2, 'building')], next: 'c1' }],
      c1: [
        { items: [line(3, 'testing')], next: null },
        { items: [line(3, 'testing'), line(4, 'done', null)], next: null },
      ],
    };
    const source = async (q: Partial<LogsQuery>) => {
      calls.push(q);
      return pages[q.cursor ?? 'start'].shift() ?? { items: [], next: null };
    };
    const fixture = TestBed.createComponent(LogView);
    fixture.componentRef.setInput('source', source);
    fixture.componentRef.setInput('live', true);
    fixture.componentRef.setInput('pollMs', 20);
    fixture.detectChanges();
    await tick(100);
    await fixture.whenStable();

    const text = (fixture.nativeElement as HTMLElement).querySelector('[role="log"]')!.textContent!;
    expect(text.match(/testing/g)).toHaveLength(1);
    expect(text).toMatch(/cloning[\s\S]*building[\s\S]*testing[\s\S]*done/);
    expect(text).toContain('[0] cloning');
    expect(calls[0].cursor).toBeUndefined();
    expect(calls[1].cursor).toBe('c1');
    expect(calls[2].cursor).toBe('c1');
    fixture.destroy();
  });

  it('shows a failing log source in words', async () => {
    const fixture = TestBed.createComponent(LogView);
    fixture.componentRef.setInput('source', async () => {
      throw new Error('ClickHouse is down');
    });
    fixture.detectChanges();
    await tick();
    await fixture.whenStable();
    expect((fixture.nativeElement as HTMLElement).querySelector('[role="alert"]')!.textContent).toContain('Loading the log failed: ClickHouse is down');
    fixture.destroy();
  });
});
