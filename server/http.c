/* libmicrohttpd wiring: one request from headers to reply; see http.h. */
#include "http.h"

#include <errno.h>
#include <microhttpd.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/net.h"
#include "base/base.h"
#include "clients.h"
#include "deadlines.h"

/* Idle keep-alive connections are closed after this many seconds. */
#define IDLE_TIMEOUT_S 60

/*
 * Connections past GATEWAY_MAX_CONNECTIONS that still get an answer, a
 * 503 with Connection: close, if their request comes within
 * OVERFLOW_TIMEOUT_S; connections past these are closed unread.
 */
#define OVERFLOW_CONNECTIONS 64
#define OVERFLOW_TIMEOUT_S   2

/*
 * The memory of one connection: the request line and the header fields
 * must fit in the half of it that libmicrohttpd reads into, and every
 * query parameter takes a few dozen bytes of the rest, so this holds a
 * query of MAX_PARAMS parameters of 100 bytes. A request larger than that
 * is answered by libmicrohttpd itself, 414 or 431, and closed. (A pool of
 * this size is mapped for the connection and unmapped after it, rather
 * than taken from the heap.)
 */
#define CONNECTION_MEMORY (256 * 1024)

/* A kind of log line written at most once a second. */
struct once_a_second {
    time_t second;       /* when the last line was written */
    unsigned suppressed; /* lines left out since */
};

struct srv_http {
    struct MHD_Daemon *daemon;
    const struct srv_config *cfg;
    const struct api_ctx *ctx;
    atomic_uint in_flight; /* requests between headers and completion */
    atomic_bool stopping;  /* no request is kept waiting for any more */
    atomic_uint open;      /* connections open */
    /* The connections of each client, and the most one may have. */
    struct srv_clients *clients;
    struct srv_deadlines *deadlines; /* closes the slow ones */
    unsigned per_ip;
    atomic_uint refused_per_ip; /* connections refused for it */
    /* libmicrohttpd's own log and the refusals, each at most one line a
       second: a flood of refused connections must not flood the log. */
    pthread_mutex_t log_lock;
    struct once_a_second mhd_lines, refusal_lines;
};

/* What the server keeps of a connection (its socket context). */
struct conn_state {
    struct srv_watched *watched; /* its deadlines; NULL: none */
    bool overflow;               /* past GATEWAY_MAX_CONNECTIONS */
};

/* The state of a connection past GATEWAY_MAX_CONNECTIONS when no memory
   was left for one of its own. */
static struct conn_state overflow_without_memory = {NULL, true};

/* One request in progress, kept by libmicrohttpd between calls. */
struct request {
    const struct api_route *route;
    struct store_token caller; /* who sent it, once authorized */
    struct api_response resp;
    struct buf body;           /* the whole body, for routes that take it */
    struct api_stream *stream; /* for routes that stream it */
    size_t received;           /* bytes of the body so far */
    struct smtp_cancel cancel; /* asks whether the client is still there */
};

/* The most query parameters a request may have (to= may repeat). */
#define MAX_PARAMS 1100

/* How long a connection refused in the middle of its body is read on,
   at most, and how long the client may be quiet before it is closed. */
#define LINGER_MAX_MS   2000
#define LINGER_QUIET_MS 500

struct params {
    struct api_param v[MAX_PARAMS];
    size_t n;
    bool overflow;
};

/*
 * True when a line of the kind `o` may be written now, with the number
 * left out since the last one in `*suppressed`; false, counting it as
 * left out, when one was written this second already.
 */
static bool may_log(struct srv_http *http, struct once_a_second *o,
                    unsigned *suppressed)
{
    time_t now = (time_t)(gw_now_ms() / 1000);
    bool ok;

    pthread_mutex_lock(&http->log_lock);
    ok = o->second != now;
    if (ok) {
        o->second = now;
        *suppressed = o->suppressed;
        o->suppressed = 0;
    } else {
        o->suppressed++;
    }
    pthread_mutex_unlock(&http->log_lock);
    return ok;
}

