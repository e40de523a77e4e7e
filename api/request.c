/* The send request: JSON into the composer's types; see request.h. */
#include "request.h"

#include "internal.h"

#include "mime/mime.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

static enum gw_err refuse(struct api_request_error *re, unsigned status,
                          const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static const char *json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "unknown";
}

/* Reads an optional string field; NULL stays when it is absent. */
static bool get_string(json_t *obj, const char *key, const char *path,
                       const char **out, struct gw_field_error *fe)
{
    json_t *v = json_object_get(obj, key);

    if (v == NULL)
        return true;
    if (!json_is_string(v))
        return gw_field_fail(fe, path, "must be a string, not %s",
                             json_type_name(v));
    *out = json_string_value(v);
    return true;
}

static bool get_bool(json_t *obj, const char *key, const char *path, bool *out,
                     struct gw_field_error *fe)
{
    json_t *v = json_object_get(obj, key);

    if (v == NULL)
        return true;
    if (!json_is_boolean(v))
        return gw_field_fail(fe, path, "must be true or false, not %s",
                             json_type_name(v));
    *out = json_is_true(v);
    return true;
}

/* Refuses any key of `obj` that is not in the NULL-ended `known`. */
static bool only_known_keys(json_t *obj, const char *prefix,
                            const char *const *known, struct gw_field_error *fe)
{
    const char *key;
    json_t *v;

    json_object_foreach(obj, key, v)
    {
        const char *const *k = known;
        char path[128];

        while (*k != NULL && strcmp(*k, key) != 0)
            k++;
        if (*k == NULL) {
            snprintf(path, sizeof(path), "%s%s", prefix, key);
            return gw_field_fail(fe, path, "unknown field");
        }
    }
    return true;
}

/* Reads one address: "Name <a@b>", "a@b" or {"name", "address"}. */
static bool parse_address(json_t *v, const char *path, struct mime_addr *out,
                          struct gw_field_error *fe)
{
    static const char *const keys[] = {"name", "address", NULL};
    const char *name = NULL, *mailbox = NULL;
    struct gw_error err = {0};
    char prefix[140];

    if (json_is_string(v)) {
        if (mime_addr_parse(json_string_value(v), out, &err) != GW_OK)
            return gw_field_fail(fe, path, "%s", err.detail);
        return true;
    }
    if (!json_is_object(v))
        return gw_field_fail(fe, path,
                             "must be an address string or an object with "
                             "\"address\", not %s",
                             json_type_name(v));
    snprintf(prefix, sizeof(prefix), "%s.", path);
    if (!only_known_keys(v, prefix, keys, fe))
        return false;
    snprintf(prefix, sizeof(prefix), "%s.name", path);
    if (!get_string(v, "name", prefix, &name, fe))
        return false;
    if (mime_addr_check_name(name, &err) != GW_OK)
        return gw_field_fail(fe, prefix, "%s", err.detail);
    snprintf(prefix, sizeof(prefix), "%s.address", path);
    if (!get_string(v, "address", prefix, &mailbox, fe))
        return false;
    if (mailbox == NULL)
        return gw_field_fail(fe, prefix, "is required");
    if (mime_addr_set(out, name, mailbox, &err) != GW_OK)
        return gw_field_fail(fe, prefix, "%s", err.detail);
    return true;
}

/* Reads to, cc, bcc or reply_to: one address or an array of them. */
static bool parse_list(json_t *root, const char *key,
                       struct api_addr_list *list, struct gw_field_error *fe)
{
    json_t *v = json_object_get(root, key);
    size_t n;
    char path[64];

    if (v == NULL)
        return true;
    if (!json_is_array(v)) {
        list->v = calloc(1, sizeof(*list->v));
        if (list->v == NULL)
            return gw_field_fail(fe, key, "out of memory");
        list->n = 1;
        return parse_address(v, key, &list->v[0], fe);
    }
    n = json_array_size(v);
    if (n > API_MAX_RECIPIENTS)
        return gw_field_fail(fe, key, "has more than %d addresses",
                             API_MAX_RECIPIENTS);
    list->v = calloc(n ? n : 1, sizeof(*list->v));
    if (list->v == NULL)
        return gw_field_fail(fe, key, "out of memory");
    list->n = n;
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s[%zu]", key, i);
        if (!parse_address(json_array_get(v, i), path, &list->v[i], fe))
            return false;
    }
    return true;
}

