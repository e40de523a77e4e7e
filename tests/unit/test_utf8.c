/* Unit tests of UTF-8 checks and replacement (smtp/utf8.c). */
#include "base/base.h"
#include "check.h"

#include <string.h>

#define R UTF8_REPLACEMENT

/* Sanitises `in` with room enough and compares it with `want`. */
static bool sanitizes_to(const char *in, const char *want)
{
    char out[256];
    bool cut = true;
    size_t n = gw_utf8_sanitize(out, sizeof(out), in, strlen(in), &cut);

    return !cut && n == strlen(want) && strcmp(out, want) == 0 &&
           gw_utf8_sanitized_len(in, strlen(in)) == n && gw_utf8_valid(out, n);
}

TEST(valid_text_is_valid)
{
    static const char *const ok[] = {"",
                                     "plain ASCII",
                                     "gr\xc3\xbc\xc3\x9f",
                                     "\xe2\x82\xac",
                                     "\xf0\x9f\x93\xa7",
                                     "\xed\x9f\xbf",
                                     "\xf4\x8f\xbf\xbf"};

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        CHECK(gw_utf8_valid(ok[i], strlen(ok[i])));
        CHECK(sanitizes_to(ok[i], ok[i]));
    }
    CHECK(gw_utf8_len("\xf0\x9f\x93\xa7", 4) == 4);
    CHECK(gw_utf8_len("\xc3\xa9", 2) == 2);
    CHECK(gw_utf8_len("a", 1) == 1);
out:;
}

