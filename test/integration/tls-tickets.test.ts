import assert from 'node:assert/strict';
import { connect, type TLSSocket } from 'node:tls';
import { selfSigned } from './features-h2-client.js';
import { Backend, FulcrumNode, forward, freePort } from './dp-helpers.js';

/**
 * TLS session resumption across workers (issue 12 item 5): the node's workers share their
 * session ticket keys (primary.ts), so a ticket one worker issued resumes on any other.
 * With two workers on SO_REUSEPORT sockets, a dozen sequential connections land on both.
 */

/** One TLS 1.3 connection offering `session`; answers whether it resumed, and the ticket it got. */
function visit(port: number, session: Buffer | undefined): Promise<{ resumed: boolean; ticket: Buffer | undefined; head: string }> {
  return new Promise((resolve, reject) => {
    let ticket: Buffer | undefined;
    let head = '';
    let resumed = false;
    const s: TLSSocket = connect({ host: '127.0.0.1', port, servername: 'tickets.test', rejectUnauthorized: false, session, ALPNProtocols: ['http/1.1'], minVersion: 'TLSv1.3' }, () => {
      resumed = s.isSessionReused();
      s.write('GET / HTTP/1.1\r\nHost: tickets.test\r\nConnection: close\r\n\r\n');
    });
    s.on('session', (t: Buffer) => { ticket = t; });
    s.on('data', (c: Buffer) => { head += c.toString('latin1'); });
    s.once('end', () => resolve({ resumed, ticket, head }));
    s.once('error', reject);
  });
}

describe('TLS session tickets shared by the workers (issue 12 item 5)', () => {
  let node: FulcrumNode;
  let backend: Backend;
  let port: number;

  before(async () => {
    const cert = selfSigned('tickets.test');
    node = await FulcrumNode.start({ workers: 2 });
    const c = String((await node.write('UploadServerCertificate', { CertificateName: 't', Certificate: cert.cert, PrivateKey: cert.key })).CertificateId);
    backend = await Backend.start('tickets', (_req, res) => res.end('ticket-ok'));
    const g = await node.createGroup('tickets');
    await node.addServers(g, [{ port: backend.port }]);
    port = await freePort();
    await node.write('CreateListener', {
      LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTPS', ListenerPort: port, Certificates: [{ CertificateId: c }], DefaultActions: [forward(g)],
    });
  });

  after(async () => {
    await node?.stop();
    await backend?.close();
  });

  it('every connection after the first resumes its session, whichever worker accepts it', async () => {
    let v = await visit(port, undefined);
    assert.match(v.head, /^HTTP\/1\.1 200/);
    assert.equal(v.resumed, false);
    let ticket = v.ticket;
    let resumed = 0;
    const rounds = 12;
    for (let i = 0; i < rounds; i++) {
      v = await visit(port, ticket);
      // A connection may close before a fresh ticket arrives: the last one stays good.
      ticket = v.ticket ?? ticket;
      assert.match(v.head, /ticket-ok/);
      if (v.resumed) resumed++;
    }
    assert.equal(resumed, rounds, `${resumed} of ${rounds} resumed`);
  });
});
