/*
 * The SASL mechanisms of SMTP AUTH (RFC 4954): the client's responses for
 * PLAIN (RFC 4616), LOGIN, CRAM-MD5 (RFC 2195) and XOAUTH2, each already
 * base64-encoded for the wire, and the xtext of MAIL FROM's AUTH=
 * parameter (RFC 3461 4). Pure functions, no I/O.
 *
 * The buffers these fill hold secrets: the caller wipes them with
 * smtp_sasl_wipe() rather than buf_free(). Internal to smtp/; a
 * credential's list of mechanisms is checked by the record that holds it
 * too (store_mechanisms_check(), whose names tests/unit/test_sasl.c keeps
 * the same as these).
 */
#ifndef GW_SASL_H
#define GW_SASL_H

#include <stdbool.h>

#include "base/base.h"
#include "smtp.h"

enum smtp_sasl_mech {
    SMTP_SASL_NONE,
    SMTP_SASL_PLAIN,
    SMTP_SASL_LOGIN,
    SMTP_SASL_CRAM_MD5,
    SMTP_SASL_XOAUTH2,
};

/* The mechanism's name as the server lists it ("CRAM-MD5"). */
const char *smtp_sasl_name(enum smtp_sasl_mech mech);

/* Parses one name, any case; SMTP_SASL_NONE when unknown. */
enum smtp_sasl_mech smtp_sasl_parse(const char *name, size_t len);

/*
 * Checks a comma-separated list of AUTH mechanisms, such as
 * "CRAM-MD5,XOAUTH2,LOGIN,PLAIN", any case (the pool checks the list it is
 * given). GW_EINVAL naming the unknown one.
 */
enum gw_err smtp_sasl_check_list(const char *list, struct gw_error *err);

/* base64("\0user\0password"): PLAIN's initial response. */
enum gw_err smtp_sasl_plain(const char *user, const char *password,
                            struct buf *out);

/* base64(text): LOGIN's answers to "Username:" and "Password:". */
enum gw_err smtp_sasl_base64(const char *text, struct buf *out);

/*
 * CRAM-MD5's answer to the server's base64 `challenge`:
 * base64(user " " hex(HMAC-MD5(password, challenge))). GW_EPROTO when the
 * challenge is not base64.
 */
enum gw_err smtp_sasl_cram_md5(const char *user, const char *password,
                               const char *challenge, struct buf *out);

/* base64("user=" user "\1auth=Bearer " token "\1\1"): XOAUTH2's response. */
enum gw_err smtp_sasl_xoauth2(const char *user, const char *token,
                              struct buf *out);

/*
 * Decodes a base64 server challenge as text (XOAUTH2's JSON error, say)
 * into `out`; GW_EPROTO when it is not base64.
 */
enum gw_err smtp_sasl_decode(const char *challenge, struct buf *out);

/* Appends `s` as xtext: '+', '=' and bytes outside 33..126 as "+XX". */
enum gw_err smtp_sasl_xtext(const char *s, struct buf *out);

/* Overwrites and frees a buffer that held a secret. */
void smtp_sasl_wipe(struct buf *b);

#endif
