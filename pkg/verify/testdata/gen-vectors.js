#!/usr/bin/env node
// Generates vectors.json: golden test vectors for pkg/verify and
// internal/signing, computed with Node's crypto module so that they are an
// independent cross-check of the Go implementation.
//
// Regenerate (from the repository root):
//
//   node pkg/verify/testdata/gen-vectors.js
//
// Output is deterministic. Every case is fully spelled out in the JSON (no
// defaults), see the field list in the header of vectors.json.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

// Standard Webhooks key derivation, written independently of the Go code.
// "whsec_" + non-empty standard padded base64 => decoded bytes; anything else
// => the secret's UTF-8 bytes. Mirrors Go's base64.StdEncoding.DecodeString,
// which skips CR/LF and accepts non-zero trailing bits. (Node's own base64
// decoder is far more lenient, so validity is checked with a regex first.)
function swKey(secret) {
  const prefix = 'whsec_';
  if (secret.startsWith(prefix)) {
    const rest = secret.slice(prefix.length).replace(/[\r\n]/g, '');
    const std = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
    if (rest.length > 0 && std.test(rest)) {
      return Buffer.from(rest, 'base64');
    }
  }
  return Buffer.from(secret, 'utf8');
}

function xSignature(secret, body) {
  return crypto.createHmac('sha256', Buffer.from(secret, 'utf8'))
    .update(Buffer.from(body, 'utf8')).digest('hex');
}

function webhookSignature(secret, id, ts, body) {
  const mac = crypto.createHmac('sha256', swKey(secret))
    .update(Buffer.from(`${id}.${ts}.${body}`, 'utf8')).digest('base64');
  return `v1,${mac}`;
}

// Fixed 32-byte secret generated once with crypto.randomBytes(32).
const SECRET = 'whsec_' + Buffer.from(
  '3f1c9a7e5b2d4c6e8a0f1e3d5c7b9a8e7d6c5b4a39281706f5e4d3c2b1a09f8e', 'hex',
).toString('base64');
const OLD_SECRET = 'whsec_' + Buffer.from(
  'a1b2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccddeeff00', 'hex',
).toString('base64');
const TS = 1732700000; // 2024-11-27T09:33:20Z
const ID = 'msg_2pQx7bQ1kZ9vA3';
const BODY = '{"type":"invoice.paid","data":{"id":"inv_123","amount":4200}}';

