/*
 * The SASL mechanisms of SMTP AUTH (RFC 4954): the client's responses for
 * PLAIN (RFC 4616), LOGIN, CRAM-MD5 (RFC 2195) and XOAUTH2, each already
 * base64-encoded for the wire, and the xtext of MAIL FROM's AUTH=
 * parameter (RFC 3461 4). Pure functions, no I/O.
 *
 * The buffers these fill hold secrets: the caller wipes them with
 * sasl_wipe() rather than buf_free().
 */
#ifndef GW_SASL_H
#define GW_SASL_H

#include <stdbool.h>

#include "base/base.h"

enum sasl_mech {
    SASL_NONE,
    SASL_PLAIN,
    SASL_LOGIN,
    SASL_CRAM_MD5,
    SASL_XOAUTH2,
};

/* The mechanism's name as the server lists it ("CRAM-MD5"). */
const char *sasl_name(enum sasl_mech mech);

/* Parses one name, any case; SASL_NONE when unknown. */
enum sasl_mech sasl_parse(const char *name, size_t len);

/*
 * Checks a comma-separated list of mechanisms, such as
 * "CRAM-MD5,XOAUTH2,LOGIN,PLAIN". GW_EINVAL naming the unknown one.
 */
enum gw_err sasl_check_list(const char *list, struct gw_error *err);

/* base64("\0user\0password"): PLAIN's initial response. */
enum gw_err sasl_plain(const char *user, const char *password, struct buf *out);

/* base64(text): LOGIN's answers to "Username:" and "Password:". */
enum gw_err sasl_base64(const char *text, struct buf *out);

/*
 * CRAM-MD5's answer to the server's base64 `challenge`:
 * base64(user " " hex(HMAC-MD5(password, challenge))). GW_EPROTO when the
 * challenge is not base64.
 */
enum gw_err sasl_cram_md5(const char *user, const char *password,
                          const char *challenge, struct buf *out);

/* base64("user=" user "\1auth=Bearer " token "\1\1"): XOAUTH2's response. */
enum gw_err sasl_xoauth2(const char *user, const char *token, struct buf *out);

/*
 * Decodes a base64 server challenge as text (XOAUTH2's JSON error, say)
 * into `out`; GW_EPROTO when it is not base64.
 */
enum gw_err sasl_decode(const char *challenge, struct buf *out);

/* Appends `s` as xtext: '+', '=' and bytes outside 33..126 as "+XX". */
enum gw_err sasl_xtext(const char *s, struct buf *out);

/* Overwrites and frees a buffer that held a secret. */
void sasl_wipe(struct buf *b);

#endif
