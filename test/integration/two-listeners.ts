import { FulcrumNode, forward, freePort, type Backend } from './dp-helpers.js';
import { selfSigned } from './features-h2-client.js';

/**
 * A node whose one group holds `backend`, behind an HTTP listener and an HTTPS listener with
 * HTTP/2 on: what the rule-feature tests need to show both protocols behave alike.
 */
export interface TwoListeners {
  node: FulcrumNode;
  groupId: string;
  port: number;
  h2Port: number;
  listenerIds: [string, string];
}

export async function twoListeners(name: string, backend: Backend): Promise<TwoListeners> {
  const node = await FulcrumNode.start({ workers: 1 });
  const groupId = await node.createGroup(`${name}-group`, {}, false);
  await node.addServers(groupId, [{ port: backend.port }], false);
  const port = await freePort();
  const lid = await node.createListener(port, groupId, {}, false);
  const cert = selfSigned('example.test');
  const certId = String((await node.api('UploadServerCertificate', { CertificateName: name, Certificate: cert.cert, PrivateKey: cert.key })).CertificateId);
  const h2Port = await freePort();
  const h2Lid = String((await node.write('CreateListener', {
    LoadBalancerId: 'alb-default', ListenerProtocol: 'HTTPS', ListenerPort: h2Port, Certificates: [{ CertificateId: certId }], DefaultActions: [forward(groupId)],
  })).ListenerId);
  return { node, groupId, port, h2Port, listenerIds: [lid, h2Lid] };
}
