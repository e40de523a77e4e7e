/* Routes, replies and error bodies of the API; see api.h. */
#include "api.h"

#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "assets.h"
#include "internal.h"

/*
 * jansson frees without wiping, and a request body may hold a password in
 * the clear (PUT /v1/credentials): every block it allocates carries its
 * size in front, so that freeing can wipe it.
 */
#define HEADER _Alignof(max_align_t)

static void *wiping_malloc(size_t n)
{
    char *p = malloc(HEADER + n);

    if (p == NULL)
        return NULL;
    memcpy(p, &n, sizeof(n));
    return p + HEADER;
}

static void wiping_free(void *block)
{
    char *p = block;
    size_t n;

    if (p == NULL)
        return;
    memcpy(&n, p - HEADER, sizeof(n));
    explicit_bzero(p, n);
    free(p - HEADER);
}

void api_init(void)
{
    json_set_alloc_funcs(wiping_malloc, wiping_free);
}

void api_json_free(void *p)
{
    json_free_t free_fn;

    json_get_alloc_funcs(NULL, &free_fn);
    free_fn(p);
}

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
    api_json_free(text);
    resp->status = rc == GW_OK ? status : 500;
    if (rc != GW_OK) {
        buf_reset(&resp->body);
        buf_puts(&resp->body, "{\"status\":\"failed\","
                              "\"error\":\"out of memory\"}");
    }
    return rc;
}

json_t *api_json_text(const char *s)
{
    size_t n, len;
    json_t *text;
    char *copy;

    if (s == NULL)
        return json_null();
    n = strlen(s);
    if (gw_utf8_valid(s, n))
        return json_stringn_nocheck(s, n);
    len = gw_utf8_sanitized_len(s, n);
    copy = malloc(len + 1);
    if (copy == NULL)
        return NULL;
    gw_utf8_sanitize(copy, len + 1, s, n, NULL);
    text = json_stringn_nocheck(copy, len);
    free(copy);
    return text;
}

/*
 * Formats an error's text into `out` (GW_ERROR_DETAIL_MAX bytes) as
 * well-formed UTF-8, since it may quote the request or a server. Text
 * that does not fit is cut on a character boundary and ends in "...".
 */