/* libmicrohttpd's own messages, printf-style; at most one line a second,
   with the count of those left out since the last. */
__attribute__((format(printf, 2, 0))) static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct srv_http *http = cls;
    char line[512];
    char shown[LOG_QUOTE_MAX];
    unsigned suppressed;
    size_t n;

    if (!may_log(http, &http->mhd_lines, &suppressed))
        return;
    vsnprintf(line, sizeof(line), fmt, ap);
    n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    log_warn("event=http_error detail=%s suppressed=%u",
             log_quote(shown, sizeof(shown), line), suppressed);
}

/* A reply body handed to libmicrohttpd, wiped when it lets it go. */
struct reply_copy {
    size_t len;
    char data[];
};

static void reply_copy_free(void *cls)
{
    struct reply_copy *c = cls;

    explicit_bzero(c->data, c->len);
    free(c);
}

/*
 * A response for `resp`'s body. The reply to POST /v1/tokens holds a new
 * token, so the copy libmicrohttpd sends from is wiped after it, as the
 * request's own buffers are.
 */
static struct MHD_Response *make_response(const struct api_response *resp)
{
    struct reply_copy *c;
    struct MHD_Response *r;

    if (resp->static_body != NULL)
        return MHD_create_response_from_buffer(
            resp->static_len, (void *)(uintptr_t)resp->static_body,
            MHD_RESPMEM_PERSISTENT);
    c = malloc(sizeof(*c) + resp->body.len + 1);
    if (c == NULL)
        return NULL;
    c->len = resp->body.len;
    if (c->len > 0)
        memcpy(c->data, resp->body.data, c->len);
    r = MHD_create_response_from_buffer_with_free_callback_cls(
        c->len, c->data, reply_copy_free, c);
    if (r == NULL)
        reply_copy_free(c);
    return r;
}

/* What the server keeps of `conn`, or NULL (on_connection()). */
static struct conn_state *state_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return info != NULL ? info->socket_context : NULL;
}

/* The connection came past GATEWAY_MAX_CONNECTIONS (on_connection()). */
static bool over_limit(struct MHD_Connection *conn)
{
    const struct conn_state *cs = state_of(conn);

    return cs != NULL && cs->overflow;
}

/* The deadlines of `conn`, for the srv_deadlines_*() calls. */
static struct srv_watched *watched_of(struct MHD_Connection *conn)
{
    const struct conn_state *cs = state_of(conn);

    return cs != NULL ? cs->watched : NULL;
}

static enum MHD_Result queue(struct srv_http *http, struct MHD_Connection *conn,
                             const struct api_response *resp)
{
    struct MHD_Response *r = make_response(resp);
    enum MHD_Result ok;
    char retry[16];

    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            resp->content_type ? resp->content_type
                                               : "application/json");
    /* Replies depend on the request; the embedded documents do not. */
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL,
                            resp->static_body ? "no-cache" : "no-store");
    if (resp->allow[0] != '\0')
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, resp->allow);
    if (resp->status == 401)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (resp->retry_after > 0) {
        snprintf(retry, sizeof(retry), "%u", resp->retry_after);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, retry);
    }
    /* A stopping gateway keeps no connection for another request, nor
       one past the limit. */
    if (atomic_load(&http->stopping) || over_limit(conn))
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    ok = MHD_queue_response(conn, resp->status, r);
    MHD_destroy_response(r);
    return ok;
}

/*
 * struct smtp_cancel: true when the client of `arg`, a connection, has
 * closed it (or it broke): a look at its socket, which the connection's
 * own thread, the one asking, is not reading meanwhile. The next request
 * of a client that pipelines is data, not an end: it stays.
 */
