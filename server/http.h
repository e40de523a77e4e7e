/*
 * The HTTP side of the gateway, on libmicrohttpd: accepts connections,
 * refuses what it can from the headers alone (unknown route, wrong method,
 * missing token, wrong Content-Type, a Content-Length over the limit),
 * collects the body within its limit and hands it to api/. Each
 * connection has its own thread, so a slow upstream holds up only the
 * requests that wait for it.
 */
#ifndef GW_HTTP_H
#define GW_HTTP_H

#include <stdbool.h>

#include "api/api.h"
#include "base/base.h"
#include "config.h"

struct srv_http;

/*
 * Starts listening on cfg->listen_sa and serving. `cfg` and `ctx` must
 * outlive the server. Returns NULL with `err` set when it cannot listen.
 */
struct srv_http *srv_http_start(const struct srv_config *cfg,
                                const struct api_ctx *ctx,
                                struct gw_error *err);

/* The port listened on (the chosen one when the configuration said 0). */
unsigned srv_http_port(const struct srv_http *http);

/*
 * Stops serving: the listening socket closes, every reply from now on
 * closes its connection (Connection: close), and a request that arrives
 * on a kept connection gets a 503 without being run. Waits until the
 * requests already received have been answered, at most `timeout_ms`,
 * then closes the idle connections and frees the server; returns 0.
 * When requests are still running at the deadline, returns how many and
 * leaves the server as it is: their threads still use it (and `cfg` and
 * `ctx`), so the caller must end the process without freeing those.
 */
unsigned srv_http_shutdown(struct srv_http *http, unsigned timeout_ms);

#endif
