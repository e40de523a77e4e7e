/*
 * The pool of an upstream: its settings, and the connections kept open
 * between sends (RFC 5321 allows many transactions per session). At most
 * `size` connections exist at once, open or being opened; a send takes
 * one, or a free slot to open a new one, and gives it back when done.
 *
 * An idle connection is reused newest first, checked with NOOP when it
 * has been idle for a while, closed when idle too long or after many
 * messages. A connection on which the server has spoken or hung up while
 * idle is never reused. The reaper, a thread shared by many pools, ends
 * idle connections on time and notices the server's hang-ups between
 * sends; without one, expired connections are closed the next time the
 * pool is used, or when it is freed.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "sasl.h"
#include "session.h"

/* How often a send waiting for a connection asks whether its client is
   still there (struct smtp_cancel). */
#define CANCEL_CHECK_MS 100

/* How long the reaper waits for the answer to its QUIT before closing. */
#define REAPER_QUIT_WAIT_MS 2000

/* How long QUIT may take to write; an idle connection takes it at once. */
#define QUIT_WRITE_MS 100

/* The reaper looks at its pools at most this often: under load, sends
   give connections back thousands of times a second, and each need not
   cost a look. */
#define REAPER_ROUND_MS 100

struct smtp_reaper {
    pthread_t thread;
    pthread_mutex_t lock;    /* pools and stop; held while the thread
                                works on a pool, so none is freed then */
    struct smtp_pool *pools; /* the pools looked after */
    bool stop;
    int wake_fd;        /* an eventfd: a write wakes the thread */
    atomic_bool woken;  /* wake_fd was written since the last round */
    struct pollfd *fds; /* the thread's: the sockets of one wait */
    size_t n_fds, max_fds;
    bool fds_short; /* some sockets did not fit in fds */
};

/* Closes a connection the server has left or spoken on: no QUIT. */
static void conn_drop(struct conn *c)
{
    io_discard(&c->io);
    io_close(&c->io);
    free(c);
}

/* Says QUIT on an idle connection; false when it cannot be written. */
static bool conn_say_quit(struct conn *c)
{
    struct gw_error ignored = {0};

    return io_write(&c->io, "QUIT\r\n", 6, gw_now_ms() + QUIT_WRITE_MS,
                    &ignored) == GW_OK;
}

/* Closes an idle connection for good, saying QUIT without waiting. */
static void conn_close(struct conn *c)
{
    conn_say_quit(c);
    io_close(&c->io);
    free(c);
}

static char *dup_or_null(const char *s, bool *oom)
{
    char *copy;

    if (s == NULL)
        return NULL;
    copy = strdup(s);
    if (copy == NULL)
        *oom = true;
    return copy;
}

/* The name EHLO gives when none is configured: this machine's. */
static char *default_helo_name(void)
{
    char name[256];

    if (gethostname(name, sizeof(name)) != 0 || name[0] == '\0')
        return strdup("localhost");
    name[sizeof(name) - 1] = '\0';
    return strdup(name);
}

/* Checks the settings that no connection attempt would reveal. */
static enum gw_err check_server(const struct smtp_server *srv,
                                struct gw_error *err)
{
    if (srv->host == NULL || srv->host[0] == '\0')
        return gw_error_set(err, GW_EINVAL, "the host is empty");
    if (srv->port == 0 || srv->port > 65535)
        return gw_error_set(err, GW_EINVAL, "the port is not 1..65535");
    if (srv->ip_version != 0 && srv->ip_version != 4 && srv->ip_version != 6)
        return gw_error_set(err, GW_EINVAL, "ip_version must be 0, 4 or 6");
    if (srv->mechanisms != NULL &&
        smtp_sasl_check_list(srv->mechanisms, err) != GW_OK)
        return gw_error_prefix(err, "mechanisms");
    if (srv->secrets != NULL &&
        (srv->password != NULL || srv->access_token != NULL))
        return gw_error_set(err, GW_EINVAL,
                            "secrets are given both sealed and in the clear");
    if (srv->username != NULL && srv->password == NULL &&
        srv->access_token == NULL &&
        (srv->secrets == NULL ||
         (!srv->secrets->has_password && !srv->secrets->has_access_token)))
        return gw_error_set(err, GW_EINVAL,
                            "a user name is set without a password or an "
                            "access token");
    return GW_OK;
}

