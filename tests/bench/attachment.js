'use strict';
// Writes to stdout a JSON send request carrying one attachment of N MiB of
// random bytes. Usage: node attachment.js N
const crypto = require('node:crypto');

const mib = Number(process.argv[2] || 20);
const content = crypto.randomBytes(mib * 1024 * 1024).toString('base64');
process.stdout.write(
  JSON.stringify({
    from: 'Bench <bench@example.com>',
    to: 'rcpt@example.com',
    subject: `A ${mib} MiB attachment`,
    text: 'See the attachment.',
    attachments: [{ filename: 'random.bin', content }],
  }),
);