static bool parse_headers(json_t *root, struct api_request *req,
                          struct gw_field_error *fe)
{
    json_t *obj = json_object_get(root, "headers"), *v;
    const char *name;
    char path[128];

    if (obj == NULL)
        return true;
    if (!json_is_object(obj))
        return gw_field_fail(fe, "headers", "must be an object, not %s",
                             json_type_name(obj));
    if (json_object_size(obj) > API_MAX_HEADERS)
        return gw_field_fail(fe, "headers", "has more than %d headers",
                             API_MAX_HEADERS);
    json_object_foreach(obj, name, v)
    {
        struct mime_header *h = &req->headers[req->n_headers];
        struct gw_error err = {0};

        snprintf(path, sizeof(path), "headers.%s", name);
        if (!json_is_string(v))
            return gw_field_fail(fe, path, "must be a string, not %s",
                                 json_type_name(v));
        h->name = name;
        h->value = json_string_value(v);
        if (mime_check_header(h, &err) != GW_OK)
            return gw_field_fail(fe, path, "%s", err.detail);
        if (api_trace_field(name, strlen(name)))
            return gw_field_fail(
                fe, path,
                "is a trace or authentication field, written by "
                "the gateway or the receiving servers");
        req->n_headers++;
    }
    return true;
}

/*
 * Reads auth_from, of the JSON options or of a raw send's query, into
 * req->auth_from: "<>" (or "") is the null mailbox, AUTH=<> (RFC 4954
 * 5); anything else must be a mailbox, kept with its domain in A-labels
 * as every other address is.
 */
static bool take_auth_from(const char *path, const char *text,
                           struct api_request *req, struct gw_field_error *fe)
{
    struct gw_error err = {0};
    struct mime_addr a = {0};

    if (strcmp(text, "<>") == 0 || text[0] == '\0') {
        req->auth_from = strdup("");
    } else {
        if (mime_addr_set(&a, NULL, text, &err) != GW_OK)
            return gw_field_fail(fe, path, "%s", err.detail);
        req->auth_from = a.mailbox;
        a.mailbox = NULL;
    }
    mime_addr_clear(&a);
    return req->auth_from != NULL || gw_field_fail(fe, path, "out of memory");
}

/* Reads options.message_id_domain into A-labels. */
static bool parse_message_id_domain(json_t *obj, struct api_request *req,
                                    struct gw_field_error *fe)
{
    static const char path[] = "options.message_id_domain";
    const char *domain = NULL;
    struct gw_error err = {0};

    if (!get_string(obj, "message_id_domain", path, &domain, fe))
        return false;
    if (domain != NULL &&
        mime_addr_domain_ascii(domain, &req->message_id_domain, &err) != GW_OK)
        return gw_field_fail(fe, path, "%s", err.detail);
    return true;
}

static bool parse_options(json_t *root, struct api_request *req,
                          struct gw_field_error *fe)
{
    static const char *const keys[] = {"continue_after_bad_send",
                                       "show_bcc",
                                       "allow_header_encoding",
                                       "timezone",
                                       "message_id_domain",
                                       "dry_run",
                                       "auth_from",
                                       "allow_8bit",
                                       NULL};
    json_t *obj = json_object_get(root, "options");
    const char *tz = NULL, *auth_from = NULL;
    struct gw_error err = {0};

    if (obj == NULL)
        return true;
    if (!json_is_object(obj))
        return gw_field_fail(fe, "options", "must be an object, not %s",
                             json_type_name(obj));
    if (!only_known_keys(obj, "options.", keys, fe) ||
        !get_bool(obj, "continue_after_bad_send",
                  "options.continue_after_bad_send",
                  &req->continue_after_bad_send, fe) ||
        !get_bool(obj, "show_bcc", "options.show_bcc", &req->show_bcc, fe) ||
        !get_bool(obj, "allow_header_encoding", "options.allow_header_encoding",
                  &req->allow_header_encoding, fe) ||
        !get_string(obj, "timezone", "options.timezone", &tz, fe) ||
        !get_bool(obj, "dry_run", "options.dry_run", &req->dry_run, fe) ||
        !get_bool(obj, "allow_8bit", "options.allow_8bit", &req->allow_8bit,
                  fe) ||
        !get_string(obj, "auth_from", "options.auth_from", &auth_from, fe) ||
        !parse_message_id_domain(obj, req, fe))
        return false;
    if (auth_from != NULL &&
        !take_auth_from("options.auth_from", auth_from, req, fe))
        return false;
    if (tz != NULL && mime_tz_parse(tz, &req->tz, &err) != GW_OK)
        return gw_field_fail(fe, "options.timezone", "%s", err.detail);
    return true;
}

