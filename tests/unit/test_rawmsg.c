/* Unit tests of raw message header checks and Bcc removal (mime/rawmsg.c). */
#include "smtp/smtp.h"
#include "mime/mime.h"
#include "check.h"

#include <string.h>

/* The Message-ID the last filter() saw. */
static char last_message_id[256];

/* Feeds `msg` in chunks of `chunk` bytes; returns the output or NULL. */
static const char *filter(const char *msg, size_t chunk, bool show_bcc,
                          struct buf *out, struct gw_error *err)
{
    struct mime_raw_filter f;
    size_t len = strlen(msg);
    enum gw_err rc = GW_OK;

    mime_raw_filter_init(&f, show_bcc);
    buf_reset(out);
    for (size_t at = 0; at < len && rc == GW_OK; at += chunk)
        rc = mime_raw_filter_feed(
            &f, msg + at, len - at < chunk ? len - at : chunk, out, err);
    if (rc == GW_OK)
        rc = mime_raw_filter_finish(&f, out, err);
    memcpy(last_message_id, f.message_id, sizeof(last_message_id));
    mime_raw_filter_free(&f);
    return rc == GW_OK ? buf_cstr(out) : NULL;
}

TEST(bcc_and_its_continuations_are_dropped)
{
    static const char msg[] = "From: a@example.com\r\n"
                              "Message-ID:  <id.1@example.com> \r\n"
                              "bcc: hidden@example.com,\r\n"
                              "  other@example.com\r\n"
                              "To: b@example.com\r\n"
                              "\r\n"
                              "Bcc: this is body text\r\n";
    struct gw_error err = {0};
    struct buf out;

    buf_init(&out, 4096);
    for (size_t chunk = 1; chunk < 9; chunk++)
        CHECK_STR(filter(msg, chunk, false, &out, &err),
                  "From: a@example.com\r\n"
                  "Message-ID:  <id.1@example.com> \r\n"
                  "To: b@example.com\r\n"
                  "\r\n"
                  "Bcc: this is body text\r\n");
    CHECK_STR(filter(msg, 5, true, &out, &err), msg);
    CHECK_STR(last_message_id, "<id.1@example.com>");
out:
    buf_free(&out);
}

TEST(other_fields_pass_untouched)
{
    static const char msg[] = "Bcc2: kept\nX-Bcc: kept\nBccx: kept\n"
                              "Subject: x\n\nbody";
    struct gw_error err = {0};
    struct buf out;

    buf_init(&out, 4096);
    /* Header lines are passed with CRLF, as the DATA encoder writes them;
       the body as it came. */
    CHECK_STR(filter(msg, 3, false, &out, &err),
              "Bcc2: kept\r\nX-Bcc: kept\r\nBccx: kept\r\n"
              "Subject: x\r\n\nbody");
    CHECK_STR(filter("Subject: no body", 4, false, &out, &err),
              "Subject: no body");
out:
    buf_free(&out);
}

/* A bare CR ends a header line, as it does for the DATA encoder. */
TEST(bare_cr_ends_header_lines)
{
    static const char msg[] = "From: a@example.com\rMessage-ID: <cr@x>\r"
                              "Bcc: hidden@example.com\r\n"
                              "Subject: s\r\rbody\r";
    struct gw_error err = {0};
    struct buf out;

    buf_init(&out, 4096);
    /* Every piece size, so that each CR LF is split between two once. */
    for (size_t chunk = 1; chunk <= sizeof(msg); chunk++) {
        CHECK_STR(filter(msg, chunk, false, &out, &err),
                  "From: a@example.com\r\nMessage-ID: <cr@x>\r\n"
                  "Subject: s\r\n\rbody\r");
        CHECK_STR(last_message_id, "<cr@x>");
    }
    /* A dropped field between a bare CR and a bare LF: the empty line
       that ends the header stays one. */
    CHECK_STR(
        filter("Subject: b\rBcc: x\n\nBody: text\r\n", 5, false, &out, &err),
        "Subject: b\r\n\nBody: text\r\n");
out:
    buf_free(&out);
}

/* UTF-8 in a header line that goes out is told; in the body, in a
   dropped Bcc, or 8-bit bytes that are not UTF-8, it is not. */
TEST(header_utf8_is_told)
{
    static const struct {
        const char *msg;
        bool header_utf8;
    } cases[] = {
        {"Subject: Gr\xc3\xbc\xc3\x9f"
         "e\r\n\r\nbody\r\n",
         true},
        {"Subject: x\r\n\r\nGr\xc3\xbc\xc3\x9f"
         "e\r\n",
         false},
        {"Subject: caf\xe9\r\n\r\nbody\r\n", false},
        {"Subject: x\r\nBcc: J\xc3\xbcrgen <j@x>\r\n\r\nbody\r\n", false},
    };
    struct mime_raw_filter f = {0};
    struct buf out = {0};

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct gw_error err = {0};

        buf_init(&out, 4096);
        mime_raw_filter_init(&f, false);
        CHECK(mime_raw_filter_feed(&f, cases[i].msg, strlen(cases[i].msg), &out,
                                   &err) == GW_OK);
        CHECK(mime_raw_filter_finish(&f, &out, &err) == GW_OK);
        CHECK(f.header_utf8 == cases[i].header_utf8);
        mime_raw_filter_free(&f);
        buf_free(&out);
    }
out:
    mime_raw_filter_free(&f);
    buf_free(&out);
}

