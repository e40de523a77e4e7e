/*
 * The SMTP client: one transaction per send, driven by an explicit state
 * machine (RFC 5321 3.3 and 4.1, RFC 3207, RFC 4954, RFC 2920), and the
 * pool that bounds connections per upstream.
 *
 *   CONNECT -> [TLS] -> GREETING -> EHLO (or HELO) -> [STARTTLS -> EHLO]
 *           -> [AUTH] -> MAIL -> RCPT... -> DATA -> BODY -> END
 *   END -> DONE (the connection is kept for the next send)
 *       -> QUIT -> DONE
 *
 * Every step sends one command (or, with PIPELINING, one batch), reads
 * the replies and picks the next state from them; each transition is
 * logged at debug level with the state's name. A failure records what
 * happened in the result and moves to RSET or END, so that the
 * connection ends politely when it can; a broken connection or a 421
 * goes straight to DONE.
 */
#include "smtp.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "net/net.h"
#include "reply.h"
#include "sasl.h"
#include "session.h"

/* A message goes out in chunks of this size, dot-stuffed into a buffer of
   three times that (data.h). */
#define DATA_CHUNK (16 * 1024)

/* How long writing QUIT may take; its answer is not waited for. */
#define QUIT_WRITE_MS 100

/* Sends a command and reads its reply within the command timeout. */
static bool exchange(struct session *s, const char *line)
{
    return session_exchange(s, line, false, s->pool->srv.timeouts.command_ms);
}

static void do_connect(struct session *s)
{
    const struct smtp_server *srv = &s->pool->srv;

    if (io_connect_within(&s->io, srv->host, srv->port, srv->ip_version,
                          session_timeout(s, srv->timeouts.connect_ms),
                          s->deadline, &s->res->error) != GW_OK)
        session_broken(s);
    else
        session_set_state(s,
                          srv->tls == SMTP_TLS_IMPLICIT ? S_TLS : S_GREETING);
}

/* Forgets a kept connection that proved dead; the send opens a new one. */
static void start_over(struct session *s)
{
    log_debug("event=smtp_reconnect host=%s", s->pool->srv.host);
    io_close(&s->io);
    memset(&s->caps, 0, sizeof(s->caps));
    s->authenticated = s->reused = s->ready = false;
    s->sends = 0;
    s->res->error = (struct gw_error){0};
    s->res->code = 0;
    session_set_state(s, S_CONNECT);
}

/* A connection idle for a while is asked whether it is still there. */
static void do_noop(struct session *s)
{
    struct gw_error keep = s->res->error;

    if (session_send_line(s, "NOOP", false) == GW_OK &&
        session_read_reply(s, s->pool->srv.timeouts.command_ms) == GW_OK &&
        s->reply.code == 250) {
        session_set_state(s, S_MAIL);
        return;
    }
    s->res->error = keep;
    start_over(s);
}

/* The TLS handshake: from the first byte, or after STARTTLS's 220. */
static void do_tls(struct session *s, enum state next)
{
    const struct smtp_server *srv = &s->pool->srv;

    if (io_start_tls(&s->io, s->pool->tls, srv->host,
                     session_deadline_of(s, srv->timeouts.connect_ms),
                     &s->res->error) != GW_OK)
        session_broken(s);
    else
        session_set_state(s, next);
}

static void do_greeting(struct session *s)
{
    if (session_read_reply(s, s->pool->srv.timeouts.greeting_ms) != GW_OK)
        session_broken(s);
    else if (s->reply.code != 220)
        session_fail(s, GW_EREJECTED, "the server refused the connection: %s",
                     session_reply(s));
    else
        session_set_state(s, S_EHLO);
}

/* After EHLO or HELO: STARTTLS when it is still due, then AUTH or MAIL. */
static void after_hello(struct session *s)
{
    const struct smtp_server *srv = &s->pool->srv;

    if (srv->tls == SMTP_TLS_STARTTLS && s->io.tls == NULL) {
        if (s->caps.starttls)
            session_set_state(s, S_STARTTLS);
        else
            session_fail(s, GW_ETLS,
                         "the server %s does not offer STARTTLS, which tls "
                         "starttls requires; nothing was sent in the clear",
                         srv->host);
    } else {
        session_set_state(s, srv->username != NULL ? S_AUTH : S_MAIL);
    }
}

