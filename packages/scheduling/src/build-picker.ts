import type { Scheduler } from '@fulcrum/model';
import type { Picker, PickerEntry, PickerOptions } from './picker.js';
import { SchPicker } from './sch.js';
import { WlcPicker } from './wlc.js';
import { WrrPicker } from './wrr.js';

/** Build the picker for a group's scheduler (SG-7). Throws on a programmer error (bad weight, unknown scheduler). */
export function buildPicker(scheduler: Scheduler, entries: readonly PickerEntry[], options: PickerOptions = {}): Picker {
  switch (scheduler) {
    case 'Wrr':
      return new WrrPicker(weightsOf(entries), options.seed ?? 0);
    case 'Wlc':
      return new WlcPicker(weightsOf(entries));
    case 'Sch':
      return new SchPicker(entries, options.pointsPerWeight);
    default:
      throw new TypeError(`unknown scheduler ${String(scheduler)}`);
  }
}

function weightsOf(entries: readonly PickerEntry[]): Float64Array {
  const w = new Float64Array(entries.length);
  for (let i = 0; i < entries.length; i++) w[i] = entries[i].weight;
  return w;
}
