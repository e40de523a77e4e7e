/*
 * The network under the SMTP client and the HTTP client: TLS (the only
 * user of mbedTLS) and sockets whose every read and write keeps a deadline.
 */
#ifndef GW_NET_H
#define GW_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/*
 * TLS for the SMTP client. The only file that sees mbedTLS is tls.c; the
 * rest of the gateway knows a struct tls_config (per upstream, shared by
 * its connections) and a struct tls_conn (one per connection).
 *
 * Verification is on by default: the chain against the system CA bundle
 * or `ca_file`, the host against the certificate (a name against its DNS
 * names, an IP address against its iPAddress entries only), TLS 1.2 at
 * least.
 */
/* The CA bundle used when no ca_file is set (Debian's ca-certificates). */
#define TLS_SYSTEM_CA_FILE "/etc/ssl/certs/ca-certificates.crt"

struct tls_config;
struct tls_conn;

struct tls_params {
    const char *ca_file;        /* PEM bundle; NULL for the system one */
    bool verify_peer;           /* check the chain (false: trust anyone) */
    bool check_server_identity; /* check the host name in the cert */
    const char *client_cert;    /* PEM file, or NULL */
    const char *client_key;     /* PEM file, with client_cert */
};

/*
 * Loads the CA bundle and the client certificate and builds the settings
 * shared by every connection to one upstream. Returns NULL with `err`
 * naming the file and the reason when something cannot be loaded.
 */
struct tls_config *tls_config_new(const struct tls_params *p,
                                  struct gw_error *err);

/* Frees the configuration; harmless on NULL. No tls_conn may use it. */
void tls_config_free(struct tls_config *cfg);

/*
 * Runs the TLS handshake on the connected socket `fd` (non-blocking) as a
 * client of `host` (a name is sent as SNI, an IP address never is; either
 * is checked against the certificate), before `deadline` (gw_now_ms()
 * based). On success `*out` is a new
 * connection the caller closes with tls_close(). Failures are GW_ETLS
 * with a detail a person can act on (an unknown CA, a name mismatch, an
 * expired certificate, no common protocol), or GW_ETIMEDOUT.
 */
enum gw_err tls_handshake(const struct tls_config *cfg, int fd,
                          const char *host, uint64_t deadline,
                          struct tls_conn **out, struct gw_error *err);

/*
 * Reads at most `n` bytes, waiting until `deadline`; `*got` is the count
 * (0 only when the peer closed the connection).
 */
enum gw_err tls_read(struct tls_conn *c, void *p, size_t n, size_t *got,
                     uint64_t deadline, struct gw_error *err);

/* Writes all `n` bytes before `deadline`. */
enum gw_err tls_write(struct tls_conn *c, const void *p, size_t n,
                      uint64_t deadline, struct gw_error *err);

/*
 * HMAC-MD5 of `msg` under `key` into `out`, for CRAM-MD5 (RFC 2195): the
 * TLS library's primitive, offered here so that no other file needs it.
 */
enum gw_err tls_hmac_md5(const void *key, size_t key_len, const void *msg,
                         size_t msg_len, unsigned char out[16]);

/* True when the TLS layer holds bytes it decrypted that no tls_read()
   has taken yet: they are in no socket buffer, so poll() cannot see them. */
bool tls_pending(const struct tls_conn *c);

/* Sends close_notify when it can and frees the connection (not the fd). */
void tls_close(struct tls_conn *c);

/*
 * The byte stream under the SMTP client: a TCP connection made within a
 * deadline, with line reading and full writes that never wait past a
 * deadline. Everything the client sends or receives goes through here:
 * once io_start_tls() has run, through the TLS connection `tls` over the
 * same socket, so that the steps above never know which they use.
 */
struct io {
    int fd;               /* -1 while closed */
    struct tls_conn *tls; /* NULL until TLS is started */
    char rbuf[4096];      /* bytes read but not yet consumed */
    size_t rstart, rend;  /* the unconsumed bytes are rbuf[rstart..rend) */
};

