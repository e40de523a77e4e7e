/* Unit tests of the bounded buffer (base/buf.c). */
#include "base/base.h"
#include "check.h"

#include <stdlib.h>

TEST(appends_and_terminates)
{
    struct buf b;

    buf_init(&b, 16);
    CHECK_STR(buf_cstr(&b), "");
    CHECK(buf_puts(&b, "abc") == GW_OK);
    CHECK(buf_putc(&b, 'd') == GW_OK);
    CHECK(buf_printf(&b, "%d", 42) == GW_OK);
    CHECK_STR(buf_cstr(&b), "abcd42");
    CHECK(b.len == 6);
out:
    buf_free(&b);
}

TEST(refuses_past_the_limit_and_keeps_content)
{
    struct buf b;

    buf_init(&b, 5);
    CHECK(buf_puts(&b, "12345") == GW_OK);
    CHECK(buf_putc(&b, '6') == GW_ELIMIT);
    CHECK(buf_printf(&b, "%s", "x") == GW_ELIMIT);
    CHECK_STR(buf_cstr(&b), "12345");
out:
    buf_free(&b);
}

TEST(grows_across_many_appends)
{
    struct buf b;

    buf_init(&b, 100000);
    for (int i = 0; i < 10000; i++)
        CHECK(buf_puts(&b, "0123456789") == GW_OK);
    CHECK(b.len == 100000);
    CHECK(b.data[99999] == '9' && b.data[100000] == '\0');
    CHECK(buf_putc(&b, 'x') == GW_ELIMIT);
out:
    buf_free(&b);
}

TEST(reset_keeps_limit_and_steal_hands_over)
{
    struct buf b;
    char *s = NULL;

    buf_init(&b, 8);
    CHECK(buf_puts(&b, "abc") == GW_OK);
    buf_reset(&b);
    CHECK(b.len == 0);
    CHECK_STR(buf_cstr(&b), "");
    CHECK(buf_puts(&b, "xyz") == GW_OK);
    s = buf_steal(&b);
    CHECK_STR(s, "xyz");
    free(s);
    s = NULL;
    CHECK(b.len == 0 && b.data == NULL && b.max == 8);
    s = buf_steal(&b);
    CHECK_STR(s, "");
out:
    free(s);
    buf_free(&b);
}

const struct unit_test buf_tests[] = {
    UNIT(appends_and_terminates),
    UNIT(refuses_past_the_limit_and_keeps_content),
    UNIT(grows_across_many_appends),
    UNIT(reset_keeps_limit_and_steal_hands_over),
    {NULL, NULL},
};