static bool client_gone(void *arg)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(arg, MHD_CONNECTION_INFO_CONNECTION_FD);
    char c;
    ssize_t n;

    if (info == NULL)
        return false;
    n = recv(info->connect_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 ||
           (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* The bearer token of the request, or NULL when it has none. */
static const char *bearer(struct MHD_Connection *conn)
{
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_AUTHORIZATION);

    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    return h;
}

static enum MHD_Result wipe_value(void *cls, enum MHD_ValueKind kind,
                                  const char *key, size_t key_size,
                                  const char *value, size_t value_size)
{
    (void)cls, (void)kind, (void)key_size;
    /* The value lies in the connection's read buffer, which libmicrohttpd
       parsed in place; nothing else reads it after authorization. */
    if (value != NULL && strcasecmp(key, MHD_HTTP_HEADER_AUTHORIZATION) == 0)
        explicit_bzero((char *)(uintptr_t)value, value_size);
    return MHD_YES;
}

/* Wipes every Authorization field of the request, once it was checked. */
static void wipe_authorization(struct MHD_Connection *conn)
{
    MHD_get_connection_values_n(conn, MHD_HEADER_KIND, wipe_value, NULL);
}

/* What the header fields say of the body's length. */
struct framing {
    unsigned content_length; /* Content-Length fields */
    unsigned transfer_encoding;
    bool chunked; /* the one Transfer-Encoding is exactly "chunked" */
};

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind,
                                     const char *key, const char *value)
{
    struct framing *f = cls;

    (void)kind;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
        f->content_length++;
    if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->transfer_encoding++;
        f->chunked = value != NULL && strcasecmp(value, "chunked") == 0;
    }
    return MHD_YES;
}

/*
 * A request whose body has more than one possible length is refused:
 * libmicrohttpd would take the first Content-Length, or Transfer-Encoding
 * over Content-Length, where a proxy in front may take another, and the
 * rest of the body would be read as a request of its own (RFC 9112 6.3).
 * The reply is sent before the body is read, which closes the connection.
 */
static bool framing_ok(struct MHD_Connection *conn, struct api_response *resp)
{
    struct framing f = {0, 0, false};

    MHD_get_connection_values(conn, MHD_HEADER_KIND, count_framing, &f);
    if (f.content_length > 1) {
        api_error(resp, 400, NULL,
                  "Content-Length: given %u times; a request has one "
                  "length",
                  f.content_length);
        return false;
    }
    if (f.transfer_encoding > 0 && f.content_length > 0) {
        api_error(resp, 400, NULL,
                  "Transfer-Encoding: not allowed with "
                  "Content-Length; a request has one length");
        return false;
    }
    if (f.transfer_encoding > 1 || (f.transfer_encoding == 1 && !f.chunked)) {
        api_error(resp, 400, NULL,
                  "Transfer-Encoding: only \"chunked\" is accepted");
        return false;
    }
    return true;
}

/* The body is of media `type`; parameters such as charset allowed. */
static bool has_type(struct MHD_Connection *conn, const char *type)
{
    const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_TYPE);
    size_t n = strlen(type);

    return ct != NULL && strncasecmp(ct, type, n) == 0 &&
           (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* The declared body size, or 0 when none was declared. */
static unsigned long long content_length(struct MHD_Connection *conn)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_CONTENT_LENGTH);

    return v != NULL ? strtoull(v, NULL, 10) : 0;
}

/* True when a body follows the request head. */
static bool has_body(struct MHD_Connection *conn)
{
    return content_length(conn) > 0 ||
           MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                       MHD_HTTP_HEADER_TRANSFER_ENCODING) !=
               NULL;
}

static enum MHD_Result add_param(void *cls, enum MHD_ValueKind kind,
                                 const char *key, size_t key_len,
                                 const char *value, size_t value_len)
{
    struct params *p = cls;

    (void)kind;
    if (p->n == MAX_PARAMS) {
        p->overflow = true;
        return MHD_NO;
    }
    p->v[p->n].key = key;
    p->v[p->n].value = value ? value : "";
    p->v[p->n].key_len = key_len;
    p->v[p->n].value_len = value ? value_len : 0;
    p->n++;
    return MHD_YES;
}

