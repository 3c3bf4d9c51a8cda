import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServerResponse } from 'node:http';

/**
 * The console's files (OB-5): plain HTML, CSS and ES modules from
 * `packages/control-api/console/`, served as they are (no build step, no CDN). They are read
 * once at start: the set of paths served is fixed, so no request names a file on disk.
 */

export const CONSOLE_DIR = fileURLToPath(new URL('../../../console/', import.meta.url));

/**
 * Scripts and styles only from this origin, no inline script or style, no plugins, no
 * framing; the page talks only to its own origin.
 */
export const CONSOLE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

interface Asset {
  type: string;
  body: Buffer;
}

export class ConsoleAssets {
  private readonly files = new Map<string, Asset>();

  constructor(dir: string = CONSOLE_DIR) {
    const walk = (d: string): void => {
      for (const name of readdirSync(d)) {
        const full = join(d, name);
        if (statSync(full).isDirectory()) walk(full);
        else if (TYPES[extname(name)]) {
          this.files.set(`/console/${relative(dir, full).split(sep).join('/')}`, { type: TYPES[extname(name)]!, body: readFileSync(full) });
        }
      }
    };
    walk(dir);
    const index = this.files.get('/console/index.html');
    if (!index) throw new Error(`the console's index.html is missing from ${dir}`);
    this.files.set('/console', index);
    this.files.set('/console/', index);
  }

  has(path: string): boolean {
    return this.files.has(path);
  }

  serve(path: string, res: ServerResponse, head: boolean): void {
    const a = this.files.get(path)!;
    res.writeHead(200, {
      'content-type': a.type,
      'content-length': a.body.length,
      'content-security-policy': CONSOLE_CSP,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      // Revalidated each load: a node upgrade must not leave an old script against a new API.
      'cache-control': 'no-cache',
    });
    res.end(head ? undefined : a.body);
  }
}
