/* The healthcheck sub-command; see health.h. */
#include "health.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config.h"

/* The reply is small; anything larger is not our gateway's /healthz. */
#define REPLY_MAX 4096

static const char request_text[] = "GET /healthz HTTP/1.1\r\n"
                                   "Host: localhost\r\n"
                                   "User-Agent: smtp-gateway-healthcheck\r\n"
                                   "Connection: close\r\n\r\n";

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until `fd` is ready for `events` or the deadline passes. */
static bool wait_fd(int fd, short events, long long deadline)
{
    struct pollfd p = {fd, events, 0};
    long long left;
    int rc;

    do {
        left = deadline - now_ms();
        if (left <= 0)
            return false;
        rc = poll(&p, 1, (int)left);
    } while (rc < 0 && errno == EINTR);
    return rc == 1;
}

/* A wildcard listen address is reached through loopback. */
static void to_loopback(struct sockaddr_storage *sa)
{
    struct sockaddr_in *v4 = (struct sockaddr_in *)sa;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)sa;

    if (sa->ss_family == AF_INET && v4->sin_addr.s_addr == htonl(INADDR_ANY))
        v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (sa->ss_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&v6->sin6_addr))
        v6->sin6_addr = in6addr_loopback;
}

/* Connects without blocking past the deadline. Returns the socket or -1. */
static int connect_by(const struct sockaddr_storage *sa, long long deadline,
                      const char **why)
{
    socklen_t len = sa->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                              : sizeof(struct sockaddr_in);
    int fd =
        socket(sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int soerr = 0;
    socklen_t elen = sizeof(soerr);

    if (fd < 0) {
        *why = strerror(errno);
        return -1;
    }
    if (connect(fd, (const struct sockaddr *)sa, len) != 0 &&
        errno != EINPROGRESS) {
        *why = strerror(errno);
        close(fd);
        return -1;
    }
    if (!wait_fd(fd, POLLOUT, deadline)) {
        *why = "connect timed out";
        close(fd);
        return -1;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) != 0 ||
        soerr != 0) {
        *why = strerror(soerr != 0 ? soerr : errno);
        close(fd);
        return -1;
    }
    return fd;
}

/* Sends the request and reads the reply until the server closes. */
static bool exchange(int fd, char *reply, size_t size, long long deadline,
                     const char **why)
{
    size_t sent = 0, got = 0;
    ssize_t n;

    while (sent < sizeof(request_text) - 1) {
        if (!wait_fd(fd, POLLOUT, deadline))
            return *why = "timed out sending the request", false;
        n = send(fd, request_text + sent, sizeof(request_text) - 1 - sent,
                 MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            *why = strerror(errno);
            return false;
        }
        sent += n > 0 ? (size_t)n : 0;
    }
    for (;;) {
        if (got == size - 1)
            return *why = "the reply is too large", false;
        if (!wait_fd(fd, POLLIN, deadline))
            return *why = "timed out waiting for the reply", false;
        n = recv(fd, reply + got, size - 1 - got, 0);
        if (n == 0)
            break;
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            *why = strerror(errno);
            return false;
        }
        got += n > 0 ? (size_t)n : 0;
    }
    reply[got] = '\0';
    return true;
}

/* True when the header block `head` (up to `end`) says chunked. */
static bool is_chunked(const char *head, const char *end)
{
    static const char name[] = "\r\ntransfer-encoding:";
    size_t n = sizeof(name) - 1;

    for (const char *p = head; p + n < end; p++) {
        if (strncasecmp(p, name, n) != 0)
            continue;
        p += n;
        while (*p == ' ')
            p++;
        return strncasecmp(p, "chunked", 7) == 0;
    }
    return false;
}

/*
 * Decodes a chunked body in place (the chunks are joined, the sizes and
 * trailers dropped). Returns false when it is malformed.
 */
static bool dechunk(char *body)
{
    char *in = body, *out = body, *end;
    unsigned long size;

    for (;;) {
        errno = 0;
        size = strtoul(in, &end, 16);
        if (end == in || errno != 0)
            return false;
        in = strstr(end, "\r\n");
        if (in == NULL)
            return false;
        in += 2;
        if (size == 0)
            break;
        if (strlen(in) < size + 2 || memcmp(in + size, "\r\n", 2) != 0)
            return false;
        memmove(out, in, size);
        out += size;
        in += size + 2;
    }
    *out = '\0';
    return true;
}

/* The reply is 200 with the body {"status":"ok"} (trailing space allowed). */
static bool healthy(char *reply, const char **why)
{
    char *body = strstr(reply, "\r\n\r\n");
    size_t n;

    if (strncmp(reply, "HTTP/1.1 200 ", 13) != 0 &&
        strncmp(reply, "HTTP/1.0 200 ", 13) != 0)
        return *why = "the status is not 200", false;
    if (body == NULL)
        return *why = "the reply has no body", false;
    if (is_chunked(reply, body) && !dechunk(body + 4))
        return *why = "the chunked body is malformed", false;
    body += 4;
    n = strlen(body);
    while (n > 0 &&
           (body[n - 1] == '\n' || body[n - 1] == '\r' || body[n - 1] == ' '))
        n--;
    if (n != 15 || memcmp(body, "{\"status\":\"ok\"}", 15) != 0)
        return *why = "the body is not {\"status\":\"ok\"}", false;
    return true;
}

int srv_healthcheck(int argc, char **argv)
{
    const char *listen = getenv("GATEWAY_LISTEN");
    long long deadline = now_ms() + SRV_HEALTH_TIMEOUT_MS;
    struct sockaddr_storage sa;
    const char *why = NULL;
    char reply[REPLY_MAX];
    char reason[256];
    int fd;

    if (argc == 2 && strcmp(argv[0], "--listen") == 0)
        listen = argv[1];
    else if (argc == 1 && strncmp(argv[0], "--listen=", 9) == 0)
        listen = argv[0] + 9;
    else if (argc != 0) {
        fprintf(stderr, "smtp-gateway: healthcheck takes only "
                        "--listen host:port\n");
        return 2;
    }
    if (listen == NULL || listen[0] == '\0')
        listen = "127.0.0.1:8080";
    if (!srv_listen_parse(listen, &sa, reason, sizeof(reason))) {
        fprintf(stderr, "smtp-gateway: GATEWAY_LISTEN: %s\n", reason);
        return 2;
    }
    to_loopback(&sa);
    fd = connect_by(&sa, deadline, &why);
    if (fd >= 0) {
        if (exchange(fd, reply, sizeof(reply), deadline, &why))
            healthy(reply, &why);
        close(fd);
    }
    if (why != NULL) {
        fprintf(stderr, "smtp-gateway: healthcheck %.200s: %s\n", listen, why);
        return 1;
    }
    return 0;
}
