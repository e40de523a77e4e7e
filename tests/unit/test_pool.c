/*
 * Unit tests of the kept connections (smtp/pool.c, net/io.c) over a
 * socketpair, the test playing the server: when a connection may be
 * reused, and what the reaper does with idle ones.
 */
#include "net/net.h"
#include "smtp/session.h"
#include "check.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* How long a test waits for the reaper; never reached when it works. */
#define WAIT_MS 10000

/*
 * A socketpair: [0] the gateway's end (non-blocking), [1] the server's;
 * false, with nothing left open, when it cannot be made.
 */
static bool pair(int sv[2])
{
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return false;
    if (fcntl(sv[0], F_SETFL, O_NONBLOCK) == 0)
        return true;
    check_close(&sv[0]);
    check_close(&sv[1]);
    return false;
}

/*
 * Reads what the gateway sends on `fd` until it closes its end or
 * WAIT_MS pass; true when it closed. `out` gets the bytes, NUL-ended.
 */
static bool read_to_close(int fd, char *out, size_t max)
{
    uint64_t until = gw_now_ms() + WAIT_MS;
    size_t n = 0;

    out[0] = '\0';
    while (gw_now_ms() < until) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t k;

        if (poll(&p, 1, 100) <= 0)
            continue;
        k = read(fd, out + n, max - 1 - n);
        if (k <= 0)
            return k == 0;
        n += (size_t)k;
        out[n] = '\0';
    }
    return false;
}

/* Reads from `fd` until `want` has arrived or WAIT_MS pass. */
static bool read_until(int fd, const char *want, char *out, size_t max)
{
    uint64_t until = gw_now_ms() + WAIT_MS;
    size_t n = 0;

    out[0] = '\0';
    while (strstr(out, want) == NULL && gw_now_ms() < until) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t k;

        if (poll(&p, 1, 100) <= 0)
            continue;
        k = read(fd, out + n, max - 1 - n);
        if (k <= 0)
            return false;
        n += (size_t)k;
        out[n] = '\0';
    }
    return strstr(out, want) != NULL;
}

/* A pool of one connection to nowhere, kept `idle_ms` between sends. */
static struct smtp_pool *pool_of(unsigned idle_ms, struct smtp_reaper *r)
{
    struct smtp_server srv = {
        .host = "127.0.0.1", .port = 25, .idle_ms = idle_ms};
    struct gw_error err = {0};

    return smtp_pool_new(&srv, 1, r, &err);
}

/*
 * Gives the pool a kept connection on `*fd`, as a send that ended would;
 * the pool owns the descriptor then, and `*fd` is -1. On failure `*fd`
 * stays the caller's.
 */
static bool keep_conn(struct smtp_pool *pool, int *fd)
{
    struct conn *c = calloc(1, sizeof(*c)), *none = NULL;

    if (c == NULL ||
        pool_acquire(pool, gw_now_ms() + 1000, NULL, &none) != GW_OK ||
        none != NULL) {
        free(c);
        return false;
    }
    io_init(&c->io);
    c->io.fd = *fd;
    *fd = -1;
    pool_release(pool, c);
    return true;
}

static unsigned idle_count(struct smtp_pool *pool)
{
    unsigned n;

    pthread_mutex_lock(&pool->lock);
    n = pool->n_idle;
    pthread_mutex_unlock(&pool->lock);
    return n;
}

TEST(pending_sees_bytes_and_hang_ups)
{
    struct io io;
    int sv[2] = {-1, -1};
    char c;

    io_init(&io);
    CHECK(pair(sv));
    io.fd = sv[0];
    CHECK(!io_pending(&io));
    CHECK(write(sv[1], "250 stray\r\n", 11) == 11);
    CHECK(io_pending(&io));
    io_discard(&io);
    CHECK(!io_pending(&io));
    /* A byte read into the buffer but not consumed counts too. */
    io.rbuf[0] = 'x';
    io.rend = 1;
    CHECK(io_pending(&io));
    io.rend = 0;
    check_close(&sv[1]);
    CHECK(io_pending(&io));
    CHECK(read(sv[0], &c, 1) == 0);
out:
    io_close(&io);
    check_close(&sv[1]);
}

TEST(a_connection_the_server_spoke_on_is_not_reused)
{
    struct smtp_pool *pool = pool_of(60000, NULL);
    struct conn *got = NULL;
    char seen[256];
    int sv[2] = {-1, -1};

    CHECK(pool != NULL);
    CHECK(pair(sv));
    CHECK(keep_conn(pool, &sv[0]));
    CHECK(write(sv[1], "250 2.1.5 Ok\r\n", 14) == 14);
    CHECK(pool_acquire(pool, gw_now_ms() + 1000, NULL, &got) == GW_OK);
    CHECK(got == NULL);
    pool_release(pool, NULL);
    /* Closed without a word: no QUIT into a conversation out of step. */
    CHECK(read_to_close(sv[1], seen, sizeof(seen)));
    CHECK_STR(seen, "");
out:
    /* A connection it should not have had goes back, to be closed. */
    if (got != NULL)
        pool_release(pool, got);
    check_close(&sv[0]);
    check_close(&sv[1]);
    smtp_pool_free(pool);
}

