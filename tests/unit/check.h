/*
 * A minimal unit-test harness: plain asserts that fail the current test
 * and return, and a runner that prints one line per failure and the
 * closing line "unit: N passed, N failed".
 *
 * A test file defines static test functions with TEST() and one suite:
 *
 *     TEST(appends_within_limit) { CHECK(buf_puts(&b, "x") == GW_OK); }
 *     const struct unit_test buf_tests[] = {
 *         UNIT(appends_within_limit), {NULL, NULL}};
 *
 * and the suite is listed in main.c.
 */
#ifndef GW_TEST_CHECK_H
#define GW_TEST_CHECK_H

#include <stdbool.h>
#include <string.h>

struct unit_test {
    const char *name;
    void (*fn)(void);
};

#define TEST(name) static void name(void)
#define UNIT(name)                                                             \
    {                                                                          \
#name, name                                                            \
    }

/* Records a failed check; the test stops at the first one. */
void check_fail(const char *file, int line, const char *what);

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            check_fail(__FILE__, __LINE__, #cond);                             \
            return;                                                            \
        }                                                                      \
    } while (0)

#define CHECK_STR(got, want)                                                   \
    do {                                                                       \
        const char *got_ = (got), *want_ = (want);                             \
        if (got_ == NULL || strcmp(got_, want_) != 0) {                        \
            check_fail_str(__FILE__, __LINE__, #got, got_, want_);             \
            return;                                                            \
        }                                                                      \
    } while (0)

void check_fail_str(const char *file, int line, const char *expr,
                    const char *got, const char *want);

/* True when `needle` occurs in `haystack`. */
bool check_contains(const char *haystack, const char *needle);

#endif
