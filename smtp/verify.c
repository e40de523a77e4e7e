/*
 * smtp_pool_verify(): the beginning of a session without a transaction,
 * to check a credential before mail depends on it. The same state machine
 * as a send runs up to MAIL (so what works here works for a send), and an
 * observer of its transitions turns each state left into a step of the
 * report: whether it worked and, when not, the error a send would have
 * had.
 */
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "session.h"

static const char *step_name(enum state st)
{
    switch (st) {
    case S_CONNECT:
        return "connect";
    case S_TLS:
        return "tls";
    case S_GREETING:
        return "greeting";
    case S_EHLO:
        return "ehlo";
    case S_HELO:
        return "helo";
    case S_STARTTLS:
        return "starttls";
    case S_AUTH:
        return "auth";
    default:
        return NULL;
    }
}

static void add_step(struct smtp_verify *v, const char *name, enum gw_err code,
                     const char *error)
{
    bool ok = code == GW_OK;
    struct smtp_verify_step *step;

    if (v->n_steps == sizeof(v->steps) / sizeof(v->steps[0]))
        return;
    step = &v->steps[v->n_steps++];
    step->name = name;
    step->ok = ok;
    snprintf(step->error, sizeof(step->error), "%s", ok ? "" : error);
    if (!ok && v->error.code == GW_OK)
        gw_error_set(&v->error, code, "%s", error);
}

/*
 * A state is left: its step worked unless the session failed on the way
 * out, EHLO gave way to HELO, or AUTH went on without authenticating.
 */
static void observe(struct session *s, enum state next)
{
    struct smtp_verify *v = s->observer;
    const char *name = step_name(s->state);
    char why[GW_ERROR_DETAIL_MAX];

    if (name == NULL)
        return;
    if (s->failed) {
        add_step(v, name, s->res->error.code ? s->res->error.code : GW_EIO,
                 s->res->error.detail);
    } else if (s->state == S_EHLO && next == S_HELO) {
        snprintf(why, sizeof(why), "EHLO was refused: %s", session_reply(s));
        add_step(v, name, GW_EREJECTED, why);
    } else {
        add_step(v, name, GW_OK, NULL);
    }
    if (s->state == S_GREETING && !s->failed)
        snprintf(v->greeting, sizeof(v->greeting), "%s", session_reply(s));
}

/* Ends a session that is still connected, as a step of its own. */
static void quit(struct session *s, struct smtp_verify *v)
{
    char why[GW_ERROR_DETAIL_MAX];

    s->observe = NULL;
    if (!session_exchange(s, "QUIT", false, 0)) {
        add_step(v, "quit", GW_EIO, "the connection failed at QUIT");
    } else if (s->reply.code != 221) {
        snprintf(why, sizeof(why), "QUIT was answered with %s",
                 session_reply(s));
        add_step(v, "quit", GW_EPROTO, why);
    } else {
        add_step(v, "quit", GW_OK, NULL);
    }
}

/* A connection of its own, never a kept one: what a send on a new
   connection would meet. */
void smtp_pool_verify(struct smtp_pool *pool, struct smtp_verify *out)
{
    struct smtp_result res = {0};
    struct session s = {
        .pool = pool, .res = &res, .state = S_CONNECT, .verifying = true};

    memset(out, 0, sizeof(*out));
    s.deadline = gw_now_ms() + session_deadline_ms(&pool->srv);
    s.observer = out;
    s.observe = observe;
    io_init(&s.io);
    smtp_reply_init(&s.reply);
    session_run(&s, S_MAIL);
    out->tls = s.io.tls != NULL;
    out->authenticated = s.authenticated;
    out->caps = s.caps;
    out->mechanism = s.auth_mech;
    if (s.state != S_DONE)
        quit(&s, out);
    out->ok = out->error.code == GW_OK && out->n_steps > 0;
    log_info("event=verify host=%s ok=%s steps=%zu", pool->srv.host,
             out->ok ? "true" : "false", out->n_steps);
    io_close(&s.io);
    smtp_reply_free(&s.reply);
}
