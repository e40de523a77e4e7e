/*
 * The SMTP client: one transaction per send, driven by an explicit state
 * machine (RFC 5321 3.3 and 4.1), and the pool that bounds connections
 * per upstream.
 *
 * Every step sends one command, reads one reply and picks the next state
 * from it; each transition is logged at debug level with the state's name.
 * A failure anywhere records what happened in the result and moves to
 * QUIT, so the connection always ends politely when it can.
 */
#include "smtp.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "data.h"
#include "io.h"
#include "log.h"
#include "reply.h"

/* A message goes out in chunks of this size, dot-stuffed into a buffer of
   three times that (data.h). */
#define DATA_CHUNK (16 * 1024)

/* How long QUIT may take; its answer changes nothing. */
#define QUIT_TIMEOUT_MS 2000

struct smtp_pool {
    struct smtp_server srv; /* with strings owned by the pool */
    unsigned size;          /* most connections open at once */
    unsigned busy;          /* connections open now */
    pthread_mutex_t lock;
    pthread_cond_t freed;
};

enum state {
    S_CONNECT,
    S_GREETING,
    S_EHLO,
    S_HELO,
    S_MAIL,
    S_RCPT,
    S_DATA,
    S_BODY,
    S_RSET,
    S_QUIT,
    S_DONE,
};

static const char *const state_names[] = {
    [S_CONNECT] = "CONNECT", [S_GREETING] = "GREETING", [S_EHLO] = "EHLO",
    [S_HELO] = "HELO",       [S_MAIL] = "MAIL",         [S_RCPT] = "RCPT",
    [S_DATA] = "DATA",       [S_BODY] = "BODY",         [S_RSET] = "RSET",
    [S_QUIT] = "QUIT",       [S_DONE] = "DONE",
};

/* One transaction on one connection. */
struct session {
    const struct smtp_pool *pool;
    const struct smtp_envelope *env;
    const char *msg;
    size_t len;
    struct smtp_result *res;
    enum state state;
    struct io io;
    struct smtp_caps caps;
    struct smtp_reply reply;
    size_t next_rcpt; /* the recipient RCPT TO goes to next */
    size_t accepted;  /* recipients accepted so far */
    bool failed;      /* res->error holds why the send failed */
    char line[SMTP_REPLY_LINE_MAX + 2];
};

bool smtp_tls_mode_parse(const char *text, enum smtp_tls_mode *out)
{
    static const char *const names[] = {
        [SMTP_TLS_NONE] = "none",
        [SMTP_TLS_STARTTLS] = "starttls",
        [SMTP_TLS_IMPLICIT] = "implicit",
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(text, names[i]) == 0) {
            *out = (enum smtp_tls_mode)i;
            return true;
        }
    }
    return false;
}

static void set_state(struct session *s, enum state next)
{
    log_debug("event=smtp_state host=%s from=%s to=%s", s->pool->srv.host,
              state_names[s->state], state_names[next]);
    s->state = next;
}

