/* Unit tests of SMTP reply and EHLO parsing (smtp/reply.c). */
#include "smtp/reply.h"
#include "check.h"

#include <string.h>

/* Feeds NUL-separated lines; returns the code of the last feed. */
static enum gw_err feed_all(struct smtp_reply *r, const char *const *lines,
                            struct gw_error *err)
{
    enum gw_err rc = GW_OK;

    for (; *lines != NULL && rc == GW_OK; lines++)
        rc = smtp_reply_feed(r, *lines, strlen(*lines), err);
    return rc;
}

TEST(single_line_with_enhanced_status)
{
    static const char *const lines[] = {"550 5.1.1 <x@y>: no such user", NULL};
    struct smtp_reply r;
    struct gw_error err = {0};

    smtp_reply_init(&r);
    CHECK(feed_all(&r, lines, &err) == GW_OK);
    CHECK(r.done && r.code == 550 && r.n_lines == 1);
    CHECK_STR(r.status, "5.1.1");
    CHECK_STR(buf_cstr(&r.text), "5.1.1 <x@y>: no such user");
    CHECK_STR(buf_cstr(&r.line), "550 5.1.1 <x@y>: no such user");
out:
    smtp_reply_free(&r);
}

TEST(multi_line_reply_is_joined)
{
    static const char *const lines[] = {
        "250-mx.example.com hello", "250-SIZE 1000", "250 PIPELINING", NULL};
    struct smtp_reply r;
    struct gw_error err = {0};

    smtp_reply_init(&r);
    CHECK(smtp_reply_feed(&r, lines[0], strlen(lines[0]), &err) == GW_OK);
    CHECK(!r.done);
    CHECK(feed_all(&r, lines + 1, &err) == GW_OK);
    CHECK(r.done && r.n_lines == 3);
    CHECK_STR(buf_cstr(&r.text), "mx.example.com hello\nSIZE 1000\n"
                                 "PIPELINING");
    CHECK_STR(r.status, "");
out:
    smtp_reply_free(&r);
}

TEST(bare_code_ends_a_reply)
{
    struct smtp_reply r;
    struct gw_error err = {0};

    smtp_reply_init(&r);
    CHECK(smtp_reply_feed(&r, "354", 3, &err) == GW_OK);
    CHECK(r.done && r.code == 354);
out:
    smtp_reply_free(&r);
}

TEST(malformed_lines_are_protocol_errors)
{
    static const char *const bad[] = {"",       "25",          "abc hello",
                                      "2500 x", "199 too low", "600 too high",
                                      "250_x",  NULL};
    struct smtp_reply r;

    smtp_reply_init(&r);
    for (const char *const *b = bad; *b != NULL; b++) {
        struct gw_error err = {0};

        smtp_reply_reset(&r);
        CHECK(smtp_reply_feed(&r, *b, strlen(*b), &err) == GW_EPROTO);
        CHECK(check_contains(err.detail, "malformed reply"));
    }
out:
    smtp_reply_free(&r);
}

TEST(code_change_within_a_reply_is_refused)
{
    static const char *const lines[] = {"250-first", "550 second", NULL};
    struct smtp_reply r;
    struct gw_error err = {0};

    smtp_reply_init(&r);
    CHECK(feed_all(&r, lines, &err) == GW_EPROTO);
    CHECK(check_contains(err.detail, "code differs"));
out:
    smtp_reply_free(&r);
}

TEST(too_long_and_too_many_lines_are_refused)
{
    char line[SMTP_REPLY_LINE_MAX + 2];
    struct smtp_reply r;
    struct gw_error err = {0};

    memset(line, 'a', sizeof(line));
    memcpy(line, "250 ", 4);
    smtp_reply_init(&r);
    CHECK(smtp_reply_feed(&r, line, SMTP_REPLY_LINE_MAX, &err) == GW_OK);
    CHECK(smtp_reply_feed(&r, line, SMTP_REPLY_LINE_MAX + 1, &err) ==
          GW_EPROTO);
    CHECK(check_contains(err.detail, "line too long"));
    smtp_reply_reset(&r);
    for (int i = 0; i < SMTP_REPLY_LINES_MAX; i++)
        CHECK(smtp_reply_feed(&r, "250-x", 5, &err) == GW_OK);
    CHECK(smtp_reply_feed(&r, "250-x", 5, &err) == GW_EPROTO);
    CHECK(check_contains(err.detail, "too many lines"));
out:
    smtp_reply_free(&r);
}

TEST(ehlo_capabilities)
{
    static const char *const lines[] = {"250-mx.example.com at your service",
                                        "250-SIZE 35882577",
                                        "250-8BITMIME",
                                        "250-AUTH LOGIN plain XOAUTH2",
                                        "250-AUTH=LOGIN",
                                        "250-ENHANCEDSTATUSCODES",
                                        "250-pipelining",
                                        "250-DSN",
                                        "250-SMTPUTF8",
                                        "250-X-UNKNOWN whatever",
                                        "250 STARTTLS",
                                        NULL};
    struct smtp_reply r;
    struct smtp_caps caps;
    struct gw_error err = {0};

    smtp_reply_init(&r);
    CHECK(feed_all(&r, lines, &err) == GW_OK);
    smtp_caps_parse(&r, &caps);
    CHECK(caps.esmtp && caps.size_offered && caps.size == 35882577);
    CHECK(caps.eightbitmime && caps.pipelining && caps.dsn);
    CHECK(caps.enhancedstatuscodes && caps.smtputf8 && caps.starttls);
    CHECK_STR(caps.auth, "LOGIN PLAIN XOAUTH2 LOGIN");
out:
    smtp_reply_free(&r);
}

TEST(greeting_name_is_not_a_keyword)
{
    static const char *const lines[] = {"250-STARTTLS", "250 SIZE", NULL};
    struct smtp_reply r;
    struct smtp_caps caps;
    struct gw_error err = {0};

    smtp_reply_init(&r);
    CHECK(feed_all(&r, lines, &err) == GW_OK);
    smtp_caps_parse(&r, &caps);
    CHECK(!caps.starttls);
    CHECK(caps.size_offered && caps.size == 0);
out:
    smtp_reply_free(&r);
}

const struct unit_test reply_tests[] = {
    UNIT(single_line_with_enhanced_status),
    UNIT(multi_line_reply_is_joined),
    UNIT(bare_code_ends_a_reply),
    UNIT(malformed_lines_are_protocol_errors),
    UNIT(code_change_within_a_reply_is_refused),
    UNIT(too_long_and_too_many_lines_are_refused),
    UNIT(ehlo_capabilities),
    UNIT(greeting_name_is_not_a_keyword),
    {NULL, NULL},
};
