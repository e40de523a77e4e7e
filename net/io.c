/* TCP streams with deadlines for the SMTP client; see net.h. */
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void io_init(struct io *io)
{
    io->fd = -1;
    io->tls = NULL;
    io->rstart = io->rend = 0;
}

void io_close(struct io *io)
{
    tls_close(io->tls);
    if (io->fd >= 0)
        close(io->fd);
    io_init(io);
}

bool io_pending(const struct io *io)
{
    struct pollfd p = {.fd = io->fd, .events = POLLIN};

    if (io->rstart < io->rend || (io->tls != NULL && tls_pending(io->tls)))
        return true;
    /* A failed poll() counts as pending too: the connection is dropped
       rather than trusted. */
    return io->fd >= 0 && poll(&p, 1, 0) != 0;
}

void io_discard(struct io *io)
{
    char sink[4096];

    io->rstart = io->rend = 0;
    for (int i = 0; io->fd >= 0 && i < 16; i++) {
        if (recv(io->fd, sink, sizeof(sink), MSG_DONTWAIT) <= 0)
            break;
    }
}

/*
 * Waits until `fd` is ready for `events` or the deadline passes. Returns
 * 1 when ready, 0 on time-out, -1 on error (errno set).
 */
static int wait_fd(int fd, short events, uint64_t deadline)
{
    for (;;) {
        uint64_t now = gw_now_ms();
        struct pollfd p = {.fd = fd, .events = events};
        int rc;

        if (now >= deadline)
            return 0;
        rc =
            poll(&p, 1, (int)(deadline - now > 60000 ? 60000 : deadline - now));
        if (rc > 0)
            return 1;
        if (rc < 0 && errno != EINTR)
            return -1;
    }
}

/* One non-blocking connect to one address; 0 or an errno value. */
static int connect_one(const struct addrinfo *ai, uint64_t deadline, int *out)
{
    int fd, rc, soerr = 0, one = 1;
    socklen_t len = sizeof(soerr);

    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                ai->ai_protocol);
    if (fd < 0)
        return errno;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        if (errno != EINPROGRESS) {
            rc = errno;
            goto fail;
        }
        rc = wait_fd(fd, POLLOUT, deadline);
        if (rc <= 0) {
            rc = rc == 0 ? ETIMEDOUT : errno;
            goto fail;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 ||
            soerr != 0) {
            rc = soerr ? soerr : errno;
            goto fail;
        }
    }
    /* Commands are small and answered one by one: send them at once. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    *out = fd;
    return 0;
fail:
    close(fd);
    return rc;
}

enum gw_err io_connect(struct io *io, const char *host, unsigned port,
                       int ip_version, unsigned timeout_ms,
                       struct gw_error *err)
{
    return io_connect_within(io, host, port, ip_version, timeout_ms, UINT64_MAX,
                             err);
}

enum gw_err io_connect_within(struct io *io, const char *host, unsigned port,
                              int ip_version, unsigned timeout_ms,
                              uint64_t deadline, struct gw_error *err)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_ADDRCONFIG};
    struct addrinfo *list = NULL;
    char service[16], why[GW_STRERROR_MAX];
    int rc, last = ETIMEDOUT;

    hints.ai_family = ip_version == 4   ? AF_INET
                      : ip_version == 6 ? AF_INET6
                                        : AF_UNSPEC;
    snprintf(service, sizeof(service), "%u", port);
    rc = getaddrinfo(host, service, &hints, &list);
    if (rc != 0)
        return gw_error_set(err, GW_ECONNECT, "cannot resolve %s: %s", host,
                            gai_strerror(rc));
    for (const struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next) {
        uint64_t until = gw_now_ms() + timeout_ms;

        if (gw_now_ms() >= deadline) {
            last = ETIMEDOUT;
            break;
        }
        last = connect_one(ai, until < deadline ? until : deadline, &io->fd);
        if (last == 0)
            break;
    }
    freeaddrinfo(list);
    if (last == ETIMEDOUT)
        return gw_error_set(err, GW_ETIMEDOUT,
                            "connecting to %s port %u timed out", host, port);
    if (last != 0)
        return gw_error_set(err, GW_ECONNECT,
                            "cannot connect to %s port %u: %s", host, port,
                            gw_strerror_r(last, why, sizeof(why)));
    io->rstart = io->rend = 0;
    return GW_OK;
}

enum gw_err io_start_tls(struct io *io, const struct tls_config *cfg,
                         const char *host, uint64_t deadline,
                         struct gw_error *err)
{
    io->rstart = io->rend = 0;
    return tls_handshake(cfg, io->fd, host, deadline, &io->tls, err);
}

enum gw_err io_write(struct io *io, const void *p, size_t n, uint64_t deadline,
                     struct gw_error *err)
{
    char why[GW_STRERROR_MAX];
    const char *at = p;

    /* Past the deadline nothing more goes out: not a command whose reply
       could not be waited for, above all not the final dot. */
    if (gw_now_ms() >= deadline)
        return gw_error_set(err, GW_ETIMEDOUT,
                            "no time was left to write to the SMTP server");
    if (io->tls != NULL)
        return tls_write(io->tls, p, n, deadline, err);

    while (n > 0) {
        ssize_t k = send(io->fd, at, n, MSG_NOSIGNAL);

        if (k > 0) {
            at += k;
            n -= (size_t)k;
            continue;
        }
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int rc = wait_fd(io->fd, POLLOUT, deadline);

            if (rc == 0)
                return gw_error_set(err, GW_ETIMEDOUT,
                                    "the SMTP server stopped reading");
            if (rc > 0)
                continue;
        }
        return gw_error_set(err, GW_EIO, "writing to the SMTP server: %s",
                            gw_strerror_r(errno, why, sizeof(why)));
    }
    return GW_OK;
}