/* Copies every string of `srv` into the pool. */
static bool copy_server(struct smtp_pool *pool, const struct smtp_server *srv)
{
    struct smtp_server *mine = &pool->srv;
    bool oom = false;

    *mine = *srv;
    mine->host = dup_or_null(srv->host, &oom);
    mine->helo_name = srv->helo_name ? dup_or_null(srv->helo_name, &oom)
                                     : default_helo_name();
    mine->username = dup_or_null(srv->username, &oom);
    mine->password = dup_or_null(srv->password, &oom);
    mine->access_token = dup_or_null(srv->access_token, &oom);
    mine->mechanisms = dup_or_null(
        srv->mechanisms ? srv->mechanisms : "CRAM-MD5,XOAUTH2,LOGIN,PLAIN",
        &oom);
    mine->auth_from = dup_or_null(srv->auth_from, &oom);
    if (srv->secrets != NULL) {
        pool->secrets = *srv->secrets;
        mine->secrets = &pool->secrets;
    }
    mine->tls_params.ca_file = dup_or_null(srv->tls_params.ca_file, &oom);
    mine->tls_params.client_cert =
        dup_or_null(srv->tls_params.client_cert, &oom);
    mine->tls_params.client_key = dup_or_null(srv->tls_params.client_key, &oom);
    if (mine->timeout_ms == 0)
        mine->timeout_ms = 30000;
    return !oom && mine->helo_name != NULL;
}

