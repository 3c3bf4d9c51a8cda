#!/usr/bin/env node
import { main } from '../dist/src/cli.js';

main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`fulcrum: ${e && e.message ? e.message : e}\n`);
    process.exitCode = 1;
  },
);