TEST(malformed_headers_are_refused)
{
    static const struct {
        const char *msg, *why;
    } bad[] = {
        {"", "is empty"},
        {"\r\nbody", "no header fields"},
        {" folded first\r\n\r\n", "continuation"},
        {"From: a\r\nnot a field\r\n\r\n", "line 2 of the header"},
        {"From a@example.com\r\n\r\n", "line 1 of the header"},
        {": empty name\r\n\r\n", "line 1"},
    };
    struct buf out;

    buf_init(&out, 4096);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct gw_error err = {0};

        CHECK(filter(bad[i].msg, 7, false, &out, &err) == NULL);
        CHECK(err.code == GW_EINVAL);
        if (!check_contains(err.detail, bad[i].why))
            CHECK_STR(err.detail, bad[i].why);
    }
out:
    buf_free(&out);
}

TEST(overlong_header_line_is_refused)
{
    char msg[1100];
    struct gw_error err = {0};
    struct buf out;

    memset(msg, 'a', sizeof(msg));
    memcpy(msg, "X-Long: ", 8);
    memcpy(msg + sizeof(msg) - 3, "\n\n", 3);
    buf_init(&out, 4096);
    CHECK(filter(msg, 100, false, &out, &err) == NULL);
    CHECK(check_contains(err.detail, "longer than 998"));
    /* The limit is the line's, without its line end, whichever it is. */
    memcpy(msg + 998, "\r\r\n", 4);
    CHECK(filter(msg, 100, false, &out, &err) != NULL);
    memcpy(msg + 998, "a\r\n", 4);
    CHECK(filter(msg, 100, false, &out, &err) == NULL);
    CHECK(check_contains(err.detail, "line 1 of the header is longer"));
out:
    buf_free(&out);
}

/*
 * Filters `msg` (fed in chunks of `chunk` bytes) and encodes the result
 * for DATA, as a raw send does; returns the wire text or NULL.
 */
static const char *filter_wire(const char *msg, size_t chunk, bool show_bcc,
                               struct buf *wire)
{
    struct gw_error err = {0};
    struct smtp_data st = {0};
    struct buf out;
    const char *res = NULL;

    buf_init(&out, 4096);
    buf_reset(wire);
    if (filter(msg, chunk, show_bcc, &out, &err) != NULL &&
        smtp_data_encode(&st, out.data, out.len, wire) == GW_OK &&
        smtp_data_finish(&st, wire) == GW_OK)
        res = buf_cstr(wire);
    buf_free(&out);
    return res;
}

TEST(a_bare_cr_ends_a_header_line_as_on_the_wire)
{
    static const struct {
        const char *msg, *wire;
    } cases[] = {
        /* The DATA encoder makes the CR a line end: the Bcc after it is a
           field of its own and must go. */
        {"Subject: a\rBcc: hidden@example.com\r\n\r\nbody",
         "Subject: a\r\n\r\nbody\r\n.\r\n"},
        {"Bcc: x\rSubject: a\r\rbody", "Subject: a\r\n\r\nbody\r\n.\r\n"},
        /* Without the Bcc between them, a CR and a LF would make one line
           end and the empty line would be lost. */
        {"Subject: a\rBcc: x\n\nbody", "Subject: a\r\n\r\nbody\r\n.\r\n"},
        {"Subject: a\rbcc: x\r\n folded\r\nTo: b\n\r\n.body",
         "Subject: a\r\nTo: b\r\n\r\n..body\r\n.\r\n"},
    };
    struct buf wire;

    buf_init(&wire, 4096);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (size_t chunk = 1; chunk < 6; chunk++)
            CHECK_STR(filter_wire(cases[i].msg, chunk, false, &wire),
                      cases[i].wire);
    }
out:
    buf_free(&wire);
}

TEST(a_bare_cr_in_a_field_is_checked_as_a_line_end)
{
    struct gw_error err = {0};
    struct buf out;

    buf_init(&out, 4096);
    CHECK(filter("Subject: a\rnot a field\r\n\r\n", 3, false, &out, &err) ==
          NULL);
    CHECK(check_contains(err.detail, "line 2 of the header"));
out:
    buf_free(&out);
}

TEST(show_bcc_changes_nothing_on_the_wire)
{
    static const char msg[] = "Subject: a\rBcc: h@example.com\n\r\nbody\r";
    struct buf wire, direct;
    struct smtp_data st = {0};

    buf_init(&wire, 4096);
    buf_init(&direct, 4096);
    CHECK(smtp_data_encode(&st, msg, strlen(msg), &direct) == GW_OK);
    CHECK(smtp_data_finish(&st, &direct) == GW_OK);
    for (size_t chunk = 1; chunk < 6; chunk++)
        CHECK_STR(filter_wire(msg, chunk, true, &wire), buf_cstr(&direct));
out:
    buf_free(&wire);
    buf_free(&direct);
}

const struct unit_test rawmsg_tests[] = {
    UNIT(bcc_and_its_continuations_are_dropped),
    UNIT(other_fields_pass_untouched),
    UNIT(bare_cr_ends_header_lines),
    UNIT(header_utf8_is_told),
    UNIT(malformed_headers_are_refused),
    UNIT(overlong_header_line_is_refused),
    UNIT(a_bare_cr_ends_a_header_line_as_on_the_wire),
    UNIT(a_bare_cr_in_a_field_is_checked_as_a_line_end),
    UNIT(show_bcc_changes_nothing_on_the_wire),
    {NULL, NULL},
};
