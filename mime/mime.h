/*
 * The message: addresses (libidn2), the byte-level encodings of headers
 * and bodies, the checks of a raw message, and the MIME composer. It never
 * uses the SMTP client: it makes the bytes that client is given.
 */
#ifndef GW_MIME_H
#define GW_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "base/base.h"

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
struct mime_addr {
    char *name;    /* display name, UTF-8 without quotes; NULL when none */
    char *mailbox; /* local@domain, as given but for an international
                      domain, which is in A-labels */
};

/*
 * Parses `text` ("Name <a@b>", "\"Doe, J.\" <a@b>" or "a@b") into `out`,
 * which the caller must release with mime_addr_clear(). On failure `out` is
 * left empty and `err` holds a detail without a field name, such as
 * "the address has a space".
 */
enum gw_err mime_addr_parse(const char *text, struct mime_addr *out,
                            struct gw_error *err);

/*
 * Checks `mailbox` and `name` (which may be NULL) and stores copies in
 * `out`, as mime_addr_parse() would for "name <mailbox>".
 */
enum gw_err mime_addr_set(struct mime_addr *out, const char *name,
                          const char *mailbox, struct gw_error *err);

/*
 * Checks a mailbox (local@domain) without storing it; an international
 * domain must convert to A-labels.
 */
enum gw_err mime_addr_check_mailbox(const char *mailbox, struct gw_error *err);

/*
 * Checks a domain (a name, UTF-8 allowed, or an address literal) and
 * returns in `*out` a new string, which the caller frees: the domain with
 * any international name in A-labels. `*out` is NULL on failure.
 */
enum gw_err mime_addr_domain_ascii(const char *domain, char **out,
                                   struct gw_error *err);

/*
 * Checks a display name (without quotes) without storing it: valid UTF-8
 * with no control byte, TAB included. NULL is a valid "no name".
 */
enum gw_err mime_addr_check_name(const char *name, struct gw_error *err);

/*
 * True when the mailbox has a byte outside ASCII (it needs SMTPUTF8). For
 * a stored mailbox that can only be in the local part.
 */
bool mime_addr_needs_utf8(const char *mailbox);

/* True when two mailboxes are the same: the domain compared without case. */
bool mime_addr_same_mailbox(const char *a, const char *b);

/* Frees what `a` holds and empties it; harmless on an empty address. */
void mime_addr_clear(struct mime_addr *a);

/*
 * The byte-level encoders behind the MIME composer (base64 itself is in
 * base/base.h): RFC 2047 encoded-words for header text, RFC 2231 percent
 * encoding for parameter values, and the body encodings (7bit or 8bit with CRLF
 * line ends, RFC 2045 quoted-printable, base64 lines).
 *
 * Every function appends to a bounded struct buf and returns GW_OK,
 * GW_ELIMIT when the buffer's limit is reached or GW_ENOMEM; none of them
 * sets a detail, since only the caller knows what was being written.
 */
/* The longest RFC 2047 encoded-word, in characters (RFC 2047 2). */
#define MIME_ENC_WORD_MAX 75

/*
 * Appends the base64 form of `n` bytes as a body (RFC 2045 6.8): lines of
 * 76 characters separated by CRLF, with no CRLF after the last one.
 */
enum gw_err mime_enc_base64_lines(struct buf *out, const void *p, size_t n);

/*
 * Appends `s` (`n` bytes of valid UTF-8) as "=?UTF-8?B?...?=" words
 * separated by single spaces. The first word has at most `first_max`
 * characters (at least 20 are allowed, so that any character fits), the
 * others at most MIME_ENC_WORD_MAX; words are split only between characters,
 * so each decodes to valid UTF-8 on its own. Appends nothing when `n` is 0.
 */
enum gw_err mime_enc_words(struct buf *out, const char *s, size_t n,
                           size_t first_max);

/*
 * True when the body `s` (`n` bytes) can be sent as 7bit (RFC 2045 2.7):
 * ASCII only, no NUL, CR only as part of CRLF, and no line over 998 bytes.
 */
bool mime_enc_is_7bit(const char *s, size_t n);

/*
 * True when the body `s` (`n` bytes) can be sent as 8bit (RFC 6152) once
 * its line ends are CRLF: no NUL, and no line over 998 bytes, a line ending
 * at LF, CRLF or a lone CR as mime_enc_crlf() reads them.
 */
bool mime_enc_is_8bit(const char *s, size_t n);

/*
 * Appends `s` with every line end (LF, CRLF or a lone CR) written as
 * CRLF; nothing else changes. `s` may be NULL when `n` is 0 (an empty
 * attachment).
 */
enum gw_err mime_enc_crlf(struct buf *out, const char *s, size_t n);