/* Reads and checks every field of the request. */
/* Reads the optional sender: one address. */
static bool parse_sender(json_t *root, struct api_request *req,
                         struct gw_field_error *fe)
{
    json_t *v = json_object_get(root, "sender");

    return v == NULL || parse_address(v, "sender", &req->sender, fe);
}

/* Reads attachments[i].content: base64, decoded into a new buffer. */
static bool parse_content(json_t *obj, const char *path, void **out,
                          size_t *len, struct gw_field_error *fe)
{
    json_t *v = json_object_get(obj, "content");
    size_t n, bad = 0;
    struct buf b;
    enum gw_err rc;

    if (v == NULL)
        return gw_field_fail(fe, path, "is required");
    if (!json_is_string(v))
        return gw_field_fail(fe, path, "must be a base64 string, not %s",
                             json_type_name(v));
    n = json_string_length(v);
    /* Decoding shrinks: the text's size bounds the bytes. */
    buf_init(&b, n);
    rc = buf_reserve(&b, n / 4 * 3 + 3);
    if (rc == GW_OK)
        rc = gw_base64_decode(&b, json_string_value(v), n, &bad);
    /* The text is not needed once decoded: a large attachment would
       otherwise be held twice until the send ends. */
    if (rc == GW_OK)
        json_string_set(v, "");
    *len = b.len;
    if (rc == GW_OK && b.len > 0 && (*out = buf_steal(&b)) == NULL)
        rc = GW_ENOMEM;
    buf_free(&b);
    if (rc == GW_EINVAL)
        return gw_field_fail(fe, path, "invalid base64 at character %zu", bad);
    if (rc != GW_OK)
        return gw_field_fail(fe, path, "out of memory");
    return true;
}

/* Reads attachments[i].disposition: "attachment" (the default) or
 * "inline". */
static bool parse_disposition(json_t *obj, const char *path, bool *is_inline,
                              struct gw_field_error *fe)
{
    const char *d = NULL;

    if (!get_string(obj, "disposition", path, &d, fe))
        return false;
    if (d != NULL && strcmp(d, "inline") != 0 && strcmp(d, "attachment") != 0)
        return gw_field_fail(fe, path, "must be \"attachment\" or \"inline\"");
    *is_inline = d != NULL && strcmp(d, "inline") == 0;
    return true;
}

/*
 * Reads one of the optional strings of an attachment and checks it with
 * `check` (a mime_check_* function).
 */
static bool get_checked(json_t *obj, const char *key, const char *prefix,
                        const char **out,
                        enum gw_err (*check)(const char *, struct gw_error *),
                        struct gw_field_error *fe)
{
    struct gw_error err = {0};
    char path[160];

    snprintf(path, sizeof(path), "%s.%s", prefix, key);
    if (!get_string(obj, key, path, out, fe))
        return false;
    if (*out != NULL && check(*out, &err) != GW_OK)
        return gw_field_fail(fe, path, "%s", err.detail);
    return true;
}

/* Reads attachments[i] into req->attachments[i]. */
static bool parse_attachment(json_t *v, size_t i, struct api_request *req,
                             struct gw_field_error *fe)
{
    static const char *const keys[] = {"filename",    "content_type", "content",
                                       "disposition", "content_id",   NULL};
    struct mime_attachment *a = &req->attachments[i];
    char prefix[40], path[160];

