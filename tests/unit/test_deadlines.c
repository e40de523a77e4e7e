/* Unit tests of the deadlines of HTTP connections (server/deadlines.c),
   over socketpairs: a connection past its deadline has its socket shut
   down, which its peer reads as the end. */
#include "server/deadlines.h"
#include "check.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

/* True when the peer `fd` reads the end within `ms`. */
static bool ends_within(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    char c;

    return poll(&p, 1, ms) == 1 && recv(fd, &c, 1, MSG_DONTWAIT) == 0;
}

/* True when the peer `fd` is still open and quiet. */
static bool still_open(int fd)
{
    char c;

    return recv(fd, &c, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

TEST(a_head_that_does_not_come_in_time_ends_the_connection)
{
    struct srv_deadlines *d = srv_deadlines_start(100, 60000, NULL);
    int head[2] = {-1, -1}, work[2] = {-1, -1}, body[2] = {-1, -1};
    int fed[2] = {-1, -1};
    struct srv_watched *w[4] = {NULL, NULL, NULL, NULL};

    CHECK(d != NULL);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, head) == 0);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, work) == 0);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, body) == 0);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, fed) == 0);
    w[0] = srv_deadlines_add(d, head[0]);
    w[1] = srv_deadlines_add(d, work[0]);
    w[2] = srv_deadlines_add(d, body[0]);
    w[3] = srv_deadlines_add(d, fed[0]);
    CHECK(w[0] && w[1] && w[2] && w[3]);
    srv_deadlines_head(d, w[1], false); /* worked on: no deadline */
    srv_deadlines_head(d, w[2], true);  /* a body, none of it comes */
    srv_deadlines_head(d, w[3], true);  /* a body that comes fast enough */
    srv_deadlines_body(d, w[3], 1000000);
    CHECK(ends_within(head[1], 5000));
    CHECK(ends_within(body[1], 5000));
    /* Both were past theirs well before now; these have none so near. */
    CHECK(still_open(work[1]));
    CHECK(still_open(fed[1]));
out:
    for (int i = 0; i < 4; i++)
        srv_deadlines_remove(d, w[i]);
    srv_deadlines_stop(d);
    check_close(&head[0]);
    check_close(&head[1]);
    check_close(&work[0]);
    check_close(&work[1]);
    check_close(&body[0]);
    check_close(&body[1]);
    check_close(&fed[0]);
    check_close(&fed[1]);
}

const struct unit_test deadlines_tests[] = {
    UNIT(a_head_that_does_not_come_in_time_ends_the_connection),
    {NULL, NULL},
};
