import { Component, input } from '@angular/core';

/** A small coloured label for a state or status word (connected, running, ok, failed, …). */
@Component({
  selector: 'kk-status',
  template: `<span class="chip" [class]="'chip status-' + value() + ' state-' + value()">{{ value() }}</span>`,
})
export class StatusChip {
  readonly value = input.required<string>();
}
