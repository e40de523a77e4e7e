/*
 * What the files of the SMTP client share and nobody else sees: one
 * transaction on one connection, and the helpers every step uses
 * (session.c). The states and their order are in client.c; AUTH, which
 * has a conversation of its own, is in auth.c.
 */
#ifndef GW_SESSION_H
#define GW_SESSION_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/net.h"
#include "reply.h"
#include "smtp.h"

enum state {
    S_CONNECT,
    S_NOOP,
    S_TLS,
    S_GREETING,
    S_EHLO,
    S_HELO,
    S_STARTTLS,
    S_AUTH,
    S_MAIL,
    S_RCPT,
    S_DATA,
    S_BODY,
    S_RSET,
    S_END,  /* the transaction is over: the connection is kept, or QUIT */
    S_QUIT, /* QUIT is sent */
    S_DONE,
};

/* A kept connection is checked with NOOP first when idle longer than
   this (srv.idle_ms says how long it is kept at all)... */
#define POOL_NOOP_AFTER_MS 2000

/* ... and carries at most this many messages before it is closed. */
#define POOL_SENDS_MAX 1000

/* A connection kept open between sends, with what its session knows. */
struct conn {
    struct io io;
    struct smtp_caps caps;
    bool authenticated;
    unsigned sends;      /* transactions it has carried */
    uint64_t idle_since; /* gw_now_ms() when it was last given back */
    uint64_t quit_until; /* after QUIT: when to stop waiting for 221 */
    struct conn *next;
};

/* A send waiting for a slot of the pool, in the queue of waiters. */
struct waiter {
    pthread_cond_t cond; /* signalled when the slot is handed over */
    bool granted;        /* the slot is this waiter's now */
    struct waiter *next;
};

struct smtp_pool {
    struct smtp_server srv; /* with strings owned by the pool */
    struct tls_config *tls; /* NULL when srv.tls is none */
    unsigned size;          /* most connections at once, idle or busy */
    unsigned busy;          /* connections in use, or being opened */
    struct conn *idle;      /* kept open for the next sends, newest first */
    unsigned n_idle;
    struct waiter *waiters;     /* sends waiting for a slot, oldest first */
    struct waiter *last_waiter; /* where the next one joins */
    unsigned n_waiting;         /* how many wait */
    unsigned max_waiting;       /* the most that may; more are refused */
    pthread_mutex_t lock;
    /* srv.secrets points here when the credential has sealed secrets. */
    struct smtp_secrets secrets;
    /* The reaper's: connections sent QUIT, waiting for the server to
       answer or close; and the next pool the reaper looks after. */
    struct conn *closing;
    struct smtp_reaper *reaper; /* NULL when none looks after the pool */
    struct smtp_pool *reaper_next;
};

/*
 * Takes a slot of the pool, waiting at most the pool's timeout and never
 * past `deadline` (gw_now_ms() time; GW_EBUSY past either), and with it
 * the newest idle connection still worth using, or NULL in `*out` when a
 * new one is to be opened (pool.c). GW_ELIMIT at once, without waiting,
 * when max_waiting sends wait already; GW_ECANCELED when `cancel` (may be
 * NULL) says, while it waits, that whoever asked has gone.
 */
enum gw_err pool_acquire(struct smtp_pool *pool, uint64_t deadline,
                         const struct smtp_cancel *cancel, struct conn **out);

/* Gives the slot back, with the connection to keep open, or NULL. */
void pool_release(struct smtp_pool *pool, struct conn *keep);

/* One transaction on one connection. */
/* The longest MAIL FROM or RCPT TO line, with its parameters. */
#define COMMAND_MAX 1024

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
    bool authenticated;    /* AUTH succeeded on this connection */
    bool reused;           /* the connection came from the pool */
    bool ready;            /* greeting, EHLO and AUTH are done: reusable */
    bool unknown;          /* the message went out, its verdict never came */
    bool no_reuse;         /* the server's state is in doubt: the
                              connection ends with this send */
    unsigned sends;        /* transactions this connection has carried */
    const char *auth_mech; /* the mechanism AUTH tried; NULL before */
    bool verifying;        /* smtp_pool_verify(): AUTH may not be skipped */
    void *observer;        /* what observe() fills */
    /* Called before every change of state, for smtp_pool_verify(). */
    void (*observe)(struct session *s, enum state next);
    size_t next_rcpt;      /* the recipient RCPT TO goes to next */
    size_t accepted;       /* recipients accepted so far */
    bool failed;           /* res->error holds why the send failed */
    uint64_t deadline;     /* gw_now_ms() time the whole send must end by */
    struct smtp_data data; /* the DATA encoder's state */
    char line[SMTP_REPLY_LINE_MAX + 2];
};

/* The name of a state, as the debug log shows it. */
const char *session_state_name(enum state st);

/* Moves to `next`, logging the transition at debug level. */
void session_set_state(struct session *s, enum state next);

/* Records why the send failed and ends the transaction (END). */
void session_fail(struct session *s, enum gw_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Records that the server's last reply refused what the send needed,
 * keeping the reply's code; the state is left as it is. Returns
 * GW_EREJECTED.
 */
enum gw_err session_refused(struct session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * A failure that leaves the connection unusable: no QUIT is possible. The
 * state becomes DONE; a time-out at the deadline of the whole send says
 * so in the error.
 */
void session_broken(struct session *s);

/* Writes `n` bytes of commands; a `secret` is never logged. */
enum gw_err session_send_bytes(struct session *s, const char *p, size_t n,
                               bool secret);

/* Writes one command, CRLF added; longer than COMMAND_MAX is GW_EINVAL. */
enum gw_err session_send_line(struct session *s, const char *line, bool secret);

/*
 * Reads a whole (possibly multi-line) reply into s->reply within
 * `timeout_ms`. A 421 fails the send (GW_EREJECTED), whatever command it
 * answered.
 */
enum gw_err session_read_reply(struct session *s, unsigned timeout_ms);

/*
 * Sends `line` (CRLF added) and reads the whole reply into s->reply,
 * waiting `timeout_ms`. A `secret` line is never logged. On an I/O or
 * protocol failure, or a 421, the send has failed and the connection is
 * unusable: the state becomes DONE and false is returned.
 */
bool session_exchange(struct session *s, const char *line, bool secret,
                      unsigned timeout_ms);

/* The reply just read, every line, as one string. */
const char *session_reply(const struct session *s);

/* When a step must end (gw_now_ms() time): after its own timeout, or the
   general one when it has none, and never after the deadline. */
uint64_t session_deadline_of(const struct session *s, unsigned step_ms);

/*
 * How long the step may wait: its own timeout when set, else the general
 * one, and never more than what is left of the deadline (0 once it has
 * passed).
 */
unsigned session_timeout(const struct session *s, unsigned step_ms);

/* The deadline of a whole send in milliseconds: the server's own, or
   twice its longest step timeout. */
unsigned session_deadline_ms(const struct smtp_server *srv);

/* Runs the conversation until `until` (or DONE) is reached (client.c). */
void session_run(struct session *s, enum state until);

/* The AUTH step (auth.c): picks a mechanism, authenticates, and moves to
   MAIL, or fails the send. */
void session_auth(struct session *s);

#endif
