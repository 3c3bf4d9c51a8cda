import { ConfigApplier, ConfigError, loadConfigFile } from './config.js';

/**
 * `fulcrum check --config FILE` (CLI-5): every error of the file, each as `FILE:LINE:COL
 * message` on stderr, validated against the state a fresh store starts with. Exit status 0
 * when the file would apply, 1 when it would not.
 */
export async function checkConfig(file: string): Promise<number> {
  let errors: string[];
  try {
    errors = await new ConfigApplier().check(loadConfigFile(file));
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    errors = e.lines;
  }
  for (const line of errors) process.stderr.write(`${line}\n`);
  if (errors.length > 0) {
    process.stderr.write(`${file}: ${errors.length} error${errors.length === 1 ? '' : 's'}; nothing would be applied\n`);
    return 1;
  }
  process.stdout.write(`${file}: ok\n`);
  return 0;
}
