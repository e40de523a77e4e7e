/*
 * The one HTTP request the gateway makes as a client: `smtp-gateway seal
 * --url` asking a running gateway for its public key, so that a CI job
 * needs nothing but the gateway's address to seal a secret for it.
 * HTTP/1.0 over the SMTP client's connection code, with TLS (verified
 * against the system CAs, or `ca_file`) for https.
 */
#ifndef GW_FETCH_H
#define GW_FETCH_H

#include "base/base.h"

/*
 * GETs `path` below the base URL `url` (http:// or https://, with an
 * optional port and path prefix) and puts the body of a 200 reply in
 * `body`, whose limit bounds it. Anything else is an error naming the
 * URL: no connection, a bad certificate, another status.
 */
enum gw_err srv_fetch(const char *url, const char *path, const char *ca_file,
                      struct buf *body, struct gw_error *err);

#endif
