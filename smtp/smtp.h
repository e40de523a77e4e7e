/*
 * The SMTP client: sends one composed message to an upstream server and
 * reports what happened to every recipient, in the %Net.SMTP model.
 *
 * A struct smtp_pool stands for one upstream (a credential's settings)
 * and bounds how many connections to it may be open at once. Sends may
 * come from many threads; each holds one of the pool's connections for
 * its whole transaction. The conversation itself is an explicit state
 * machine (session.c opens and ends a session, client.c runs the
 * transaction).
 *
 * This is the one header of smtp/ that other modules include; the
 * files of smtp/ share the rest in internal headers (session.h, pool.h,
 * client.h, auth.h, reply.h, sasl.h).
 */
#ifndef GW_SMTP_H
#define GW_SMTP_H

#include <stdbool.h>
#include <stddef.h>

#include "base/base.h"
#include "net/net.h"

/* The longest reply line accepted, without CRLF. RFC 5321 4.5.3.1.5 sets
   512 with CRLF; real servers overrun it a little, so this allows twice
   that. A longer line is a protocol error, never truncated. */
#define SMTP_REPLY_LINE_MAX 1024

/* What the server offers, from its EHLO reply (RFC 5321 4.1.1.1). */
struct smtp_caps {
    bool esmtp;               /* EHLO was accepted at all */
    unsigned long size;       /* SIZE limit in bytes; 0 when none given */
    bool size_offered;        /* SIZE was listed */
    bool pipelining;          /* PIPELINING */
    bool eightbitmime;        /* 8BITMIME */
    bool smtputf8;            /* SMTPUTF8 */
    bool enhancedstatuscodes; /* ENHANCEDSTATUSCODES */
    bool dsn;                 /* DSN */
    bool starttls;            /* STARTTLS */
    char auth[128];           /* AUTH mechanisms, space-separated, upper
                                 case; "" when AUTH is not offered */
};

/*
 * The DATA stream (RFC 5321 4.5.2 and 2.3.8): the message as it goes on
 * the wire, with every line end made CRLF (a bare CR or LF never reaches
 * the server), a '.' doubled at the start of a line, and the final
 * "CRLF.CRLF" added. Streaming, so a message of any size passes through a
 * bounded buffer.
 */

/* The state between chunks of one message. Zero it before the first. */
struct smtp_data {
    bool mid_line;   /* the last byte written did not end a line */
    bool after_cr;   /* the last input byte was a CR (gw_eol_next()) */
    size_t line_len; /* bytes of the current line so far */
    bool saw_8bit;   /* a byte over 127 has passed */
};

/*
 * Checks a whole message before anything is sent: no NUL byte and no line
 * over GW_LINE_MAX bytes (lines as gw_eol_next() ends them). GW_ELIMIT or
 * GW_EINVAL with a detail naming the line number.
 */
enum gw_err smtp_data_check(const char *msg, size_t len, struct gw_error *err);

/*
 * Appends `n` bytes of the message to `out`, transformed for the wire.
 * GW_ELIMIT when `out` is full: the caller sends what `out` holds first,
 * so chunks should be at most a third of the buffer's limit (a line of
 * bare LFs doubles, a '.' line grows by one). GW_EINVAL for a NUL byte or
 * a line over GW_LINE_MAX, which a streamed message can only reveal on
 * the way: the caller must then abandon the message before its final
 * dot.
 */
enum gw_err smtp_data_encode(struct smtp_data *st, const char *in, size_t n,
                             struct buf *out);

/* Appends the end of the message: CRLF if a line is open, then ".CRLF". */
enum gw_err smtp_data_finish(struct smtp_data *st, struct buf *out);

enum smtp_tls_mode {
    SMTP_TLS_NONE,     /* plain TCP */
    SMTP_TLS_STARTTLS, /* plain connect, then STARTTLS (RFC 3207) */
    SMTP_TLS_IMPLICIT, /* TLS from the first byte (RFC 8314) */
};

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

/* The secrets of a credential, for AUTH. */
enum smtp_secret_kind {
    SMTP_SECRET_PASSWORD,     /* for PLAIN, LOGIN, CRAM-MD5 */
    SMTP_SECRET_ACCESS_TOKEN, /* for XOAUTH2 */
};

