import { DestroyRef, inject } from '@angular/core';

/**
 * Calls `tick` now and then every `everyMs` while the calling component lives, skipping while the
 * tab is hidden and never overlapping two calls. Call it in an injection context (a constructor).
 */
export function poll(tick: () => Promise<unknown>, everyMs: number): { refresh: () => Promise<void> } {
  const destroyRef = inject(DestroyRef);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running = false;
  let stopped = false;
  const run = async () => {
    if (running || stopped) return;
    running = true;
    try {
      await tick();
    } catch {
      /* tick reports its own errors */
    } finally {
      running = false;
    }
  };
  const loop = async () => {
    if (stopped) return;
    if (typeof document === 'undefined' || document.visibilityState !== 'hidden') await run();
    if (!stopped) timer = setTimeout(loop, everyMs);
  };
  timer = setTimeout(loop, 0);
  destroyRef.onDestroy(() => {
    stopped = true;
    clearTimeout(timer);
  });
  return { refresh: run };
}