/*
 * Appends `s` as quoted-printable (RFC 2045 6.7): lines of at most 76
 * characters with "=" soft breaks; "=", bytes outside printable ASCII
 * (TAB excepted) and whitespace at the end of a line encoded as "=XX";
 * line ends of the input (LF, CRLF or a lone CR) written as CRLF.
 */
enum gw_err mime_enc_qp(struct buf *out, const char *s, size_t n);

/*
 * Returns how many characters the byte `c` takes in an RFC 2231
 * parameter value: 1 for an attribute-char, 3 for "%XX".
 */
size_t mime_enc_pct_len(unsigned char c);

/* Appends `n` bytes as RFC 2231 attribute-chars and "%XX" escapes. */
enum gw_err mime_enc_pct(struct buf *out, const char *s, size_t n);

/*
 * A raw RFC 5322 message relayed as given, read in pieces: the header
 * section is checked line by line and a Bcc field (with its continuation
 * lines) is dropped unless it is to be shown; the body passes untouched.
 * Lines end where the DATA encoder ends them (gw_eol_next() in data.h),
 * so a bare CR cannot hide a field from the check; the header lines that
 * pass are written with CRLF, as the encoder would write them, so that a
 * dropped line cannot join the line ends around it into one. Dot-stuffing
 * is the encoder's.
 */
struct mime_raw_filter {
    bool show_bcc;        /* keep Bcc fields */
    bool in_body;         /* the empty line after the header has passed */
    bool dropping;        /* inside a Bcc field being dropped */
    bool after_cr;        /* the last header byte was a CR */
    bool header_utf8;     /* a header line passed on has UTF-8 */
    size_t line_no;       /* header lines seen, for error details */
    char message_id[256]; /* the Message-ID field's value, "" if none */
    struct buf line;      /* a header line not yet ended, without its end */
};

/* Prepares `f`; pair with mime_raw_filter_free(). */
void mime_raw_filter_init(struct mime_raw_filter *f, bool show_bcc);
void mime_raw_filter_free(struct mime_raw_filter *f);

/*
 * Appends to `out` what of the `n` bytes goes on: whole header lines but
 * dropped ones, each with CRLF, and every body byte. GW_EINVAL, with a detail,
 * for a header line that is not a field ("Name: value") or a continuation, and
 * for one over 998 bytes; the message must then not be delivered.
 */
enum gw_err mime_raw_filter_feed(struct mime_raw_filter *f, const char *p,
                                 size_t n, struct buf *out,
                                 struct gw_error *err);

/*
 * Ends the message: a last header line without its line end is checked
 * and passed on. GW_EINVAL when the message had no header field at all.
 */
enum gw_err mime_raw_filter_finish(struct mime_raw_filter *f, struct buf *out,
                                   struct gw_error *err);

/*
 * The MIME composer: turns a message description into the RFC 5322 bytes
 * sent after DATA, with CRLF line ends, no line over 998 bytes, header
 * lines folded at 78 where possible, and non-ASCII header text as RFC 2047
 * encoded-words (unless the caller allows raw UTF-8 for SMTPUTF8).
 *
 * The body is a tree only as deep as its parts need: multipart/mixed
 * holds the body and the attachments, multipart/related the HTML and the
 * inline attachments it shows by Content-ID, multipart/alternative the
 * text and the HTML. A level without parts of its own is left out, so a
 * text alone stays a single text/plain part. Text bodies go as 7bit when
 * they can, as 8bit when the caller allows it, as quoted-printable
 * otherwise; attachments as base64 (a message/rfc822 as 7bit or 8bit).
 *
 * The composer owns Date, Message-ID, MIME-Version, Content-Type,
 * Content-Transfer-Encoding, Content-Disposition, the address fields and
 * Subject; extra headers may not set them.
 */
/* One extra header given by the sender. */
struct mime_header {
    const char *name;  /* a valid field name (RFC 5322 ftext), no colon */
    const char *value; /* unfolded text, UTF-8, no CR or LF */
};

/* A zone for the Date header. */
struct mime_tz {
    bool local;     /* use the machine's zone at the time of sending */
    int offset_min; /* otherwise minutes east of UTC, e.g. -300 for EST */
};

/* One attachment. Every pointer is borrowed for the call only. */
struct mime_attachment {
    const char *filename;     /* UTF-8; see mime_check_filename(). Written
                                 as a quoted-string when plain ASCII that
                                 fits a line; otherwise only in the RFC
                                 2231 form (filename*) and as RFC 2047
                                 encoded-words (name on Content-Type) */
    const char *content_type; /* "type/subtype" (mime_check_content_type);
                                 NULL to guess it from the filename */
    const void *data;         /* the content; NULL only when len is 0 */
    size_t len;               /* bytes of data */
    bool is_inline;           /* Content-Disposition inline rather than
                                 attachment */
    const char *content_id;   /* without angle brackets, for "cid:" in the
                                 HTML (mime_check_content_id); NULL for
                                 none */
};