/*
 * Secrets kept sealed outside the pool. The pool never holds them: it
 * asks for one right before the AUTH exchange that needs it and hands it
 * back right after, so a secret is readable only for that moment. This
 * keeps the SMTP client free of any knowledge of how secrets are stored.
 */
struct smtp_secrets {
    bool has_password;     /* open() can give SMTP_SECRET_PASSWORD */
    bool has_access_token; /* ... and SMTP_SECRET_ACCESS_TOKEN */
    /*
     * Makes the secret `kind` readable as a NUL-terminated string in
     * `*text` and returns a handle for close(), or NULL with `err` set
     * (a sentence that never quotes the secret).
     */
    void *(*open)(void *arg, enum smtp_secret_kind kind, const char **text,
                  struct gw_error *err);
    /* Wipes and releases what open() returned. */
    void (*close)(void *arg, void *handle);
    void *arg; /* must outlive every pool that uses it */
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
    bool allow_plaintext_auth; /* any AUTH without TLS */
    bool ignore_failed_auth;   /* go on unauthenticated when AUTH fails */
    /* The most sends waiting at once for a free connection: past it a
       send is refused at once (GW_EBUSY), not after the wait. 0: four
       times the pool's size. */
    unsigned waiting;
    unsigned idle_ms;    /* how long a connection is kept open between sends
                            for the next one; 0: QUIT after every send */
    unsigned timeout_ms; /* the default of every step, and the
                            longest wait for a free connection */
    struct smtp_timeouts timeouts;
    /* The longest a whole send may take, from the wait for a free
       connection to the verdict on the message; every step waits at most
       what is left of it. 0: twice the longest step timeout. */
    unsigned deadline_ms;
    /* Instead of password and access_token (then both NULL): secrets
       opened only for AUTH. NULL when the secrets are given as above. */
    const struct smtp_secrets *secrets;
};

/*
 * Asked while a send waits for a free connection: true when whoever asked
 * for the send has gone (its client closed the connection), which ends
 * the wait with nothing sent (GW_ECANCELED). Once the send has its
 * connection it runs to its end, whatever this says.
 */
struct smtp_cancel {
    bool (*gone)(void *arg);
    void *arg;
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
    const struct smtp_cancel *cancel; /* NULL: the wait is never cut short */
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
    SMTP_UNKNOWN, /* the message was sent whole, but the connection was
                     lost before the server's verdict: it may have been
                     delivered, and it is not sent again */
};

/* The outcome of a send. Release it with smtp_result_free(). */
struct smtp_result {
    enum smtp_status status;
    struct gw_error error;          /* GW_OK when sent; otherwise what
                                       happened, with the server's reply
                                       line verbatim where there is one */
    struct smtp_rcpt_result *rcpts; /* one per envelope recipient */
    size_t n_rcpts;
    bool needs_7bit; /* refused before MAIL: the message has 8-bit
                        content and the server lacks 8BITMIME; the same
                        message in 7-bit encodings could go */
    /* The code of the server's 4xx or 5xx reply behind `error` (the first
       refusal); 0 when no such reply ended the send. */
    int code;
};

/*
 * The thread that looks after the idle connections of many pools between
 * sends: it ends a connection with QUIT once it has been idle for the
 * pool's idle_ms (without holding up any send for the reply), and closes
 * at once a connection the server closed or spoke on while idle. It
 * sleeps until the next connection falls due or a socket stirs.
 */
struct smtp_reaper;

/*
 * Starts the thread. Returns the reaper, or NULL with `err` set. The
 * caller frees it with smtp_reaper_free() after every pool given it.
 */
struct smtp_reaper *smtp_reaper_new(struct gw_error *err);

/* Stops the thread and waits for it; harmless on NULL. */
void smtp_reaper_free(struct smtp_reaper *r);

/*
 * Checks `srv` and returns a new pool of at most `size` connections (at
 * least 1), or NULL with `err` set. Its idle connections are looked after
 * by `reaper`, which must outlive the pool; with NULL they are closed
 * only when a send finds them expired, or when the pool is freed. The
 * caller frees the pool with smtp_pool_free() once no send uses it.
 */
struct smtp_pool *smtp_pool_new(const struct smtp_server *srv, unsigned size,
                                struct smtp_reaper *reaper,
                                struct gw_error *err);

