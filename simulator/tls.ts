/* eslint-disable no-bitwise */ // DER encoding is bit fields: tags, lengths, certificate flags.
import { createHash, generateKeyPairSync, KeyObject, randomBytes, sign } from 'node:crypto';

/**
 * Certificates for the simulator's HTTPS side (refunds need mutual TLS), made in memory so
 * nothing depends on an openssl binary or on files: a CA, a server certificate for 127.0.0.1 /
 * localhost, and one client certificate per merchant whose CN is the mch_id (the check WeChat's
 * /secapi/ makes, in spirit). EC P-256 keys keep generation instant.
 */
export interface TlsMaterial {
  caCert: string;
  serverCert: string;
  serverKey: string;
  clients: Map<string, { cert: string; key: string }>;
}

export function createTlsMaterial(mchIds: string[], now = new Date()): TlsMaterial {
  const ca = newKey();
  const caName = name('WeChat Simulator CA');
  const caCert = certificate({
    subject: caName, issuer: caName, publicKey: ca.publicKey, signingKey: ca.privateKey, now,
    extensions: [
      extension('2.5.29.19', true, seq(bool(true))), // basicConstraints: CA
      extension('2.5.29.15', true, tlv(0x03, Buffer.from([ 0x01, 0x06 ]))), // keyUsage: keyCertSign, cRLSign
      extension('2.5.29.14', false, octetString(keyId(ca.publicKey))),
    ],
  });
  const leaf = (cn: string, usage: string, extra: Buffer[] = []) => {
    const key = newKey();
    const cert = certificate({
      subject: name(cn), issuer: caName, publicKey: key.publicKey, signingKey: ca.privateKey, now,
      extensions: [
        extension('2.5.29.19', true, seq()),
        extension('2.5.29.15', true, tlv(0x03, Buffer.from([ 0x07, 0x80 ]))), // keyUsage: digitalSignature
        extension('2.5.29.37', false, seq(oid(usage))),
        extension('2.5.29.14', false, octetString(keyId(key.publicKey))),
        extension('2.5.29.35', false, seq(tlv(0x80, keyId(ca.publicKey)))),
        ...extra,
      ],
    });
    return { cert, key: key.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
  };
  const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
  const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
  const subjectAltName = extension('2.5.29.17', false, seq(
    tlv(0x82, Buffer.from('localhost', 'ascii')),
    tlv(0x87, Buffer.from([ 127, 0, 0, 1 ])),
    tlv(0x87, Buffer.from([ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 ])),
  ));
  const server = leaf('127.0.0.1', SERVER_AUTH, [ subjectAltName ]);
  const clients = new Map(mchIds.map(mchId => [ mchId, leaf(mchId, CLIENT_AUTH) ]));
  return { caCert, serverCert: server.cert, serverKey: server.key, clients };
}

function newKey(): { publicKey: KeyObject; privateKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
}

function certificate(input: {
  subject: Buffer; issuer: Buffer; publicKey: KeyObject; signingKey: KeyObject; now: Date; extensions: Buffer[];
}): string {
  const ecdsaWithSha256 = seq(oid('1.2.840.10045.4.3.2'));
  const serial = randomBytes(16);
  serial[0] &= 0x7f;
  const day = 24 * 3600 * 1000;
  const tbs = seq(
    tlv(0xa0, integer(Buffer.from([ 2 ]))), // version v3
    integer(serial),
    ecdsaWithSha256,
    input.issuer,
    seq(time(new Date(input.now.getTime() - day)), time(new Date(input.now.getTime() + 3650 * day))),
    input.subject,
    input.publicKey.export({ type: 'spki', format: 'der' }),
    tlv(0xa3, seq(...input.extensions)),
  );
  const signature = sign('sha256', tbs, input.signingKey);
  const der = seq(tbs, ecdsaWithSha256, tlv(0x03, Buffer.concat([ Buffer.from([ 0 ]), signature ])));
  const lines = der.toString('base64').match(/.{1,64}/g)!.join('\n');
  return `-----BEGIN CERTIFICATE-----\n${lines}\n-----END CERTIFICATE-----\n`;
}

// Minimal DER encoding, just what the certificates above use.

function tlv(tag: number, content: Buffer): Buffer {
  let length: Buffer;
  if (content.length < 0x80) {
    length = Buffer.from([ content.length ]);
  } else {
    const bytes: number[] = [];
    for (let n = content.length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
    length = Buffer.from([ 0x80 | bytes.length, ...bytes ]);
  }
  return Buffer.concat([ Buffer.from([ tag ]), length, content ]);
}

function seq(...items: Buffer[]): Buffer {
  return tlv(0x30, Buffer.concat(items));
}

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const bytes = [ 40 * parts[0] + parts[1] ];
  for (const part of parts.slice(2)) {
    const chunk = [ part & 0x7f ];
    for (let v = Math.floor(part / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

function integer(unsigned: Buffer): Buffer {
  let bytes = unsigned;
  while (bytes.length > 1 && bytes[0] === 0 && !(bytes[1] & 0x80)) bytes = bytes.subarray(1);
  if (bytes[0] & 0x80) bytes = Buffer.concat([ Buffer.from([ 0 ]), bytes ]);
  return tlv(0x02, bytes);
}

function bool(value: boolean): Buffer {
  return tlv(0x01, Buffer.from([ value ? 0xff : 0 ]));
}

function octetString(bytes: Buffer): Buffer {
  return tlv(0x04, bytes);
}

function name(commonName: string): Buffer {
  return seq(
    tlv(0x31, seq(oid('2.5.4.10'), tlv(0x0c, Buffer.from('WeChat Simulator', 'utf8')))),
    tlv(0x31, seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(commonName, 'utf8')))),
  );
}

function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, '').slice(0, 14); // yyyyMMddHHmmss (UTC)
  return date.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`)) : tlv(0x18, Buffer.from(`${iso}Z`));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return seq(oid(id), ...(critical ? [ bool(true) ] : []), octetString(value));
}

function keyId(publicKey: KeyObject): Buffer {
  return createHash('sha1').update(publicKey.export({ type: 'spki', format: 'der' })).digest();
}
