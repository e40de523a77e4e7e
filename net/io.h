/*
 * The byte stream under the SMTP client: a TCP connection made within a
 * deadline, with line reading and full writes that never wait past a
 * deadline. Everything the client sends or receives goes through here,
 * which is where TLS will sit.
 */
#ifndef GW_IO_H
#define GW_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "tls.h"

/* Milliseconds on a monotonic clock, for deadlines. */
uint64_t io_now_ms(void);

struct io {
    int fd;               /* -1 while closed */
    struct tls_conn *tls; /* NULL until TLS is started */
    char rbuf[4096];      /* bytes read but not yet consumed */
    size_t rstart, rend;  /* the unconsumed bytes are rbuf[rstart..rend) */
};

/* Makes `io` a closed stream. */
void io_init(struct io *io);

/*
 * Resolves `host` and connects to `port`, trying every address in turn
 * (of `ip_version` 4 or 6 only, or any for 0), each for at most
 * `timeout_ms`, until one answers. The detail of a failure names the host
 * and the last reason.
 */
enum gw_err io_connect(struct io *io, const char *host, unsigned port,
                       int ip_version, unsigned timeout_ms,
                       struct gw_error *err);

/* io_connect(), with no address tried past `deadline` (io_now_ms()). */
enum gw_err io_connect_within(struct io *io, const char *host, unsigned port,
                              int ip_version, unsigned timeout_ms,
                              uint64_t deadline, struct gw_error *err);

/*
 * Starts TLS on the connection as a client of `host`. Whatever the server
 * sent before the handshake and was not read yet is discarded, so bytes
 * injected after a STARTTLS reply are never taken as the server's
 * (RFC 3207 6, CVE-2011-0411).
 */
enum gw_err io_start_tls(struct io *io, const struct tls_config *cfg,
                         const char *host, uint64_t deadline,
                         struct gw_error *err);

/* Writes all `n` bytes before `deadline`; nothing once it has passed. */
enum gw_err io_write(struct io *io, const void *p, size_t n, uint64_t deadline,
                     struct gw_error *err);

/*
 * Reads one line ending in LF (a CR before it is dropped) into `line`,
 * which has room for `max` + 2 bytes, NUL-terminated, and its length into
 * `*len`. A line longer than `max` bytes is GW_EPROTO, never cut; a
 * closed connection GW_EIO; the deadline GW_ETIMEDOUT.
 */
enum gw_err io_read_line(struct io *io, char *line, size_t max, size_t *len,
                         uint64_t deadline, struct gw_error *err);

/*
 * Reads what is there, at most `n` bytes, waiting until `deadline` for
 * something to arrive; `*got` is the count. A closed connection is
 * GW_EIO, as for io_read_line().
 */
enum gw_err io_read_some(struct io *io, void *p, size_t n, size_t *got,
                         uint64_t deadline, struct gw_error *err);

/*
 * True when the server has sent something not read yet, closed its end,
 * or the connection failed: bytes in the buffer, or a socket readable
 * right now (never waits). A connection between transactions has nothing
 * to say, so any of these means it cannot be used for the next one.
 */
bool io_pending(const struct io *io);

/*
 * Reads and drops what has arrived, without waiting, so that closing
 * the socket next ends it with FIN rather than a reset. Bounded: a peer
 * that keeps sending is not read to its end.
 */
void io_discard(struct io *io);

/* Closes the connection; harmless when closed. */
void io_close(struct io *io);

#endif
