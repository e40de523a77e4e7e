/*
 * What the files of the MIME composer share among themselves; never
 * included outside mime/, whose public header is mime.h. The composer is
 * split by what each file writes:
 *   compose.c  mime_compose(): the checks, the header fields, the body
 *   checks.c   the public checks, and the check of a whole message
 *   headers.c  the header fields but those with parameters: addresses,
 *              Subject, extra headers, Date and Message-ID
 *   params.c   the fields with parameters (Content-Type and
 *              Content-Disposition): the line builder, the file names
 *   body.c     the body tree: multiparts, text parts and attachments
 * Every function shared here has the module's prefix, like every name the
 * linker sees; the types and the inline helpers are for these files
 * alone. addr.c, encode.c and rawmsg.c need none of it.
 */
#ifndef GW_MIME_INTERNAL_H
#define GW_MIME_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "base/base.h"
#include "mime.h"

/* Header lines are folded to this length where they can be (RFC 5322). */
#define FOLD_AT 78

/* No line, folded or not, may be longer (RFC 5322 2.1.1). */
#define LINE_MAX_HDR 998

/* Random hex digits in a Message-ID and in a MIME boundary. */
#define RANDOM_HEX 32

/* One composition: what to write, how, and where. */
struct compose {
    const struct mime_message *msg;
    const struct mime_options *opt;
    struct buf *out;
    struct mime_result *res;
    struct gw_error *err;
};

/* Sets `detail` on `err` and returns GW_EINVAL. */
static inline enum gw_err invalid(struct gw_error *err, const char *detail)
{
    return gw_error_set(err, GW_EINVAL, "%s", detail);
}

/* Puts the name of the field at fault before a detail that lacks it. */
static inline enum gw_err blame(struct compose *c, enum gw_err rc,
                                const char *field)
{
    if (rc == GW_EINVAL && c->err != NULL)
        gw_error_prefix(c->err, field);
    return rc;
}

/* True when one of the `n` bytes at `s` is outside ASCII. */
static inline bool has_8bit(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] >= 0x80)
            return true;
    }
    return false;
}

/* True for an RFC 5322 atext character: a letter, a digit or one of
   !#$%&'*+-/=?^_`{|}~. */
static inline bool is_atext(unsigned char ch)
{
    if ((ch >= '0' && ch <= '9') || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z'))
        return true;
    return ch != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", ch) != NULL;
}

/* checks.c */

/*
 * Checks what the address and body writers do not check themselves: a
 * From address, the subject, the extra headers, each attachment and the
 * cid: references of the HTML. The detail names the field at fault.
 */
enum gw_err mime_check_message(struct compose *c);

/* headers.c */

/*
 * Appends every header field but the body's own, in the documented
 * order: Date, From, Sender, Reply-To, To, Cc, Bcc, Subject, Message-ID,
 * MIME-Version and the extra headers.
 */
enum gw_err mime_put_headers(struct compose *c);

/*
 * True when header text can go as it is: ASCII, no control but TAB, and
 * no blank at either end, which readers trim away.
 */
bool mime_is_plain(const char *s, size_t n);

/*
 * True when text holds what a reader could take for an encoded-word: "=?"
 * with a "?=" after it. Readers decode those even where RFC 2047 says not
 * to (inside quoted-strings), so such text is encoded to be read as is.
 */
bool mime_looks_encoded(const char *s, size_t n);

/* Appends `s` as an RFC 5322 quoted-string. */
enum gw_err mime_put_quoted(struct buf *b, const char *s, size_t n);

/* Writes RANDOM_HEX lower-case hex digits and a NUL into `hex`. */
enum gw_err mime_random_hex(char *hex, struct gw_error *err);

/* params.c */

/*
 * A header field written unit by unit: a unit is never split, and a fold
 * goes before a unit that would take its line past 78 characters (never
 * right after the colon). A parameter is a unit that a ";" joins to the
 * one before. The first failure is kept and later calls do nothing.
 *
 *     struct hline h;
 *     mime_hl_begin(&h, c, "Content-Type");
 *     mime_hl_unit(&h, false, "text/plain");
 *     mime_hl_printf(&h, true, "charset=%s", "utf-8");
 *     rc = mime_hl_end(&h);
 */
struct hline {
    struct compose *c;
    size_t col;     /* characters on the current line */
    bool first;     /* no unit written yet */
    enum gw_err rc; /* the first failure */
};

/* Starts the field `name` ("name:") on the output of `c`. */
void mime_hl_begin(struct hline *h, struct compose *c, const char *name);

/* Appends `unit`, after a ";" when it is a parameter (`param`). */
void mime_hl_unit(struct hline *h, bool param, const char *unit);

/* The same for a unit formatted as by printf(). */
void mime_hl_printf(struct hline *h, bool param, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Ends the field with its CRLF; returns the first failure, or GW_OK. */
enum gw_err mime_hl_end(struct hline *h);

/*
 * These two append the file name `name` of an attachment: as the filename
 * parameter of Content-Disposition and as the name parameter of
 * Content-Type, each in the form its readers read (params.c says which).
 */
void mime_put_filename_param(struct hline *h, const char *name);
void mime_put_type_name_param(struct hline *h, const char *name);

/* body.c */

/*
 * Appends the body: the header fields of its outermost part, a blank
 * line and the parts, ending with a CRLF.
 */
enum gw_err mime_put_body(struct compose *c);

#endif
