/*
 * TLS on mbedTLS 2.28; see net.h. Nothing outside this file includes an
 * mbedTLS header.
 *
 * The socket stays non-blocking: mbedTLS asks for more input or output
 * with WANT_READ / WANT_WRITE, and every call here waits for the socket
 * with poll() until the caller's deadline.
 */
#include "net.h"

#include <errno.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/md.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tls_config {
    mbedtls_ssl_config conf;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg; /* thread-safe: MBEDTLS_THREADING_C */
    mbedtls_x509_crt ca;
    mbedtls_x509_crt client_cert;
    mbedtls_pk_context client_key;
    bool check_server_identity;
};

struct tls_conn {
    mbedtls_ssl_context ssl;
    int fd;
    char host[256];
    bool host_is_ip;
    unsigned char ip[16];
    size_t ip_len;
    bool check_server_identity;
};

/* Describes an mbedTLS error code in words. */
static const char *tls_strerror(int code, char *buf, size_t size)
{
    mbedtls_strerror(code, buf, size);
    return buf;
}

static int bio_send(void *ctx, const unsigned char *p, size_t n)
{
    struct tls_conn *c = ctx;
    ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL);

    if (k >= 0)
        return (int)k;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return MBEDTLS_ERR_SSL_WANT_WRITE;
    return MBEDTLS_ERR_NET_SEND_FAILED;
}

static int bio_recv(void *ctx, unsigned char *p, size_t n)
{
    struct tls_conn *c = ctx;
    ssize_t k = recv(c->fd, p, n, 0);

    if (k >= 0)
        return (int)k;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return MBEDTLS_ERR_SSL_WANT_READ;
    return MBEDTLS_ERR_NET_RECV_FAILED;
}

/* Waits for the socket as mbedTLS asked; false when the deadline passed. */
static bool wait_for(const struct tls_conn *c, int want, uint64_t deadline)
{
    struct pollfd p = {.fd = c->fd,
                       .events = want == MBEDTLS_ERR_SSL_WANT_WRITE ? POLLOUT
                                                                    : POLLIN};
    uint64_t now;

    do {
        now = gw_now_ms();
        if (now >= deadline)
            return false;
    } while (poll(&p, 1, (int)(deadline - now)) < 0 && errno == EINTR);
    return gw_now_ms() < deadline || (p.revents != 0);
}

static bool want_more(int rc)
{
    return rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE;
}

/* True when the subjectAltName of `crt` lists the address of `c` as an
   iPAddress entry, octet for octet (RFC 9525 6.3). */
static bool lists_ip(const struct tls_conn *c, const mbedtls_x509_crt *crt)
{
    const mbedtls_x509_sequence *san;

    for (san = &crt->subject_alt_names; san != NULL; san = san->next) {
        if (san->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7) &&
            san->buf.len == c->ip_len &&
            memcmp(san->buf.p, c->ip, c->ip_len) == 0)
            return true;
    }
    return false;
}

/*
 * Runs for each certificate of the chain once mbedTLS has verified it,
 * the server's own (depth 0) last. mbedTLS 2.28 matches DNS names only,
 * so an IP address is never given to it as the host name (it would match
 * a DNS entry or the CN spelling the address, which never count for an
 * address): the address is checked here against the iPAddress entries,
 * and a certificate without it fails as a name mismatch. With
 * check_server_identity false any name is taken, every other check kept.
 */
static int verify_cb(void *ctx, mbedtls_x509_crt *crt, int depth,
                     uint32_t *flags)
{
    const struct tls_conn *c = ctx;

    if (depth != 0)
        return 0;
    if (!c->check_server_identity)
        *flags &= ~(uint32_t)MBEDTLS_X509_BADCERT_CN_MISMATCH;
    else if (c->host_is_ip && !lists_ip(c, crt))
        *flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
    return 0;
}

static enum gw_err load_files(struct tls_config *cfg,
                              const struct tls_params *p, struct gw_error *err)
{
    const char *ca = p->ca_file ? p->ca_file : TLS_SYSTEM_CA_FILE;
    char why[128];
    int rc;

    if (p->verify_peer) {
        rc = mbedtls_x509_crt_parse_file(&cfg->ca, ca);
        if (rc < 0)
            return gw_error_set(err, GW_ETLS,
                                "cannot load the CA bundle %s: %s", ca,
                                tls_strerror(rc, why, sizeof(why)));
        mbedtls_ssl_conf_ca_chain(&cfg->conf, &cfg->ca, NULL);
    }
    if (p->client_cert == NULL)
        return GW_OK;
    rc = mbedtls_x509_crt_parse_file(&cfg->client_cert, p->client_cert);
    if (rc != 0)
        return gw_error_set(err, GW_ETLS,
                            "cannot load the client certificate %s: %s",
                            p->client_cert, tls_strerror(rc, why, sizeof(why)));
    rc = mbedtls_pk_parse_keyfile(
        &cfg->client_key, p->client_key ? p->client_key : p->client_cert, NULL);
    if (rc == 0)
        rc = mbedtls_ssl_conf_own_cert(&cfg->conf, &cfg->client_cert,
                                       &cfg->client_key);
    if (rc != 0)
        return gw_error_set(err, GW_ETLS, "cannot load the client key %s: %s",
                            p->client_key ? p->client_key : p->client_cert,
                            tls_strerror(rc, why, sizeof(why)));
    return GW_OK;
}