/* Records the failure of the send and heads for QUIT. */
static void fail(struct session *s, enum gw_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(struct session *s, enum gw_err code, const char *fmt, ...)
{
    char detail[GW_ERROR_DETAIL_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    gw_error_set(&s->res->error, code, "%s", detail);
    s->failed = true;
    set_state(s, S_QUIT);
}

static uint64_t deadline(const struct session *s)
{
    return io_now_ms() + s->pool->srv.timeout_ms;
}

/* Writes a command line; the CRLF is added here. */
static enum gw_err send_command(struct session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static enum gw_err send_command(struct session *s, const char *fmt, ...)
{
    char cmd[SMTP_REPLY_LINE_MAX];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(cmd, sizeof(cmd) - 2, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(cmd) - 2)
        return gw_error_set(&s->res->error, GW_EINVAL, "command too long");
    log_debug("event=smtp_send host=%s state=%s command=%.4s",
              s->pool->srv.host, state_names[s->state], cmd);
    memcpy(cmd + n, "\r\n", 2);
    return io_write(&s->io, cmd, (size_t)n + 2, deadline(s), &s->res->error);
}

/* Reads a whole (possibly multi-line) reply into s->reply. */
static enum gw_err read_reply(struct session *s, uint64_t until)
{
    char shown[LOG_QUOTE_MAX];
    enum gw_err rc;
    size_t len;

    smtp_reply_reset(&s->reply);
    do {
        rc = io_read_line(&s->io, s->line, SMTP_REPLY_LINE_MAX, &len, until,
                          &s->res->error);
        if (rc == GW_OK)
            rc = smtp_reply_feed(&s->reply, s->line, len, &s->res->error);
        if (rc != GW_OK)
            return rc;
    } while (!s->reply.done);
    log_debug("event=smtp_reply host=%s state=%s reply=%s", s->pool->srv.host,
              state_names[s->state],
              log_quote(shown, sizeof(shown), buf_cstr(&s->reply.line)));
    return GW_OK;
}

/*
 * Sends a command and reads its reply. On an I/O or protocol failure the
 * send has failed and the connection is unusable: straight to DONE.
 */
static bool exchange(struct session *s, const char *cmd)
{
    enum gw_err rc = send_command(s, "%s", cmd);

    if (rc == GW_OK)
        rc = read_reply(s, deadline(s));
    if (rc != GW_OK) {
        s->failed = true;
        set_state(s, S_DONE);
        return false;
    }
    return true;
}

static const char *reply_line(const struct session *s)
{
    return buf_cstr(&s->reply.line);
}

static void do_connect(struct session *s)
{
    const struct smtp_server *srv = &s->pool->srv;
    enum gw_err rc;

    rc = io_connect(&s->io, srv->host, srv->port, deadline(s), &s->res->error);
    if (rc != GW_OK) {
        s->failed = true;
        set_state(s, S_DONE);
        return;
    }
    set_state(s, S_GREETING);
}

static void do_greeting(struct session *s)
{
    if (read_reply(s, deadline(s)) != GW_OK) {
        s->failed = true;
        set_state(s, S_DONE);
    } else if (s->reply.code != 220) {
        fail(s, GW_EREJECTED, "the server refused the connection: %s",
             reply_line(s));
    } else {
        set_state(s, S_EHLO);
    }
}

/* EHLO, or HELO when the server does not know EHLO (RFC 5321 4.1.4). */
static void do_hello(struct session *s, const char *verb)
{
    char cmd[300];

    snprintf(cmd, sizeof(cmd), "%s %s", verb, s->pool->srv.helo_name);
    if (!exchange(s, cmd))
        return;
    if (s->reply.code == 250) {
        if (s->state == S_EHLO)
            smtp_caps_parse(&s->reply, &s->caps);
        set_state(s, S_MAIL);
    } else if (s->state == S_EHLO && s->reply.code >= 500 &&
               s->reply.code <= 504) {
        set_state(s, S_HELO);
    } else {
        fail(s, GW_EREJECTED, "%s was refused: %s", verb, reply_line(s));
    }
}

static void do_mail(struct session *s)
{
    char cmd[400];
    bool utf8 = s->env->needs_smtputf8;

    if (utf8 && !s->caps.smtputf8) {
        fail(s, GW_EUNSUPP,
             "the message needs SMTPUTF8 (UTF-8 in an address or header), "
             "which the server does not offer");
        return;
    }
    snprintf(cmd, sizeof(cmd), "MAIL FROM:<%s>%s", s->env->from,
             utf8 ? " SMTPUTF8" : "");
    if (!exchange(s, cmd))
        return;
    if (s->reply.code != 250)
        fail(s, GW_EREJECTED, "MAIL FROM:<%s> was refused: %s", s->env->from,
             reply_line(s));
    else
        set_state(s, S_RCPT);
}

/* Keeps the server's answer to one RCPT TO in the result. */
static enum gw_err record_rcpt(struct session *s, size_t i)
{
    struct smtp_rcpt_result *r = &s->res->rcpts[i];

    r->tried = true;
    r->code = s->reply.code;
    r->accepted = s->reply.code / 100 == 2;
    r->reply = strdup(reply_line(s));
    return r->reply ? GW_OK : GW_ENOMEM;
}

static void do_rcpt(struct session *s)
{
    size_t i = s->next_rcpt;
    const char *to = s->env->rcpts[i];
    char cmd[400];

    snprintf(cmd, sizeof(cmd), "RCPT TO:<%s>", to);
    if (!exchange(s, cmd))
        return;
    if (record_rcpt(s, i) != GW_OK) {
        fail(s, GW_ENOMEM, "out of memory");
        return;
    }
    s->next_rcpt++;
    if (s->res->rcpts[i].accepted) {
        s->accepted++;
    } else {
        /* The first refusal is the one a person needs to see. */
        if (s->res->error.code == GW_OK)
            gw_error_set(&s->res->error, GW_EREJECTED,
                         "RCPT TO:<%s> was refused: %s", to, reply_line(s));
        if (!s->env->continue_after_bad_send) {
            s->failed = true;
            set_state(s, S_RSET);
            return;
        }
    }
    if (s->next_rcpt < s->env->n_rcpts)
        return;
    if (s->accepted == 0) {
        s->failed = true;
        set_state(s, S_RSET);
    } else {
        set_state(s, S_DATA);
    }
}

static void do_data(struct session *s)
{
    if (!exchange(s, "DATA"))
        return;
    if (s->reply.code != 354) {
        gw_error_set(&s->res->error, GW_EREJECTED, "DATA was refused: %s",
                     reply_line(s));
        s->failed = true;
        set_state(s, S_RSET);
    } else {
        set_state(s, S_BODY);
    }
}

/* Streams the message through the DATA encoder, then the final dot. */
static enum gw_err write_body(struct session *s)
{
    struct smtp_data st = {0};
    struct buf out;
    enum gw_err rc = GW_OK;

    buf_init(&out, 3 * DATA_CHUNK + 8);
    for (size_t at = 0; at < s->len && rc == GW_OK; at += DATA_CHUNK) {
        size_t n = s->len - at < DATA_CHUNK ? s->len - at : DATA_CHUNK;

        buf_reset(&out);
        rc = smtp_data_encode(&st, s->msg + at, n, &out);
        if (rc == GW_OK)
            rc = io_write(&s->io, out.data, out.len, deadline(s),
                          &s->res->error);
    }
    if (rc == GW_OK) {
        buf_reset(&out);
        rc = smtp_data_finish(&st, &out);
        if (rc == GW_OK)
            rc = io_write(&s->io, out.data, out.len, deadline(s),
                          &s->res->error);
    }
    buf_free(&out);
    return rc;
}

static void do_body(struct session *s)
{
    enum gw_err rc = write_body(s);

    if (rc == GW_OK)
        rc = read_reply(s, deadline(s));
    if (rc != GW_OK) {
        s->failed = true;
        set_state(s, S_DONE);
    } else if (s->reply.code != 250) {
        fail(s, GW_EREJECTED, "the message was refused: %s", reply_line(s));
    } else {
        set_state(s, S_QUIT);
    }
}

/* Abandons the transaction after a refusal, keeping the error. */
static void do_rset(struct session *s)
{
    struct gw_error keep = s->res->error;

    if (exchange(s, "RSET"))
        set_state(s, S_QUIT);
    s->res->error = keep;
}

/* Ends the session politely; whatever QUIT meets changes no outcome. */
static void do_quit(struct session *s)
{
    struct gw_error keep = s->res->error;
    size_t len;

    if (send_command(s, "QUIT") == GW_OK)
        io_read_line(&s->io, s->line, SMTP_REPLY_LINE_MAX, &len,
                     io_now_ms() + QUIT_TIMEOUT_MS, &s->res->error);
    s->res->error = keep;
    set_state(s, S_DONE);
}

static void run(struct session *s)
{
    while (s->state != S_DONE) {
        switch (s->state) {
        case S_CONNECT:
            do_connect(s);
            break;
        case S_GREETING:
            do_greeting(s);
            break;
        case S_EHLO:
        case S_HELO:
            do_hello(s, s->state == S_EHLO ? "EHLO" : "HELO");
            break;
        case S_MAIL:
            do_mail(s);
            break;
        case S_RCPT:
            do_rcpt(s);
            break;
        case S_DATA:
            do_data(s);
            break;
        case S_BODY:
            do_body(s);
            break;
        case S_RSET:
            do_rset(s);
            break;
        case S_QUIT:
            do_quit(s);
            break;
        case S_DONE:
            break;
        }
    }
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

struct smtp_pool *smtp_pool_new(const struct smtp_server *srv, unsigned size,
                                struct gw_error *err)
{
    struct smtp_pool *pool;
    bool oom = false;

    if (srv->host == NULL || srv->host[0] == '\0')
        return gw_error_set(err, GW_EINVAL, "the host is empty"), NULL;
    if (srv->port == 0 || srv->port > 65535)
        return gw_error_set(err, GW_EINVAL, "the port is not 1..65535"), NULL;
    if (srv->tls != SMTP_TLS_NONE)
        return gw_error_set(err, GW_EUNSUPP,
                            "TLS is not available in this version; "
                            "use tls none"),
               NULL;
    if (srv->username != NULL)
        return gw_error_set(err, GW_EUNSUPP,
                            "AUTH is not available in this version"),
               NULL;
    pool = calloc(1, sizeof(*pool));
    if (pool == NULL)
        return gw_error_set(err, GW_ENOMEM, "out of memory"), NULL;
    pool->srv = *srv;
    pool->srv.host = dup_or_null(srv->host, &oom);
    pool->srv.helo_name = srv->helo_name ? dup_or_null(srv->helo_name, &oom)
                                         : default_helo_name();
    pool->srv.username = dup_or_null(srv->username, &oom);
    pool->srv.password = dup_or_null(srv->password, &oom);
    if (pool->srv.timeout_ms == 0)
        pool->srv.timeout_ms = 30000;
    pool->size = size ? size : 1;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->freed, NULL);
    if (oom || pool->srv.helo_name == NULL) {
        smtp_pool_free(pool);
        return gw_error_set(err, GW_ENOMEM, "out of memory"), NULL;
    }
    return pool;
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
    if (pool == NULL)
        return;
    free_wiped(pool->srv.host);
    free_wiped(pool->srv.helo_name);
    free_wiped(pool->srv.username);
    free_wiped(pool->srv.password);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->freed);
    free(pool);
}

/* Takes one of the pool's connections, waiting until `until`. */
static enum gw_err acquire(struct smtp_pool *pool, uint64_t until)
{
    uint64_t now = io_now_ms(), left = until > now ? until - now : 0;
    struct timespec ts;
    enum gw_err rc = GW_OK;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(left / 1000);
    ts.tv_nsec += (long)(left % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&pool->lock);
    while (pool->busy == pool->size && rc == GW_OK) {
        if (pthread_cond_timedwait(&pool->freed, &pool->lock, &ts) != 0)
            rc = GW_EBUSY;
    }
    if (rc == GW_OK)
        pool->busy++;
    pthread_mutex_unlock(&pool->lock);
    return rc;
}

static void release(struct smtp_pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    pool->busy--;
    pthread_cond_signal(&pool->freed);
    pthread_mutex_unlock(&pool->lock);
}

/* Turns what the session saw into the overall status. */
static void conclude(struct session *s)
{
    struct smtp_result *res = s->res;

    if (s->failed) {
        res->status = SMTP_FAILED;
        if (res->error.code == GW_OK)
            gw_error_set(&res->error, GW_EIO, "the send failed");
    } else if (s->accepted < s->env->n_rcpts) {
        res->status = SMTP_PARTIAL;
    } else {
        res->status = SMTP_SENT;
        res->error.code = GW_OK;
        res->error.detail[0] = '\0';
    }
}

enum gw_err smtp_pool_send(struct smtp_pool *pool,
                           const struct smtp_envelope *env, const char *msg,
                           size_t len, struct smtp_result *res)
{
    struct session s = {.pool = pool,
                        .env = env,
                        .msg = msg,
                        .len = len,
                        .res = res,
                        .state = S_CONNECT};

    memset(res, 0, sizeof(*res));
    res->status = SMTP_FAILED;
    res->rcpts = calloc(env->n_rcpts, sizeof(*res->rcpts));
    if (res->rcpts == NULL)
        return gw_error_set(&res->error, GW_ENOMEM, "out of memory");
    res->n_rcpts = env->n_rcpts;
    /* A message that cannot go out whole must not start to. */
    if (smtp_data_check(msg, len, &res->error) != GW_OK)
        return res->error.code;
    if (acquire(pool, io_now_ms() + pool->srv.timeout_ms) != GW_OK)
        return gw_error_set(&res->error, GW_EBUSY,
                            "all %u connections to %s are busy", pool->size,
                            pool->srv.host);
    io_init(&s.io);
    smtp_reply_init(&s.reply);
    run(&s);
    io_close(&s.io);
    smtp_reply_free(&s.reply);
    release(pool);
    conclude(&s);
    return res->status == SMTP_FAILED ? res->error.code : GW_OK;
}

void smtp_result_free(struct smtp_result *res)
{
    for (size_t i = 0; i < res->n_rcpts && res->rcpts != NULL; i++)
        free(res->rcpts[i].reply);
    free(res->rcpts);
    res->rcpts = NULL;
    res->n_rcpts = 0;
}