/* EHLO, or HELO when the server does not know EHLO (RFC 5321 4.1.4). */
static void do_hello(struct session *s)
{
    const char *verb = s->state == S_EHLO ? "EHLO" : "HELO";
    char cmd[300];

    snprintf(cmd, sizeof(cmd), "%s %s", verb, s->pool->srv.helo_name);
    memset(&s->caps, 0, sizeof(s->caps));
    if (!exchange(s, cmd))
        return;
    if (s->reply.code == 250) {
        if (s->state == S_EHLO)
            smtp_caps_parse(&s->reply, &s->caps);
        after_hello(s);
    } else if (s->state == S_EHLO && s->reply.code >= 500 &&
               s->reply.code <= 504) {
        session_set_state(s, S_HELO);
    } else {
        session_fail(s, GW_EREJECTED, "%s was refused: %s", verb,
                     session_reply(s));
    }
}

static void do_starttls(struct session *s)
{
    if (!exchange(s, "STARTTLS"))
        return;
    if (s->reply.code != 220) {
        session_fail(s, GW_ETLS,
                     "STARTTLS was refused: %s; nothing was sent in the "
                     "clear",
                     session_reply(s));
        return;
    }
    /* Only what the server says over TLS counts from here on. */
    memset(&s->caps, 0, sizeof(s->caps));
    do_tls(s, S_EHLO);
}

/*
 * Checks the message against what the server offers (RFC 1870, 6152,
 * 6531) before anything of the transaction is sent.
 */
static bool fits_server(struct session *s)
{
    const struct smtp_envelope *env = s->env;

    if (s->caps.size > 0 && s->len > s->caps.size) {
        session_fail(s, GW_ELIMIT,
                     "the message is %zu bytes and the server takes at most "
                     "%lu (SIZE); nothing was sent",
                     s->len, s->caps.size);
        return false;
    }
    if (env->needs_smtputf8 && !s->caps.smtputf8) {
        session_fail(s, GW_EUNSUPP,
                     "the message needs SMTPUTF8 (UTF-8 in an address or "
                     "header), which the server does not offer; nothing was "
                     "sent");
        return false;
    }
    if (env->body_8bit && !s->caps.eightbitmime) {
        s->res->needs_7bit = true;
        session_fail(s, GW_EUNSUPP,
                     "the message has 8-bit content and the server does not "
                     "offer 8BITMIME; nothing was sent");
        return false;
    }
    return true;
}

/* "MAIL FROM:<a@b>" with the parameters the server and message call for. */
static enum gw_err mail_command(const struct session *s, struct buf *out)
{
    const struct smtp_envelope *env = s->env;
    const char *auth_from =
        env->auth_from ? env->auth_from : s->pool->srv.auth_from;
    enum gw_err rc = buf_printf(out, "MAIL FROM:<%s>", env->from);

    if (rc == GW_OK && s->caps.size_offered && s->len > 0)
        rc = buf_printf(out, " SIZE=%zu", s->len);
    if (rc == GW_OK && env->body_8bit)
        rc = buf_puts(out, " BODY=8BITMIME");
    if (rc == GW_OK && env->needs_smtputf8)
        rc = buf_puts(out, " SMTPUTF8");
    /* RFC 4954 5: AUTH= only within an authenticated session. */
    if (rc == GW_OK && auth_from != NULL && s->authenticated) {
        rc = buf_puts(out, " AUTH=");
        if (rc == GW_OK && auth_from[0] == '\0')
            rc = buf_puts(out, "<>");
        else if (rc == GW_OK)
            rc = smtp_sasl_xtext(auth_from, out);
    }
    return rc;
}

/*
 * Keeps the server's answer to RCPT TO for recipient `i`. Returns false
 * when the send must stop here: a refusal without continue_after_bad_send
 * (%Net.SMTP's ContinueAfterBadSend), or no memory.
 */
