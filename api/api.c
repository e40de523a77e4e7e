/* Routes, replies and error bodies of the API; see api.h. */
#include "api.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assets.h"
#include "internal.h"

void api_response_init(struct api_response *resp)
{
    resp->status = 500;
    buf_init(&resp->body, API_RESPONSE_MAX);
    resp->allow[0] = '\0';
    resp->retry_after = 0;
    resp->content_type = NULL;
    resp->static_body = NULL;
    resp->static_len = 0;
}

void api_response_free(struct api_response *resp)
{
    buf_free(&resp->body);
}

void api_response_limit(struct api_response *resp, size_t max)
{
    if (max > resp->body.max) {
        buf_free(&resp->body);
        buf_init(&resp->body, max);
    }
}

enum gw_err api_reply_json(struct api_response *resp, unsigned status,
                           json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT | JSON_ENSURE_ASCII);
    enum gw_err rc;

    json_decref(doc);
    buf_reset(&resp->body);
    rc = text ? buf_puts(&resp->body, text) : GW_ENOMEM;
    free(text);
    resp->status = rc == GW_OK ? status : 500;
    if (rc != GW_OK) {
        buf_reset(&resp->body);
        buf_puts(&resp->body, "{\"status\":\"failed\","
                              "\"error\":\"out of memory\"}");
    }
    return rc;
}

void api_error(struct api_response *resp, unsigned status, const char *field,
               const char *fmt, ...)
{
    char text[GW_ERROR_DETAIL_MAX];
    va_list ap;
    json_t *doc;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    doc = json_pack("{s:s, s:s}", "status", "failed", "error", text);
    if (doc != NULL && field != NULL)
        json_object_set_new(doc, "field", json_string(field));
    api_reply_json(resp, status, doc);
}

static void handle_healthz(const struct api_route *route,
                           const struct api_ctx *ctx, struct buf *body,
                           struct api_response *resp)
{
    (void)route, (void)ctx, (void)body;
    api_reply_json(resp, 200, json_pack("{s:s}", "status", "ok"));
}

/* Replies with an embedded document. */
static void serve_static(struct api_response *resp, const char *type,
                         const unsigned char *data, size_t len)
{
    resp->status = 200;
    resp->content_type = type;
    resp->static_body = data;
    resp->static_len = len;
}

static void handle_openapi(const struct api_route *route,
                           const struct api_ctx *ctx, struct buf *body,
                           struct api_response *resp)
{
    (void)route, (void)ctx, (void)body;
    serve_static(resp, "application/yaml", asset_openapi_yaml,
                 asset_openapi_yaml_len);
}

static void handle_docs(const struct api_route *route,
                        const struct api_ctx *ctx, struct buf *body,
                        struct api_response *resp)
{
    (void)route, (void)ctx, (void)body;
    serve_static(resp, "text/html; charset=utf-8", asset_docs_html,
                 asset_docs_html_len);
}

static void handle_redoc(const struct api_route *route,
                         const struct api_ctx *ctx, struct buf *body,
                         struct api_response *resp)
{
    (void)route, (void)ctx, (void)body;
    serve_static(resp, "text/javascript; charset=utf-8", asset_redoc_js,
                 asset_redoc_js_len);
}

static const struct api_route routes[] = {
    {"GET", "/healthz", false, NULL, false, handle_healthz},
    {"GET", "/openapi.yaml", false, NULL, false, handle_openapi},
    {"GET", "/docs", false, NULL, false, handle_docs},
    {"GET", "/docs/redoc.standalone.js", false, NULL, false, handle_redoc},
    {"POST", "/v1/messages", true, "application/json", false,
     api_messages_post},
    {"POST", "/v1/messages/raw", true, "message/rfc822", true, NULL},
};

const struct api_route *api_route_find(const char *method, const char *path,
                                       struct api_response *resp)
{
    const struct api_route *found = NULL;
    struct buf methods;

    buf_init(&methods, sizeof(resp->allow) - 1);
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (strcmp(routes[i].path, path) != 0)
            continue;
        if (strcmp(routes[i].method, method) == 0)
            found = &routes[i];
        if (methods.len > 0)
            buf_puts(&methods, ", ");
        buf_puts(&methods, routes[i].method);
    }
    if (found == NULL && methods.len == 0) {
        api_error(resp, 404, NULL, "no such path: %s", path);
    } else if (found == NULL) {
        memcpy(resp->allow, methods.data, methods.len + 1);
        api_error(resp, 405, NULL, "%s is not allowed on %s; use %s", method,
                  path, buf_cstr(&methods));
    }
    buf_free(&methods);
    return found;
}

void api_handle(const struct api_route *route, const struct api_ctx *ctx,
                struct buf *body, struct api_response *resp)
{
    route->handle(route, ctx, body, resp);
}
