import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Real certificates for the TLS policy and mutual TLS tests, made with openssl in a temp dir:
 * a CA, an RSA server certificate for example.test signed by it, a client certificate signed
 * by it, and a client certificate from another CA that the listener does not trust.
 */
export interface Pki {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  /** Paths, for openssl s_client and curl. */
  clientCertPath: string;
  clientKeyPath: string;
  strangerCertPath: string;
  strangerKeyPath: string;
  caCertPath: string;
  clientCert: string;
  remove(): void;
}

function ssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

function ca(dir: string, name: string): void {
  ssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/O=Fulcrum tests/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.pem`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
}

function leaf(dir: string, issuer: string, name: string, subject: string, ext: string): void {
  ssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', subject, '-keyout', `${name}.key`, '-out', `${name}.csr`]);
  writeFileSync(join(dir, `${name}.ext`), ext);
  ssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${issuer}.pem`, '-CAkey', `${issuer}.key`, '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.pem`]);
}

export function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), `fulcrum-pki-${process.pid}-`));
  ca(dir, 'test-ca');
  ca(dir, 'stranger-ca');
  leaf(dir, 'test-ca', 'server', '/CN=example.test', 'subjectAltName=DNS:example.test\nextendedKeyUsage=serverAuth\n');
  leaf(dir, 'test-ca', 'client', '/O=Fulcrum tests/CN=client-one', 'extendedKeyUsage=clientAuth\n');
  leaf(dir, 'stranger-ca', 'stranger', '/CN=stranger', 'extendedKeyUsage=clientAuth\n');
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  return {
    dir,
    caCert: read('test-ca.pem'),
    serverCert: read('server.pem'),
    serverKey: read('server.key'),
    clientCert: read('client.pem'),
    clientCertPath: join(dir, 'client.pem'),
    clientKeyPath: join(dir, 'client.key'),
    strangerCertPath: join(dir, 'stranger.pem'),
    strangerKeyPath: join(dir, 'stranger.key'),
    caCertPath: join(dir, 'test-ca.pem'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface Handshake {
  ok: boolean;
  protocol: string;
  cipher: string;
  output: string;
}

/** `openssl s_client` against 127.0.0.1:port with the given extra arguments; what it negotiated. */
export function sClient(port: number, args: string[]): Handshake {
  // -brief reports on stderr; the exit status says whether the handshake completed.
  const r = spawnSync('openssl', ['s_client', '-brief', '-connect', `127.0.0.1:${port}`, '-servername', 'example.test', ...args], {
    input: '', timeout: 10_000, encoding: 'utf8',
  });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  return {
    ok: r.status === 0 && output.includes('CONNECTION ESTABLISHED'),
    protocol: /Protocol version: (\S+)/.exec(output)?.[1] ?? '',
    cipher: /Ciphersuite: (\S+)/.exec(output)?.[1] ?? '',
    output,
  };
}