/* Starts a streaming route from the headers and the query. */
static bool start_stream(struct srv_http *http, struct MHD_Connection *conn,
                         struct request *rq)
{
    struct params *p = calloc(1, sizeof(*p));
    struct api_stream_start start = {.max_body = http->cfg->max_body};

    if (p == NULL) {
        api_error(&rq->resp, 500, NULL, "out of memory");
        return false;
    }
    MHD_get_connection_values_n(conn, MHD_GET_ARGUMENT_KIND, add_param, p);
    start.params = p->v;
    start.n_params = p->n;
    start.size = (size_t)content_length(conn);
    start.caller = &rq->caller;
    start.cancel = &rq->cancel;
    if (p->overflow)
        api_error(&rq->resp, 400, NULL, "the query has more than %d parameters",
                  MAX_PARAMS);
    else
        rq->stream = api_stream_begin(rq->route, http->ctx, &start, &rq->resp);
    free(p);
    return rq->stream != NULL;
}

/*
 * The first call for a request, with its headers only: refuses what can
 * be refused before any body is read. Returns false when `rq->resp` is a
 * refusal to send now.
 */
static bool admit(struct srv_http *http, struct MHD_Connection *conn,
                  const char *method, const char *url, struct request *rq)
{
    const struct srv_config *cfg = http->cfg;

    if (!framing_ok(conn, &rq->resp))
        return false;
    rq->route = api_route_find(method, url, &rq->resp);
    if (rq->route == NULL)
        return false;
    if (!api_authorize(rq->route, http->ctx, bearer(conn), &rq->caller,
                       &rq->resp))
        return false;
    if (rq->route->content_type != NULL &&
        !has_type(conn, rq->route->content_type)) {
        api_error(&rq->resp, 415, NULL, "the body must be %s: Content-Type: %s",
                  rq->route->content_type, rq->route->content_type);
        return false;
    }
    if (content_length(conn) > cfg->max_body) {
        api_error(&rq->resp, 413, NULL,
                  "the body is larger than the limit of %zu bytes",
                  cfg->max_body);
        return false;
    }
    if (rq->route->streams)
        return start_stream(http, conn, rq);
    /* A declared size is reserved at once, rather than grown into. */
    if (buf_reserve(&rq->body, (size_t)content_length(conn)) != GW_OK) {
        api_error(&rq->resp, 500, NULL, "out of memory");
        return false;
    }
    return true;
}

/* Writes all of `len` bytes of `p` to the socket `fd`, or gives up. */
static bool send_all(int fd, const char *p, size_t len)
{
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};

    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
            poll(&pfd, 1, 1000) > 0)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/*
 * After a reply sent in the middle of a body: reads and drops what the
 * client still sends, until it closes, goes quiet for LINGER_QUIET_MS, or
 * LINGER_MAX_MS have passed. Closing with unread bytes would make the
 * kernel answer with a reset, and a reset makes the client's kernel drop
 * the reply it has not read yet; a client that sees the reply stops
 * sending, so the wait is short (the lingering close of Apache and
 * nginx), and one that does not is cut off at the bound.
 */
static void linger(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    uint64_t until = gw_now_ms() + LINGER_MAX_MS;
    char scrap[16 * 1024];

    for (uint64_t now = gw_now_ms(); now < until; now = gw_now_ms()) {
        int wait = (int)(until - now < LINGER_QUIET_MS ? until - now
                                                       : LINGER_QUIET_MS);
        ssize_t n;

        if (poll(&pfd, 1, wait) <= 0)
            return;
        n = recv(fd, scrap, sizeof(scrap), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN &&
                       errno != EWOULDBLOCK))
            return;
    }
}

/*
 * Answers `resp` at once, in the middle of the body, and has the
 * connection closed. libmicrohttpd 0.9 takes a reply only once the whole
 * body has been read, so a chunked body past the limit would be read to
 * its end, however long; instead the reply goes straight to the socket,
 * the sending side is shut, and returning MHD_NO closes the connection
 * without reading more.
 */
