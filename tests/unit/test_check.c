/*
 * Unit tests of the harness (check.h): a failed check stops the test
 * where it stands and leaves through `out:`, which releases what the
 * test holds; a test that passes leaves the same way.
 */
#include "base/base.h"
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

/* What a probe was asked to do, and what it did. */
struct probe {
    unsigned fail_at; /* the check to fail, from 1; 0 for none */
    unsigned passed;  /* checks passed */
    int fds[2];       /* the pipe it held, as it was at out: */
    bool released;    /* it ran the code after out: */
};

/*
 * Test code that holds memory, a buffer and a pipe, as a test does, and
 * fails its check number `fail_at`: a CHECK, a CHECK_STR of another
 * string, a CHECK_STR of NULL, or the last CHECK.
 */
static void holds_then_fails(void *arg)
{
    struct probe *p = arg;
    char *mem = malloc(64);
    int fds[2] = {-1, -1};
    struct buf b;

    buf_init(&b, 64);
    CHECK(mem != NULL && pipe(fds) == 0 && buf_puts(&b, "held") == GW_OK &&
          p->fail_at != 1);
    p->passed++;
    CHECK_STR(p->fail_at == 2 ? "other" : buf_cstr(&b), "held");
    p->passed++;
    CHECK_STR(p->fail_at == 3 ? NULL : buf_cstr(&b), "held");
    p->passed++;
    CHECK(p->fail_at != 4);
    p->passed++;
out:
    memcpy(p->fds, fds, sizeof(fds));
    check_close(&fds[0]);
    check_close(&fds[1]);
    buf_free(&b);
    free(mem);
    p->released = true;
}

/* True when `fd` was open and is closed now. */
static bool closed(int fd)
{
    return fd >= 0 && fcntl(fd, F_GETFD) == -1 && errno == EBADF;
}

TEST(a_failed_check_stops_the_test_and_leaves_through_out)
{
    for (unsigned at = 1; at <= 4; at++) {
        struct probe p = {.fail_at = at};

        CHECK(check_fails(holds_then_fails, &p));
        CHECK(p.passed == at - 1);
        CHECK(p.released && closed(p.fds[0]) && closed(p.fds[1]));
    }
out:;
}

TEST(a_passing_test_leaves_through_out_too)
{
    struct probe p = {.fail_at = 0};

    CHECK(!check_fails(holds_then_fails, &p));
    CHECK(p.passed == 4);
    CHECK(p.released && closed(p.fds[0]) && closed(p.fds[1]));
out:;
}

const struct unit_test check_tests[] = {
    UNIT(a_failed_check_stops_the_test_and_leaves_through_out),
    UNIT(a_passing_test_leaves_through_out_too),
    {NULL, NULL},
};