static void error_text(char *out, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void error_text(char *out, const char *fmt, va_list ap)
{
    /* Room to see whether the text fits: replacing never shortens it. */
    char raw[4 * GW_ERROR_DETAIL_MAX];
    int n = vsnprintf(raw, sizeof(raw), fmt, ap);
    size_t len = n < 0 ? 0 : (size_t)n;
    bool cut;

    if (len >= sizeof(raw))
        len = sizeof(raw) - 1;
    len = gw_utf8_sanitize(out, GW_ERROR_DETAIL_MAX - 3, raw, len, &cut);
    if (cut)
        memcpy(out + len, "...", 4);
}

void api_error(struct api_response *resp, unsigned status, const char *field,
               const char *fmt, ...)
{
    char text[GW_ERROR_DETAIL_MAX];
    va_list ap;
    json_t *doc;

    va_start(ap, fmt);
    error_text(text, fmt, ap);
    va_end(ap);
    doc = json_pack("{s:s, s:s}", "status", "failed", "error", text);
    if (doc != NULL && field != NULL)
        json_object_set_new(doc, "field", api_json_text(field));
    api_reply_json(resp, status, doc);
}

void api_unavailable(struct api_response *resp, const char *why)
{
    resp->retry_after = 1;
    api_reply_json(resp, 503,
                   json_pack("{s:s, s:s, s:b}", "status", "failed", "error",
                             why, "retryable", 1));
}

static void handle_healthz(const struct api_route *route,
                           const struct api_ctx *ctx,
                           const struct api_call *call,
                           struct api_response *resp)
{
    (void)route, (void)ctx, (void)call;
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
                           const struct api_ctx *ctx,
                           const struct api_call *call,
                           struct api_response *resp)
{
    (void)route, (void)ctx, (void)call;
    serve_static(resp, "application/yaml", asset_openapi_yaml,
                 asset_openapi_yaml_len);
}

static void handle_docs(const struct api_route *route,
                        const struct api_ctx *ctx, const struct api_call *call,
                        struct api_response *resp)
{
    (void)route, (void)ctx, (void)call;
    serve_static(resp, "text/html; charset=utf-8", asset_docs_html,
                 asset_docs_html_len);
}

static void handle_redoc(const struct api_route *route,
                         const struct api_ctx *ctx, const struct api_call *call,
                         struct api_response *resp)
{
    (void)route, (void)ctx, (void)call;
    serve_static(resp, "text/javascript; charset=utf-8", asset_redoc_js,
                 asset_redoc_js_len);
}

#define JSON "application/json"

static const struct api_route routes[] = {
    {"GET", "/healthz", false, false, NULL, false, handle_healthz},
    {"GET", "/openapi.yaml", false, false, NULL, false, handle_openapi},
    {"GET", "/docs", false, false, NULL, false, handle_docs},
    {"GET", "/docs/redoc.standalone.js", false, false, NULL, false,
     handle_redoc},
    {"POST", "/v1/messages", true, false, JSON, false, api_messages_post},
    {"POST", "/v1/messages/raw", true, false, "message/rfc822", true, NULL},
    {"GET", "/v1/public-key", false, false, NULL, false, api_public_key_get},
    {"GET", "/v1/credentials", true, true, NULL, false, api_creds_list},
    {"GET", "/v1/credentials/*", true, true, NULL, false, api_creds_get},
    {"PUT", "/v1/credentials/*", true, true, JSON, false, api_creds_put},
    {"DELETE", "/v1/credentials/*", true, true, NULL, false, api_creds_delete},
    {"POST", "/v1/credentials/*/verify", true, true, NULL, false,
     api_creds_verify},
    {"GET", "/v1/tokens", true, true, NULL, false, api_tokens_get},
    {"POST", "/v1/tokens", true, true, JSON, false, api_tokens_post},
    {"DELETE", "/v1/tokens/*", true, true, NULL, false, api_tokens_delete},
};

/* A route's path against the request's: '*' matches one whole segment. */
static bool path_matches(const char *pattern, const char *path)
{
    while (*pattern != '\0' && *path != '\0') {
        if (*pattern == '*') {
            size_t n = strcspn(path, "/");

            path += n;
            pattern++;
        } else if (*pattern++ != *path++) {
            return false;
        }
    }
    return *pattern == '\0' && *path == '\0';
}

const struct api_route *api_route_find(const char *method, const char *path,
                                       struct api_response *resp)
{
    const struct api_route *found = NULL;
    struct buf methods;

    buf_init(&methods, sizeof(resp->allow) - 1);
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (!path_matches(routes[i].path, path))
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

bool api_authorize(const struct api_route *route, const struct api_ctx *ctx,
                   const char *token, struct store_token *caller,
                   struct api_response *resp)
{
    memset(caller, 0, sizeof(*caller));
    if (!route->needs_token)
        return true;
    if (token == NULL || token[0] == '\0' ||
        !core_tokens_check(ctx->tokens, token, caller)) {
        api_error(resp, 401, NULL,
                  "a valid token is required: Authorization: Bearer <token>");
        return false;
    }
    if (route->admin && caller->scope != STORE_SCOPE_ADMIN) {
        api_error(resp, 403, NULL,
                  "the token \"%s\" has the send scope; %s %s needs a token "
                  "of the admin scope",
                  caller->name, route->method, route->path);
        return false;
    }
    return true;
}

void api_handle(const struct api_route *route, const struct api_ctx *ctx,
                const struct api_call *call, struct api_response *resp)
{
    route->handle(route, ctx, call, resp);
}

void api_error_from(struct api_response *resp, const struct gw_error *err,
                    const char *field)
{
    unsigned status;

    switch (err->code) {
    case GW_EINVAL:
    case GW_ELIMIT:
        status = 400;
        break;
    case GW_ENOTFOUND:
        status = 404;
        break;
    case GW_ECONFLICT:
        status = 409;
        break;
    default:
        status = 500;
        break;
    }
    if (field != NULL && status == 400)
        api_error(resp, status, field, "%s: %s", field, err->detail);
    else
        api_error(resp, status, NULL, "%s", err->detail);
}

json_t *api_parse_body(const struct api_call *call, struct api_response *resp)
{
    json_error_t jerr;
    json_t *root = json_loadb(call->body->data, call->body->len,
                              JSON_REJECT_DUPLICATES, &jerr);

    if (root == NULL) {
        api_error(resp, 400, NULL, "malformed JSON at line %d column %d: %s",
                  jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        api_error(resp, 400, NULL, "the request must be a JSON object");
        return NULL;
    }
    return root;
}

bool api_path_name(const struct api_route *route, const char *path, char *name,
                   struct api_response *resp)
{
    size_t at = (size_t)(strchr(route->path, '*') - route->path);
    size_t n = strcspn(path + at, "/");

    if (n <= STORE_NAME_MAX) {
        memcpy(name, path + at, n);
        name[n] = '\0';
        if (store_name_valid(name))
            return true;
    }
    api_error(resp, 404, NULL,
              "no such name: names are 1 to %d letters, digits, '.', '_' "
              "or '-'",
              STORE_NAME_MAX);
    return false;
}

bool api_may_send(const struct store_token *caller, const char *credential,
                  const char *from, struct api_response *resp)
{
    const char *at = strrchr(from, '@');

    /* Checked first, so that no reply quotes a name that cannot exist
       (a query value need not even be UTF-8). */
    if (!store_name_valid(credential)) {
        api_error(resp, 400, "credential",
                  "credential: no credential has this name: names are 1 to "
                  "%d letters, digits, '.', '_' or '-'",
                  STORE_NAME_MAX);
        return false;
    }
    if (caller == NULL)
        return true;
    if (!store_list_allows(caller->credentials, credential, false)) {
        api_error(resp, 403, "credential",
                  "credential: the token \"%s\" may not use the credential "
                  "\"%s\" (it may use %s)",
                  caller->name, credential, caller->credentials);
        return false;
    }
    if (caller->from_domains[0] != '\0' &&
        (at == NULL ||
         !store_list_allows(caller->from_domains, at + 1, true))) {
        api_error(resp, 403, "from",
                  "from: the token \"%s\" may send only from the domains %s",
                  caller->name, caller->from_domains);
        return false;
    }
    return true;
}

bool api_pool_get(const struct api_ctx *ctx, const char *credential,
                  struct smtp_pool **pool, void **hold,
                  struct api_response *resp)
{
    struct gw_error err = {0};

    *pool = core_creds_get(ctx->creds, credential, hold, &err);
    if (*pool != NULL)
        return true;
    if (err.code == GW_ENOTFOUND)
        api_error(resp, 404, "credential",
                  "credential: no credential is named \"%s\"", credential);
    else
        api_error(resp, 500, "credential", "credential: %s", err.detail);
    return false;
}
