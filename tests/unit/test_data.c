/* Unit tests of the DATA stream encoder (smtp/data.c). */
#include "smtp/smtp.h"
#include "check.h"

#include <stdio.h>
#include <string.h>

/* Encodes `in` in chunks of `chunk` bytes and returns the wire text. */
static const char *encode(const char *in, size_t chunk, struct buf *out)
{
    struct smtp_data st = {0};
    size_t len = strlen(in);

    buf_reset(out);
    for (size_t at = 0; at < len; at += chunk) {
        size_t n = len - at < chunk ? len - at : chunk;

        if (smtp_data_encode(&st, in + at, n, out) != GW_OK)
            return NULL;
    }
    if (smtp_data_finish(&st, out) != GW_OK)
        return NULL;
    return buf_cstr(out);
}

TEST(line_ends_become_crlf)
{
    struct buf out;

    buf_init(&out, 4096);
    CHECK_STR(encode("a\nb\r\nc\rd", 100, &out), "a\r\nb\r\nc\r\nd\r\n.\r\n");
    CHECK_STR(encode("a\r\r\nb", 100, &out), "a\r\n\r\nb\r\n.\r\n");
    CHECK_STR(encode("a\n\nb\n", 100, &out), "a\r\n\r\nb\r\n.\r\n");
out:
    buf_free(&out);
}

TEST(leading_dots_are_doubled)
{
    struct buf out;

    buf_init(&out, 4096);
    CHECK_STR(encode(".\n..x\na.b\n.", 100, &out),
              "..\r\n...x\r\na.b\r\n..\r\n.\r\n");
out:
    buf_free(&out);
}

TEST(chunk_boundaries_change_nothing)
{
    const char *msg = "Subject: x\r\n\r\n.line\r\nbare\nend\r.\r\nlast";
    char first[256];
    struct buf out;

    buf_init(&out, 4096);
    snprintf(first, sizeof(first), "%s", encode(msg, 1000, &out));
    for (size_t chunk = 1; chunk < 8; chunk++)
        CHECK_STR(encode(msg, chunk, &out), first);
    CHECK_STR(first, "Subject: x\r\n\r\n..line\r\nbare\r\nend\r\n..\r\n"
                     "last\r\n.\r\n");
out:
    buf_free(&out);
}

TEST(empty_message_is_just_the_dot)
{
    struct buf out;

    buf_init(&out, 64);
    CHECK_STR(encode("", 10, &out), ".\r\n");
    CHECK_STR(encode("x\r\n", 10, &out), "x\r\n.\r\n");
out:
    buf_free(&out);
}

TEST(check_refuses_long_lines_and_nul)
{
    char msg[2100];
    struct gw_error err = {0};

    memset(msg, 'a', sizeof(msg));
    msg[998] = '\n';
    CHECK(smtp_data_check(msg, 999 + 998, &err) == GW_OK);
    CHECK(smtp_data_check(msg, 999 + 999, &err) == GW_ELIMIT);
    CHECK(check_contains(err.detail, "line 2 "));
    CHECK(smtp_data_check("a\r\nb\0c", 6, &err) == GW_EINVAL);
    CHECK(check_contains(err.detail, "NUL"));
out:;
}

const struct unit_test data_tests[] = {
    UNIT(line_ends_become_crlf),
    UNIT(leading_dots_are_doubled),
    UNIT(chunk_boundaries_change_nothing),
    UNIT(empty_message_is_just_the_dot),
    UNIT(check_refuses_long_lines_and_nul),
    {NULL, NULL},
};
