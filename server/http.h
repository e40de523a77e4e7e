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

#include "../api/api.h"
#include "../smtp/err.h"
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
 * Stops accepting connections, waits at most `timeout_ms` for the requests
 * in progress to finish, then stops the server and frees it. Returns false
 * when requests were still running at the deadline (they are cut off).
 */
bool srv_http_shutdown(struct srv_http *http, unsigned timeout_ms);

#endif
