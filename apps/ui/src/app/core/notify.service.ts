import { Injectable, inject } from '@angular/core';
import { MatSnackBar } from '@angular/material/snack-bar';
import { errorMessage } from './errors';

/** Tells the user what happened: errors in words (never swallowed), successes briefly. */
@Injectable({ providedIn: 'root' })
export class NotifyService {
  private readonly snack = inject(MatSnackBar);

  error(err: unknown, doing?: string): string {
    const text = errorMessage(err, doing);
    console.error(text, err);
    this.snack.open(text, 'Dismiss', { duration: 10_000, panelClass: 'kk-snack-error', politeness: 'assertive' });
    return text;
  }

  info(text: string): void {
    this.snack.open(text, undefined, { duration: 3000, politeness: 'polite' });
  }

  /** Runs a user's action: says `done` when it worked, the error in words when not. True if it worked. */
  async attempt(doing: string, action: () => Promise<unknown>, done: string): Promise<boolean> {
    try {
      await action();
      this.info(done);
      return true;
    } catch (err) {
      this.error(err, doing);
      return false;
    }
  }
}
