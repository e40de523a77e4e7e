'use strict';
// A registry of everything a test file started (gateway processes, SMTP
// servers), so that one top-level `after(cleanupAll)` closes whatever a
// failing test left open. An open server or child process would keep the
// test file's process alive and hang `node --test`.

const closers = new Set();

/* Registers `fn` (async, idempotent) and returns a function that forgets it. */
function track(fn) {
  closers.add(fn);
  return () => closers.delete(fn);
}

async function cleanupAll() {
  for (const fn of [...closers]) {
    closers.delete(fn);
    try {
      await fn();
    } catch {
      /* best effort */
    }
  }
}

module.exports = { track, cleanupAll };
