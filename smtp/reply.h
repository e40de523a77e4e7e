/*
 * SMTP replies (RFC 5321 4.2): one or more lines "250-text" ... "250 text"
 * that share one three-digit code, and the capabilities of an EHLO reply.
 * Pure parsing, no I/O, so that both can be unit-tested and fuzzed.
 * Internal to smtp/ (its tests and fuzz harness see it too): other modules
 * see only struct smtp_caps, in smtp.h.
 */
#ifndef GW_REPLY_H
#define GW_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "base/base.h"
#include "smtp.h"

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

/*
 * Reads the capabilities from a complete 250 EHLO reply (its first line is
 * the greeting name, the rest keywords with parameters). Unknown keywords
 * are ignored; never fails.
 */
void smtp_caps_parse(const struct smtp_reply *r, struct smtp_caps *caps);

#endif
