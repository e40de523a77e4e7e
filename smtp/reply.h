/*
 * SMTP replies (RFC 5321 4.2): one or more lines "250-text" ... "250 text"
 * that share one three-digit code, and the capabilities of an EHLO reply.
 * Pure parsing, no I/O, so that both can be unit-tested and fuzzed.
 */
#ifndef GW_REPLY_H
#define GW_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "base/base.h"

/* The longest reply line accepted, without CRLF. RFC 5321 4.5.3.1.5 sets
   512 with CRLF; real servers overrun it a little, so this allows twice
   that. A longer line is a protocol error, never truncated. */
#define SMTP_REPLY_LINE_MAX 1024

/* The most lines a reply may have (EHLO lists a dozen or two). */
#define SMTP_REPLY_LINES_MAX 64

struct smtp_reply {
    int code;        /* 200..599 once complete */
    char status[16]; /* enhanced status code ("5.1.1"), "" when absent */
    struct buf text; /* the lines' text without codes, joined by '\n' */
    struct buf line; /* every line as received, joined by ' '
                        e.g. "250-mx.example.com 250 SIZE 1000" */
    unsigned n_lines;
    bool done; /* the last line ("250 ") has been fed */
};

/* Makes `r` an empty reply; pair with smtp_reply_free(). */
void smtp_reply_init(struct smtp_reply *r);
void smtp_reply_free(struct smtp_reply *r);

/* Empties `r` for the next reply, keeping its memory. */
void smtp_reply_reset(struct smtp_reply *r);

/*
 * Feeds one line (without its CRLF) of a reply. Sets r->done on the last
 * line. GW_EPROTO, with a detail quoting the line, when the line has no
 * valid code, its code differs from the reply's first line, the separator
 * is neither ' ' nor '-', or the reply has too many lines.
 */
enum gw_err smtp_reply_feed(struct smtp_reply *r, const char *line, size_t len,
                            struct gw_error *err);

/* What the server offers, from its EHLO reply. */
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
 * Reads the capabilities from a complete 250 EHLO reply (its first line is
 * the greeting name, the rest keywords with parameters). Unknown keywords
 * are ignored; never fails.
 */
void smtp_caps_parse(const struct smtp_reply *r, struct smtp_caps *caps);

#endif