/* Frees the pool, saying QUIT on its idle connections; harmless on NULL. */
void smtp_pool_free(struct smtp_pool *pool);

/*
 * Sends the message `msg` (`len` bytes, lines ending in CRLF or LF, not
 * yet dot-stuffed) to the envelope's recipients, waiting for a free
 * connection at most the pool's timeout (GW_EBUSY past it), all within
 * the server's deadline (GW_ETIMEDOUT past it). Fills `res`,
 * which the caller must release with smtp_result_free() whatever the
 * return. Returns GW_OK when the message was taken by the server for at
 * least one recipient, otherwise res->error.code.
 */
enum gw_err smtp_pool_send(struct smtp_pool *pool,
                           const struct smtp_envelope *env, const char *msg,
                           size_t len, struct smtp_result *res);

/*
 * A send whose message arrives in pieces, such as a raw message streamed
 * from an HTTP body: the transaction runs up to DATA's 354, the pieces go
 * out as they come, and only smtp_stream_end() sends the final dot. The
 * time between the calls, waiting for the pieces, does not count against
 * the deadline: it bounds what the pool and the server take. A
 * stream ended any other way (smtp_stream_abort(), a broken connection, a
 * bad byte in the message) closes the connection without the dot, so the
 * server drops what it received and nothing half-formed is delivered.
 */
struct smtp_stream;

/*
 * Starts a send of a message of `size` bytes (0 when unknown: no SIZE
 * check) to the envelope. Returns the stream, or NULL when the
 * transaction ended before DATA (refusals, failures), with `res` filled
 * and its resources freed; `res` must be released with smtp_result_free()
 * in every case. `env` must outlive the stream.
 */
struct smtp_stream *smtp_stream_begin(struct smtp_pool *pool,
                                      const struct smtp_envelope *env,
                                      size_t size, struct smtp_result *res);

/*
 * Sends `n` more bytes of the message (not yet dot-stuffed). Returns
 * GW_OK, or the code of the failure that ended the send: further writes
 * are ignored and smtp_stream_end() reports it.
 */
enum gw_err smtp_stream_write(struct smtp_stream *st, const char *p, size_t n);

/* Sends the final dot, reads the verdict, QUITs and frees the stream. */
enum gw_err smtp_stream_end(struct smtp_stream *st, struct smtp_result *res);

/* Ends the send without delivering anything; `why` goes into the error. */
void smtp_stream_abort(struct smtp_stream *st, enum gw_err code,
                       const char *why);

/* One step of a verification, as smtp_pool_verify() saw it. */
struct smtp_verify_step {
    const char *name; /* "connect", "tls", "greeting", "ehlo", "helo",
                         "starttls", "auth" or "quit" (static) */
    bool ok;
    char error[GW_ERROR_DETAIL_MAX]; /* why it failed; "" when ok */
};

/* What a verification found: each step tried, and the server's offer. */
struct smtp_verify {
    struct smtp_verify_step steps[12]; /* in the order they ran */
    size_t n_steps;
    bool ok;               /* every step worked */
    struct gw_error error; /* the first failure; GW_OK when ok */
    bool tls;              /* the session ran over TLS */
    bool authenticated;    /* AUTH succeeded */
    const char *mechanism; /* the AUTH mechanism tried; NULL for none */
    struct smtp_caps caps; /* from the last EHLO (after STARTTLS) */
    char greeting[SMTP_REPLY_LINE_MAX + 1]; /* the 220 reply */
};

/*
 * Checks that the pool's upstream can be used: connects, starts TLS as
 * configured, greets, authenticates when a user name is set, and QUITs,
 * without sending any mail, on a connection of its own (not one of the
 * pool's). Fills `out`; never fails as a call.
 */
void smtp_pool_verify(struct smtp_pool *pool, struct smtp_verify *out);

/*
 * True when nothing was delivered and the same send may succeed later: the
 * server refused with 4xx (every refused recipient too), or the
 * connection, TLS or a time-out failed before the message went out, or no
 * connection was free. False for what was delivered, for permanent
 * refusals and for SMTP_UNKNOWN, where a second send may deliver twice.
 */
bool smtp_result_retryable(const struct smtp_result *res);

/* Frees what `res` holds; harmless on a zeroed result. */
void smtp_result_free(struct smtp_result *res);

#endif