static enum MHD_Result refuse_now(struct MHD_Connection *conn,
                                  const struct api_response *resp)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    const char *reason = MHD_get_reason_phrase_for(resp->status);
    char head[512], date[64];
    time_t now = time(NULL);
    struct tm tm;
    int n;

    if (ci == NULL)
        return MHD_NO;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    n = snprintf(head, sizeof(head),
                 "HTTP/1.1 %u %s\r\nConnection: close\r\n"
                 "Content-Length: %zu\r\nDate: %s\r\n"
                 "Content-Type: application/json\r\n"
                 "Cache-Control: no-store\r\n\r\n",
                 resp->status, reason != NULL ? reason : "", resp->body.len,
                 date);
    if (n > 0 && (size_t)n < sizeof(head) &&
        send_all(ci->connect_fd, head, (size_t)n) &&
        send_all(ci->connect_fd, resp->body.data, resp->body.len) &&
        shutdown(ci->connect_fd, SHUT_WR) == 0)
        linger(ci->connect_fd);
    log_info("event=request_refused status=%u detail=\"body over the limit; "
             "connection closed\"",
             resp->status);
    return MHD_NO;
}

/* A piece of a streamed body, or its end. */
static enum MHD_Result stream_step(struct srv_http *http, struct request *rq,
                                   const char *data, size_t *size,
                                   struct MHD_Connection *conn)
{
    if (*size > 0) {
        rq->received += *size;
        srv_deadlines_body(http->deadlines, watched_of(conn), *size);
        api_stream_data(rq->stream, data, *size);
        *size = 0;
        if (rq->received <= http->cfg->max_body)
            return MHD_YES;
        /* The stream refused the message at the limit; say so now. */
        api_stream_end(rq->stream, &rq->resp);
        rq->stream = NULL;
        return refuse_now(conn, &rq->resp);
    }
    srv_deadlines_work(http->deadlines, watched_of(conn));
    api_stream_end(rq->stream, &rq->resp);
    rq->stream = NULL;
    return queue(http, conn, &rq->resp);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **state)
{
    struct srv_http *http = cls;
    struct request *rq = *state;
    bool admitted;

    (void)version;
    if (rq == NULL) {
        rq = calloc(1, sizeof(*rq));
        if (rq == NULL)
            return MHD_NO;
        *state = rq;
        srv_deadlines_head(http->deadlines, watched_of(conn), has_body(conn));
        rq->cancel = (struct smtp_cancel){client_gone, conn};
        api_response_init(&rq->resp);
        buf_init(&rq->body, http->cfg->max_body);
        atomic_fetch_add(&http->in_flight, 1);
        /* Read after the count: a stop either sees this request counted
           and waits for it, or this request sees the stop. */
        if (atomic_load(&http->stopping)) {
            api_unavailable(&rq->resp, "the gateway is shutting down; send "
                                       "the request again on a new "
                                       "connection");
            admitted = false;
        } else if (over_limit(conn)) {
            api_unavailable(&rq->resp, "the gateway has as many connections "
                                       "open as it takes "
                                       "(GATEWAY_MAX_CONNECTIONS); try again "
                                       "shortly");
            admitted = false;
        } else {
            admitted = admit(http, conn, method, url, rq);
        }
        wipe_authorization(conn);
        return admitted ? MHD_YES : queue(http, conn, &rq->resp);
    }
    if (rq->stream != NULL)
        return stream_step(http, rq, upload_data, upload_data_size, conn);
    if (*upload_data_size > 0) {
        rq->received += *upload_data_size;
        srv_deadlines_body(http->deadlines, watched_of(conn),
                           *upload_data_size);
        if (rq->received > http->cfg->max_body ||
            buf_append(&rq->body, upload_data, *upload_data_size) != GW_OK) {
            api_error(&rq->resp, 413, NULL,
                      "the body is larger than the limit of %zu bytes",
                      http->cfg->max_body);
            return refuse_now(conn, &rq->resp);
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    srv_deadlines_work(http->deadlines, watched_of(conn));
    api_handle(rq->route, http->ctx,
               &(struct api_call){url, &rq->caller, &rq->body, &rq->cancel},
               &rq->resp);
    return queue(http, conn, &rq->resp);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **state,
                         enum MHD_RequestTerminationCode why)
{
    struct srv_http *http = cls;
    struct request *rq = *state;

    (void)why;
    srv_deadlines_idle(http->deadlines, watched_of(conn));
    if (rq == NULL)
        return;
    /* A stream still open here lost its client before the end. */
    if (rq->stream != NULL)
        api_stream_cancel(rq->stream);
    /* A body may hold a secret in the clear (PUT /v1/credentials), and a
       reply a new token (POST /v1/tokens). */
    if (rq->body.data != NULL)
        explicit_bzero(rq->body.data, rq->body.len);
    buf_free(&rq->body);
    if (rq->resp.body.data != NULL)
        explicit_bzero(rq->resp.body.data, rq->resp.body.len);
    api_response_free(&rq->resp);
    free(rq);
    *state = NULL;
    atomic_fetch_sub(&http->in_flight, 1);
}

/* The address a connection comes from; NULL when it cannot be told. */
static const struct sockaddr *client_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

    return info != NULL ? info->client_addr : NULL;
}

/*
 * Refuses a connection, before it is accepted into a thread, from a
 * client that has GATEWAY_MAX_CONNECTIONS_PER_IP open already: it is
 * closed at once, counted, and logged at most once a second.
 */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr,
                                 socklen_t len)
{
    struct srv_http *http = cls;
    unsigned open = srv_clients_count(http->clients, addr);
    char text[INET6_ADDRSTRLEN] = "?";
    unsigned suppressed;

    (void)len;
    if (open < http->per_ip)
        return MHD_YES;
    atomic_fetch_add(&http->refused_per_ip, 1);
    if (!may_log(http, &http->refusal_lines, &suppressed))
        return MHD_NO;
    if (addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)addr)->sin_addr, text,
                  sizeof(text));
    else if (addr->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)addr)->sin6_addr,
                  text, sizeof(text));
    log_warn("event=connection_refused reason=per_ip_limit client=%s open=%u "
             "limit=%u suppressed=%u",
             text, open, http->per_ip, suppressed);
    return MHD_NO;
}

