/*
 * The gateway's one HTTP client, a GET over net's streams (TLS for
 * https); see net.h.
 */
#include "net.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* What the header block says of the body that follows. */
struct head {
    int status;
    size_t length; /* Content-Length; (size_t)-1 when none */
    bool chunked;  /* Transfer-Encoding: chunked */
};

/* True when the header value `v` (after the colon) is "chunked". */
static bool says_chunked(const char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    return strncasecmp(v, "chunked", 7) == 0;
}

/* Reads the status line and the headers. */
static enum gw_err read_head(struct io *io, uint64_t until, struct head *h,
                             struct gw_error *err)
{
    char line[HEADER_MAX + 2];
    size_t len;
    enum gw_err rc;
    bool first = true;

    h->status = 0;
    h->length = (size_t)-1;
    h->chunked = false;
    while ((rc = io_read_line(io, line, HEADER_MAX, &len, until, err)) ==
               GW_OK &&
           len > 0) {
        if (first && strncmp(line, "HTTP/1.", 7) == 0 && len >= 12)
            h->status = (int)strtol(line + 9, NULL, 10);
        else if (strncasecmp(line, "Content-Length:", 15) == 0)
            h->length = strtoul(line + 15, NULL, 10);
        else if (strncasecmp(line, "Transfer-Encoding:", 18) == 0)
            h->chunked = says_chunked(line + 18);
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
        if (rc == GW_ELIMIT || rc == GW_ENOMEM)
            return gw_error_set(err, rc,
                                rc == GW_ELIMIT ? "the reply is too large"
                                                : "out of memory");
    }
    return to_close && rc == GW_EIO ? GW_OK : rc;
}

/*
 * Reads a chunked body (RFC 9112 7.1) into `body`: the chunks joined,
 * their sizes, extensions and the trailer dropped.
 */
static enum gw_err read_chunked(struct io *io, uint64_t until, struct buf *body,
                                struct gw_error *err)
{
    char line[HEADER_MAX + 2];
    unsigned long size;
    size_t len;
    char *end;
    enum gw_err rc;

    for (;;) {
        rc = io_read_line(io, line, HEADER_MAX, &len, until, err);
        if (rc != GW_OK)
            return rc;
        errno = 0;
        size = strtoul(line, &end, 16);
        if (end == line || errno != 0)
            return gw_error_set(err, GW_EPROTO, "a chunk size is malformed");
        if (size == 0)
            break;
        if (size > body->max - body->len)
            return gw_error_set(err, GW_ELIMIT, "the reply is too large");
        rc = read_body(io, until, body->len + size, body, err);
        if (rc == GW_OK)
            rc = io_read_line(io, line, HEADER_MAX, &len, until, err);
        if (rc != GW_OK)
            return rc;
        if (len != 0)
            return gw_error_set(err, GW_EPROTO,
                                "a chunk is longer than its size");
    }
    /* The trailer, up to its empty line. */
    while ((rc = io_read_line(io, line, HEADER_MAX, &len, until, err)) ==
               GW_OK &&
           len > 0)
        ;
    return rc;
}

/* The request and its reply on a connected (and secured) stream. */
static enum gw_err exchange(struct io *io, const struct url *u,
                            const struct net_http_get *req, uint64_t until,
                            int *status, struct buf *body, struct gw_error *err)
{
    char text[2048];
    struct head h;
    enum gw_err rc;
    int n;

    n = snprintf(text, sizeof(text),
                 "GET %s%s HTTP/1.1\r\nHost: %s\r\nAccept: %s\r\n"
                 "User-Agent: %s\r\nConnection: close\r\n\r\n",
                 u->prefix, req->path, u->host,
                 req->accept != NULL ? req->accept : "*/*",
                 req->user_agent != NULL ? req->user_agent : "smtp-gateway");
    if (n < 0 || (size_t)n >= sizeof(text))
        return gw_error_set(err, GW_EINVAL, "the URL is too long");
    if (io_write(io, text, (size_t)n, until, err) != GW_OK ||
        read_head(io, until, &h, err) != GW_OK)
        return err->code == GW_ETIMEDOUT
                   ? gw_error_set(err, GW_ETIMEDOUT,
                                  "timed out waiting for the reply")
                   : gw_error_set(err, GW_EIO, "no complete reply");
    *status = h.status;
    rc = h.chunked ? read_chunked(io, until, body, err)
                   : read_body(io, until, h.length, body, err);
    /* Too large, malformed or out of memory says so; anything else cut
       the body short. */
    if (rc != GW_OK && rc != GW_ELIMIT && rc != GW_EPROTO && rc != GW_ENOMEM)
        rc = gw_error_set(err, GW_EIO, "the reply ended early");
    return rc;
}

enum gw_err net_http_get(const struct net_http_get *req, int *status,
                         struct buf *body, struct gw_error *err)
{
    struct tls_params params = {req->ca_file, true, true, NULL, NULL};
    uint64_t until = gw_now_ms() + req->timeout_ms;
    struct tls_config *tls = NULL;
    enum gw_err rc;
    struct url u;
    struct io io;

    *status = 0;
    if (!parse_url(req->url, &u))
        return gw_error_set(err, GW_EINVAL,
                            "%s: not an http:// or https:// URL", req->url);
    io_init(&io);
    rc = io_connect_within(&io, u.host, u.port, 0, req->timeout_ms, until, err);
    if (rc == GW_OK && u.tls) {
        tls = tls_config_new(&params, err);
        rc = tls == NULL ? err->code
                         : io_start_tls(&io, tls, u.host, until, err);
    }
    if (rc == GW_OK)
        rc = exchange(&io, &u, req, until, status, body, err);
    io_close(&io);
    tls_config_free(tls);
    return rc == GW_OK ? GW_OK : gw_error_prefix(err, req->url);
}
