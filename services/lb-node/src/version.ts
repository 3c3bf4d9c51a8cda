import { readFileSync } from 'node:fs';

/** This package's version (dist/src/version.js -> package.json): `fulcrum --version` and fulcrum_build_info. */
export const FULCRUM_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
