/* Unit tests of the SASL responses and xtext (smtp/sasl.c). */
#include "mime/mime.h"
#include "smtp/sasl.h"
#include "store/store.h"
#include "check.h"

#include <string.h>

TEST(plain_is_base64_of_nul_user_nul_password)
{
    struct buf b;

    buf_init(&b, 256);
    CHECK(smtp_sasl_plain("tim", "tanstaaftanstaaf", &b) == GW_OK);
    /* base64("\0tim\0tanstaaftanstaaf") */
    CHECK_STR(buf_cstr(&b), "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
out:
    smtp_sasl_wipe(&b);
}

TEST(cram_md5_matches_rfc_2195)
{
    struct buf b;

    buf_init(&b, 256);
    /* RFC 2195 2: the challenge <1896.697170952@postoffice.reston.mci.net>
       with the secret "tanstaaftanstaaf" gives
       "tim b913a602c7eda7a495b4e6e7334d3890". */
    CHECK(
        smtp_sasl_cram_md5("tim", "tanstaaftanstaaf",
                           "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5"
                           "uZXQ+",
                           &b) == GW_OK);
    CHECK_STR(buf_cstr(&b), "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw");
    smtp_sasl_wipe(&b);
    buf_init(&b, 256);
    CHECK(smtp_sasl_cram_md5("tim", "x", "not base64!", &b) == GW_EPROTO);
out:
    smtp_sasl_wipe(&b);
}

TEST(xoauth2_response)
{
    struct buf b, raw;

    buf_init(&b, 512);
    buf_init(&raw, 512);
    CHECK(smtp_sasl_xoauth2("someuser@example.com",
                            "ya29.vF9dft4qmTc2Nvb3RlckBh", &b) == GW_OK);
    CHECK(gw_base64_decode(&raw, b.data, b.len, NULL) == GW_OK);
    CHECK_STR(buf_cstr(&raw), "user=someuser@example.com\001auth=Bearer "
                              "ya29.vF9dft4qmTc2Nvb3RlckBh\001\001");
out:
    smtp_sasl_wipe(&b);
    buf_free(&raw);
}

TEST(xtext_escapes_plus_equals_and_outside_ascii)
{
    struct buf b;

    buf_init(&b, 256);
    CHECK(smtp_sasl_xtext("a+b=c d@ex\xc3\xa9", &b) == GW_OK);
    CHECK_STR(buf_cstr(&b), "a+2Bb+3Dc+20d@ex+C3+A9");
out:
    buf_free(&b);
}

TEST(mechanism_names_and_lists)
{
    struct gw_error err = {0};

    CHECK(smtp_sasl_parse("cram-md5", 8) == SMTP_SASL_CRAM_MD5);
    CHECK(smtp_sasl_parse("PLAINX", 6) == SMTP_SASL_NONE);
    CHECK_STR(smtp_sasl_name(SMTP_SASL_XOAUTH2), "XOAUTH2");
    CHECK(smtp_sasl_check_list("CRAM-MD5,XOAUTH2,LOGIN,PLAIN", &err) == GW_OK);
    CHECK(smtp_sasl_check_list("LOGIN,GSSAPI", &err) == GW_EINVAL);
    CHECK(check_contains(err.detail, "GSSAPI"));
    CHECK(smtp_sasl_check_list("", &err) == GW_EINVAL);
out:;
}

/* The default list of a credential's mechanisms, from the record's schema. */
static const char *default_mechanisms(void)
{
    const struct store_setting *s;

    for (size_t i = 0; (s = store_credential_setting(i)) != NULL; i++) {
        if (strcmp(s->key, "mechanisms") == 0)
            return s->def;
    }
    return "";
}

/*
 * The record accepts the mechanisms the client speaks, and its default
 * (every one it accepts) names only those: the two lists agree.
 */
TEST(the_record_and_the_client_know_the_same_mechanisms)
{
    struct gw_error err = {0};
    size_t listed = 0;

    for (int m = SMTP_SASL_PLAIN; m <= SMTP_SASL_XOAUTH2; m++)
        CHECK(store_mechanisms_check(smtp_sasl_name((enum smtp_sasl_mech)m),
                                     &err) == GW_OK);
    for (const char *p = default_mechanisms(); *p != '\0'; listed++) {
        size_t n = strcspn(p, ",");

        CHECK(smtp_sasl_parse(p, n) != SMTP_SASL_NONE);
        p += n + (p[n] == ',');
    }
    CHECK(listed == SMTP_SASL_XOAUTH2);
    CHECK(store_mechanisms_check("login,NTLM", &err) == GW_EINVAL);
    CHECK_STR(err.detail, "unknown mechanism \"NTLM\"; use CRAM-MD5, XOAUTH2, "
                          "LOGIN or PLAIN");
out:;
}

const struct unit_test sasl_tests[] = {
    UNIT(plain_is_base64_of_nul_user_nul_password),
    UNIT(cram_md5_matches_rfc_2195),
    UNIT(xoauth2_response),
    UNIT(the_record_and_the_client_know_the_same_mechanisms),
    UNIT(xtext_escapes_plus_equals_and_outside_ascii),
    UNIT(mechanism_names_and_lists),
    {NULL, NULL},
};
