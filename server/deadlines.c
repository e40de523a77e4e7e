/*
 * The deadlines of the HTTP connections; see deadlines.h. Every watched
 * connection is on one list under one lock; the thread walks it every
 * TICK_MS. A socket is shut down under the lock, and a connection leaves
 * the list under the lock (libmicrohttpd tells of its end before it
 * closes the socket), so the descriptor shut down is always the
 * connection's own.
 */
#include "deadlines.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

/* How often the connections are looked at. */
#define TICK_MS 250

enum phase {
    P_HEAD, /* waiting for the request head */
    P_BODY, /* receiving the body */
    P_WORK, /* being worked on, or its reply being written */
    P_IDLE, /* kept, waiting for the next request */
    P_SHUT, /* shut down, waiting for its thread to close it */
};

struct srv_watched {
    struct srv_watched *prev, *next;
    int fd;
    enum phase phase;
    uint64_t since;  /* gw_now_ms() when the phase began */
    size_t received; /* bytes of the body so far */
};

struct srv_deadlines {
    pthread_mutex_t lock;
    pthread_cond_t wake; /* for a stop */
    pthread_t thread;
    bool stopping;
    unsigned header_ms, idle_ms;
    struct srv_watched *head; /* every watched connection */
    unsigned unlogged[3];     /* closed since the last log line */
    uint64_t logged_at;       /* gw_now_ms() of that line */
};

/* One line for the closings not logged yet, at most one a second unless
   `now_or_never` (the stop); the lock is held. */
static void log_closings(struct srv_deadlines *d, uint64_t now,
                         bool now_or_never)
{
    unsigned *u = d->unlogged;

    if (u[0] + u[1] + u[2] == 0 || (!now_or_never && now - d->logged_at < 1000))
        return;
    log_warn("event=connections_closed reason=slow_client header=%u body=%u "
             "idle=%u",
             u[SRV_DEADLINE_HEADER], u[SRV_DEADLINE_BODY],
             u[SRV_DEADLINE_IDLE]);
    u[0] = u[1] = u[2] = 0;
    d->logged_at = now;
}

/* The reason `w` is past its deadline at `now`, or -1 when it is not. */
static int expired(const struct srv_deadlines *d, const struct srv_watched *w,
                   uint64_t now)
{
    uint64_t age = now - w->since;

    switch (w->phase) {
    case P_HEAD:
        return age > d->header_ms ? SRV_DEADLINE_HEADER : -1;
    case P_BODY:
        /* The grace, then as long as the bytes so far justify. */
        return age > d->header_ms + w->received * 1000 / BODY_MIN_RATE
                   ? SRV_DEADLINE_BODY
                   : -1;
    case P_IDLE:
        return age > (uint64_t)d->idle_ms + d->header_ms ? SRV_DEADLINE_IDLE
                                                         : -1;
    case P_WORK:
    case P_SHUT:
        break;
    }
    return -1;
}

/* One look at every connection; the lock is held. */
static void sweep(struct srv_deadlines *d)
{
    uint64_t now = gw_now_ms();

    for (struct srv_watched *w = d->head; w != NULL; w = w->next) {
        int reason = expired(d, w, now);

        if (reason < 0)
            continue;
        shutdown(w->fd, SHUT_RDWR);
        w->phase = P_SHUT;
        d->unlogged[reason]++;
    }
    log_closings(d, now, false);
}

static void *run(void *arg)
{
    struct srv_deadlines *d = arg;

    pthread_mutex_lock(&d->lock);
    while (!d->stopping) {
        struct timespec until = gw_wait_until(TICK_MS);

        pthread_cond_timedwait(&d->wake, &d->lock, &until);
        if (!d->stopping)
            sweep(d);
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

struct srv_deadlines *srv_deadlines_start(unsigned header_ms, unsigned idle_ms,
                                          struct gw_error *err)
{
    struct srv_deadlines *d = calloc(1, sizeof(*d));
    int rc;

    if (d == NULL) {
        gw_error_set(err, GW_ENOMEM, "out of memory");
        return NULL;
    }
    d->header_ms = header_ms;
    d->idle_ms = idle_ms;
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->wake, NULL);
    rc = pthread_create(&d->thread, NULL, run, d);
    if (rc != 0) {
        pthread_cond_destroy(&d->wake);
        pthread_mutex_destroy(&d->lock);
        free(d);
        gw_error_set(err, GW_ENOMEM, "cannot start a thread: %s",
                     GW_ERRNO_TEXT(rc));
        return NULL;
    }
    return d;
}

void srv_deadlines_stop(struct srv_deadlines *d)
{
    if (d == NULL)
        return;
    pthread_mutex_lock(&d->lock);
    d->stopping = true;
    pthread_cond_signal(&d->wake);
    pthread_mutex_unlock(&d->lock);
    pthread_join(d->thread, NULL);
    log_closings(d, gw_now_ms(), true);
    pthread_cond_destroy(&d->wake);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

struct srv_watched *srv_deadlines_add(struct srv_deadlines *d, int fd)
{
    struct srv_watched *w = calloc(1, sizeof(*w));

    if (w == NULL)
        return NULL;
    w->fd = fd;
    w->phase = P_HEAD;
    w->since = gw_now_ms();
    pthread_mutex_lock(&d->lock);
    w->next = d->head;
    if (d->head != NULL)
        d->head->prev = w;
    d->head = w;
    pthread_mutex_unlock(&d->lock);
    return w;
}

void srv_deadlines_remove(struct srv_deadlines *d, struct srv_watched *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&d->lock);
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        d->head = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    pthread_mutex_unlock(&d->lock);
    free(w);
}

/* Moves `w` to `phase` from now, unless it is shut down already. */
static void enter(struct srv_deadlines *d, struct srv_watched *w,
                  enum phase phase)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&d->lock);
    if (w->phase != P_SHUT) {
        w->phase = phase;
        w->since = gw_now_ms();
        w->received = 0;
    }
    pthread_mutex_unlock(&d->lock);
}

void srv_deadlines_head(struct srv_deadlines *d, struct srv_watched *w,
                        bool body)
{
    enter(d, w, body ? P_BODY : P_WORK);
}

void srv_deadlines_body(struct srv_deadlines *d, struct srv_watched *w,
                        size_t n)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&d->lock);
    w->received += n;
    pthread_mutex_unlock(&d->lock);
}

void srv_deadlines_work(struct srv_deadlines *d, struct srv_watched *w)
{
    enter(d, w, P_WORK);
}

void srv_deadlines_idle(struct srv_deadlines *d, struct srv_watched *w)
{
    enter(d, w, P_IDLE);
}