/*
 * Counts the connections, in all and of each client; one past
 * GATEWAY_MAX_CONNECTIONS is marked, to be answered 503, and given a
 * short time to send its request.
 */
static void on_connection(void *cls, struct MHD_Connection *conn,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct srv_http *http = cls;
    const struct sockaddr *client = client_of(conn);
    const union MHD_ConnectionInfo *fd;
    struct conn_state *cs;

    if (code != MHD_CONNECTION_NOTIFY_STARTED) {
        cs = *socket_context;
        if (client != NULL)
            srv_clients_remove(http->clients, client);
        if (cs != NULL)
            srv_deadlines_remove(http->deadlines, cs->watched);
        if (cs != &overflow_without_memory)
            free(cs);
        atomic_fetch_sub(&http->open, 1);
        return;
    }
    if (client != NULL)
        srv_clients_add(http->clients, client);
    cs = calloc(1, sizeof(*cs));
    fd = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (cs != NULL && fd != NULL)
        cs->watched = srv_deadlines_add(http->deadlines, fd->connect_fd);
    *socket_context = cs;
    if (atomic_fetch_add(&http->open, 1) < http->cfg->max_connections)
        return;
    if (cs != NULL)
        cs->overflow = true;
    else
        *socket_context = &overflow_without_memory;
    MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT,
                              (unsigned)OVERFLOW_TIMEOUT_S);
}