TEST(the_reaper_ends_an_idle_connection_with_quit)
{
    struct gw_error err = {0};
    struct smtp_reaper *r = smtp_reaper_new(&err);
    struct smtp_pool *pool = pool_of(100, r);
    char seen[256];
    int sv[2] = {-1, -1};

    CHECK(r != NULL && pool != NULL);
    CHECK(pair(sv));
    CHECK(keep_conn(pool, &sv[0]));
    CHECK(read_until(sv[1], "QUIT\r\n", seen, sizeof(seen)));
    CHECK_STR(seen, "QUIT\r\n");
    CHECK(idle_count(pool) == 0);
    /* It waits for the answer, then closes its end. */
    CHECK(write(sv[1], "221 bye\r\n", 9) == 9);
    CHECK(read_to_close(sv[1], seen, sizeof(seen)));
    CHECK_STR(seen, "");
out:
    check_close(&sv[0]);
    check_close(&sv[1]);
    smtp_pool_free(pool);
    smtp_reaper_free(r);
}

TEST(the_reaper_closes_a_connection_the_server_closed)
{
    struct gw_error err = {0};
    struct smtp_reaper *r = smtp_reaper_new(&err);
    struct smtp_pool *pool = pool_of(60000, r);
    char seen[256];
    int sv[2] = {-1, -1};

    CHECK(r != NULL && pool != NULL);
    CHECK(pair(sv));
    CHECK(keep_conn(pool, &sv[0]));
    CHECK(idle_count(pool) == 1);
    CHECK(shutdown(sv[1], SHUT_WR) == 0);
    CHECK(read_to_close(sv[1], seen, sizeof(seen)));
    CHECK_STR(seen, "");
    CHECK(idle_count(pool) == 0);
out:
    check_close(&sv[0]);
    check_close(&sv[1]);
    smtp_pool_free(pool);
    smtp_reaper_free(r);
}

TEST(freeing_the_pool_ends_what_the_reaper_waits_on)
{
    struct gw_error err = {0};
    struct smtp_reaper *r = smtp_reaper_new(&err);
    struct smtp_pool *pool = pool_of(50, r);
    char seen[256];
    int sv[2] = {-1, -1};

    CHECK(r != NULL && pool != NULL);
    CHECK(pair(sv));
    CHECK(keep_conn(pool, &sv[0]));
    CHECK(read_until(sv[1], "QUIT\r\n", seen, sizeof(seen)));
    /* No answer to QUIT: the pool's end closes it all the same. */
    smtp_pool_free(pool);
    pool = NULL;
    CHECK(read_to_close(sv[1], seen, sizeof(seen)));
out:
    check_close(&sv[0]);
    check_close(&sv[1]);
    smtp_pool_free(pool);
    smtp_reaper_free(r);
}

/* A server that answers each line the gateway sends with the next reply. */
struct script {
    int fd;
    const char *const *replies; /* NULL-ended */
    char got[1024];             /* what the gateway sent, NUL-ended */
};

static void *answer(void *arg)
{
    struct script *sc = arg;
    size_t n = 0;

    for (const char *const *r = sc->replies; *r != NULL; r++) {
        /* The reply to DATA's 354 waits for the final dot. */
        const char *want =
            strcmp(*r, "250 queued\r\n") == 0 ? "\r\n.\r\n" : "\n";
        size_t from = n;

        while (strstr(sc->got + from, want) == NULL) {
            ssize_t k = read(sc->fd, sc->got + n, sizeof(sc->got) - 1 - n);

            if (k <= 0)
                return NULL;
            n += (size_t)k;
            sc->got[n] = '\0';
        }
        if (write(sc->fd, *r, strlen(*r)) < 0)
            return NULL;
    }
    return NULL;
}

TEST(a_kept_connection_starts_its_next_send_with_rset)
{
    static const char *const to[] = {"b@example.com"};
    const struct smtp_envelope env = {
        .from = "a@example.com", .rcpts = to, .n_rcpts = 1};
    static const char *const replies[] = {"250 reset\r\n",  "250 ok\r\n",
                                          "250 ok\r\n",     "354 go\r\n",
                                          "250 queued\r\n", NULL};
    struct script script = {.replies = replies};
    pthread_t peer;
    enum gw_err rc;
    struct smtp_pool *pool = pool_of(60000, NULL);
    struct smtp_result res = {0};
    char seen[512];
    int sv[2] = {-1, -1};

    CHECK(pool != NULL);
    CHECK(pair(sv));
    CHECK(keep_conn(pool, &sv[0]));
    script.fd = sv[1];
    CHECK(pthread_create(&peer, NULL, answer, &script) == 0);
    rc = smtp_pool_send(pool, &env, "x\r\n", 3, &res);
    pthread_join(peer, NULL);
    CHECK(rc == GW_OK);
    CHECK(res.status == SMTP_SENT);
    /* Kept again after the send; freeing the pool ends it with QUIT. */
    CHECK(idle_count(pool) == 1);
    smtp_pool_free(pool);
    pool = NULL;
    CHECK(read_to_close(sv[1], seen, sizeof(seen)));
    CHECK_STR(script.got, "RSET\r\n"
                          "MAIL FROM:<a@example.com>\r\n"
                          "RCPT TO:<b@example.com>\r\n"
                          "DATA\r\n"
                          "x\r\n.\r\n");
    CHECK_STR(seen, "QUIT\r\n");
out:
    smtp_result_free(&res);
    check_close(&sv[0]);
    check_close(&sv[1]);
    smtp_pool_free(pool);
}

const struct unit_test pool_tests[] = {
    UNIT(pending_sees_bytes_and_hang_ups),
    UNIT(a_connection_the_server_spoke_on_is_not_reused),
    UNIT(the_reaper_ends_an_idle_connection_with_quit),
    UNIT(the_reaper_closes_a_connection_the_server_closed),
    UNIT(freeing_the_pool_ends_what_the_reaper_waits_on),
    UNIT(a_kept_connection_starts_its_next_send_with_rset),
    {NULL, NULL}};
