/*
 * The AUTH step of the SMTP client (RFC 4954): choosing a mechanism from
 * the credential's ordered list and the server's offer, and the exchange
 * of each mechanism. Secrets go out through session_exchange(..., true),
 * which never logs them, and every buffer that held one is wiped.
 */
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "sasl.h"
#include "session.h"

/* Responses are base64 of a user name and a secret: a few KiB at most. */
#define AUTH_LINE_MAX 4096

/* True when the server's AUTH keyword lists `mech`. */
static bool offered(const struct session *s, enum smtp_sasl_mech mech)
{
    const char *p = s->caps.auth;

    while (*p != '\0') {
        size_t n = strcspn(p, " ");

        if (smtp_sasl_parse(p, n) == mech)
            return true;
        p += n + (p[n] == ' ');
    }
    return false;
}

/* True when the credential has the secret that mechanism `m` needs. */
static bool has_secret(const struct smtp_server *srv, enum smtp_sasl_mech m)
{
    bool token = m == SMTP_SASL_XOAUTH2;

    if (srv->secrets != NULL)
        return token ? srv->secrets->has_access_token
                     : srv->secrets->has_password;
    return (token ? srv->access_token : srv->password) != NULL;
}

/*
 * The first mechanism of the credential's list that the server offers,
 * that the credential has a secret for, and that may be used on this
 * connection. SMTP_SASL_NONE, with the reason in `why` (GW_EAUTH), when
 * there is none.
 */
static enum smtp_sasl_mech choose(const struct session *s, struct gw_error *why)
{
    const struct smtp_server *srv = &s->pool->srv;
    const char *p = srv->mechanisms;
    bool held_back = false;

    while (*p != '\0') {
        size_t n = strcspn(p, ",");
        enum smtp_sasl_mech m = smtp_sasl_parse(p, n);

        p += n + (p[n] == ',');
        if (!offered(s, m) || !has_secret(srv, m))
            continue;
        /* Every mechanism needs TLS: PLAIN, LOGIN and XOAUTH2 show the
           secret, and a CRAM-MD5 response lets whoever reads it guess the
           password offline. */
        if (s->io.tls == NULL && !srv->allow_plaintext_auth) {
            held_back = true;
            continue;
        }
        return m;
    }
    /* Servers commonly offer AUTH only inside TLS (RFC 3207 4.2). */
    if (s->caps.auth[0] == '\0' && s->caps.starttls && s->io.tls == NULL)
        gw_error_set(
            why, GW_EAUTH,
            "the server does not offer AUTH on this connection without "
            "TLS, but it offers STARTTLS, and AUTH may follow it: set "
            "tls starttls (GATEWAY_SMTP_TLS=starttls)");
    else if (s->caps.auth[0] == '\0')
        gw_error_set(why, GW_EAUTH,
                     "the server does not offer AUTH, but a user name is set");
    else if (held_back)
        gw_error_set(why, GW_EAUTH,
                     "AUTH would send the credentials in the clear (this "
                     "connection has no TLS): use tls starttls or implicit, or "
                     "set allow_plaintext_auth "
                     "(GATEWAY_SMTP_ALLOW_PLAINTEXT_AUTH)");
    else
        gw_error_set(
            why, GW_EAUTH,
            "the server offers AUTH %s while mechanisms allows only %s "
            "(with the secrets the credential has)",
            s->caps.auth, srv->mechanisms);
    return SMTP_SASL_NONE;
}

/* Sends a secret line and reads the reply; false when the link broke. */
static bool send_secret(struct session *s, const char *prefix,
                        struct buf *secret)
{
    struct buf line;
    bool ok;

    buf_init(&line, AUTH_LINE_MAX);
    ok = buf_printf(&line, "%s%s", prefix, buf_cstr(secret)) == GW_OK;
    smtp_sasl_wipe(secret);
    if (ok)
        ok = session_exchange(s, buf_cstr(&line), true,
                              s->pool->srv.timeouts.command_ms);
    else
        session_fail(s, GW_ELIMIT, "the AUTH response is too long");
    smtp_sasl_wipe(&line);
    return ok;
}

/*
 * Makes the secret mechanism `m` needs readable in `*secret` for the
 * exchange; a sealed one is opened here and closed by close_secret().
 * False, with the send failed, when it cannot be opened: going on
 * without AUTH would hide a broken credential, so this is never ignored.
 */
