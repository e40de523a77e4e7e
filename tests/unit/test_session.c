/*
 * Unit tests of the SMTP client's state machine (smtp/session.c,
 * smtp/client.c) over a socketpair: the test plays the server, its
 * replies written before the session runs, and checks the exact bytes
 * the gateway sent and what it made of the replies.
 */
#include "net/net.h"
#include "smtp/session.h"
#include "check.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The state machine's view of one send on the gateway's end `fd`. */
struct fixture {
    struct smtp_pool pool;
    struct smtp_envelope env;
    struct smtp_result res;
    struct session s;
    int peer; /* the server's end */
};

static const char *const one_rcpt[] = {"b@example.com"};

/*
 * A session at GREETING on a socketpair; the peer has said `script`.
 * Whether it works or not, finish() releases what it took.
 */
static bool start(struct fixture *f, const char *script)
{
    int sv[2];

    memset(f, 0, sizeof(*f));
    f->pool.srv = (struct smtp_server){
        .host = "peer.test", .helo_name = "gw.test", .timeout_ms = 2000};
    f->env = (struct smtp_envelope){
        .from = "a@example.com", .rcpts = one_rcpt, .n_rcpts = 1};
    f->res.n_rcpts = 1;
    f->res.rcpts = calloc(1, sizeof(*f->res.rcpts));
    f->s = (struct session){.pool = &f->pool,
                            .env = &f->env,
                            .res = &f->res,
                            .state = S_GREETING,
                            .deadline = gw_now_ms() + 10000};
    io_init(&f->s.io);
    smtp_reply_init(&f->s.reply);
    f->peer = -1;
    if (f->res.rcpts == NULL ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return false;
    f->peer = sv[1];
    f->s.io.fd = sv[0];
    if (fcntl(sv[0], F_SETFL, O_NONBLOCK) != 0)
        return false;
    return write(f->peer, script, strlen(script)) == (ssize_t)strlen(script);
}

/* Everything the gateway sent so far, NUL-ended in `out`. */
static void sent(struct fixture *f, char *out, size_t max)
{
    size_t n = 0;
    ssize_t k;

    fcntl(f->peer, F_SETFL, O_NONBLOCK);
    while (n + 1 < max && (k = read(f->peer, out + n, max - 1 - n)) > 0)
        n += (size_t)k;
    out[n] = '\0';
}

static void finish(struct fixture *f)
{
    io_close(&f->s.io);
    smtp_reply_free(&f->s.reply);
    smtp_result_free(&f->res);
    check_close(&f->peer);
}

TEST(a_send_from_greeting_to_the_verdict)
{
    struct fixture f;
    char got[1024];

    CHECK(start(&f, "220 peer.test\r\n250 peer.test\r\n250 ok\r\n"
                    "250 ok\r\n354 go\r\n250 queued\r\n"));
    session_run(&f.s, S_END);
    sent(&f, got, sizeof(got));
    CHECK(f.s.state == S_END);
    CHECK(!f.s.failed);
    CHECK(f.s.accepted == 1);
    CHECK_STR(got, "EHLO gw.test\r\n"
                   "MAIL FROM:<a@example.com>\r\n"
                   "RCPT TO:<b@example.com>\r\n"
                   "DATA\r\n"
                   ".\r\n");
out:
    finish(&f);
}

TEST(a_5xx_at_rcpt_is_the_recipients_failure)
{
    struct fixture f;
    char got[1024];

    CHECK(start(&f, "220 peer.test\r\n250 peer.test\r\n250 ok\r\n"
                    "550 5.1.1 no such user\r\n250 reset\r\n"));
    session_run(&f.s, S_END);
    sent(&f, got, sizeof(got));
    CHECK(f.s.state == S_END);
    CHECK(f.s.failed);
    CHECK(f.res.error.code == GW_EREJECTED);
    CHECK(f.res.code == 550);
    CHECK(f.res.rcpts[0].tried && !f.res.rcpts[0].accepted);
    CHECK(f.res.rcpts[0].code == 550);
    CHECK_STR(f.res.rcpts[0].status, "5.1.1");
    CHECK(check_contains(f.res.error.detail, "RCPT TO:<b@example.com>"));
    CHECK_STR(got, "EHLO gw.test\r\n"
                   "MAIL FROM:<a@example.com>\r\n"
                   "RCPT TO:<b@example.com>\r\n"
                   "RSET\r\n");
out:
    finish(&f);
}

TEST(a_peer_that_closes_after_rcpt_breaks_the_session)
{
    struct fixture f;
    char got[1024];

    CHECK(start(&f, "220 peer.test\r\n250 peer.test\r\n250 ok\r\n"));
    shutdown(f.peer, SHUT_WR);
    session_run(&f.s, S_END);
    sent(&f, got, sizeof(got));
    CHECK(f.s.state == S_DONE);
    CHECK(f.s.failed);
    CHECK(f.res.error.code == GW_EIO);
    CHECK(!f.res.rcpts[0].tried);
    CHECK_STR(got, "EHLO gw.test\r\n"
                   "MAIL FROM:<a@example.com>\r\n"
                   "RCPT TO:<b@example.com>\r\n");
out:
    finish(&f);
}

const struct unit_test session_tests[] = {
    UNIT(a_send_from_greeting_to_the_verdict),
    UNIT(a_5xx_at_rcpt_is_the_recipients_failure),
    UNIT(a_peer_that_closes_after_rcpt_breaks_the_session),
    {NULL, NULL},
};
