/* Unit tests of error codes and details (base/err.c). */
#include "base/base.h"
#include "check.h"

#include <string.h>

TEST(set_returns_code_and_formats_detail)
{
    struct gw_error e = {0};

    CHECK(gw_error_set(&e, GW_EINVAL, "to[%d]: %s", 1, "bad") == GW_EINVAL);
    CHECK(e.code == GW_EINVAL);
    CHECK_STR(e.detail, "to[1]: bad");
    CHECK(gw_error_set(NULL, GW_EIO, "ignored") == GW_EIO);
out:;
}

TEST(prefix_names_the_field)
{
    struct gw_error e = {0};

    gw_error_set(&e, GW_EINVAL, "the address has a space");
    CHECK(gw_error_prefix(&e, "cc[0]") == GW_EINVAL);
    CHECK_STR(e.detail, "cc[0]: the address has a space");
out:;
}

TEST(long_detail_is_cut_on_a_character_boundary)
{
    struct gw_error e = {0};
    char big[2000];

    /* "é" is two bytes; the cut must not split one. */
    for (size_t i = 0; i + 1 < sizeof(big); i += 2)
        memcpy(big + i, "\xc3\xa9", 2);
    big[sizeof(big) - 1] = '\0';
    gw_error_set(&e, GW_EINVAL, "%s", big);
    CHECK(strlen(e.detail) < sizeof(e.detail));
    CHECK(check_contains(e.detail, "..."));
    CHECK(strstr(e.detail, "...")[-1] == '\xa9');
out:;
}

/*
 * The compiler already sees that every code has a case; what it cannot
 * see is two codes sharing one text, an empty one, or a code that falls
 * through to the text of codes it does not know.
 */
TEST(every_code_has_a_description)
{
    const char *fallback = gw_strerror((enum gw_err)(GW_ECANCELED + 1));

    CHECK_STR(fallback, "unknown error");
    CHECK_STR(gw_strerror((enum gw_err) - 1), fallback);
    for (int c = GW_OK; c <= GW_ECANCELED; c++) {
        const char *text = gw_strerror((enum gw_err)c);

        CHECK(text != NULL && text[0] != '\0');
        CHECK(strcmp(text, fallback) != 0);
        for (int d = GW_OK; d < c; d++)
            CHECK(strcmp(text, gw_strerror((enum gw_err)d)) != 0);
    }
out:;
}

const struct unit_test err_tests[] = {
    UNIT(set_returns_code_and_formats_detail),
    UNIT(prefix_names_the_field),
    UNIT(long_detail_is_cut_on_a_character_boundary),
    UNIT(every_code_has_a_description),
    {NULL, NULL},
};
