import { closeSync, openSync, writeSync } from 'node:fs';

/**
 * The admin API's audit trail: one JSON line for every call of an action that changes state,
 * whether it succeeded or was refused. By default the lines go to stdout with the node's other
 * JSON lines, marked `"log":"audit"` (what a container's log collector picks up); with
 * `--audit-log FILE` they are appended to FILE instead, which SIGHUP reopens (logrotate's
 * `postrotate kill -HUP`), as HAProxy and nginx operators expect of a log file.
 *
 * Lines are written synchronously before the reply is sent, so a client that saw its reply
 * can find the line. Token secrets and request parameters are never written.
 */
export interface AuditRecord {
  /** The token's id, `ak:<name>` for an OpenAPI call signed with that access key, "loopback" when the API takes no tokens, "none" when no valid token or signature came. */
  token: string;
  /** The peer address of the connection. */
  source: string;
  action: string;
  /** The resource the call created or changed, when it got that far. */
  resourceId?: string;
  status: number;
  /** The error code, on failure. */
  code?: string;
  requestId: string;
}

export class AuditLog {
  private fd?: number;

  /** Throws when `path` cannot be opened for appending. */
  constructor(private readonly path?: string, private readonly onError: (msg: string) => void = () => undefined) {
    if (path) this.fd = openSync(path, 'a', 0o600);
  }

  write(rec: AuditRecord): void {
    const line = `${JSON.stringify({ time: new Date().toISOString(), log: 'audit', ...rec })}\n`;
    if (this.fd !== undefined) {
      try {
        writeSync(this.fd, line);
        return;
      } catch (e) {
        // A full disk must not lose the line: stdout still carries it.
        this.onError(`cannot write the audit log ${this.path}: ${(e as Error).message}`);
      }
    }
    process.stdout.write(line);
  }

  /** After a rotation: open the file anew; on failure keep writing to the old one. */
  reopen(): void {
    if (!this.path) return;
    let fd: number;
    try {
      fd = openSync(this.path, 'a', 0o600);
    } catch (e) {
      this.onError(`cannot reopen the audit log ${this.path}: ${(e as Error).message}`);
      return;
    }
    const old = this.fd;
    this.fd = fd;
    if (old !== undefined) closeSync(old);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