    snprintf(prefix, sizeof(prefix), "attachments[%zu]", i);
    if (!json_is_object(v))
        return gw_field_fail(fe, prefix, "must be an object, not %s",
                             json_type_name(v));
    snprintf(path, sizeof(path), "%s.", prefix);
    if (!only_known_keys(v, path, keys, fe))
        return false;
    snprintf(path, sizeof(path), "%s.filename", prefix);
    if (json_object_get(v, "filename") == NULL)
        return gw_field_fail(fe, path, "is required");
    if (!get_checked(v, "filename", prefix, &a->filename, mime_check_filename,
                     fe) ||
        !get_checked(v, "content_type", prefix, &a->content_type,
                     mime_check_content_type, fe) ||
        !get_checked(v, "content_id", prefix, &a->content_id,
                     mime_check_content_id, fe))
        return false;
    snprintf(path, sizeof(path), "%s.disposition", prefix);
    if (!parse_disposition(v, path, &a->is_inline, fe))
        return false;
    snprintf(path, sizeof(path), "%s.content", prefix);
    if (!parse_content(v, path, &req->attachment_data[i], &a->len, fe))
        return false;
    a->data = req->attachment_data[i];
    return true;
}

/* Refuses a content_id that an earlier attachment has already. */
static bool unique_content_ids(const struct api_request *req,
                               struct gw_field_error *fe)
{
    char path[64];

    for (size_t i = 0; i < req->n_attachments; i++) {
        const char *id = req->attachments[i].content_id;

        for (size_t j = 0; id != NULL && j < i; j++) {
            const char *other = req->attachments[j].content_id;

            if (other == NULL || strcmp(other, id) != 0)
                continue;
            snprintf(path, sizeof(path), "attachments[%zu].content_id", i);
            return gw_field_fail(
                fe, path, "is also the content_id of attachments[%zu]", j);
        }
    }
    return true;
}

static bool parse_attachments(json_t *root, struct api_request *req,
                              struct gw_field_error *fe)
{
    json_t *v = json_object_get(root, "attachments");
    size_t n;

    if (v == NULL)
        return true;
    if (!json_is_array(v))
        return gw_field_fail(fe, "attachments", "must be an array, not %s",
                             json_type_name(v));
    n = json_array_size(v);
    if (n > API_MAX_ATTACHMENTS)
        return gw_field_fail(fe, "attachments", "has more than %d attachments",
                             API_MAX_ATTACHMENTS);
    req->attachments = calloc(n ? n : 1, sizeof(*req->attachments));
    req->attachment_data = calloc(n ? n : 1, sizeof(*req->attachment_data));
    if (req->attachments == NULL || req->attachment_data == NULL)
        return gw_field_fail(fe, "attachments", "out of memory");
    /* Counted first, so that api_request_free() frees what was read. */
    req->n_attachments = n;
    for (size_t i = 0; i < n; i++) {
        if (!parse_attachment(json_array_get(v, i), i, req, fe))
            return false;
    }
    return unique_content_ids(req, fe);
}

static bool check_request(json_t *root, struct api_request *req,
                          struct gw_field_error *fe)
{
    static const char *const keys[] = {
        "credential", "from",     "sender",      "to",   "cc",
        "bcc",        "reply_to", "subject",     "text", "html",
        "headers",    "options",  "attachments", NULL};
    struct gw_error err = {0};
    json_t *from;

    req->credential = "default";
    req->allow_header_encoding = true;
    if (!only_known_keys(root, "", keys, fe) ||
        !get_string(root, "credential", "credential", &req->credential, fe) ||
        !get_string(root, "subject", "subject", &req->subject, fe) ||
        !get_string(root, "text", "text", &req->text, fe) ||
        !get_string(root, "html", "html", &req->html, fe))
        return false;
    if (req->subject != NULL && mime_check_text(req->subject, &err) != GW_OK)
        return gw_field_fail(fe, "subject", "%s", err.detail);
    from = json_object_get(root, "from");
    if (from == NULL)
        return gw_field_fail(fe, "from", "is required");
    if (!parse_address(from, "from", &req->from, fe) ||
        !parse_sender(root, req, fe) || !parse_list(root, "to", &req->to, fe) ||
        !parse_list(root, "cc", &req->cc, fe) ||
        !parse_list(root, "bcc", &req->bcc, fe) ||
        !parse_list(root, "reply_to", &req->reply_to, fe) ||
        !parse_headers(root, req, fe) || !parse_options(root, req, fe) ||
        !parse_attachments(root, req, fe))
        return false;
    if (req->html != NULL &&
        mime_check_cid_refs(req->html, req->attachments, req->n_attachments,
                            &err) != GW_OK)
        return gw_field_fail(fe, "html", "%s", err.detail);
    if (req->to.n + req->cc.n + req->bcc.n == 0)
        return gw_field_fail(fe, "to",
                             "at least one recipient is required in "
                             "to, cc or bcc");
    if (req->to.n + req->cc.n + req->bcc.n > API_MAX_RECIPIENTS)
        return gw_field_fail(fe, "to",
                             "more than %d recipients in to, cc and "
                             "bcc together",
                             API_MAX_RECIPIENTS);
    return true;
}