static enum gw_err fill_tls(struct io *io, uint64_t deadline,
                            struct gw_error *err)
{
    size_t got = 0;
    enum gw_err rc = tls_read(io->tls, io->rbuf + io->rend,
                              sizeof(io->rbuf) - io->rend, &got, deadline, err);

    if (rc == GW_OK && got == 0)
        return gw_error_set(err, GW_EIO,
                            "the SMTP server closed the connection");
    io->rend += got;
    return rc;
}

/* Reads more bytes into the buffer, waiting at most until `deadline`. */
static enum gw_err fill(struct io *io, uint64_t deadline, struct gw_error *err)
{
    char why[GW_STRERROR_MAX];
    ssize_t k;

    if (io->rstart > 0) {
        memmove(io->rbuf, io->rbuf + io->rstart, io->rend - io->rstart);
        io->rend -= io->rstart;
        io->rstart = 0;
    }
    if (io->tls != NULL)
        return fill_tls(io, deadline, err);
    for (;;) {
        k = recv(io->fd, io->rbuf + io->rend, sizeof(io->rbuf) - io->rend, 0);
        if (k > 0) {
            io->rend += (size_t)k;
            return GW_OK;
        }
        if (k == 0)
            return gw_error_set(err, GW_EIO,
                                "the SMTP server closed the connection");
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            break;
        k = wait_fd(io->fd, POLLIN, deadline);
        if (k == 0)
            return gw_error_set(err, GW_ETIMEDOUT,
                                "the SMTP server did not answer in time");
        if (k < 0)
            break;
    }
    return gw_error_set(err, GW_EIO, "reading from the SMTP server: %s",
                        gw_strerror_r(errno, why, sizeof(why)));
}

enum gw_err io_read_line(struct io *io, char *line, size_t max, size_t *len,
                         uint64_t deadline, struct gw_error *err)
{
    size_t n = 0;
    enum gw_err rc;

    /* `line` has room for one byte over `max`: a CR that precedes LF. */
    while (n <= max + 1) {
        if (io->rstart == io->rend) {
            rc = fill(io, deadline, err);
            if (rc != GW_OK)
                return rc;
        }
        char c = io->rbuf[io->rstart++];

        if (c != '\n') {
            line[n++] = c;
            continue;
        }
        if (n > 0 && line[n - 1] == '\r')
            n--;
        if (n > max)
            break;
        line[n] = '\0';
        *len = n;
        return GW_OK;
    }
    return gw_error_set(err, GW_EPROTO,
                        "protocol error: the SMTP server sent a line longer "
                        "than %zu bytes",
                        max);
}

enum gw_err io_read_some(struct io *io, void *p, size_t n, size_t *got,
                         uint64_t deadline, struct gw_error *err)
{
    size_t k;

    if (io->rstart == io->rend) {
        enum gw_err rc = fill(io, deadline, err);

        if (rc != GW_OK)
            return rc;
    }
    k = io->rend - io->rstart < n ? io->rend - io->rstart : n;
    memcpy(p, io->rbuf + io->rstart, k);
    io->rstart += k;
    *got = k;
    return GW_OK;
}