static bool take_rcpt_reply(struct session *s, size_t i)
{
    struct smtp_rcpt_result *r = &s->res->rcpts[i];

    r->tried = true;
    r->code = s->reply.code;
    r->accepted = s->reply.code / 100 == 2;
    memcpy(r->status, s->reply.status, sizeof(r->status));
    r->reply = strdup(session_reply(s));
    if (r->reply == NULL) {
        session_fail(s, GW_ENOMEM, "out of memory");
        return false;
    }
    if (r->accepted) {
        s->accepted++;
        return true;
    }
    /* The first refusal is the one a person needs to see. */
    if (s->res->error.code == GW_OK)
        session_refused(s, "RCPT TO:<%s> was refused: %s", s->env->rcpts[i],
                        session_reply(s));
    return s->env->continue_after_bad_send;
}

/* Gives up on the transaction after a refusal, keeping the error. */
static void abandon(struct session *s)
{
    s->failed = true;
    session_set_state(s, S_RSET);
}

static void mail_refused(struct session *s)
{
    session_refused(s, "MAIL FROM:<%s> was refused: %s", s->env->from,
                    session_reply(s));
}

/* Reads the reply to the RSET that starts a send on a reused connection. */
static enum gw_err read_rset(struct session *s)
{
    enum gw_err rc = session_read_reply(s, s->pool->srv.timeouts.command_ms);

    if (rc == GW_OK && s->reply.code != 250)
        rc = gw_error_set(&s->res->error, GW_EIO,
                          "RSET on a kept connection was refused: %s",
                          session_reply(s));
    return rc;
}

/*
 * With PIPELINING (RFC 2920) MAIL FROM and every RCPT TO go out in one
 * write, and DATA with them when no refusal can stop the send after it:
 * with continue_after_bad_send, or for a single recipient (whose refusal
 * leaves the server nobody to take DATA for). Otherwise DATA waits for
 * the RCPT replies, so that a refusal still ends in RSET, not a message.
 */
static void do_pipeline(struct session *s, const struct buf *mail)
{
    const struct smtp_envelope *env = s->env;
    bool with_data = env->continue_after_bad_send || env->n_rcpts == 1;
    bool mail_ok, go;
    struct buf batch;
    enum gw_err rc;

    buf_init(&batch, (env->n_rcpts + 3) * (COMMAND_MAX + 2));
    rc = buf_printf(&batch, "%s%s\r\n", s->reused ? "RSET\r\n" : "",
                    buf_cstr(mail));
    for (size_t i = 0; i < env->n_rcpts && rc == GW_OK; i++)
        rc = buf_printf(&batch, "RCPT TO:<%s>\r\n", env->rcpts[i]);
    if (rc == GW_OK && with_data)
        rc = buf_puts(&batch, "DATA\r\n");
    if (rc == GW_OK)
        rc = session_send_bytes(s, batch.data, batch.len, false);
    buf_free(&batch);
    if (rc == GW_OK && s->reused)
        rc = read_rset(s);
    if (rc != GW_OK ||
        session_read_reply(s, s->pool->srv.timeouts.command_ms)) {
        session_broken(s);
        return;
    }
    mail_ok = go = s->reply.code == 250;
    if (!mail_ok)
        mail_refused(s);
    /* Every reply is read, even after a stop, to stay in step, and kept:
       the client is told what the server said to each recipient (after a
       refused MAIL they say nothing of the recipient). */
    for (size_t i = 0; i < env->n_rcpts; i++) {
        if (session_read_reply(s, s->pool->srv.timeouts.command_ms) != GW_OK) {
            session_broken(s);
            return;
        }
        if (mail_ok && !take_rcpt_reply(s, i))
            go = false;
    }
    go = go && s->accepted > 0 && !s->failed;
    if (!with_data) {
        if (go)
            session_set_state(s, S_DATA);
        else
            abandon(s);
        return;
    }
    if (session_read_reply(s, s->pool->srv.timeouts.command_ms) != GW_OK) {
        session_broken(s);
    } else if (go && s->reply.code == 354) {
        session_set_state(s, S_BODY);
    } else if (s->reply.code == 354) {
        /* DATA taken with nobody to send to: closing the connection
           before the final dot is the only way to send nothing. */
        session_broken(s);
    } else {
        if (go)
            session_refused(s, "DATA was refused: %s", session_reply(s));
        abandon(s);
    }
}