bool api_trace_field(const char *name, size_t len)
{
    /* RFC 5322 3.6.6 and 3.6.7, RFC 6376, RFC 8617, RFC 8601, RFC 7208. */
    static const char *const exact[] = {
        "Received",       "Return-Path",
        "DKIM-Signature", "Authentication-Results",
        "Received-SPF",   NULL};
    static const char *const prefix[] = {"Resent-", "ARC-", NULL};

    for (const char *const *e = exact; *e != NULL; e++) {
        if (strlen(*e) == len && strncasecmp(name, *e, len) == 0)
            return true;
    }
    for (const char *const *p = prefix; *p != NULL; p++) {
        if (len >= strlen(*p) && strncasecmp(name, *p, strlen(*p)) == 0)
            return true;
    }
    return false;
}

static void free_list(struct api_addr_list *list)
{
    for (size_t i = 0; i < list->n; i++)
        mime_addr_clear(&list->v[i]);
    free(list->v);
}

void api_request_free(struct api_request *req)
{
    for (size_t i = 0; i < req->n_attachments; i++)
        free(req->attachment_data[i]);
    free(req->attachment_data);
    free(req->attachments);
    free(req->message_id_domain);
    free(req->auth_from);
    mime_addr_clear(&req->sender);
    mime_addr_clear(&req->from);
    free_list(&req->to);
    free_list(&req->cc);
    free_list(&req->bcc);
    free_list(&req->reply_to);
    json_decref(req->root);
}

const char **api_request_rcpts(const struct api_request *req, size_t *n_out,
                               bool *utf8)
{
    const struct api_addr_list *lists[] = {&req->to, &req->cc, &req->bcc};
    size_t total = req->to.n + req->cc.n + req->bcc.n, n = 0;
    const char **rcpts = calloc(total, sizeof(*rcpts));

    if (rcpts == NULL)
        return NULL;
    for (size_t l = 0; l < 3; l++) {
        for (size_t i = 0; i < lists[l]->n; i++) {
            const char *m = lists[l]->v[i].mailbox;
            size_t k = 0;

            while (k < n && !mime_addr_same_mailbox(rcpts[k], m))
                k++;
            if (k == n)
                rcpts[n++] = m;
            *utf8 = *utf8 || mime_addr_needs_utf8(m);
        }
    }
    *n_out = n;
    return rcpts;
}

const char **api_request_envelope(const struct api_request *req,
                                  struct smtp_envelope *env)
{
    const char **rcpts =
        api_request_rcpts(req, &env->n_rcpts, &env->needs_smtputf8);

    env->from = req->from.mailbox;
    env->rcpts = rcpts;
    env->auth_from = req->auth_from;
    env->continue_after_bad_send = req->continue_after_bad_send;
    env->needs_smtputf8 |= mime_addr_needs_utf8(req->from.mailbox);
    return rcpts;
}

/* A query flag: "true"/"false" (or 1/0); false when the value is neither. */
static bool query_flag(const struct api_param *p, bool *out,
                       struct gw_field_error *fe)
{
    if (strcasecmp(p->value, "true") == 0 || strcmp(p->value, "1") == 0) {
        *out = true;
        return true;
    }
    if (strcasecmp(p->value, "false") == 0 || strcmp(p->value, "0") == 0) {
        *out = false;
        return true;
    }
    return gw_field_fail(fe, p->key, "must be true or false");
}

/* The parameters of a raw send's query, and which may repeat. */
static const struct {
    const char *key;
    bool repeats;
} query_keys[] = {
    {"credential", false}, {"from", false},
    {"to", true},          {"auth_from", false},
    {"show_bcc", false},   {"continue_after_bad_send", false},
};

#define N_QUERY_KEYS (sizeof(query_keys) / sizeof(query_keys[0]))

