/*
 * What a token may put in a message besides the envelope, for both send
 * routes. A token limited to from_domains sends only as those domains:
 * the author (From) and the sender (Sender) are mailboxes of them, and
 * no display name of From, Sender or Reply-To shows an address of
 * another domain. A Reply-To mailbox may be of any domain (a contact
 * form answers the visitor). Every token is refused the trace and
 * authentication fields that the gateway or the receiving servers write,
 * which other systems trust (api_trace_field(), request.h).
 */
#ifndef GW_API_SCOPE_H
#define GW_API_SCOPE_H

#include <stdbool.h>
#include <stddef.h>

#include "internal.h"
#include "request.h"

/*
 * Checks the addresses of `req` other than the envelope sender (which
 * api_may_send() checks) against the domains of `caller`: the sender's
 * mailbox, and the display names of from, sender and reply_to. True for
 * a caller without domains; false with `resp` made a 403 naming the
 * field (`sender`, `from`, `reply_to[1]`).
 */
bool api_request_in_scope(const struct store_token *caller,
                          const struct api_request *req,
                          struct api_response *resp);

/*
 * The header section of a raw message, read as the DATA encoder will
 * send it (a CR, a LF or CRLF ends a line), for the same rules: every
 * trace field refused, and for a caller with domains the From, Sender
 * and Reply-To fields checked as the JSON fields are.
 */
struct api_header_scan {
    const struct store_token *caller; /* borrowed; NULL checks no domains */
    bool done;                        /* the header section has ended */
    bool after_cr;                    /* the last byte seen was a CR */
    bool keeping;                     /* the field being read is one to check */
    struct buf field; /* that field, unfolded, while it is read */
    struct buf line;  /* the start of a line that has not ended yet */
};

/* Prepares `s` for a message sent by `caller`; pair with _free(). */
void api_header_scan_init(struct api_header_scan *s,
                          const struct store_token *caller);
void api_header_scan_free(struct api_header_scan *s);

/*
 * Reads the next `n` bytes of the message as they go out (header lines,
 * which may end in a later piece, then body bytes, which are skipped);
 * `last` when no more come.
 * Returns 0, or the HTTP status of the refusal (400 for a trace field,
 * 403 for an address outside the domains) with `err` set.
 */
unsigned api_header_scan_feed(struct api_header_scan *s, const char *p,
                              size_t n, bool last, struct gw_error *err);

#endif