static void do_mail(struct session *s)
{
    struct buf mail;

    s->ready = true;
    if (!fits_server(s))
        return;
    /* A reused connection starts clean: RSET (sent with the batch when
       pipelining). */
    if (s->reused && !s->caps.pipelining &&
        (session_send_line(s, "RSET", false) != GW_OK ||
         read_rset(s) != GW_OK)) {
        session_broken(s);
        return;
    }
    buf_init(&mail, COMMAND_MAX);
    if (mail_command(s, &mail) != GW_OK) {
        session_fail(s, GW_EINVAL, "MAIL FROM is longer than %d bytes",
                     COMMAND_MAX);
    } else if (s->caps.pipelining) {
        do_pipeline(s, &mail);
    } else if (exchange(s, buf_cstr(&mail))) {
        if (s->reply.code == 250) {
            session_set_state(s, S_RCPT);
        } else {
            mail_refused(s);
            s->failed = true;
            session_set_state(s, S_END);
        }
    }
    buf_free(&mail);
}

static void do_rcpt(struct session *s)
{
    size_t i = s->next_rcpt++;
    char cmd[COMMAND_MAX];

    snprintf(cmd, sizeof(cmd), "RCPT TO:<%s>", s->env->rcpts[i]);
    if (!exchange(s, cmd))
        return;
    if (!take_rcpt_reply(s, i)) {
        if (s->state == S_RCPT)
            abandon(s);
    } else if (s->next_rcpt == s->env->n_rcpts) {
        if (s->accepted > 0)
            session_set_state(s, S_DATA);
        else
            abandon(s);
    }
}

static void do_data(struct session *s)
{
    if (!exchange(s, "DATA"))
        return;
    if (s->reply.code == 354) {
        session_set_state(s, S_BODY);
        return;
    }
    session_refused(s, "DATA was refused: %s", session_reply(s));
    abandon(s);
}

/*
 * Sends `n` more bytes of the message, dot-stuffed, in blocks. A NUL, an
 * over-long line, or 8-bit data for a server without 8BITMIME fails the
 * send here; the caller then ends it without the final dot.
 */
static enum gw_err write_chunk(struct session *s, const char *p, size_t n)
{
    unsigned block_ms = s->pool->srv.timeouts.data_ms;
    enum gw_err rc = GW_OK;
    struct buf out;

    buf_init(&out, 3 * DATA_CHUNK + 8);
    for (size_t at = 0; at < n && rc == GW_OK; at += DATA_CHUNK) {
        size_t k = n - at < DATA_CHUNK ? n - at : DATA_CHUNK;

        buf_reset(&out);
        rc = smtp_data_encode(&s->data, p + at, k, &out);
        if (rc == GW_EINVAL)
            gw_error_set(&s->res->error, rc,
                         "the message has a NUL byte or a line longer than "
                         "%d bytes; nothing was delivered",
                         GW_LINE_MAX);
        else if (rc == GW_OK && s->data.saw_8bit && !s->caps.eightbitmime)
            rc = gw_error_set(&s->res->error, GW_EUNSUPP,
                              "the message has 8-bit content and the server "
                              "does not offer 8BITMIME; nothing was "
                              "delivered");
        else if (rc == GW_OK)
            rc = io_write(&s->io, out.data, out.len,
                          session_deadline_of(s, block_ms), &s->res->error);
    }
    buf_free(&out);
    return rc;
}