/*
 * Refuses a parameter whose name holds a NUL byte (which would cut the
 * rest of it off unseen), that is unknown, or that is given again when
 * it may not repeat. Its index in query_keys goes to `*index`.
 */
static bool query_key(const struct api_param *p, bool *seen, size_t *index,
                      struct gw_field_error *fe)
{
    size_t k = 0;

    if (strlen(p->key) != p->key_len)
        return gw_field_fail(fe, p->key, "the parameter's name has a NUL byte");
    while (k < N_QUERY_KEYS && strcmp(query_keys[k].key, p->key) != 0)
        k++;
    if (k == N_QUERY_KEYS)
        return gw_field_fail(fe, p->key, "unknown parameter");
    if (seen[k] && !query_keys[k].repeats)
        return gw_field_fail(fe, p->key, "is given more than once");
    seen[k] = true;
    *index = k;
    return true;
}

/* Reads one parameter of the query into `req`. */
static bool query_param(const struct api_param *p, struct api_request *req,
                        bool *seen, struct gw_field_error *fe)
{
    struct gw_error err = {0};
    char path[32];
    size_t k = 0;

    if (!query_key(p, seen, &k, fe))
        return false;
    if (k == 2)
        snprintf(path, sizeof(path), "to[%zu]", req->to.n);
    else
        snprintf(path, sizeof(path), "%s", p->key);
    if (strlen(p->value) != p->value_len)
        return gw_field_fail(fe, path, "has a NUL byte");
    switch (k) {
    case 0:
        req->credential = p->value;
        return true;
    case 1:
        /* "" is the null reverse-path, which a bounce is sent from. */
        if (p->value[0] == '\0')
            return (req->from.mailbox = strdup("")) != NULL ||
                   gw_field_fail(fe, "from", "out of memory");
        if (mime_addr_set(&req->from, NULL, p->value, &err) != GW_OK)
            return gw_field_fail(fe, "from", "%s", err.detail);
        return true;
    case 2:
        if (req->to.n == API_MAX_RECIPIENTS)
            return gw_field_fail(fe, "to", "more than %d recipients",
                                 API_MAX_RECIPIENTS);
        if (mime_addr_set(&req->to.v[req->to.n], NULL, p->value, &err) != GW_OK)
            return gw_field_fail(fe, path, "%s", err.detail);
        req->to.n++;
        return true;
    case 3:
        return take_auth_from("auth_from", p->value, req, fe);
    case 4:
        return query_flag(p, &req->show_bcc, fe);
    default:
        return query_flag(p, &req->continue_after_bad_send, fe);
    }
}

enum gw_err api_request_from_query(const struct api_param *params, size_t n,
                                   struct api_request *req,
                                   struct api_request_error *re)
{
    struct gw_field_error fe = {{0}, {0}};
    bool seen[N_QUERY_KEYS] = {false};
    size_t n_to = 0;

    memset(req, 0, sizeof(*req));
    req->credential = "default";
    for (size_t i = 0; i < n; i++)
        n_to += strcmp(params[i].key, "to") == 0;
    req->to.v =
        calloc(n_to < API_MAX_RECIPIENTS ? n_to + 1 : API_MAX_RECIPIENTS,
               sizeof(*req->to.v));
    if (req->to.v == NULL)
        return refuse(re, 500, NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (!query_param(&params[i], req, seen, &fe))
            return refuse(re, 400, fe.field, "%s: %s", fe.field, fe.text);
    }
    if (req->from.mailbox == NULL)
        return refuse(re, 400, "from", "from: is required");
    if (req->to.n == 0)
        return refuse(re, 400, "to", "to: at least one is required");
    return GW_OK;
}

void api_request_message(const struct api_request *req,
                         struct core_message *out)
{
    *out = (struct core_message){
        .msg =
            {
                .from = &req->from,
                .reply_to = req->reply_to.v,
                .n_reply_to = req->reply_to.n,
                .to = req->to.v,
                .n_to = req->to.n,
                .cc = req->cc.v,
                .n_cc = req->cc.n,
                .bcc = req->bcc.v,
                .n_bcc = req->bcc.n,
                .subject = req->subject,
                .text = req->text,
                .html = req->html,
                .headers = req->headers,
                .n_headers = req->n_headers,
                .sender = req->sender.mailbox != NULL ? &req->sender : NULL,
                .attachments = req->attachments,
                .n_attachments = req->n_attachments,
            },
        /* 8bit only when asked; a server without 8BITMIME gets the
           message composed again without it (core_send()). */
        .opt =
            {
                .tz = req->tz,
                .show_bcc = req->show_bcc,
                .allow_header_encoding = req->allow_header_encoding,
                .message_id_domain = req->message_id_domain,
                .allow_8bit = req->allow_8bit,
            },
        .body_len = req->body_len,
    };
}

