/*
 * The pool of an upstream: its settings, and the connections kept open
 * between sends (RFC 5321 allows many transactions per session). At most
 * `size` connections exist at once, open or being opened; a send takes
 * one, or a free slot to open a new one, and gives it back when done.
 *
 * An idle connection is reused newest first, checked with NOOP when it
 * has been idle for a while, closed when idle too long or after many
 * messages. Nothing here runs on its own: expired connections are closed
 * the next time the pool is used, or when it is freed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sasl.h"
#include "session.h"

/* Closes an idle connection for good, saying QUIT without waiting. */
static void conn_close(struct conn *c)
{
    struct gw_error ignored = {0};

    io_write(&c->io, "QUIT\r\n", 6, io_now_ms() + 100, &ignored);
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
        sasl_check_list(srv->mechanisms, err) != GW_OK)
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

struct smtp_pool *smtp_pool_new(const struct smtp_server *srv, unsigned size,
                                struct gw_error *err)
{
    struct smtp_pool *pool;

    if (check_server(srv, err) != GW_OK)
        return NULL;
    pool = calloc(1, sizeof(*pool));
    if (pool == NULL)
        return gw_error_set(err, GW_ENOMEM, "out of memory"), NULL;
    pthread_mutex_init(&pool->lock, NULL);
    pool->size = size ? size : 1;
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
        if (now - c->idle_since < pool->srv.idle_ms)
            return c;
        log_debug("event=smtp_idle_close host=%s", pool->srv.host);
        conn_close(c);
    }
    return NULL;
}

/* The absolute time `ms` from now, for pthread_cond_timedwait(). */
static struct timespec time_after(uint64_t ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    return ts;
}

/* Takes `w` out of the queue of waiters. */
static void unqueue(struct smtp_pool *pool, struct waiter *w)
{
    struct waiter **at = &pool->waiters;

    while (*at != w)
        at = &(*at)->next;
    *at = w->next;
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
                         struct conn **out)
{
    uint64_t now = io_now_ms(), wait = pool->srv.timeout_ms;
    struct timespec until;
    struct waiter me = {.granted = false, .next = NULL};
    enum gw_err rc = GW_OK;

    /* The wait is part of the send: it takes from the deadline. */
    if (now + wait > deadline)
        wait = deadline > now ? deadline - now : 0;
    until = time_after(wait);
    pthread_mutex_lock(&pool->lock);
    if (pool->busy < pool->size && pool->waiters == NULL) {
        pool->busy++;
        me.granted = true;
    } else {
        /* `me` is queued only while this function waits: whoever grants
           it the slot, or its own time-out, takes it out first. */
        pthread_cond_init(&me.cond, NULL);
        if (pool->last_waiter != NULL)
            pool->last_waiter->next = &me;
        else
            pool->waiters = &me; // cppcheck-suppress autoVariables
        pool->last_waiter = &me; // cppcheck-suppress autoVariables
        while (!me.granted && rc == GW_OK) {
            if (pthread_cond_timedwait(&me.cond, &pool->lock, &until) != 0 &&
                !me.granted) {
                unqueue(pool, &me);
                rc = GW_EBUSY;
            }
        }
        pthread_cond_destroy(&me.cond);
    }
    if (rc == GW_OK)
        *out = take_idle(pool, io_now_ms());
    pthread_mutex_unlock(&pool->lock);
    return rc;
}

void pool_release(struct smtp_pool *pool, struct conn *keep)
{
    struct waiter *next;

    pthread_mutex_lock(&pool->lock);
    if (keep != NULL) {
        keep->idle_since = io_now_ms();
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
}