struct tls_config *tls_config_new(const struct tls_params *p,
                                  struct gw_error *err)
{
    static const unsigned char personal[] = "smtp-gateway";
    struct tls_config *cfg = calloc(1, sizeof(*cfg));
    char why[128];
    int rc;

    if (cfg == NULL) {
        gw_error_set(err, GW_ENOMEM, "out of memory");
        return NULL;
    }
    mbedtls_ssl_config_init(&cfg->conf);
    mbedtls_entropy_init(&cfg->entropy);
    mbedtls_ctr_drbg_init(&cfg->drbg);
    mbedtls_x509_crt_init(&cfg->ca);
    mbedtls_x509_crt_init(&cfg->client_cert);
    mbedtls_pk_init(&cfg->client_key);
    cfg->check_server_identity = p->check_server_identity;
    rc = mbedtls_ctr_drbg_seed(&cfg->drbg, mbedtls_entropy_func, &cfg->entropy,
                               personal, sizeof(personal));
    if (rc == 0)
        rc = mbedtls_ssl_config_defaults(&cfg->conf, MBEDTLS_SSL_IS_CLIENT,
                                         MBEDTLS_SSL_TRANSPORT_STREAM,
                                         MBEDTLS_SSL_PRESET_DEFAULT);
    if (rc != 0) {
        gw_error_set(err, GW_ETLS, "cannot set up TLS: %s",
                     tls_strerror(rc, why, sizeof(why)));
        goto fail;
    }
    mbedtls_ssl_conf_rng(&cfg->conf, mbedtls_ctr_drbg_random, &cfg->drbg);
    mbedtls_ssl_conf_min_version(&cfg->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_authmode(&cfg->conf, p->verify_peer
                                              ? MBEDTLS_SSL_VERIFY_REQUIRED
                                              : MBEDTLS_SSL_VERIFY_NONE);
    if (load_files(cfg, p, err) != GW_OK)
        goto fail;
    return cfg;
fail:
    tls_config_free(cfg);
    return NULL;
}

void tls_config_free(struct tls_config *cfg)
{
    if (cfg == NULL)
        return;
    mbedtls_ssl_config_free(&cfg->conf);
    mbedtls_ctr_drbg_free(&cfg->drbg);
    mbedtls_entropy_free(&cfg->entropy);
    mbedtls_x509_crt_free(&cfg->ca);
    mbedtls_x509_crt_free(&cfg->client_cert);
    mbedtls_pk_free(&cfg->client_key);
    free(cfg);
}

/* Says why the server's certificate was refused, and what to change. */
static enum gw_err verify_error(const struct tls_conn *c, uint32_t flags,
                                struct gw_error *err)
{
    char info[256];

    if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED)
        return gw_error_set(err, GW_ETLS,
                            "the certificate of %s is signed by an unknown "
                            "CA; set ca_file (GATEWAY_SMTP_CA_FILE) to the "
                            "CA that signed it",
                            c->host);
    if (flags & MBEDTLS_X509_BADCERT_EXPIRED)
        return gw_error_set(err, GW_ETLS, "the certificate of %s has expired",
                            c->host);
    if (flags & MBEDTLS_X509_BADCERT_FUTURE)
        return gw_error_set(err, GW_ETLS,
                            "the certificate of %s is not valid yet", c->host);
    if ((flags & MBEDTLS_X509_BADCERT_CN_MISMATCH) && c->host_is_ip)
        return gw_error_set(err, GW_ETLS,
                            "the certificate of %s is not valid for that "
                            "address: it lists no matching IP address "
                            "(subjectAltName iPAddress); the check is "
                            "check_server_identity "
                            "(GATEWAY_SMTP_CHECK_SERVER_IDENTITY)",
                            c->host);
    if (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH)
        return gw_error_set(err, GW_ETLS,
                            "the certificate of the server is not valid for "
                            "%s: its names do not match (the host name check "
                            "is check_server_identity, "
                            "GATEWAY_SMTP_CHECK_SERVER_IDENTITY)",
                            c->host);
    mbedtls_x509_crt_verify_info(info, sizeof(info), "", flags);
    info[strcspn(info, "\n")] = '\0';
    return gw_error_set(err, GW_ETLS, "the certificate of %s was refused: %s",
                        c->host, info);
}

/*
 * Records `host` and whether it is an IP address. It is parsed as the
 * connection parsed it (getaddrinfo, numeric only), so that every form
 * the connection takes as an address (127.1, fe80::1%eth0) is checked as
 * one and never as a DNS name.
 */