struct srv_http *srv_http_start(const struct srv_config *cfg,
                                const struct api_ctx *ctx, struct gw_error *err)
{
    struct srv_http *http = calloc(1, sizeof(*http));
    /* poll(), not select(): select() cannot watch a descriptor past
       FD_SETSIZE (1024), which a busy gateway reaches. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
                     MHD_USE_ITC | MHD_USE_ERROR_LOG;

    if (http == NULL) {
        gw_error_set(err, GW_ENOMEM, "out of memory");
        return NULL;
    }
    http->cfg = cfg;
    http->ctx = ctx;
    http->per_ip = cfg->max_connections_per_ip;
    if (http->per_ip == 0)
        http->per_ip =
            cfg->max_connections / 4 > 0 ? cfg->max_connections / 4 : 1;
    http->clients =
        srv_clients_new(cfg->max_connections + OVERFLOW_CONNECTIONS);
    if (http->clients == NULL) {
        free(http);
        gw_error_set(err, GW_ENOMEM, "out of memory");
        return NULL;
    }
    http->deadlines = srv_deadlines_start(cfg->header_timeout_s * 1000,
                                          IDLE_TIMEOUT_S * 1000, err);
    if (http->deadlines == NULL) {
        srv_clients_free(http->clients);
        free(http);
        return NULL;
    }
    pthread_mutex_init(&http->log_lock, NULL);
    if (cfg->listen_sa.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    http->daemon = MHD_start_daemon(
        flags, 0, on_accept, http, on_request, http, MHD_OPTION_EXTERNAL_LOGGER,
        mhd_log, http, MHD_OPTION_SOCK_ADDR,
        (const struct sockaddr *)&cfg->listen_sa, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, http, MHD_OPTION_NOTIFY_CONNECTION, on_connection, http,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S,
        MHD_OPTION_CONNECTION_LIMIT,
        cfg->max_connections + OVERFLOW_CONNECTIONS,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
        MHD_OPTION_END);
    if (http->daemon == NULL) {
        pthread_mutex_destroy(&http->log_lock);
        srv_deadlines_stop(http->deadlines);
        srv_clients_free(http->clients);
        free(http);
        gw_error_set(err, GW_EINVAL, "cannot listen on %s", cfg->listen);
        return NULL;
    }
    return http;
}

unsigned srv_http_port(const struct srv_http *http)
{
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(http->daemon, MHD_DAEMON_INFO_BIND_PORT);

    return info != NULL ? info->port : 0;
}

unsigned srv_http_shutdown(struct srv_http *http, unsigned timeout_ms)
{
    struct timespec tick = {0, 10 * 1000 * 1000};
    uint64_t deadline = gw_now_ms() + timeout_ms;
    MHD_socket fd;
    unsigned running;

    /* First the stop, then the listening socket: a request on a kept
       connection from now on gets a 503, every reply closes its
       connection, and only the requests already received are waited
       for. */
    atomic_store(&http->stopping, true);
    fd = MHD_quiesce_daemon(http->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    log_info("event=draining requests=%u", atomic_load(&http->in_flight));
    while ((running = atomic_load(&http->in_flight)) > 0 &&
           gw_now_ms() < deadline)
        nanosleep(&tick, NULL);
    /* Their threads still use the server: it stays as it is. */
    if (running > 0)
        return running;
    /* Only idle connections are left; stopping closes them. */
    MHD_stop_daemon(http->daemon);
    if (http->mhd_lines.suppressed > 0)
        log_warn("event=http_error_suppressed count=%u",
                 http->mhd_lines.suppressed);
    if (http->refusal_lines.suppressed > 0)
        log_warn("event=connection_refused_suppressed count=%u total=%u",
                 http->refusal_lines.suppressed,
                 atomic_load(&http->refused_per_ip));
    pthread_mutex_destroy(&http->log_lock);
    srv_deadlines_stop(http->deadlines);
    srv_clients_free(http->clients);
    free(http);
    return 0;
}