TEST(ill_formed_text_is_refused)
{
    static const char *const bad[] = {
        "caf\xe9",          /* Latin-1 */
        "\x80",             /* a lone continuation byte */
        "\xc0\xaf",         /* overlong '/' */
        "\xe0\x80\xaf",     /* overlong, three bytes */
        "\xed\xa0\x80",     /* a surrogate */
        "\xf4\x90\x80\x80", /* past U+10FFFF */
        "\xf5\x80\x80\x80", /* never a lead byte */
        "\xe2\x82",         /* truncated */
        "\xff",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(!gw_utf8_valid(bad[i], strlen(bad[i])));
    CHECK(gw_utf8_len("\xe2\x82", 2) == 0);
    CHECK(gw_utf8_len("\xe2\x82\xac", 2) == 0);
    CHECK(gw_utf8_len("", 0) == 0);
out:;
}

/* One U+FFFD per maximal subpart, as the WHATWG decoder (and node's
   TextDecoder) shows the same bytes. */
TEST(each_maximal_subpart_becomes_one_replacement)
{
    CHECK(sanitizes_to("caf\xe9@example.com", "caf" R "@example.com"));
    CHECK(sanitizes_to("Empf\xe4nger", "Empf" R "nger"));
    CHECK(sanitizes_to("gr\xfc\xdf dich", "gr" R R " dich"));
    /* A truncated sequence is one subpart; what follows stays. */
    CHECK(sanitizes_to("\xe2\x82"
                       "a",
                       R "a"));
    CHECK(sanitizes_to("\xf0\x9f\x93"
                       "b",
                       R "b"));
    /* A sequence cut short by a new lead byte. */
    CHECK(sanitizes_to("\xe2\x82\xc3\xa9", R "\xc3\xa9"));
    /* Bytes that could never start a sequence are one each. */
    CHECK(sanitizes_to("\xc0\xaf", R R));
    CHECK(sanitizes_to("\xed\xa0\x80", R R R));
    CHECK(sanitizes_to("\xf4\x90\x80\x80", R R R R));
    CHECK(sanitizes_to("\x80\xbf", R R));
    CHECK(sanitizes_to("\xff\xfe", R R));
out:;
}

TEST(sanitize_cuts_on_a_character_boundary)
{
    char out[8];
    bool cut = false;
    size_t n;

    /* "ab" + "é" + "é" + "é": the third "é" would need bytes 7 and 8. */
    n = gw_utf8_sanitize(out, sizeof(out), "ab\xc3\xa9\xc3\xa9\xc3\xa9", 8,
                         &cut);
    CHECK(cut);
    CHECK(n == 6);
    CHECK_STR(out, "ab\xc3\xa9\xc3\xa9");
    /* A replacement does not fit in part either. */
    n = gw_utf8_sanitize(out, sizeof(out), "abcde\xff", 6, &cut);
    CHECK(cut);
    CHECK(n == 5);
    CHECK_STR(out, "abcde");
    n = gw_utf8_sanitize(out, 1, "abc", 3, &cut);
    CHECK(cut && n == 0 && out[0] == '\0');
    n = gw_utf8_sanitize(out, sizeof(out), "abc", 3, NULL);
    CHECK(n == 3);
out:;
}

TEST(cut_never_splits_a_character)
{
    const char *s = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x93\xa7";

    CHECK(gw_utf8_cut(s, 10, 20) == 10);
    CHECK(gw_utf8_cut(s, 10, 10) == 10);
    CHECK(gw_utf8_cut(s, 10, 9) == 6);
    CHECK(gw_utf8_cut(s, 10, 5) == 3);
    CHECK(gw_utf8_cut(s, 10, 2) == 1);
    CHECK(gw_utf8_cut(s, 10, 0) == 0);
    /* Bytes that are not UTF-8 may be cut between. */
    CHECK(gw_utf8_cut("\xe9\xe9\xe9", 3, 2) == 2);
    CHECK(gw_utf8_cut("\xe2\x82\xe2\x82", 4, 3) == 3);
out:;
}

TEST(utf8_len_accepts_each_width)
{
    CHECK(gw_utf8_len("a", 1) == 1);
    CHECK(gw_utf8_len("\xC3\xA9", 2) == 2);         /* é */
    CHECK(gw_utf8_len("\xE2\x82\xAC", 3) == 3);     /* € */
    CHECK(gw_utf8_len("\xF0\x9F\x98\x80", 4) == 4); /* 😀 */
    CHECK(gw_utf8_len("\xF4\x8F\xBF\xBF", 4) == 4); /* U+10FFFF */
    CHECK(gw_utf8_len("", 0) == 0);
out:;
}

TEST(utf8_len_refuses_malformed_sequences)
{
    CHECK(gw_utf8_len("\x80", 1) == 0);             /* lone continuation */
    CHECK(gw_utf8_len("\xC0\xAF", 2) == 0);         /* overlong '/' */
    CHECK(gw_utf8_len("\xE0\x80\xAF", 3) == 0);     /* overlong */
    CHECK(gw_utf8_len("\xED\xA0\x80", 3) == 0);     /* surrogate */
    CHECK(gw_utf8_len("\xF4\x90\x80\x80", 4) == 0); /* past U+10FFFF */
    CHECK(gw_utf8_len("\xF5\x80\x80\x80", 4) == 0); /* bad lead byte */
    CHECK(gw_utf8_len("\xC3\x28", 2) == 0);         /* bad continuation */
    CHECK(gw_utf8_len("\xE2\x82\xAC", 2) == 0);     /* cut short */
out:;
}

TEST(utf8_valid_checks_the_whole_string)
{
    CHECK(gw_utf8_valid("caf\xC3\xA9 \xE6\x97\xA5", 9));
    CHECK(!gw_utf8_valid("caf\xC3", 4));
    CHECK(!gw_utf8_valid("ok\xFF", 3));
    CHECK(gw_utf8_valid("", 0));
out:;
}

const struct unit_test utf8_tests[] = {
    UNIT(valid_text_is_valid),
    UNIT(ill_formed_text_is_refused),
    UNIT(each_maximal_subpart_becomes_one_replacement),
    UNIT(sanitize_cuts_on_a_character_boundary),
    UNIT(cut_never_splits_a_character),
    UNIT(utf8_len_accepts_each_width),
    UNIT(utf8_len_refuses_malformed_sequences),
    UNIT(utf8_valid_checks_the_whole_string),
    {NULL, NULL},
};