enum gw_err api_request_compose(const struct api_request *req, struct buf *out,
                                struct mime_result *mres,
                                struct api_request_error *re)
{
    struct core_message m;
    struct gw_error err = {0};
    enum gw_err rc;

    api_request_message(req, &m);
    rc = core_compose(&m, out, mres, &err);
    if (rc != GW_OK)
        refuse(re, rc == GW_ENOMEM ? 500 : 400, NULL, "%s", err.detail);
    return rc;
}

/*
 * Fills `re` with `status`, the field at fault (NULL for none) and the
 * text, and returns the code that goes with the status.
 */
static enum gw_err refuse(struct api_request_error *re, unsigned status,
                          const char *field, const char *fmt, ...)
{
    va_list ap;

    re->status = status;
    snprintf(re->field, sizeof(re->field), "%s", field != NULL ? field : "");
    va_start(ap, fmt);
    vsnprintf(re->text, sizeof(re->text), fmt, ap);
    va_end(ap);
    return status == 500 ? GW_ENOMEM : GW_EINVAL;
}

/* Checks what the JSON parser made of the body. */
static enum gw_err check_parsed(struct api_request *req,
                                const json_error_t *jerr,
                                struct api_request_error *re)
{
    struct gw_field_error fe = {{0}, {0}};

    if (req->root == NULL)
        return refuse(re, 400, NULL, "malformed JSON at line %d column %d: %s",
                      jerr->line, jerr->column, jerr->text);
    if (!json_is_object(req->root))
        return refuse(re, 400, NULL,
                      "the request must be a JSON object, not %s",
                      json_type_name(req->root));
    if (!check_request(req->root, req, &fe))
        return refuse(re, 400, fe.field, "%s: %s", fe.field, fe.text);
    return GW_OK;
}

enum gw_err api_request_parse(const char *body, size_t len,
                              struct api_request *req,
                              struct api_request_error *re)
{
    json_error_t jerr;

    memset(req, 0, sizeof(*req));
    req->body_len = len;
    req->root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    return check_parsed(req, &jerr, re);
}

/* The body as the JSON parser reads it, in pieces. */
struct body_reader {
    struct buf *body;
    size_t pos;      /* bytes handed to the parser */
    size_t released; /* bytes whose memory went back to the system */
};

/*
 * Hands the parser the next piece of the body, and gives the whole pages
 * it has read back to the system: a large body (a big attachment) is then
 * never held twice, as raw text and as parsed strings. The pages are not
 * read again; the buffer is freed after the parse.
 */
static size_t read_body(void *out, size_t size, void *arg)
{
    struct body_reader *r = arg;
    size_t page = (size_t)sysconf(_SC_PAGESIZE), n;
    uintptr_t from, to;

    n = r->body->len - r->pos < size ? r->body->len - r->pos : size;
    memcpy(out, r->body->data + r->pos, n);
    r->pos += n;
    from = ((uintptr_t)r->body->data + r->released + page - 1) / page * page;
    to = ((uintptr_t)r->body->data + r->pos) / page * page;
    if (to > from + 16 * page) {
        madvise((void *)from, to - from, MADV_DONTNEED);
        r->released = to - (uintptr_t)r->body->data;
    }
    return n;
}

enum gw_err api_request_parse_buf(struct buf *body, struct api_request *req,
                                  struct api_request_error *re)
{
    struct body_reader r = {body, 0, 0};
    json_error_t jerr;

    memset(req, 0, sizeof(*req));
    req->body_len = body->len;
    req->root =
        body->len > 0
            ? json_load_callback(read_body, &r, JSON_REJECT_DUPLICATES, &jerr)
            : json_loadb("", 0, 0, &jerr);
    buf_free(body);
    return check_parsed(req, &jerr, re);
}
