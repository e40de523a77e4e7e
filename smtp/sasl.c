/* SASL responses for SMTP AUTH and xtext; see sasl.h. */
#include "sasl.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "net/net.h"

/* Secrets and challenges are short; this bounds every scratch buffer. */
#define SASL_MAX 4096

static const char *const names[] = {
    [SMTP_SASL_NONE] = "",           [SMTP_SASL_PLAIN] = "PLAIN",
    [SMTP_SASL_LOGIN] = "LOGIN",     [SMTP_SASL_CRAM_MD5] = "CRAM-MD5",
    [SMTP_SASL_XOAUTH2] = "XOAUTH2",
};

const char *smtp_sasl_name(enum smtp_sasl_mech mech)
{
    return names[mech];
}

enum smtp_sasl_mech smtp_sasl_parse(const char *name, size_t len)
{
    for (size_t i = 1; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strlen(names[i]) == len && strncasecmp(names[i], name, len) == 0)
            return (enum smtp_sasl_mech)i;
    }
    return SMTP_SASL_NONE;
}

enum gw_err smtp_sasl_check_list(const char *list, struct gw_error *err)
{
    return gw_words_check(list, names + 1, sizeof(names) / sizeof(names[0]) - 1,
                          "mechanism", err);
}

void smtp_sasl_wipe(struct buf *b)
{
    if (b->data != NULL)
        explicit_bzero(b->data, b->cap);
    buf_free(b);
}

/* Encodes the `n` bytes of `raw` into `out`, then wipes `raw`. */
static enum gw_err encode_wiped(struct buf *raw, enum gw_err rc,
                                struct buf *out)
{
    if (rc == GW_OK)
        rc = gw_base64(out, raw->data, raw->len);
    smtp_sasl_wipe(raw);
    return rc;
}

enum gw_err smtp_sasl_plain(const char *user, const char *password,
                            struct buf *out)
{
    struct buf raw;
    enum gw_err rc;

    buf_init(&raw, SASL_MAX);
    rc = buf_putc(&raw, '\0');
    if (rc == GW_OK)
        rc = buf_puts(&raw, user);
    if (rc == GW_OK)
        rc = buf_putc(&raw, '\0');
    if (rc == GW_OK)
        rc = buf_puts(&raw, password);
    return encode_wiped(&raw, rc, out);
}

enum gw_err smtp_sasl_base64(const char *text, struct buf *out)
{
    return gw_base64(out, text, strlen(text));
}

enum gw_err smtp_sasl_decode(const char *challenge, struct buf *out)
{
    return gw_base64_decode(out, challenge, strlen(challenge), NULL) == GW_OK
               ? GW_OK
               : GW_EPROTO;
}

enum gw_err smtp_sasl_cram_md5(const char *user, const char *password,
                               const char *challenge, struct buf *out)
{
    unsigned char mac[16];
    struct buf chal, raw;
    enum gw_err rc;

    buf_init(&chal, SASL_MAX);
    buf_init(&raw, SASL_MAX);
    rc = smtp_sasl_decode(challenge, &chal);
    if (rc == GW_OK)
        rc = tls_hmac_md5(password, strlen(password), chal.data, chal.len, mac);
    if (rc == GW_OK)
        rc = buf_printf(&raw, "%s ", user);
    for (size_t i = 0; i < sizeof(mac) && rc == GW_OK; i++)
        rc = buf_printf(&raw, "%02x", mac[i]);
    explicit_bzero(mac, sizeof(mac));
    buf_free(&chal);
    return encode_wiped(&raw, rc, out);
}

enum gw_err smtp_sasl_xoauth2(const char *user, const char *token,
                              struct buf *out)
{
    struct buf raw;

    buf_init(&raw, SASL_MAX);
    return encode_wiped(
        &raw,
        buf_printf(&raw, "user=%s\001auth=Bearer %s\001\001", user, token),
        out);
}

enum gw_err smtp_sasl_xtext(const char *s, struct buf *out)
{
    enum gw_err rc = GW_OK;

    for (; *s != '\0' && rc == GW_OK; s++) {
        unsigned char c = (unsigned char)*s;

        if (c < 33 || c > 126 || c == '+' || c == '=')
            rc = buf_printf(out, "+%02X", c);
        else
            rc = buf_putc(out, (char)c);
    }
    return rc;
}