/* The final dot, and the server's verdict on the whole message. */
static void finish_body(struct session *s)
{
    struct buf out;
    enum gw_err rc;

    buf_init(&out, 8);
    rc = smtp_data_finish(&s->data, &out);
    if (rc == GW_OK)
        rc = io_write(&s->io, out.data, out.len,
                      session_deadline_of(s, s->pool->srv.timeouts.data_ms),
                      &s->res->error);
    buf_free(&out);
    if (rc == GW_OK) {
        s->sends++;
        rc = session_read_reply(s, s->pool->srv.timeouts.dot_ms);
        /* The whole message went out: without a verdict nobody knows
           whether it was delivered, and sending it again could deliver it
           twice. */
        s->unknown = rc == GW_EIO || rc == GW_ETIMEDOUT || rc == GW_EPROTO;
    }
    if (rc != GW_OK)
        session_broken(s);
    else if (s->reply.code != 250)
        session_fail(s, GW_EREJECTED, "the message was refused: %s",
                     session_reply(s));
    else
        session_set_state(s, S_END);
}

/*
 * Ends the transaction after a refusal; the error stays what it was. A
 * server that does not answer 250 may still hold part of the transaction
 * (RFC 5321 4.1.1.5 leaves it no other answer), so the connection ends
 * with this send.
 */
static void do_rset(struct session *s)
{
    struct gw_error keep = s->res->error;
    int code = s->res->code;

    if (exchange(s, "RSET")) {
        s->no_reuse = s->reply.code != 250;
        session_set_state(s, S_END);
    }
    s->res->error = keep;
    s->res->code = code;
}

/*
 * Ends the session with QUIT and closes without waiting for the 221: the
 * outcome is known already, and a server slow to say goodbye must not
 * hold up the answer. RFC 5321 4.1.1.10 has the client wait for the
 * reply, but a closed transaction loses nothing when it does not, and
 * Postfix's client does the same (smtp_skip_quit_response). The write
 * has a short bound of its own, so that QUIT goes out even when the
 * deadline has just passed.
 */
static void do_quit(struct session *s)
{
    struct gw_error ignored = {0};

    log_debug("event=smtp_send host=%s state=%s command=QUIT",
              s->pool->srv.host, session_state_name(s->state));
    io_write(&s->io, "QUIT\r\n", 6, gw_now_ms() + QUIT_WRITE_MS, &ignored);
    session_set_state(s, S_DONE);
}

/*
 * Runs the conversation until `until` is reached, or END or DONE: whether
 * the session ends with QUIT or stays open for the next send is for
 * stream_close() to decide.
 */
static void run(struct session *s, enum state until)
{
    while (s->state != S_DONE && s->state != S_END && s->state != until) {
        switch (s->state) {
        case S_CONNECT:
            do_connect(s);
            break;
        case S_NOOP:
            do_noop(s);
            break;
        case S_TLS:
            do_tls(s, S_GREETING);
            break;
        case S_GREETING:
            do_greeting(s);
            break;
        case S_EHLO:
        case S_HELO:
            do_hello(s);
            break;
        case S_STARTTLS:
            do_starttls(s);
            break;
        case S_AUTH:
            session_auth(s);
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
            finish_body(s);
            break;
        case S_RSET:
            do_rset(s);
            break;
        case S_END:
        case S_QUIT:
        case S_DONE:
            break;
        }
    }
}

void session_run(struct session *s, enum state until)
{
    run(s, until);
}

