/*
 * The deadlines of an HTTP connection, so that a client that sends
 * slowly cannot hold a connection for ever (slowloris): its request head
 * (the request line and the header fields) must come whole within the
 * header timeout; a body must come at an average of BODY_MIN_RATE bytes
 * a second at least, after the same grace; on a kept connection the next
 * request head must come whole within the idle timeout and the header
 * timeout together. While a request is worked on (a send), no deadline
 * runs: the send has its own.
 *
 * One thread looks at every connection a few times a second and shuts
 * down the socket of one past its deadline; the connection's own thread
 * then sees the end and closes it. Closings are counted, by reason, and
 * logged at most a line a second (event=connections_closed
 * reason=slow_client, with the counts since the last line), the rest at
 * the stop.
 */
#ifndef GW_DEADLINES_H
#define GW_DEADLINES_H

#include <stddef.h>

#include "base/base.h"

/* The slowest average a body may arrive at, after the grace. */
#define BODY_MIN_RATE 4096

enum srv_deadline_reason {
    SRV_DEADLINE_HEADER, /* the request head did not come in time */
    SRV_DEADLINE_BODY,   /* the body came slower than BODY_MIN_RATE */
    SRV_DEADLINE_IDLE,   /* a kept connection's next head did not come */
};

struct srv_deadlines;
struct srv_watched; /* one connection */

/*
 * Starts the thread. `header_ms` is the header timeout, `idle_ms` the
 * idle timeout of a kept connection. NULL with `err` set when it cannot.
 */
struct srv_deadlines *srv_deadlines_start(unsigned header_ms, unsigned idle_ms,
                                          struct gw_error *err);

/* Stops the thread and frees; every connection must be gone. */
void srv_deadlines_stop(struct srv_deadlines *d);

/*
 * Watches the connection of socket `fd`, opened now, for its request
 * head. NULL when out of memory (it is then not watched).
 */
struct srv_watched *srv_deadlines_add(struct srv_deadlines *d, int fd);

/* The connection is closing: no more looks at its socket. NULL does
   nothing. */
void srv_deadlines_remove(struct srv_deadlines *d, struct srv_watched *w);

/* The request head is whole: the body's deadline runs if `body`, else
   none until srv_deadlines_idle(). */
void srv_deadlines_head(struct srv_deadlines *d, struct srv_watched *w,
                        bool body);

/* `n` more bytes of the body came. */
void srv_deadlines_body(struct srv_deadlines *d, struct srv_watched *w,
                        size_t n);

/* The body is whole: no deadline while the request is worked on. */
void srv_deadlines_work(struct srv_deadlines *d, struct srv_watched *w);

/* The reply has gone and the connection is kept for the next request. */
void srv_deadlines_idle(struct srv_deadlines *d, struct srv_watched *w);

#endif