static void conn_set_host(struct tls_conn *c, const char *host)
{
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;

    snprintf(c->host, sizeof(c->host), "%s", host);
    if (getaddrinfo(host, NULL, &hints, &ai) != 0)
        return;
    if (ai->ai_family == AF_INET) {
        struct sockaddr_in v4;

        memcpy(&v4, ai->ai_addr, sizeof(v4));
        memcpy(c->ip, &v4.sin_addr, 4);
        c->ip_len = 4;
    } else if (ai->ai_family == AF_INET6) {
        struct sockaddr_in6 v6;

        memcpy(&v6, ai->ai_addr, sizeof(v6));
        memcpy(c->ip, &v6.sin6_addr, 16);
        c->ip_len = 16;
    }
    freeaddrinfo(ai);
    c->host_is_ip = c->ip_len > 0;
}

enum gw_err tls_handshake(const struct tls_config *cfg, int fd,
                          const char *host, uint64_t deadline,
                          struct tls_conn **out, struct gw_error *err)
{
    struct tls_conn *c = calloc(1, sizeof(*c));
    char why[128];
    int rc;

    if (c == NULL)
        return gw_error_set(err, GW_ENOMEM, "out of memory");
    c->fd = fd;
    c->check_server_identity = cfg->check_server_identity;
    conn_set_host(c, host);
    mbedtls_ssl_init(&c->ssl);
    rc = mbedtls_ssl_setup(&c->ssl, &cfg->conf);
    /* SNI is for names only (RFC 6066 3); an address is checked by
       verify_cb, never by mbedTLS. */
    if (rc == 0)
        rc = mbedtls_ssl_set_hostname(&c->ssl, c->host_is_ip ? NULL : host);
    if (rc != 0) {
        gw_error_set(err, GW_ETLS, "cannot set up TLS: %s",
                     tls_strerror(rc, why, sizeof(why)));
        goto fail;
    }
    mbedtls_ssl_set_verify(&c->ssl, verify_cb, c);
    mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
    while ((rc = mbedtls_ssl_handshake(&c->ssl)) != 0) {
        if (!want_more(rc))
            break;
        if (!wait_for(c, rc, deadline)) {
            gw_error_set(err, GW_ETIMEDOUT,
                         "the TLS handshake with %s timed out", host);
            goto fail;
        }
    }
    if (rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
        verify_error(c, mbedtls_ssl_get_verify_result(&c->ssl), err);
        goto fail;
    }
    if (rc != 0) {
        gw_error_set(err, GW_ETLS, "the TLS handshake with %s failed: %s", host,
                     tls_strerror(rc, why, sizeof(why)));
        goto fail;
    }
    *out = c;
    return GW_OK;
fail:
    mbedtls_ssl_free(&c->ssl);
    free(c);
    return err ? err->code : GW_ETLS;
}

enum gw_err tls_read(struct tls_conn *c, void *p, size_t n, size_t *got,
                     uint64_t deadline, struct gw_error *err)
{
    char why[128];
    int rc;

    for (;;) {
        rc = mbedtls_ssl_read(&c->ssl, p, n);
        if (rc >= 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
            *got = rc > 0 ? (size_t)rc : 0;
            return GW_OK;
        }
        if (!want_more(rc))
            return gw_error_set(err, GW_EIO,
                                "reading from the SMTP server over TLS: %s",
                                tls_strerror(rc, why, sizeof(why)));
        if (!wait_for(c, rc, deadline))
            return gw_error_set(err, GW_ETIMEDOUT,
                                "the SMTP server did not answer in time");
    }
}

enum gw_err tls_write(struct tls_conn *c, const void *p, size_t n,
                      uint64_t deadline, struct gw_error *err)
{
    const unsigned char *at = p;
    char why[128];
    int rc;

    while (n > 0) {
        rc = mbedtls_ssl_write(&c->ssl, at, n);
        if (rc > 0) {
            at += rc;
            n -= (size_t)rc;
            continue;
        }
        if (!want_more(rc))
            return gw_error_set(err, GW_EIO,
                                "writing to the SMTP server over TLS: %s",
                                tls_strerror(rc, why, sizeof(why)));
        if (!wait_for(c, rc, deadline))
            return gw_error_set(err, GW_ETIMEDOUT,
                                "the SMTP server stopped reading");
    }
    return GW_OK;
}

bool tls_pending(const struct tls_conn *c)
{
    return mbedtls_ssl_get_bytes_avail(&c->ssl) > 0;
}

void tls_close(struct tls_conn *c)
{
    if (c == NULL)
        return;
    /* One try: close_notify is a courtesy, never worth waiting for. */
    mbedtls_ssl_close_notify(&c->ssl);
    mbedtls_ssl_free(&c->ssl);
    free(c);
}

enum gw_err tls_hmac_md5(const void *key, size_t key_len, const void *msg,
                         size_t msg_len, unsigned char out[16])
{
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_MD5);

    if (md == NULL || mbedtls_md_hmac(md, key, key_len, msg, msg_len, out))
        return GW_ETLS;
    return GW_OK;
}
