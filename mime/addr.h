/*
 * E-mail addresses: a mailbox (local@domain) with an optional display
 * name, parsed from "Name <local@domain>" or "local@domain" and checked
 * strictly enough that nothing it accepts can break a header or an SMTP
 * command: no CR, LF or other control byte anywhere, no space, '<' or '>'
 * in the mailbox, a local part of at most 64 and a mailbox of at most 254
 * bytes (RFC 5321 4.5.3.1).
 *
 * An international domain name is stored in A-labels ("xn--..."), mapped
 * and converted by libidn2 (IDNA2008 with the UTS #46 mapping), so that a
 * mailbox needs SMTPUTF8 only for a UTF-8 local part, which is accepted
 * and flagged.
 */
#ifndef GW_ADDR_H
#define GW_ADDR_H

#include <stdbool.h>

#include "base/err.h"

struct addr {
    char *name;    /* display name, UTF-8 without quotes; NULL when none */
    char *mailbox; /* local@domain, as given but for an international
                      domain, which is in A-labels */
};

/*
 * Parses `text` ("Name <a@b>", "\"Doe, J.\" <a@b>" or "a@b") into `out`,
 * which the caller must release with addr_clear(). On failure `out` is
 * left empty and `err` holds a detail without a field name, such as
 * "the address has a space".
 */
enum gw_err addr_parse(const char *text, struct addr *out,
                       struct gw_error *err);

/*
 * Checks `mailbox` and `name` (which may be NULL) and stores copies in
 * `out`, as addr_parse() would for "name <mailbox>".
 */
enum gw_err addr_set(struct addr *out, const char *name, const char *mailbox,
                     struct gw_error *err);

/*
 * Checks a mailbox (local@domain) without storing it; an international
 * domain must convert to A-labels.
 */
enum gw_err addr_check_mailbox(const char *mailbox, struct gw_error *err);

/*
 * Checks a domain (a name, UTF-8 allowed, or an address literal) and
 * returns in `*out` a new string, which the caller frees: the domain with
 * any international name in A-labels. `*out` is NULL on failure.
 */
enum gw_err addr_domain_ascii(const char *domain, char **out,
                              struct gw_error *err);

/*
 * Checks a display name (without quotes) without storing it: valid UTF-8
 * with no control byte, TAB included. NULL is a valid "no name".
 */
enum gw_err addr_check_name(const char *name, struct gw_error *err);

/*
 * True when the mailbox has a byte outside ASCII (it needs SMTPUTF8). For
 * a stored mailbox that can only be in the local part.
 */
bool addr_needs_utf8(const char *mailbox);

/* True when two mailboxes are the same: the domain compared without case. */
bool addr_same_mailbox(const char *a, const char *b);

/* Frees what `a` holds and empties it; harmless on an empty addr. */
void addr_clear(struct addr *a);

#endif
