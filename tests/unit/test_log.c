/* Unit tests of log values (base/log.c). */
#include "base/base.h"
#include "check.h"

#include <string.h>

/*
 * True when `q` is one double-quoted value as the log's readers take it:
 * a quote, escaped or plain bytes (no control byte), a closing quote at
 * its very end, and nothing after.
 */
static bool well_quoted(const char *q)
{
    size_t n = strlen(q);

    if (n < 2 || q[0] != '"' || q[n - 1] != '"')
        return false;
    for (size_t i = 1; i < n - 1; i++) {
        if ((unsigned char)q[i] < 0x20 || q[i] == '"')
            return false;
        if (q[i] == '\\')
            i++;
    }
    return true;
}

TEST(quote_escapes_what_could_end_the_value)
{
    char out[LOG_QUOTE_MAX];

    CHECK_STR(log_quote(out, sizeof(out), "a \"b\" \\ c\r\nd"),
              "\"a \\\"b\\\" \\\\ c\\x0d\\x0ad\"");
    CHECK_STR(log_quote(out, sizeof(out), ""), "\"\"");
out:;
}

/* A value cut at every length, with every kind of byte at the cut: each
   is whole, ends in ..." and leaves no byte of the buffer unwritten
   before its end (the buffer starts as NULs, which would cut it). */
TEST(quote_cut_is_always_whole)
{
    static const char *const fills[] = {"x", "\"", "\\", "\n", "x\n"};
    char in[64], out[32];

    for (size_t f = 0; f < sizeof(fills) / sizeof(fills[0]); f++) {
        for (size_t len = 0; len < sizeof(in); len++) {
            size_t k = strlen(fills[f]);

            for (size_t i = 0; i < len; i++)
                in[i] = fills[f][i % k];
            in[len] = '\0';
            memset(out, 0, sizeof(out));
            log_quote(out, sizeof(out), in);
            CHECK(well_quoted(out));
            CHECK(strlen(out) < sizeof(out));
            if (len >= sizeof(out))
                CHECK(strstr(out, "...\"") == out + strlen(out) - 4);
        }
    }
out:;
}

const struct unit_test log_tests[] = {
    UNIT(quote_escapes_what_could_end_the_value),
    UNIT(quote_cut_is_always_whole),
    {NULL, NULL},
};
