/*
 * The steps every state of the SMTP client is made of: sending a command,
 * reading the reply, recording a failure, and the time each may take,
 * bounded by the deadline of the whole send. The states themselves are
 * in client.c, AUTH's in auth.c; both use only what is here.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "net/net.h"
#include "reply.h"
#include "session.h"

static const char *const state_names[] = {
    [S_CONNECT] = "CONNECT",   [S_NOOP] = "NOOP", [S_TLS] = "TLS",
    [S_GREETING] = "GREETING", [S_EHLO] = "EHLO", [S_HELO] = "HELO",
    [S_STARTTLS] = "STARTTLS", [S_AUTH] = "AUTH", [S_MAIL] = "MAIL",
    [S_RCPT] = "RCPT",         [S_DATA] = "DATA", [S_BODY] = "BODY",
    [S_RSET] = "RSET",         [S_END] = "END",   [S_QUIT] = "QUIT",
    [S_DONE] = "DONE",
};

const char *session_state_name(enum state st)
{
    return state_names[st];
}

void session_set_state(struct session *s, enum state next)
{
    log_debug("event=smtp_state host=%s from=%s to=%s", s->pool->srv.host,
              state_names[s->state], state_names[next]);
    if (s->observe != NULL)
        s->observe(s, next);
    s->state = next;
}

/*
 * Records the error of the send; one that a reply of the server caused
 * (a refusal, a failed AUTH) keeps that reply's code beside it.
 */
__attribute__((format(printf, 3, 0))) static void
set_error(struct session *s, enum gw_err code, const char *fmt, va_list ap)
{
    bool by_reply = code == GW_EREJECTED || code == GW_EAUTH;
    char detail[GW_ERROR_DETAIL_MAX];

    vsnprintf(detail, sizeof(detail), fmt, ap);
    gw_error_set(&s->res->error, code, "%s", detail);
    s->res->code = by_reply && s->reply.code >= 400 ? s->reply.code : 0;
}

void session_fail(struct session *s, enum gw_err code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    set_error(s, code, fmt, ap);
    va_end(ap);
    s->failed = true;
    session_set_state(s, S_END);
}

/* The server's last reply refused what the send needed. */
enum gw_err session_refused(struct session *s, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    set_error(s, GW_EREJECTED, fmt, ap);
    va_end(ap);
    return GW_EREJECTED;
}

unsigned session_deadline_ms(const struct smtp_server *srv)
{
    const struct smtp_timeouts *t = &srv->timeouts;
    const unsigned steps[] = {srv->timeout_ms, t->connect_ms, t->greeting_ms,
                              t->command_ms,   t->data_ms,    t->dot_ms};
    unsigned longest = 0;

    if (srv->deadline_ms != 0)
        return srv->deadline_ms;
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
        longest = steps[i] > longest ? steps[i] : longest;
    return 2 * longest;
}

/* When a step must end: after its own timeout, or at the deadline. */
uint64_t session_deadline_of(const struct session *s, unsigned step_ms)
{
    uint64_t until =
        gw_now_ms() + (step_ms ? step_ms : s->pool->srv.timeout_ms);

    return until < s->deadline ? until : s->deadline;
}

unsigned session_timeout(const struct session *s, unsigned step_ms)
{
    uint64_t now = gw_now_ms(), until = session_deadline_of(s, step_ms);

    return until > now ? (unsigned)(until - now) : 0;
}

/*
 * Says that the time-out just met was the deadline of the whole send, so
 * that nobody raises a step's timeout to cure it. Before the final dot
 * nothing was delivered; after it conclude() says that it may have been.
 */
static void past_deadline(struct session *s)
{
    unsigned ms = session_deadline_ms(&s->pool->srv);
    char limit[32], why[GW_ERROR_DETAIL_MAX];

    if (ms % 1000 == 0)
        snprintf(limit, sizeof(limit), "%u s", ms / 1000);
    else
        snprintf(limit, sizeof(limit), "%u ms", ms);
    snprintf(why, sizeof(why), "%s", s->res->error.detail);
    gw_error_set(&s->res->error, GW_ETIMEDOUT,
                 "the deadline of the send, %s, ran out at %s: %.300s%s", limit,
                 state_names[s->state], why,
                 s->unknown ? "" : "; nothing was delivered");
}

/* A failure that leaves the connection unusable: no QUIT is possible. */
void session_broken(struct session *s)
{
    if (s->state != S_DONE && s->res->error.code == GW_ETIMEDOUT &&
        gw_now_ms() >= s->deadline)
        past_deadline(s);
    s->failed = true;
    session_set_state(s, S_DONE);
}

const char *session_reply(const struct session *s)
{
    return buf_cstr(&s->reply.line);
}

/* Writes `n` bytes of commands; a secret is never logged. */
enum gw_err session_send_bytes(struct session *s, const char *p, size_t n,
                               bool secret)
{
    log_debug("event=smtp_send host=%s state=%s command=%.*s",
              s->pool->srv.host, state_names[s->state],
              secret ? 6 : (int)strcspn(p, " \r"), secret ? "<auth>" : p);
    return io_write(&s->io, p, n,
                    session_deadline_of(s, s->pool->srv.timeouts.command_ms),
                    &s->res->error);
}

enum gw_err session_send_line(struct session *s, const char *line, bool secret)
{
    char cmd[COMMAND_MAX + 2];
    size_t n = strlen(line);

    if (n > COMMAND_MAX)
        return gw_error_set(&s->res->error, GW_EINVAL,
                            "a command is longer than %d bytes", COMMAND_MAX);
    memcpy(cmd, line, n);
    memcpy(cmd + n, "\r\n", 2);
    return session_send_bytes(s, cmd, n + 2, secret);
}

/*
 * Reads a whole (possibly multi-line) reply into s->reply. A 421 means
 * the server is closing the connection (RFC 5321 3.8): it fails the send
 * here, whatever command it answered.
 */
enum gw_err session_read_reply(struct session *s, unsigned timeout_ms)
{
    char shown[LOG_QUOTE_MAX];
    uint64_t until = session_deadline_of(s, timeout_ms);
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
              log_quote(shown, sizeof(shown), session_reply(s)));
    if (s->reply.code == 421)
        return session_refused(s, "the server closed the session: %s",
                               session_reply(s));
    return GW_OK;
}

bool session_exchange(struct session *s, const char *line, bool secret,
                      unsigned timeout_ms)
{
    enum gw_err rc = session_send_line(s, line, secret);

    if (rc == GW_OK)
        rc = session_read_reply(s, timeout_ms);
    if (rc != GW_OK) {
        session_broken(s);
        return false;
    }
    return true;
}