static bool open_secret(struct session *s, enum smtp_sasl_mech m,
                        const char **secret, void **handle)
{
    const struct smtp_server *srv = &s->pool->srv;
    enum smtp_secret_kind kind = m == SMTP_SASL_XOAUTH2
                                     ? SMTP_SECRET_ACCESS_TOKEN
                                     : SMTP_SECRET_PASSWORD;
    struct gw_error err = {0};

    *handle = NULL;
    if (srv->secrets == NULL) {
        *secret = m == SMTP_SASL_XOAUTH2 ? srv->access_token : srv->password;
        return true;
    }
    *handle = srv->secrets->open(srv->secrets->arg, kind, secret, &err);
    if (*handle == NULL) {
        session_fail(s, GW_EAUTH, "%s", err.detail);
        return false;
    }
    return true;
}

static void close_secret(struct session *s, void *handle)
{
    const struct smtp_server *srv = &s->pool->srv;

    if (handle != NULL)
        srv->secrets->close(srv->secrets->arg, handle);
}

/* Runs one mechanism with its secret; true once the final reply has been
   read. */
static bool run_mech(struct session *s, enum smtp_sasl_mech m,
                     const char *secret, struct buf *xoauth)
{
    const struct smtp_server *srv = &s->pool->srv;
    unsigned t = srv->timeouts.command_ms;
    struct buf b;

    buf_init(&b, AUTH_LINE_MAX);
    switch (m) {
    case SMTP_SASL_PLAIN:
        smtp_sasl_plain(srv->username, secret, &b);
        return send_secret(s, "AUTH PLAIN ", &b);
    case SMTP_SASL_LOGIN:
        if (!session_exchange(s, "AUTH LOGIN", false, t))
            return false;
        if (s->reply.code != 334)
            return true;
        smtp_sasl_base64(srv->username, &b);
        if (!send_secret(s, "", &b) || s->reply.code != 334)
            return s->state != S_DONE;
        smtp_sasl_base64(secret, &b);
        return send_secret(s, "", &b);
    case SMTP_SASL_CRAM_MD5:
        if (!session_exchange(s, "AUTH CRAM-MD5", false, t))
            return false;
        if (s->reply.code != 334)
            return true;
        if (smtp_sasl_cram_md5(srv->username, secret, buf_cstr(&s->reply.text),
                               &b) != GW_OK) {
            session_fail(s, GW_EPROTO,
                         "the CRAM-MD5 challenge is not base64: %s",
                         session_reply(s));
            return false;
        }
        return send_secret(s, "", &b);
    case SMTP_SASL_XOAUTH2:
        smtp_sasl_xoauth2(srv->username, secret, &b);
        if (!send_secret(s, "AUTH XOAUTH2 ", &b))
            return false;
        if (s->reply.code != 334)
            return true;
        /* An error challenge: its JSON says why; the empty line ends the
           exchange, and the server then gives its final reply. */
        smtp_sasl_decode(buf_cstr(&s->reply.text), xoauth);
        return session_exchange(s, "", false, t);
    case SMTP_SASL_NONE:
        break;
    }
    return false;
}

/* AUTH did not succeed: fail the send, or go on without it. */
static void auth_failed(struct session *s, const char *detail)
{
    if (s->pool->srv.ignore_failed_auth && !s->verifying) {
        log_warn("event=auth_ignored host=%s detail=\"%s\"", s->pool->srv.host,
                 detail);
        session_set_state(s, S_MAIL);
        return;
    }
    session_fail(s, GW_EAUTH, "%s", detail);
}

void session_auth(struct session *s)
{
    struct gw_error why = {0};
    enum smtp_sasl_mech m = choose(s, &why);
    const char *secret;
    void *handle;
    struct buf xoauth;
    bool done;

    if (m == SMTP_SASL_NONE) {
        auth_failed(s, why.detail);
        return;
    }
    s->auth_mech = smtp_sasl_name(m);
    if (!open_secret(s, m, &secret, &handle))
        return;
    buf_init(&xoauth, AUTH_LINE_MAX);
    done = run_mech(s, m, secret, &xoauth);
    close_secret(s, handle);
    if (!done) {
        buf_free(&xoauth);
        return;
    }
    if (s->reply.code == 235) {
        s->authenticated = true;
        session_set_state(s, S_MAIL);
    } else {
        gw_error_set(&why, GW_EAUTH, "AUTH %s was refused: %s%s%s",
                     smtp_sasl_name(m), session_reply(s),
                     xoauth.len > 0 ? "; the server said: " : "",
                     buf_cstr(&xoauth));
        auth_failed(s, why.detail);
    }
    buf_free(&xoauth);
}
