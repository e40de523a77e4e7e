/*
 * A minimal unit-test harness: checks that stop the current test at the
 * first one that fails, and a runner that prints one line per failure
 * and the closing line "unit: N passed, N failed".
 *
 * A test file defines static test functions with TEST() and one suite:
 *
 *     TEST(appends_within_limit)
 *     {
 *         struct buf b;
 *
 *         buf_init(&b, 16);
 *         CHECK(buf_puts(&b, "x") == GW_OK);
 *         CHECK_STR(buf_cstr(&b), "x");
 *     out:
 *         buf_free(&b);
 *     }
 *
 *     const struct unit_test buf_tests[] = {
 *         UNIT(appends_within_limit), {NULL, NULL}};
 *
 * and the suite is listed in suites.h.
 *
 * A failed check records the failure and jumps to the label `out:`,
 * which every test has, as its one way out: what the test owns (memory,
 * descriptors, files, threads, pools) is released there, after a pass
 * and after a failure alike. So that the code after `out:` is right
 * wherever a check fails:
 *
 *  - what the test owns is empty before its first check: pointers NULL,
 *    descriptors -1, buffers buf_init()ed, structs `= {0}` where all
 *    zeros is empty, a temporary directory's name set from mkdtemp()
 *    (`dir = mkdtemp(tmpl)`), so that only one that was made is removed;
 *  - what the test releases before the end, because a later check needs
 *    it gone, is set back to empty (`free(p); p = NULL;`) unless it is
 *    taken again before the next check;
 *  - a result that a check expects to be NULL is held first
 *    (`s = vault_open(...); CHECK(s == NULL);`), so that one that came
 *    all the same is released too;
 *  - a thread the test starts is joined before the next check;
 *  - a test that owns nothing ends with `out:;`.
 *
 * A passing run goes through the same code, so a release missing after
 * `out:` shows as a leak in `make SANITIZE=1 unit` without a failure to
 * provoke it. A helper with checks of its own is a macro (COMPOSE in
 * test_mime.c), so that its checks leave the test, not the helper.
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

/* Fails the test unless `cond` holds; see above for the way out. */
#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            check_fail(__FILE__, __LINE__, #cond);                             \
            goto out;                                                          \
        }                                                                      \
    } while (0)

/* Fails the test unless `got` is a string equal to `want`. */
#define CHECK_STR(got, want)                                                   \
    do {                                                                       \
        const char *got_ = (got), *want_ = (want);                             \
        if (got_ == NULL || strcmp(got_, want_) != 0) {                        \
            check_fail_str(__FILE__, __LINE__, #got, got_, want_);             \
            goto out;                                                          \
        }                                                                      \
    } while (0)

void check_fail_str(const char *file, int line, const char *expr,
                    const char *got, const char *want);

/* True when `needle` occurs in `haystack`. */
bool check_contains(const char *haystack, const char *needle);

/* Closes `*fd` unless it is -1, and makes it -1. */
void check_close(int *fd);

/*
 * Runs `body`, test code that is to fail a check, with its failures
 * neither printed nor counted against the running test; true when it
 * failed one. For the tests of this harness (test_check.c).
 */
bool check_fails(void (*body)(void *), void *arg);

#endif
