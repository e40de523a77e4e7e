/*
 * Unit tests of the deadline of a whole send (smtp/smtp.c, pool.c, net/io.c):
 * its default, the wait of each step under it, no write past it, and the
 * wait for a pool slot within it.
 */
#include "smtp/session.h"
#include "check.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

TEST(the_deadline_is_its_own_or_twice_the_longest_step)
{
    struct smtp_server srv = {.timeout_ms = 30000};

    CHECK(session_deadline_ms(&srv) == 60000);
    srv.timeouts.dot_ms = 600000;
    CHECK(session_deadline_ms(&srv) == 1200000);
    srv.timeouts.dot_ms = 0;
    srv.timeouts.connect_ms = 5000;
    CHECK(session_deadline_ms(&srv) == 60000);
    srv.deadline_ms = 4000;
    CHECK(session_deadline_ms(&srv) == 4000);
out:;
}

TEST(a_step_waits_at_most_what_is_left_of_the_deadline)
{
    struct smtp_pool pool = {.srv = {.timeout_ms = 2000}};
    struct session s = {.pool = &pool};

    s.deadline = gw_now_ms() + 1000000;
    CHECK(session_timeout(&s, 0) == 2000);
    CHECK(session_timeout(&s, 100) == 100);
    s.deadline = gw_now_ms() + 500;
    CHECK(session_timeout(&s, 0) <= 500);
    CHECK(session_timeout(&s, 3000) <= 500);
    s.deadline = gw_now_ms() - 1;
    CHECK(session_timeout(&s, 0) == 0);
out:;
}

TEST(nothing_is_written_past_the_deadline)
{
    struct gw_error err = {0};
    struct io io;
    int sv[2] = {-1, -1};
    char c;

    io_init(&io);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    io.fd = sv[0];
    CHECK(io_write(&io, ".\r\n", 3, gw_now_ms() - 1, &err) == GW_ETIMEDOUT);
    CHECK(recv(sv[1], &c, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN);
    CHECK(io_write(&io, ".\r\n", 3, gw_now_ms() + 1000, &err) == GW_OK);
    CHECK(recv(sv[1], &c, 1, MSG_DONTWAIT) == 1 && c == '.');
out:
    io_close(&io);
    check_close(&sv[1]);
}

TEST(the_wait_for_a_slot_ends_at_the_deadline)
{
    /* An hour to wait for a slot, but 100 ms left of the deadline: the
       wait ends with the deadline (a test that would hang for the hour
       otherwise). */
    struct smtp_server srv = {
        .host = "localhost", .port = 25, .timeout_ms = 3600000};
    struct gw_error err = {0};
    struct smtp_pool *pool = smtp_pool_new(&srv, 1, NULL, &err);
    struct conn *kept = NULL;
    uint64_t started;

    CHECK(pool != NULL);
    CHECK(pool_acquire(pool, gw_now_ms() + 1000, NULL, &kept) == GW_OK);
    CHECK(kept == NULL);
    started = gw_now_ms();
    CHECK(pool_acquire(pool, started + 100, NULL, &kept) == GW_EBUSY);
    CHECK(gw_now_ms() - started < 600000);
    CHECK(pool_acquire(pool, started - 1, NULL, &kept) == GW_EBUSY);
    pool_release(pool, NULL);
    CHECK(pool_acquire(pool, gw_now_ms() + 1000, NULL, &kept) == GW_OK);
    pool_release(pool, NULL);
out:
    /* A connection it should not have had goes back, to be closed. */
    if (kept != NULL)
        pool_release(pool, kept);
    smtp_pool_free(pool);
}

/* struct smtp_cancel for the test: gone at the third question. */
static bool gone_at_third(void *arg)
{
    unsigned *asked = arg;

    return ++*asked >= 3;
}

TEST(a_waiting_send_whose_client_has_gone_ends_its_wait)
{
    /* An hour to wait, the slot held: only the client's going ends the
       wait, after it was asked between slices of the wait, and the slot
       is still there for the next send. A second bound (waiting 1) shows
       the cancelled send left the queue. */
    struct smtp_server srv = {
        .host = "localhost", .port = 25, .timeout_ms = 3600000, .waiting = 1};
    struct gw_error err = {0};
    struct smtp_pool *pool = smtp_pool_new(&srv, 1, NULL, &err);
    unsigned asked = 0;
    const struct smtp_cancel cancel = {gone_at_third, &asked};
    struct conn *kept = NULL;
    bool held = false;

    CHECK(pool != NULL);
    CHECK(pool_acquire(pool, gw_now_ms() + 1000, NULL, &kept) == GW_OK);
    held = true;
    CHECK(pool_acquire(pool, gw_now_ms() + 3600000, &cancel, &kept) ==
          GW_ECANCELED);
    CHECK(asked == 3);
    asked = 0;
    CHECK(pool_acquire(pool, gw_now_ms() + 3600000, &cancel, &kept) ==
          GW_ECANCELED);
    pool_release(pool, NULL);
    held = false;
    CHECK(pool_acquire(pool, gw_now_ms() + 1000, &cancel, &kept) == GW_OK);
    pool_release(pool, NULL);
out:
    if (held)
        pool_release(pool, NULL);
    if (kept != NULL)
        pool_release(pool, kept);
    smtp_pool_free(pool);
}

const struct unit_test smtp_tests[] = {
    UNIT(the_deadline_is_its_own_or_twice_the_longest_step),
    UNIT(a_step_waits_at_most_what_is_left_of_the_deadline),
    UNIT(nothing_is_written_past_the_deadline),
    UNIT(the_wait_for_a_slot_ends_at_the_deadline),
    UNIT(a_waiting_send_whose_client_has_gone_ends_its_wait),
    {NULL, NULL},
};
