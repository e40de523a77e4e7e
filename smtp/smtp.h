/*
 * The SMTP client: sends one composed message to an upstream server and
 * reports what happened to every recipient, in the %Net.SMTP model.
 *
 * A struct smtp_pool stands for one upstream (a credential's settings)
 * and bounds how many connections to it may be open at once. Sends may
 * come from many threads; each holds one of the pool's connections for
 * its whole transaction. The conversation itself is an explicit state
 * machine in smtp.c.
 */
#ifndef GW_SMTP_H
#define GW_SMTP_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "tls.h"

enum smtp_tls_mode {
    SMTP_TLS_NONE,     /* plain TCP */
    SMTP_TLS_STARTTLS, /* plain connect, then STARTTLS (RFC 3207) */
    SMTP_TLS_IMPLICIT, /* TLS from the first byte (RFC 8314) */
};

/* Parses "none", "starttls" or "implicit"; false for anything else. */
bool smtp_tls_mode_parse(const char *text, enum smtp_tls_mode *out);

/*
 * How long each step may take, in milliseconds (RFC 5321 4.5.3.2 names
 * the steps). Zero takes the server's general timeout_ms.
 */
struct smtp_timeouts {
    unsigned connect_ms;  /* each address tried, and the TLS handshake */
    unsigned greeting_ms; /* the 220 greeting */
    unsigned command_ms;  /* the reply to each command */
    unsigned data_ms;     /* writing each block of the message */
    unsigned dot_ms;      /* the reply to the final dot */
};

/* Where and how to connect, and as whom. The pool keeps its own copies. */
struct smtp_server {
    const char *host;             /* name or address of the upstream */
    unsigned port;                /* 1..65535 */
    int ip_version;               /* 0: any, 4: IPv4 only, 6: IPv6 only */
    enum smtp_tls_mode tls;       /* none, starttls (required) or implicit */
    struct tls_params tls_params; /* CA, verification, client cert */
    const char *helo_name;     /* name sent in EHLO; NULL for the host name */
    const char *username;      /* NULL when no AUTH is wanted */
    const char *password;      /* for PLAIN, LOGIN, CRAM-MD5; may be NULL */
    const char *access_token;  /* for XOAUTH2; may be NULL */
    const char *mechanisms;    /* ordered, comma-separated; NULL for
                                  "CRAM-MD5,XOAUTH2,LOGIN,PLAIN" */
    const char *auth_from;     /* AUTH= on MAIL FROM; NULL for none */
    bool allow_plaintext_auth; /* PLAIN, LOGIN, XOAUTH2 without TLS */
    bool ignore_failed_auth;   /* go on unauthenticated when AUTH fails */
    unsigned timeout_ms;       /* the default of every step, and the
                                  longest wait for a free connection */
    struct smtp_timeouts timeouts;
};

/* One send: who it is from and to, and how to treat refusals. */
struct smtp_envelope {
    const char *from;             /* reverse-path mailbox; "" for <> */
    const char *const *rcpts;     /* forward-path mailboxes, no duplicates */
    size_t n_rcpts;               /* at least 1 */
    bool continue_after_bad_send; /* a refused RCPT does not stop the send */
    bool needs_smtputf8;          /* an address or header has raw UTF-8 */
    bool body_8bit;               /* the message has 8-bit bytes */
    const char *auth_from;        /* overrides the server's; NULL keeps it */
};

/* What became of one recipient. */
struct smtp_rcpt_result {
    bool tried;      /* RCPT TO was sent and answered */
    bool accepted;   /* the server accepted RCPT TO (2xx) */
    int code;        /* the reply code; 0 when not tried */
    char status[16]; /* the enhanced status code ("5.1.1"), or "" */
    char *reply;     /* the reply line(s) verbatim; NULL when not tried */
};

enum smtp_status {
    SMTP_SENT,    /* every recipient accepted and the message taken */
    SMTP_PARTIAL, /* the message taken for some recipients only */
    SMTP_FAILED,  /* the message was not taken at all */
};

/* The outcome of a send. Release it with smtp_result_free(). */
struct smtp_result {
    enum smtp_status status;
    struct gw_error error;          /* GW_OK when sent; otherwise what
                                       happened, with the server's reply
                                       line verbatim where there is one */
    struct smtp_rcpt_result *rcpts; /* one per envelope recipient */
    size_t n_rcpts;
};

/*
 * Checks `srv` and returns a new pool of at most `size` connections (at
 * least 1), or NULL with `err` set. The caller frees it with
 * smtp_pool_free() once no send uses it.
 */
struct smtp_pool *smtp_pool_new(const struct smtp_server *srv, unsigned size,
                                struct gw_error *err);

/* Frees the pool; harmless on NULL. */
void smtp_pool_free(struct smtp_pool *pool);

/*
 * Sends the message `msg` (`len` bytes, lines ending in CRLF or LF, not
 * yet dot-stuffed) to the envelope's recipients, waiting for a free
 * connection at most the pool's timeout (GW_EBUSY past it). Fills `res`,
 * which the caller must release with smtp_result_free() whatever the
 * return. Returns GW_OK when the message was taken by the server for at
 * least one recipient, otherwise res->error.code.
 */
enum gw_err smtp_pool_send(struct smtp_pool *pool,
                           const struct smtp_envelope *env, const char *msg,
                           size_t len, struct smtp_result *res);

/* Frees what `res` holds; harmless on a zeroed result. */
void smtp_result_free(struct smtp_result *res);

#endif