// Each spec lists the inputs and the expected outcome. Everything else is
// computed below.
//   signed_body      body the sender signed (defaults to body)
//   verify_at        receiver clock, unix seconds (defaults to timestamp)
//   timestamp_header webhook-timestamp as sent (defaults to timestamp)
//   header(sig, ctx) builds webhook-signature as sent (defaults to sig)
//   header_secrets   when the header is exactly what a Signer with these
//                    secrets (in order) emits
//   x_header(x)      builds X-Signature as sent (defaults to x)
//   error / x_error  expected Go sentinel name for Verify / VerifyXSignature,
//                    "" for success
const specs = [
  {
    name: 'standard webhooks spec example',
    secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
    timestamp: 1614265330,
    body: '{"test": 2432232314}',
  },
  { name: 'whsec secret', secret: SECRET, id: ID, timestamp: TS, body: BODY },
  {
    name: 'raw non-whsec secret',
    secret: 'my-endpoint-secret-123', id: ID, timestamp: TS, body: BODY,
  },
  {
    name: 'whsec prefix with invalid base64 is raw bytes',
    secret: 'whsec_this is not*base64!', id: ID, timestamp: TS, body: BODY,
  },
  {
    name: 'whsec short valid base64 decodes',
    secret: 'whsec_c2VjcmV0', // "secret"
    id: ID, timestamp: TS, body: BODY,
  },
  {
    name: 'whsec prefix with missing padding is raw bytes',
    secret: 'whsec_c2VjcmV0MQ', id: ID, timestamp: TS, body: BODY,
  },
  {
    name: 'whsec prefix with url-safe alphabet is raw bytes',
    secret: 'whsec_-_-_', id: ID, timestamp: TS, body: BODY,
  },
  {
    name: 'whsec non-canonical trailing bits decode leniently',
    secret: 'whsec_QR==', id: ID, timestamp: TS, body: BODY,
  },
  { name: 'empty body', secret: SECRET, id: ID, timestamp: TS, body: '' },
  {
    name: 'unicode body',
    secret: SECRET, id: 'msg_ünï', timestamp: TS,
    body: '{"text":"héllo wörld — 日本語 🚀","nul":"\\u0000"}',
  },
  {
    name: 'tampered body fails',
    secret: SECRET, id: ID, timestamp: TS,
    signed_body: BODY,
    body: BODY.replace('4200', '4201'),
    error: 'ErrNoMatchingSignature', x_error: 'ErrNoMatchingSignature',
  },
  {
    name: 'tampered id fails',
    secret: SECRET, id: ID, timestamp: TS, body: BODY,
    header: (sig) => webhookSignature(SECRET, ID + 'x', TS, BODY),
    error: 'ErrNoMatchingSignature',
  },
  {
    name: 'expired timestamp fails',
    secret: SECRET, id: ID, timestamp: TS, body: BODY,
    verify_at: TS + 301,
    error: 'ErrTimestampTooOld',
  },
  {
    name: 'timestamp exactly at tolerance passes',
    secret: SECRET, id: ID, timestamp: TS, body: BODY, verify_at: TS + 300,
  },
  {
    name: 'future timestamp fails',
    secret: SECRET, id: ID, timestamp: TS, body: BODY,
    verify_at: TS - 301,
    error: 'ErrTimestampTooNew',
  },
  {
    name: 'non-numeric timestamp fails',
    secret: SECRET, id: ID, timestamp: TS, body: BODY,
    timestamp_header: '1732700000.5',
    error: 'ErrInvalidTimestamp',
  },
  {
    name: 'rotation, second signature matches',
    secret: SECRET, id: ID, timestamp: TS, body: BODY,
    header: (sig) => webhookSignature(OLD_SECRET, ID, TS, BODY) + ' ' + sig,
    header_secrets: [OLD_SECRET, SECRET],
  },
  {
    name: 'rotation, first signature matches',
    secret: OLD_SECRET, id: ID, timestamp: TS, body: BODY,
    header: (sig) => webhookSignature(SECRET, ID, TS, BODY) + ' ' + sig,
    header_secrets: [SECRET, OLD_SECRET],
  },
  {
    name: 'rotation, no signature matches',
    secret: SECRET, id: ID, timestamp: TS, body: BODY,
    header: () => webhookSignature(OLD_SECRET, ID, TS, BODY) + ' ' +
      webhookSignature('whsec_c2VjcmV0', ID, TS, BODY),
    error: 'ErrNoMatchingSignature',
  },
  {
    name: 'other versions and malformed entries are skipped',
    secret: SECRET, id: ID, timestamp: TS, body: BODY,
    header: (sig) => ['v2,' + sig.slice(3), 'v1,', 'v1,!!!!', 'v1,' + sig.slice(3, 20),
      'v1' + sig.slice(3), sig].join(' '),
  },
  {
    name: 'correct mac under another version fails',
    secret: SECRET, id: ID, timestamp: TS, body: BODY,
    header: (sig) => 'v2,' + sig.slice(3) + ' v1a,' + sig.slice(3),
    error: 'ErrNoMatchingSignature',
  },
  {
    name: 'wrong secret fails',
    secret: 'whsec_c2VjcmV0', id: ID, timestamp: TS, body: BODY,
    header: () => webhookSignature(SECRET, ID, TS, BODY),
    x_header: () => xSignature(SECRET, BODY),
    error: 'ErrNoMatchingSignature', x_error: 'ErrNoMatchingSignature',
  },
  {
    name: 'uppercase X-Signature passes',
    secret: SECRET, id: ID, timestamp: TS, body: BODY,
    x_header: (x) => x.toUpperCase(),
  },
  {
    name: 'truncated X-Signature fails',
    secret: SECRET, id: ID, timestamp: TS, body: BODY,
    x_header: (x) => x.slice(0, 63),
    x_error: 'ErrNoMatchingSignature',
  },
];

const cases = specs.map((s) => {
  const signedBody = s.signed_body ?? s.body;
  const x = xSignature(s.secret, signedBody);
  const sig = webhookSignature(s.secret, s.id, s.timestamp, signedBody);
  const c = {
    name: s.name,
    secret: s.secret,
    key_hex: swKey(s.secret).toString('hex'),
    id: s.id,
    timestamp: s.timestamp,
    signed_body: signedBody,
    x_signature: x,
    webhook_signature: sig,
    body: s.body,
    verify_at: s.verify_at ?? s.timestamp,
    timestamp_header: s.timestamp_header ?? String(s.timestamp),
    x_signature_header: s.x_header ? s.x_header(x) : x,
    webhook_signature_header: s.header ? s.header(sig) : sig,
    header_secrets: s.header_secrets ?? [s.secret],
    error: s.error ?? '',
    x_error: s.x_error ?? '',
  };
  if (s.header && !s.header_secrets) c.header_secrets = null;
  return c;
});

// Sanity check against the published Standard Webhooks example signature.
const spec = cases[0];
if (spec.webhook_signature !== 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=') {
  throw new Error('spec example mismatch: ' + spec.webhook_signature);
}

const out = {
  comment: [
    'Generated by gen-vectors.js (node crypto); do not edit by hand.',
    'key_hex: Standard Webhooks key derived from secret.',
    'x_signature / webhook_signature: expected X-Signature and v1 signature for',
    '  (secret, id, timestamp, signed_body).',
    'Verification input: body, the *_header values, and a clock at verify_at',
    '  (default 5m tolerance). error / x_error: expected sentinel name for',
    '  Verify / VerifyXSignature, "" for success.',
    'header_secrets: if non-null, a Signer with these secrets (in order) emits',
    '  exactly webhook_signature_header for (id, timestamp, signed_body).',
  ],
  cases,
};
fs.writeFileSync(path.join(__dirname, 'vectors.json'), JSON.stringify(out, null, 2) + '\n');
console.log(`wrote ${cases.length} cases`);
