'use strict';
// An SMTP server for the container test: accepts every message on
// 127.0.0.1:<port> (0: any free one), writes each one to <dir>/<n>.eml
// with its envelope in <n>.json, and prints "port=<port>" once listening.
//
//   node tests/container/sink.js <dir> [port]

const fs = require('node:fs');
const path = require('node:path');
const { SMTPServer } = require('smtp-server');

const [dir, port = '0'] = process.argv.slice(2);
let n = 0;
const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  logger: false,
  onData(stream, session, done) {
    const chunks = [];
    stream.on('data', (c) => chunks.push(c));
    stream.on('end', () => {
      n += 1;
      fs.writeFileSync(path.join(dir, `${n}.eml`), Buffer.concat(chunks));
      fs.writeFileSync(
        path.join(dir, `${n}.json`),
        JSON.stringify({
          from: session.envelope.mailFrom.address,
          to: session.envelope.rcptTo.map((r) => r.address),
        }),
      );
      done();
    });
  },
});
server.listen(Number(port), '127.0.0.1', () => {
  console.log(`port=${server.server.address().port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