/* What to compose. Every pointer is borrowed for the call only. */
struct mime_message {
    const struct mime_addr *from;   /* required */
    const struct mime_addr *sender; /* NULL when none; not written when it is
                                  the From mailbox (RFC 5322 3.6.2) */
    const struct mime_addr *reply_to;
    size_t n_reply_to;
    const struct mime_addr *to;
    size_t n_to;
    const struct mime_addr *cc;
    size_t n_cc;
    const struct mime_addr *bcc; /* written only with show_bcc */
    size_t n_bcc;
    const char *subject; /* UTF-8; NULL or "" for none */
    const char *text;    /* text/plain body, UTF-8; NULL when none */
    const char *html;    /* text/html body, UTF-8; NULL when none */
    const struct mime_header *headers;
    size_t n_headers;
    const struct mime_attachment *attachments; /* in this order; an inline
                                                  one with a content_id
                                                  goes with the HTML */
    size_t n_attachments;
};

/* How to compose it. */
struct mime_options {
    struct mime_tz tz;             /* zone of the Date header */
    time_t date;                   /* the Date; 0 means now */
    bool show_bcc;                 /* write a Bcc header */
    bool allow_header_encoding;    /* non-ASCII header text as RFC 2047;
                                      when false it is written as raw UTF-8
                                      and the result needs SMTPUTF8 */
    const char *message_id_domain; /* right-hand side of Message-ID;
                                      NULL for the From domain */
    bool allow_8bit;               /* a text body that is not 7bit may go
                                      as 8bit (the server offers 8BITMIME);
                                      otherwise it goes quoted-printable */
};

/* What the composer tells the sender about the result. */
struct mime_result {
    char message_id[300]; /* the Message-ID, with its angle brackets;
                             room for any domain of 253 bytes */
    bool needs_smtputf8;  /* raw UTF-8 went into a header */
    bool is_8bit;         /* some body part is 8bit-encoded */
};

/*
 * Parses a zone: "UT", "UTC", "GMT", "Z", the RFC 822 US zones ("EST",
 * "EDT", "CST", "CDT", "MST", "MDT", "PST", "PDT"), "+hhmm" / "-hhmm",
 * or "LOCAL" (any case). GW_EINVAL with a detail for anything else.
 */
enum gw_err mime_tz_parse(const char *text, struct mime_tz *out,
                          struct gw_error *err);

/*
 * Checks one extra header: a valid name that the composer does not own,
 * a value without CR or LF. The detail names the problem, not the field.
 */
enum gw_err mime_check_header(const struct mime_header *h,
                              struct gw_error *err);

/*
 * Checks unstructured header text such as a subject: valid UTF-8 without
 * CR or LF. The detail names the problem, not the field.
 */
enum gw_err mime_check_text(const char *text, struct gw_error *err);

/*
 * Returns the media type for the extension of `filename` (any case):
 * a small table of common types, application/octet-stream for the rest.
 * The string is static.
 */
const char *mime_guess_type(const char *filename);

/*
 * Checks an attachment's file name: not empty, at most 255 bytes of valid
 * UTF-8 without control characters. The detail names the problem, not
 * the field ("is empty").
 */
enum gw_err mime_check_filename(const char *name, struct gw_error *err);

/*
 * Checks a media type given for an attachment: "type/subtype" without
 * parameters, not multipart (the composer makes those), nor
 * message/partial or message/external-body.
 */
enum gw_err mime_check_content_type(const char *type, struct gw_error *err);

/*
 * Checks a Content-ID given without its angle brackets: at most 200 of
 * the characters a msg-id may hold unquoted (atext, "." and "@").
 */
enum gw_err mime_check_content_id(const char *id, struct gw_error *err);

/*
 * Checks that every "cid:" reference in `html` (percent-decoded, RFC
 * 2392) names the content_id of one of the `n` attachments, and that
 * that one is inline. The detail names the reference, not the field.
 */
enum gw_err mime_check_cid_refs(const char *html,
                                const struct mime_attachment *a, size_t n,
                                struct gw_error *err);

/*
 * Appends the whole message to `out` (whose limit bounds its size) and
 * fills `res`. On failure `out` may hold part of a message, which the
 * caller must discard.
 */
enum gw_err mime_compose(const struct mime_message *msg,
                         const struct mime_options *opt, struct buf *out,
                         struct mime_result *res, struct gw_error *err);

#endif
