import assert from 'node:assert/strict';
import { rfc4514 } from '../src/client-cert.js';

/** TP-2: the DN spelling of the client-certificate headers is always a valid field value. */
describe('client certificate DNs (TP-2)', () => {
  it('TP-2: most specific RDN first, comma-separated', () => {
    assert.equal(rfc4514('C=CN\nO=Example\nCN=client-one'), 'CN=client-one,O=Example,C=CN');
  });

  it('TP-2: special characters are escaped, bytes outside printable ASCII become \\HH (no raw UTF-8 or CR/LF in a header)', () => {
    // As Node prints it: specials already escaped, UTF-8 raw.
    assert.equal(rfc4514('O=Acme\\, Inc.\nCN=a\\+b'), 'CN=a\\+b,O=Acme\\, Inc.');
    assert.equal(rfc4514('CN=Zoë'), 'CN=Zo\\c3\\ab');
    assert.equal(rfc4514('CN=x\rInjected: 1'), 'CN=x\\0dInjected: 1');
  });
});
