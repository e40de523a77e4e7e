/* A minimal HTTP/1.0 GET for seal --url; see fetch.h. */
#include "fetch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/net.h"

/* Seconds the whole exchange may take. */
#define FETCH_TIMEOUT_MS 15000

/* The longest header line read. */
#define HEADER_MAX 4096

struct url {
    bool tls;
    char host[256];
    unsigned port;
    char prefix[1024]; /* the path before `path`, without a final '/' */
};

/* Splits "http[s]://host[:port][/prefix]"; false when it is not one. */
static bool parse_url(const char *text, struct url *u)
{
    const char *p = text, *end, *colon;
    char *stop;
    unsigned long port;
    size_t hlen;

    u->tls = strncasecmp(p, "https://", 8) == 0;
    if (!u->tls && strncasecmp(p, "http://", 7) != 0)
        return false;
    p += u->tls ? 8 : 7;
    end = p + strcspn(p, "/?#");
    colon = p[0] == '[' ? strchr(p, ']') : p + strcspn(p, ":/?#");
    if (colon == NULL || colon > end)
        return false;
    if (p[0] == '[')
        p++;
    hlen = (size_t)(colon - p);
    if (hlen == 0 || hlen >= sizeof(u->host))
        return false;
    memcpy(u->host, p, hlen);
    u->host[hlen] = '\0';
    colon += *colon == ']';
    u->port = u->tls ? 443 : 80;
    if (*colon == ':') {
        errno = 0;
        port = strtoul(colon + 1, &stop, 10);
        if (errno != 0 || stop != end || port == 0 || port > 65535)
            return false;
        u->port = (unsigned)port;
    }
    hlen = strcspn(end, "?#");
    if (hlen >= sizeof(u->prefix))
        return false;
    memcpy(u->prefix, end, hlen);
    u->prefix[hlen] = '\0';
    while (hlen > 0 && u->prefix[hlen - 1] == '/')
        u->prefix[--hlen] = '\0';
    return true;
}

/* Reads the status line and headers; the status and Content-Length. */
static enum gw_err read_head(struct io *io, uint64_t until, int *status,
                             size_t *length, struct gw_error *err)
{
    char line[HEADER_MAX + 2];
    size_t len;
    enum gw_err rc;
    bool first = true;

    *status = 0;
    *length = (size_t)-1;
    while ((rc = io_read_line(io, line, HEADER_MAX, &len, until, err)) ==
               GW_OK &&
           len > 0) {
        if (first && strncmp(line, "HTTP/1.", 7) == 0 && len >= 12)
            *status = (int)strtol(line + 9, NULL, 10);
        else if (strncasecmp(line, "Content-Length:", 15) == 0)
            *length = strtoul(line + 15, NULL, 10);
        first = false;
    }
    return rc;
}

/*
 * Reads `length` bytes of body into `body`, or, for a reply without a
 * Content-Length (HTTP/1.0 allows it), all that comes until the server
 * closes the connection.
 */
static enum gw_err read_body(struct io *io, uint64_t until, size_t length,
                             struct buf *body, struct gw_error *err)
{
    bool to_close = length == (size_t)-1;
    char chunk[4096];
    size_t got, want;
    enum gw_err rc = GW_OK;

    if (!to_close && length > body->max)
        return gw_error_set(err, GW_ELIMIT, "the reply is too large");
    while (rc == GW_OK && (to_close || body->len < length)) {
        want = to_close || length - body->len > sizeof(chunk)
                   ? sizeof(chunk)
                   : length - body->len;
        rc = io_read_some(io, chunk, want, &got, until, err);
        if (rc == GW_OK)
            rc = buf_append(body, chunk, got);
    }
    return to_close && rc == GW_EIO ? GW_OK : rc;
}

/* The request and its reply on a connected (and secured) stream. */
static enum gw_err exchange(struct io *io, const struct url *u,
                            const char *path, struct buf *body,
                            struct gw_error *err)
{
    uint64_t until = gw_now_ms() + FETCH_TIMEOUT_MS;
    char req[2048];
    size_t length;
    int status, n;

    n = snprintf(req, sizeof(req),
                 "GET %s%s HTTP/1.0\r\nHost: %s\r\nAccept: application/json"
                 "\r\nUser-Agent: smtp-gateway\r\nConnection: close\r\n\r\n",
                 u->prefix, path, u->host);
    if (n < 0 || (size_t)n >= sizeof(req))
        return gw_error_set(err, GW_EINVAL, "the URL is too long");
    if (io_write(io, req, (size_t)n, until, err) != GW_OK ||
        read_head(io, until, &status, &length, err) != GW_OK)
        return gw_error_set(err, GW_EIO, "no complete reply");
    if (status != 200)
        return gw_error_set(err, GW_EINVAL, "the reply has status %d", status);
    if (read_body(io, until, length, body, err) != GW_OK)
        return gw_error_set(err, GW_EIO, "the reply ended early");
    return GW_OK;
}

enum gw_err srv_fetch(const char *url, const char *path, const char *ca_file,
                      struct buf *body, struct gw_error *err)
{
    struct tls_params params = {ca_file, true, true, NULL, NULL};
    struct tls_config *tls = NULL;
    enum gw_err rc;
    struct url u;
    struct io io;

    if (!parse_url(url, &u))
        return gw_error_set(err, GW_EINVAL,
                            "%s: not an http:// or https:// URL", url);
    io_init(&io);
    rc = io_connect(&io, u.host, u.port, 0, FETCH_TIMEOUT_MS, err);
    if (rc == GW_OK && u.tls) {
        tls = tls_config_new(&params, err);
        rc = tls == NULL ? err->code
                         : io_start_tls(&io, tls, u.host,
                                        gw_now_ms() + FETCH_TIMEOUT_MS, err);
    }
    if (rc == GW_OK)
        rc = exchange(&io, &u, path, body, err);
    io_close(&io);
    tls_config_free(tls);
    return rc == GW_OK ? GW_OK : gw_error_prefix(err, url);
}