/* Makes `io` a closed stream. */
void io_init(struct io *io);

/*
 * Resolves `host` and connects to `port`, trying every address in turn
 * (of `ip_version` 4 or 6 only, or any for 0), each for at most
 * `timeout_ms`, until one answers. The detail of a failure names the host
 * and the last reason.
 */
enum gw_err io_connect(struct io *io, const char *host, unsigned port,
                       int ip_version, unsigned timeout_ms,
                       struct gw_error *err);

/* io_connect(), with no address tried past `deadline` (gw_now_ms()). */
enum gw_err io_connect_within(struct io *io, const char *host, unsigned port,
                              int ip_version, unsigned timeout_ms,
                              uint64_t deadline, struct gw_error *err);

/*
 * Starts TLS on the connection as a client of `host`. Whatever the server
 * sent before the handshake and was not read yet is discarded, so bytes
 * injected after a STARTTLS reply are never taken as the server's
 * (RFC 3207 6, CVE-2011-0411).
 */
enum gw_err io_start_tls(struct io *io, const struct tls_config *cfg,
                         const char *host, uint64_t deadline,
                         struct gw_error *err);

/* Writes all `n` bytes before `deadline`; nothing once it has passed. */
enum gw_err io_write(struct io *io, const void *p, size_t n, uint64_t deadline,
                     struct gw_error *err);

/*
 * Reads one line ending in LF (a CR before it is dropped) into `line`,
 * which has room for `max` + 2 bytes, NUL-terminated, and its length into
 * `*len`. A line longer than `max` bytes is GW_EPROTO, never cut; a
 * closed connection GW_EIO; the deadline GW_ETIMEDOUT.
 */
enum gw_err io_read_line(struct io *io, char *line, size_t max, size_t *len,
                         uint64_t deadline, struct gw_error *err);

/*
 * Reads what is there, at most `n` bytes, waiting until `deadline` for
 * something to arrive; `*got` is the count. A closed connection is
 * GW_EIO, as for io_read_line().
 */
enum gw_err io_read_some(struct io *io, void *p, size_t n, size_t *got,
                         uint64_t deadline, struct gw_error *err);

/*
 * True when the server has sent something not read yet, closed its end,
 * or the connection failed: bytes in the buffer, or a socket readable
 * right now (never waits). A connection between transactions has nothing
 * to say, so any of these means it cannot be used for the next one.
 */
bool io_pending(const struct io *io);

/*
 * Reads and drops what has arrived, without waiting, so that closing
 * the socket next ends it with FIN rather than a reset. Bounded: a peer
 * that keeps sending is not read to its end.
 */
void io_discard(struct io *io);

/* Closes the connection; harmless when closed. */
void io_close(struct io *io);

/*
 * The gateway's one HTTP client: `seal --url` asking a running gateway for
 * its public key, and the `healthcheck` sub-command asking for /healthz,
 * so that neither a CI job nor the container image needs curl. A GET over
 * HTTP/1.1 with Connection: close, through the streams above, with TLS
 * (verified against the system CAs, or `ca_file`) for https.
 */
struct net_http_get {
    const char *url;        /* http[s]://host[:port][/prefix] */
    const char *path;       /* appended to the prefix, from its '/' */
    const char *ca_file;    /* https: PEM bundle; NULL for the system one */
    const char *accept;     /* the Accept header; NULL for any */
    const char *user_agent; /* NULL for "smtp-gateway" */
    unsigned timeout_ms;    /* the whole exchange, connecting included */
};

/*
 * Sends the GET `req` and puts the reply's status in `*status` and its
 * body (de-chunked) in `body`, whose limit bounds it. Any status is a
 * reply: the caller judges it. The detail of a failure starts with the
 * URL: no connection, a bad certificate, a timeout ("timed out ..."), a
 * reply that is cut short or over the limit.
 */
enum gw_err net_http_get(const struct net_http_get *req, int *status,
                         struct buf *body, struct gw_error *err);

#endif
