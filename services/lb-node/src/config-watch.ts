import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

/** Editors save in bursts (truncate, write, rename): one apply after the burst settles. */
const SETTLE_MS = 200;

/**
 * `fulcrum start --config FILE --watch` (CLI-5): calls onChange once the file has changed.
 * Watches the directory, not the file: an editor that saves by renaming a new file over the
 * old one would leave a watch on the file looking at the old, deleted inode.
 */
export function watchConfig(file: string, onChange: () => void): { close(): void } {
  const name = basename(file);
  let timer: NodeJS.Timeout | undefined;
  const w: FSWatcher = watch(dirname(file), (_event, changed) => {
    if (changed !== null && changed !== name) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(onChange, SETTLE_MS);
  });
  w.unref();
  return {
    close() {
      if (timer) clearTimeout(timer);
      w.close();
    },
  };
}