/* Turns what the session saw into the overall status. */
static void conclude(struct session *s)
{
    struct smtp_result *res = s->res;

    if (s->unknown) {
        struct gw_error why = res->error;

        res->status = SMTP_UNKNOWN;
        gw_error_set(&res->error, why.code,
                     "the message was sent, but the connection failed before "
                     "the server's verdict, so it may have been delivered; "
                     "it was not sent again (%.300s)",
                     why.detail);
    } else if (s->failed) {
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

/* A send in progress: its session holds one of the pool's connections. */
struct smtp_stream {
    struct session s;
    struct smtp_pool *pool;
    uint64_t paused_at; /* when it last went back to its caller */
};

/*
 * Back from the caller, which was waiting for more of the message: that
 * time is not the server's, so it moves the deadline out.
 */
static void stream_resume(struct smtp_stream *st)
{
    st->s.deadline += gw_now_ms() - st->paused_at;
}

/* Starts the session on a kept connection, or on a new one. */
static void session_start(struct session *s, struct conn *kept)
{
    io_init(&s->io);
    smtp_reply_init(&s->reply);
    s->state = S_CONNECT;
    if (kept == NULL)
        return;
    s->io = kept->io;
    s->caps = kept->caps;
    s->authenticated = kept->authenticated;
    s->sends = kept->sends;
    s->reused = s->ready = true;
    s->state =
        gw_now_ms() - kept->idle_since > POOL_NOOP_AFTER_MS ? S_NOOP : S_MAIL;
    free(kept);
}

/*
 * The connection after the send: kept for the next one when it is clean
 * and ready (greeting, EHLO and AUTH done, no failure of the link, the
 * last reply the one expected, and nothing more from the server), else
 * ended with QUIT or closed.
 */
static struct conn *session_keep(struct session *s)
{
    const struct smtp_server *srv = &s->pool->srv;
    struct conn *c;

    if (s->state != S_END || !s->ready || s->no_reuse || srv->idle_ms == 0 ||
        s->sends >= POOL_SENDS_MAX ||
        (srv->username != NULL && !s->authenticated &&
         !srv->ignore_failed_auth))
        return NULL;
    if (io_pending(&s->io)) {
        /* The server said more than its reply, or hung up: every later
           reply would be taken for the wrong command, QUIT's included. */
        log_warn("event=smtp_out_of_step host=%s detail=\"the server sent "
                 "more than its reply, or closed the connection; the "
                 "connection is closed\"",
                 srv->host);
        session_set_state(s, S_DONE);
        return NULL;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->io = s->io;
    c->caps = s->caps;
    c->authenticated = s->authenticated;
    c->sends = s->sends;
    io_init(&s->io);
    session_set_state(s, S_DONE);
    return c;
}

/* Ends the session, frees the stream and gives its connection back. */
static void stream_close(struct smtp_stream *st)
{
    struct conn *keep = session_keep(&st->s);

    if (st->s.state == S_END) {
        session_set_state(&st->s, S_QUIT);
        do_quit(&st->s);
    }
    io_close(&st->s.io);
    smtp_reply_free(&st->s.reply);
    pool_release(st->pool, keep);
    conclude(&st->s);
    free(st);
}

/*
 * True when a kept connection died before the message went out: the
 * server closed it while idle (EIO) or said 421. Nothing was delivered,
 * so the send starts again on a new connection.
 */
static bool lost_kept(const struct session *s)
{
    return s->reused && s->state != S_BODY &&
           (s->res->error.code == GW_EIO || s->reply.code == 421);
}

/* Forgets what a failed first try recorded. */
static void clear_result(struct session *s)
{
    struct smtp_result *res = s->res;

    for (size_t i = 0; i < res->n_rcpts; i++) {
        free(res->rcpts[i].reply);
        res->rcpts[i] = (struct smtp_rcpt_result){0};
    }
    res->error = (struct gw_error){0};
    res->code = 0;
    s->next_rcpt = s->accepted = 0;
    s->failed = false;
    s->reply.code = 0;
}

struct smtp_stream *smtp_stream_begin(struct smtp_pool *pool,
                                      const struct smtp_envelope *env,
                                      size_t size, struct smtp_result *res)
{
    uint64_t deadline = gw_now_ms() + session_deadline_ms(&pool->srv);
    struct smtp_stream *st;
    struct conn *kept = NULL;
    enum gw_err rc;

    memset(res, 0, sizeof(*res));
    res->status = SMTP_FAILED;
    res->rcpts = calloc(env->n_rcpts, sizeof(*res->rcpts));
    st = calloc(1, sizeof(*st));
    if (res->rcpts == NULL || st == NULL) {
        free(st);
        gw_error_set(&res->error, GW_ENOMEM, "out of memory");
        return NULL;
    }
    res->n_rcpts = env->n_rcpts;
    rc = pool_acquire(pool, deadline, env->cancel, &kept);
    if (rc != GW_OK) {
        free(st);
        if (rc == GW_ECANCELED)
            gw_error_set(&res->error, GW_ECANCELED,
                         "the client went away while the send waited for a "
                         "connection to %s; nothing was sent",
                         pool->srv.host);
        else if (rc == GW_ELIMIT)
            gw_error_set(&res->error, GW_EBUSY,
                         "all %u connections to %s are busy and %u sends "
                         "wait for one already",
                         pool->size, pool->srv.host, pool->max_waiting);
        else
            gw_error_set(&res->error, GW_EBUSY,
                         "all %u connections to %s are busy", pool->size,
                         pool->srv.host);
        return NULL;
    }
    st->pool = pool;
    st->s = (struct session){.pool = pool,
                             .env = env,
                             .len = size,
                             .res = res,
                             .deadline = deadline};
    session_start(&st->s, kept);
    run(&st->s, S_BODY);
    if (lost_kept(&st->s)) {
        clear_result(&st->s);
        start_over(&st->s);
        run(&st->s, S_BODY);
    }
    if (st->s.state != S_BODY) {
        stream_close(st);
        return NULL;
    }
    st->paused_at = gw_now_ms();
    return st;
}

enum gw_err smtp_stream_write(struct smtp_stream *st, const char *p, size_t n)
{
    if (st->s.state != S_BODY)
        return st->s.res->error.code;
    stream_resume(st);
    if (write_chunk(&st->s, p, n) != GW_OK)
        session_broken(&st->s);
    st->paused_at = gw_now_ms();
    return st->s.res->error.code;
}

enum gw_err smtp_stream_end(struct smtp_stream *st, struct smtp_result *res)
{
    stream_resume(st);
    run(&st->s, S_END);
    stream_close(st);
    return res->status == SMTP_SENT || res->status == SMTP_PARTIAL
               ? GW_OK
               : res->error.code;
}

void smtp_stream_abort(struct smtp_stream *st, enum gw_err code,
                       const char *why)
{
    /* Closing before the final dot is the one way to make the server
       drop what it has (RFC 5321 3.8): no QUIT, no dot. */
    if (st->s.state == S_BODY)
        gw_error_set(&st->s.res->error, code, "%s; nothing was delivered", why);
    session_broken(&st->s);
    stream_close(st);
}

enum gw_err smtp_pool_send(struct smtp_pool *pool,
                           const struct smtp_envelope *env, const char *msg,
                           size_t len, struct smtp_result *res)
{
    struct smtp_stream *st;
    struct gw_error err = {0};

    /* A message that cannot go out whole must not start to. */
    if (smtp_data_check(msg, len, &err) != GW_OK) {
        memset(res, 0, sizeof(*res));
        res->status = SMTP_FAILED;
        res->error = err;
        return err.code;
    }
    st = smtp_stream_begin(pool, env, len, res);
    if (st == NULL)
        return res->error.code;
    smtp_stream_write(st, msg, len);
    return smtp_stream_end(st, res);
}

bool smtp_result_retryable(const struct smtp_result *res)
{
    if (res->status != SMTP_FAILED)
        return false;
    switch (res->error.code) {
    case GW_EBUSY:
    case GW_ECONNECT:
    case GW_ETIMEDOUT:
    case GW_EIO:
    case GW_ETLS:
        return true;
    case GW_EREJECTED:
    case GW_EAUTH:
        break;
    default:
        return false;
    }
    if (res->code / 100 != 4)
        return false;
    /* A recipient refused for good stays refused however often. */
    for (size_t i = 0; i < res->n_rcpts; i++) {
        const struct smtp_rcpt_result *r = &res->rcpts[i];

        if (r->tried && !r->accepted && r->code / 100 != 4)
            return false;
    }
    return true;
}

void smtp_result_free(struct smtp_result *res)
{
    for (size_t i = 0; i < res->n_rcpts && res->rcpts != NULL; i++)
        free(res->rcpts[i].reply);
    free(res->rcpts);
    res->rcpts = NULL;
    res->n_rcpts = 0;
}