static void reaper_poke(struct smtp_reaper *r)
{
    uint64_t one = 1;
    char why[GW_STRERROR_MAX];

    /* A full counter already means "wake up": nothing to do then. */
    if (write(r->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        log_warn("event=reaper_wake_failed detail=\"%s\"",
                 gw_strerror_r(errno, why, sizeof(why)));
}

/*
 * Wakes the reaper, so that it looks at its pools again: once per round
 * is enough, since the round sees every change made before it.
 */
static void reaper_wake(struct smtp_reaper *r)
{
    if (!atomic_exchange(&r->woken, true))
        reaper_poke(r);
}

static void reaper_add(struct smtp_reaper *r, struct smtp_pool *pool)
{
    pthread_mutex_lock(&r->lock);
    pool->reaper = r;
    pool->reaper_next = r->pools;
    r->pools = pool;
    pthread_mutex_unlock(&r->lock);
}

/* Once this returns, the reaper never touches `pool` again. */
static void reaper_remove(struct smtp_pool *pool)
{
    struct smtp_reaper *r = pool->reaper;
    struct smtp_pool **at;

    pthread_mutex_lock(&r->lock);
    for (at = &r->pools; *at != NULL && *at != pool; at = &(*at)->reaper_next)
        ;
    if (*at == pool)
        *at = pool->reaper_next;
    pthread_mutex_unlock(&r->lock);
    pool->reaper = NULL;
}

struct smtp_pool *smtp_pool_new(const struct smtp_server *srv, unsigned size,
                                struct smtp_reaper *reaper,
                                struct gw_error *err)
{
    struct smtp_pool *pool;

    if (check_server(srv, err) != GW_OK)
        return NULL;
    pool = calloc(1, sizeof(*pool));
    if (pool == NULL) {
        gw_error_set(err, GW_ENOMEM, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&pool->lock, NULL);
    pool->size = size ? size : 1;
    pool->max_waiting = srv->waiting ? srv->waiting : 4 * pool->size;
    if (!copy_server(pool, srv)) {
        gw_error_set(err, GW_ENOMEM, "out of memory");
        goto fail;
    }
    if (srv->tls != SMTP_TLS_NONE) {
        pool->tls = tls_config_new(&pool->srv.tls_params, err);
        if (pool->tls == NULL)
            goto fail;
        if (!srv->tls_params.verify_peer)
            log_warn("event=tls_verify_off host=%s detail=\"verify_peer is "
                     "false: the server's certificate is not checked\"",
                     srv->host);
    }
    if (reaper != NULL)
        reaper_add(reaper, pool);
    return pool;
fail:
    smtp_pool_free(pool);
    return NULL;
}

/* Frees a string that may have held a secret, wiping it first. */
static void free_wiped(const char *s)
{
    if (s != NULL) {
        explicit_bzero((char *)(uintptr_t)s, strlen(s));
        free((char *)(uintptr_t)s);
    }
}

void smtp_pool_free(struct smtp_pool *pool)
{
    const struct smtp_server *srv;

    if (pool == NULL)
        return;
    if (pool->reaper != NULL)
        reaper_remove(pool);
    srv = &pool->srv;
    free_wiped(srv->host);
    free_wiped(srv->helo_name);
    free_wiped(srv->username);
    free_wiped(srv->password);
    free_wiped(srv->access_token);
    free_wiped(srv->mechanisms);
    free_wiped(srv->auth_from);
    free_wiped(srv->tls_params.ca_file);
    free_wiped(srv->tls_params.client_cert);
    free_wiped(srv->tls_params.client_key);
    /* Idle TLS connections use the configuration: close them first. */
    while (pool->idle != NULL) {
        struct conn *c = pool->idle;

        pool->idle = c->next;
        conn_close(c);
    }
    while (pool->closing != NULL) {
        struct conn *c = pool->closing;

        pool->closing = c->next;
        conn_drop(c);
    }
    tls_config_free(pool->tls);
    pthread_mutex_destroy(&pool->lock);
    free(pool);
}

/* Takes the newest idle connection that is still worth using. */
static struct conn *take_idle(struct smtp_pool *pool, uint64_t now)
{
    while (pool->idle != NULL) {
        struct conn *c = pool->idle;

        pool->idle = c->next;
        pool->n_idle--;
        if (io_pending(&c->io)) {
            /* Whatever the server said meanwhile, its next reply would
               not be the one to the next command. */
            log_debug("event=smtp_idle_drop host=%s", pool->srv.host);
            conn_drop(c);
        } else if (now - c->idle_since >= pool->srv.idle_ms) {
            log_debug("event=smtp_idle_close host=%s", pool->srv.host);
            conn_close(c);
        } else {
            return c;
        }
    }
    return NULL;
}

/* True when `a` is before `b`. */
static bool ts_before(struct timespec a, struct timespec b)
{
    return a.tv_sec < b.tv_sec ||
           (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

/* Takes `w` out of the queue of waiters. */
static void unqueue(struct smtp_pool *pool, struct waiter *w)
{
    struct waiter **at = &pool->waiters;

    while (*at != w)
        at = &(*at)->next;
    *at = w->next;
    pool->n_waiting--;
    if (pool->last_waiter == w) {
        pool->last_waiter = NULL;
        for (struct waiter *x = pool->waiters; x != NULL; x = x->next)
            pool->last_waiter = x;
    }
}

/*
 * Slots go to waiters in the order they came (a release hands its slot
 * to the first in the queue), so that no send waits behind later ones:
 * under load that is what keeps the slowest answers close to the others.
 */
enum gw_err pool_acquire(struct smtp_pool *pool, uint64_t deadline,
                         const struct smtp_cancel *cancel, struct conn **out)
{
    uint64_t now = gw_now_ms(), wait = pool->srv.timeout_ms;
    struct timespec until;
    struct waiter me = {.granted = false, .next = NULL};
    enum gw_err rc = GW_OK;

    /* The wait is part of the send: it takes from the deadline. */
    if (now + wait > deadline)
        wait = deadline > now ? deadline - now : 0;
    until = gw_wait_until(wait);
    pthread_mutex_lock(&pool->lock);
    if (pool->busy < pool->size && pool->waiters == NULL) {
        pool->busy++;
        me.granted = true;
    } else if (pool->n_waiting >= pool->max_waiting) {
        /* Past the bound a send is told at once, not after the wait it
           would most likely spend in vain behind the others. */
        rc = GW_ELIMIT;
    } else {
        /* `me` is queued only while this function waits: whoever grants
           it the slot, or its own time-out, takes it out first. */
        pthread_cond_init(&me.cond, NULL);
        if (pool->last_waiter != NULL)
            pool->last_waiter->next = &me;
        else
            pool->waiters = &me; // cppcheck-suppress autoVariables
        pool->last_waiter = &me; // cppcheck-suppress autoVariables
        pool->n_waiting++;
        while (!me.granted && rc == GW_OK) {
            /* With a client to ask after, the wait goes in slices, and
               the client is asked between them (the lock held: it is one
               look at a socket). */
            struct timespec slice = until;
            bool last = true;

            if (cancel != NULL) {
                slice = gw_wait_until(CANCEL_CHECK_MS);
                last = !ts_before(slice, until);
                if (last)
                    slice = until;
            }
            if (pthread_cond_timedwait(&me.cond, &pool->lock, &slice) == 0 ||
                me.granted)
                continue;
            if (last) {
                unqueue(pool, &me);
                rc = GW_EBUSY;
            } else if (cancel->gone(cancel->arg)) {
                unqueue(pool, &me);
                rc = GW_ECANCELED;
            }
        }
        pthread_cond_destroy(&me.cond);
    }
    if (rc == GW_OK)
        *out = take_idle(pool, gw_now_ms());
    pthread_mutex_unlock(&pool->lock);
    return rc;
}

void pool_release(struct smtp_pool *pool, struct conn *keep)
{
    struct smtp_reaper *reaper = keep != NULL ? pool->reaper : NULL;
    struct waiter *next;

    pthread_mutex_lock(&pool->lock);
    if (keep != NULL) {
        keep->idle_since = gw_now_ms();
        keep->next = pool->idle;
        pool->idle = keep;
        pool->n_idle++;
    }
    next = pool->waiters;
    if (next != NULL) {
        /* The slot goes straight to the first waiter: busy stays. */
        unqueue(pool, next);
        next->granted = true;
        pthread_cond_signal(&next->cond);
    } else {
        pool->busy--;
    }
    pthread_mutex_unlock(&pool->lock);
    /* A new idle connection: the reaper watches it from now on. */
    if (reaper != NULL)
        reaper_wake(reaper);
}

/* Adds `fd` to the sockets of the next wait, growing the array. */
static void reaper_watch(struct smtp_reaper *r, int fd)
{
    if (r->n_fds == r->max_fds) {
        size_t max = r->max_fds ? 2 * r->max_fds : 64;
        struct pollfd *fds = realloc(r->fds, max * sizeof(*fds));

        if (fds == NULL) {
            r->fds_short = true;
            return;
        }
        r->fds = fds;
        r->max_fds = max;
    }
    r->fds[r->n_fds++] = (struct pollfd){.fd = fd, .events = POLLIN};
}

static uint64_t earlier(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/*
 * One look at the idle connections of `pool`: those the server spoke on
 * or closed go to `*drop`, those idle for idle_ms to `*quit`; of those
 * already sent QUIT, the ones answered or waited for long enough go to
 * `*drop`. The rest are watched. Returns when the next one falls due.
 */
static uint64_t reap_pool(struct smtp_reaper *r, struct smtp_pool *pool,
                          uint64_t now, struct conn **quit, struct conn **drop)
{
    uint64_t due = UINT64_MAX;
    struct conn **at, *c;

    pthread_mutex_lock(&pool->lock);
    for (at = &pool->idle; (c = *at) != NULL;) {
        uint64_t expiry = c->idle_since + pool->srv.idle_ms;
        bool pending = io_pending(&c->io);

        if (!pending && now < expiry) {
            due = earlier(due, expiry);
            reaper_watch(r, c->io.fd);
            at = &c->next;
            continue;
        }
        *at = c->next;
        pool->n_idle--;
        c->next = pending ? *drop : *quit;
        *(pending ? drop : quit) = c;
    }
    for (at = &pool->closing; (c = *at) != NULL;) {
        if (!io_pending(&c->io) && now < c->quit_until) {
            due = earlier(due, c->quit_until);
            reaper_watch(r, c->io.fd);
            at = &c->next;
            continue;
        }
        *at = c->next;
        c->next = *drop;
        *drop = c;
    }
    pthread_mutex_unlock(&pool->lock);
    return due;
}

/*
 * Closes what reap_pool() took out, outside the pool's lock so that no
 * send waits for it: QUIT on the expired ones, which then wait on the
 * pool's closing list for the server's answer (closing first would make
 * the answer meet a closed socket, and the server a reset).
 */
static uint64_t reap_close(struct smtp_reaper *r, struct smtp_pool *pool,
                           uint64_t now, struct conn *quit, struct conn *drop)
{
    uint64_t due = UINT64_MAX;

    while (drop != NULL) {
        struct conn *c = drop;

        drop = c->next;
        log_debug("event=smtp_idle_drop host=%s", pool->srv.host);
        conn_drop(c);
    }
    while (quit != NULL) {
        struct conn *c = quit;

        quit = c->next;
        log_debug("event=smtp_idle_close host=%s", pool->srv.host);
        if (!conn_say_quit(c)) {
            conn_drop(c);
            continue;
        }
        c->quit_until = now + REAPER_QUIT_WAIT_MS;
        due = earlier(due, c->quit_until);
        reaper_watch(r, c->io.fd);
        pthread_mutex_lock(&pool->lock);
        c->next = pool->closing;
        pool->closing = c;
        pthread_mutex_unlock(&pool->lock);
    }
    return due;
}

/* One look at every pool; returns when the next connection falls due. */
static uint64_t reaper_round(struct smtp_reaper *r)
{
    uint64_t now = gw_now_ms(), due = UINT64_MAX;

    r->n_fds = 0;
    r->fds_short = false;
    reaper_watch(r, r->wake_fd);
    for (struct smtp_pool *p = r->pools; p != NULL; p = p->reaper_next) {
        struct conn *quit = NULL, *drop = NULL;

        due = earlier(due, reap_pool(r, p, now, &quit, &drop));
        due = earlier(due, reap_close(r, p, now, quit, drop));
    }
    /* Sockets that found no room are looked at again within a second. */
    if (r->fds_short || r->n_fds == 0)
        due = earlier(due, now + 1000);
    return due;
}

/* The poll() time-out until `due`: -1 for never. */
static int wait_ms(uint64_t due)
{
    uint64_t now = gw_now_ms();

    if (due == UINT64_MAX)
        return -1;
    if (due <= now)
        return 0;
    return due - now > 60000 ? 60000 : (int)(due - now);
}

/*
 * Sleeps until a connection falls due, one of the watched sockets stirs
 * (the server answered QUIT, spoke or hung up; or a send took the
 * connection and its traffic woke the thread: the next round no longer
 * watches it) or a pool wakes it, then looks again.
 */
static void *reaper_main(void *arg)
{
    struct smtp_reaper *r = arg;
    char why[GW_STRERROR_MAX];
    uint64_t count;

    pthread_mutex_lock(&r->lock);
    while (!r->stop) {
        uint64_t due = reaper_round(r);
        uint64_t next = gw_now_ms() + REAPER_ROUND_MS;
        int rest;

        pthread_mutex_unlock(&r->lock);
        /* A socket closed meanwhile by its send is harmless here: every
           round decides from the pools' lists, never from this wait. */
        if (poll(r->fds, r->n_fds, wait_ms(due)) < 0 && errno != EINTR)
            log_warn("event=reaper_poll_failed detail=\"%s\"",
                     gw_strerror_r(errno, why, sizeof(why)));
        rest = wait_ms(next);
        if (rest > 0)
            poll(NULL, 0, rest);
        /* Emptied before `woken` is cleared: a wake-up skipped while it
           was set is for a change the next round sees anyway. */
        if (read(r->wake_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
            log_warn("event=reaper_wake_failed detail=\"%s\"",
                     gw_strerror_r(errno, why, sizeof(why)));
        atomic_store(&r->woken, false);
        pthread_mutex_lock(&r->lock);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

struct smtp_reaper *smtp_reaper_new(struct gw_error *err)
{
    struct smtp_reaper *r = calloc(1, sizeof(*r));
    char why[GW_STRERROR_MAX];
    sigset_t all, was;
    int rc;

    if (r == NULL) {
        gw_error_set(err, GW_ENOMEM, "out of memory");
        return NULL;
    }
    r->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (r->wake_fd < 0) {
        gw_error_set(err, GW_EIO, "eventfd: %s",
                     gw_strerror_r(errno, why, sizeof(why)));
        free(r);
        return NULL;
    }
    pthread_mutex_init(&r->lock, NULL);
    /* The thread takes no signal: those are for the threads that wait
       for them (the thread inherits the mask in force here). */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &was);
    rc = pthread_create(&r->thread, NULL, reaper_main, r);
    pthread_sigmask(SIG_SETMASK, &was, NULL);
    if (rc != 0) {
        gw_error_set(err, GW_ENOMEM, "cannot start the reaper thread: %s",
                     gw_strerror_r(rc, why, sizeof(why)));
        pthread_mutex_destroy(&r->lock);
        close(r->wake_fd);
        free(r);
        return NULL;
    }
    return r;
}

void smtp_reaper_free(struct smtp_reaper *r)
{
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->lock);
    r->stop = true;
    pthread_mutex_unlock(&r->lock);
    reaper_poke(r);
    pthread_join(r->thread, NULL);
    if (r->pools != NULL)
        log_warn("event=reaper_pools_left detail=\"pools still use the "
                 "reaper as it stops\"");
    pthread_mutex_destroy(&r->lock);
    close(r->wake_fd);
    free(r->fds);
    free(r);
}
