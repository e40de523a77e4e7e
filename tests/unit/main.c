/* Runs every unit-test suite and prints "unit: N passed, N failed". */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "suites.h"

static bool current_failed;
/* Within check_fails(): a failure is the expected outcome, not news. */
static bool quiet;

void check_fail(const char *file, int line, const char *what)
{
    if (!quiet)
        fprintf(stderr, "  %s:%d: check failed: %s\n", file, line, what);
    current_failed = true;
}

void check_fail_str(const char *file, int line, const char *expr,
                    const char *got, const char *want)
{
    if (!quiet)
        fprintf(stderr, "  %s:%d: %s\n    got:  %s\n    want: %s\n", file, line,
                expr, got ? got : "(null)", want);
    current_failed = true;
}

bool check_fails(void (*body)(void *), void *arg)
{
    bool outer = current_failed, failed;

    current_failed = false;
    quiet = true;
    body(arg);
    failed = current_failed;
    quiet = false;
    current_failed = outer;
    return failed;
}

bool check_contains(const char *haystack, const char *needle)
{
    return haystack != NULL && strstr(haystack, needle) != NULL;
}

void check_close(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

int main(void)
{
    static const struct {
        const char *name;
        const struct unit_test *tests;
    } suites[] = {
#define SUITE(name) {#name, name##_tests},
        UNIT_SUITES
#undef SUITE
    };
    unsigned passed = 0, failed = 0;

    for (size_t s = 0; s < sizeof(suites) / sizeof(suites[0]); s++) {
        for (const struct unit_test *t = suites[s].tests; t->name; t++) {
            current_failed = false;
            t->fn();
            if (current_failed) {
                fprintf(stderr, "FAIL %s.%s\n", suites[s].name, t->name);
                failed++;
            } else {
                passed++;
            }
        }
    }
    printf("unit: %u passed, %u failed\n", passed, failed);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
