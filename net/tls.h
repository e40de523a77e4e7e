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
#ifndef GW_TLS_H
#define GW_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

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
 * is checked against the certificate), before `deadline` (io_now_ms()
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

#endif
