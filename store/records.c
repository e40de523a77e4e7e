/*
 * Credentials and tokens as JSON; see store.h. One table lists every
 * setting of a credential with its JSON key, kind and limits, and drives
 * both directions, so the file, a PUT body and a GET reply cannot drift
 * apart.
 */
#include "store.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp/smtp.h"
#include "api/internal.h"

enum kind {
    K_HOST,  /* one word, required */
    K_WORD,  /* one word or "" */
    K_TEXT,  /* text without control characters, or "" */
    K_MECHS, /* a list of SASL mechanisms */
    K_UINT,  /* a number in [lo, hi] */
    K_IPV,   /* 0, 4 or 6 */
    K_BOOL,
    K_TLS, /* none, starttls or implicit */
};

struct field {
    const char *key;
    enum kind kind;
    size_t off, size;
    unsigned lo, hi;
};

#define AT(f)                                                                  \
    offsetof(struct api_credential, f), sizeof(((struct api_credential *)0)->f)

static const struct field fields[] = {
    {"host", K_HOST, AT(host), 0, 0},
    {"port", K_UINT, AT(port), 1, 65535},
    {"ip_version", K_IPV, AT(ip_version), 0, 6},
    {"tls", K_TLS, AT(tls), 0, 0},
    {"ca_file", K_TEXT, AT(ca_file), 0, 0},
    {"verify_peer", K_BOOL, AT(verify_peer), 0, 0},
    {"check_server_identity", K_BOOL, AT(check_server_identity), 0, 0},
    {"client_cert", K_TEXT, AT(client_cert), 0, 0},
    {"client_key", K_TEXT, AT(client_key), 0, 0},
    {"helo_name", K_WORD, AT(helo_name), 0, 0},
    {"username", K_TEXT, AT(username), 0, 0},
    {"mechanisms", K_MECHS, AT(mechanisms), 0, 0},
    {"auth_from", K_TEXT, AT(auth_from), 0, 0},
    {"allow_plaintext_auth", K_BOOL, AT(allow_plaintext_auth), 0, 0},
    {"ignore_failed_auth", K_BOOL, AT(ignore_failed_auth), 0, 0},
    {"timeout", K_UINT, AT(timeout_s), 1, 3600},
    {"connect_timeout", K_UINT, AT(connect_timeout_s), 0, 3600},
    {"greeting_timeout", K_UINT, AT(greeting_timeout_s), 0, 3600},
    {"command_timeout", K_UINT, AT(command_timeout_s), 0, 3600},
    {"data_timeout", K_UINT, AT(data_timeout_s), 0, 3600},
    {"dot_timeout", K_UINT, AT(dot_timeout_s), 0, 3600},
    {"pool", K_UINT, AT(pool), 1, 1024},
    {"idle_timeout", K_UINT, AT(idle_timeout_s), 0, 3600},
    {"deadline", K_UINT, AT(deadline_s), 0, 3600},
};

#define N_FIELDS (sizeof(fields) / sizeof(fields[0]))

static const char *const tls_names[] = {"none", "starttls", "implicit"};

void api_credential_defaults(struct api_credential *c, const char *name)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->name, sizeof(c->name), "%s", name);
    snprintf(c->host, sizeof(c->host), "localhost");
    c->port = 25;
    c->verify_peer = true;
    c->check_server_identity = true;
    snprintf(c->mechanisms, sizeof(c->mechanisms),
             "CRAM-MD5,XOAUTH2,LOGIN,PLAIN");
    c->timeout_s = 30;
    c->idle_timeout_s = 30;
    c->pool = 4;
}

static const char *or_null(const char *s)
{
    return s[0] != '\0' ? s : NULL;
}

void api_credential_smtp(const struct api_credential *c,
                         struct smtp_server *out)
{
    memset(out, 0, sizeof(*out));
    out->host = c->host;
    out->port = c->port;
    out->ip_version = (int)c->ip_version;
    out->tls = c->tls;
    out->tls_params.ca_file = or_null(c->ca_file);
    out->tls_params.verify_peer = c->verify_peer;
    out->tls_params.check_server_identity = c->check_server_identity;
    out->tls_params.client_cert = or_null(c->client_cert);
    out->tls_params.client_key = or_null(c->client_key);
    out->helo_name = or_null(c->helo_name);
    out->username = or_null(c->username);
    out->mechanisms = c->mechanisms;
    out->auth_from = or_null(c->auth_from);
    out->allow_plaintext_auth = c->allow_plaintext_auth;
    out->ignore_failed_auth = c->ignore_failed_auth;
    out->timeout_ms = c->timeout_s * 1000;
    out->idle_ms = c->idle_timeout_s * 1000;
    out->timeouts.connect_ms = c->connect_timeout_s * 1000;
    out->timeouts.greeting_ms = c->greeting_timeout_s * 1000;
    out->timeouts.command_ms = c->command_timeout_s * 1000;
    out->timeouts.data_ms = c->data_timeout_s * 1000;
    out->timeouts.dot_ms = c->dot_timeout_s * 1000;
    out->deadline_ms = c->deadline_s * 1000;
}

bool api_name_valid(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > API_NAME_MAX || name[0] == '.' || name[0] == '-')
        return false;
    return strspn(name, "abcdefghijklmnopqrstuvwxyz"
                        "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* Checks a text value of kind `k` and copies it into `dst`. */
static bool take_text(const struct field *f, const char *v, char *dst,
                      struct api_field_error *fe)
{
    struct gw_error err = {0};
    size_t n = strlen(v);

    for (const char *p = v; *p != '\0'; p++) {
        if ((unsigned char)*p < ' ' || *p == 0x7f)
            return api_fail(fe, f->key, "must not contain control characters");
        if (*p == ' ' && (f->kind == K_HOST || f->kind == K_WORD))
            return api_fail(fe, f->key, "must be one word without spaces");
    }
    if (f->kind == K_HOST && n == 0)
        return api_fail(fe, f->key, "must be a host name or an IP address");
    if (f->kind == K_MECHS && smtp_sasl_check_list(v, &err) != GW_OK)
        return api_fail(fe, f->key, "%s", err.detail);
    if (n >= f->size)
        return api_fail(fe, f->key, "is longer than %zu bytes", f->size - 1);
    memcpy(dst, v, n + 1);
    return true;
}

static bool take_tls(const struct field *f, const char *v, void *dst,
                     struct api_field_error *fe)
{
    for (size_t i = 0; i < 3; i++) {
        if (strcmp(v, tls_names[i]) == 0) {
            *(enum smtp_tls_mode *)dst = (enum smtp_tls_mode)i;
            return true;
        }
    }
    return api_fail(fe, f->key, "must be none, starttls or implicit");
}

static bool take_uint(const struct field *f, json_t *v, void *dst,
                      struct api_field_error *fe)
{
    json_int_t n = json_integer_value(v);

    if (!json_is_integer(v) || n < f->lo || n > f->hi ||
        (f->kind == K_IPV && n != 0 && n != 4 && n != 6)) {
        if (f->kind == K_IPV)
            return api_fail(fe, f->key, "must be 0 (any), 4 or 6");
        return api_fail(fe, f->key, "must be a number from %u to %u", f->lo,
                        f->hi);
    }
    *(unsigned *)dst = (unsigned)n;
    return true;
}

/* Reads the value `v` of field `f` into the credential. */
static bool take_field(const struct field *f, json_t *v,
                       struct api_credential *c, struct api_field_error *fe)
{
    void *dst = (char *)c + f->off;

    switch (f->kind) {
    case K_UINT:
    case K_IPV:
        return take_uint(f, v, dst, fe);
    case K_BOOL:
        if (!json_is_boolean(v))
            return api_fail(fe, f->key, "must be true or false");
        *(bool *)dst = json_is_true(v);
        return true;
    case K_TLS:
        if (!json_is_string(v))
            return api_fail(fe, f->key, "must be none, starttls or implicit");
        return take_tls(f, json_string_value(v), dst, fe);
    case K_HOST:
    case K_WORD:
    case K_TEXT:
    case K_MECHS:
        break;
    }
    if (json_is_null(v) && f->kind != K_HOST && f->kind != K_MECHS) {
        *(char *)dst = '\0';
        return true;
    }
    if (!json_is_string(v))
        return api_fail(fe, f->key, "must be a string");
    return take_text(f, json_string_value(v), dst, fe);
}

static const struct field *find_field(const char *key)
{
    for (size_t i = 0; i < N_FIELDS; i++) {
        if (strcmp(fields[i].key, key) == 0)
            return &fields[i];
    }
    return NULL;
}

/* A sealed box as a credential keeps it: base64 text of bounded size. */
static bool take_box(const char *key, json_t *v, char *dst, size_t size,
                     struct api_field_error *fe)
{
    const char *s;
    size_t n;

    if (json_is_null(v)) {
        dst[0] = '\0';
        return true;
    }
    if (!json_is_string(v))
        return api_fail(fe, key, "must be a sealed box in base64");
    s = json_string_value(v);
    n = strlen(s);
    if (n == 0 || n >= size ||
        strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                  "0123456789+/=") != n)
        return api_fail(fe, key,
                        "must be a sealed box in base64 (smtp-gateway seal "
                        "prints one)");
    memcpy(dst, s, n + 1);
    return true;
}

/* A secret given in the clear: text, within the limit of a box. */
static bool take_plain(const char *key, json_t *v, const char **out,
                       struct api_field_error *fe)
{
    const char *s;

    if (!json_is_string(v))
        return api_fail(fe, key, "must be a string");
    s = json_string_value(v);
    if (s[0] == '\0')
        return api_fail(fe, key, "must not be empty");
    if (strlen(s) > API_SECRET_MAX)
        return api_fail(fe, key, "is longer than %d bytes", API_SECRET_MAX);
    for (const char *p = s; *p != '\0'; p++) {
        if ((unsigned char)*p < ' ' || *p == 0x7f)
            return api_fail(fe, key, "must not contain control characters");
    }
    *out = s;
    return true;
}

/* One key of a credential object other than a setting: a secret. */
static bool take_secret(const char *key, json_t *v, struct api_credential *c,
                        struct api_cred_plain *plain,
                        struct api_field_error *fe)
{
    if (strcmp(key, "password_sealed") == 0)
        return take_box(key, v, c->password_box, sizeof(c->password_box), fe);
    if (strcmp(key, "access_token_sealed") == 0)
        return take_box(key, v, c->access_token_box,
                        sizeof(c->access_token_box), fe);
    if (plain != NULL && strcmp(key, "password") == 0)
        return take_plain(key, v, &plain->password, fe);
    if (plain != NULL && strcmp(key, "access_token") == 0)
        return take_plain(key, v, &plain->access_token, fe);
    return api_fail(fe, key, "unknown field");
}

/* The rules between fields, once every field is read. */
static bool check_secrets(const struct api_credential *c,
                          const struct api_cred_plain *plain,
                          struct api_field_error *fe)
{
    bool pw = c->password_box[0] != '\0', tok = c->access_token_box[0] != '\0';

    if (plain != NULL && plain->password != NULL && pw)
        return api_fail(fe, "password",
                        "give password or password_sealed, not both");
    if (plain != NULL && plain->access_token != NULL && tok)
        return api_fail(fe, "access_token",
                        "give access_token or access_token_sealed, not both");
    pw = pw || (plain != NULL && plain->password != NULL);
    tok = tok || (plain != NULL && plain->access_token != NULL);
    if (c->username[0] == '\0' && (pw || tok))
        return api_fail(fe, "username",
                        "is required with a password or an access token");
    if (c->username[0] != '\0' && !pw && !tok)
        return api_fail(fe, "password",
                        "a username needs a password or an access token "
                        "(password, password_sealed, access_token or "
                        "access_token_sealed)");
    return true;
}

bool api_cred_from_json(json_t *obj, const char *name, struct api_credential *c,
                        struct api_cred_plain *plain,
                        struct api_field_error *fe)
{
    const char *key;
    json_t *v;

    api_credential_defaults(c, name);
    if (plain != NULL)
        memset(plain, 0, sizeof(*plain));
    if (!json_is_object(obj))
        return api_fail(fe, "", "a credential must be a JSON object");
    if (json_object_get(obj, "host") == NULL)
        return api_fail(fe, "host", "is required");
    json_object_foreach(obj, key, v)
    {
        const struct field *f = find_field(key);
        bool ok = f != NULL ? take_field(f, v, c, fe)
                            : take_secret(key, v, c, plain, fe);

        if (!ok)
            return false;
    }
    return check_secrets(c, plain, fe);
}

/* A setting's value as JSON. */
static json_t *field_json(const struct field *f, const struct api_credential *c)
{
    const void *src = (const char *)c + f->off;

    switch (f->kind) {
    case K_UINT:
    case K_IPV:
        return json_integer(*(const unsigned *)src);
    case K_BOOL:
        return json_boolean(*(const bool *)src);
    case K_TLS:
        return json_string(tls_names[*(const enum smtp_tls_mode *)src]);
    case K_HOST:
    case K_MECHS:
        return json_string(src);
    case K_WORD:
    case K_TEXT:
        break;
    }
    return *(const char *)src != '\0' ? json_string(src) : json_null();
}

static json_t *box_json(const char *box)
{
    return box[0] != '\0' ? json_string(box) : json_null();
}

json_t *api_cred_to_json(const struct api_credential *c, bool with_boxes)
{
    json_t *obj = json_object();

    for (size_t i = 0; obj != NULL && i < N_FIELDS; i++)
        json_object_set_new(obj, fields[i].key, field_json(&fields[i], c));
    if (obj == NULL)
        return NULL;
    if (with_boxes) {
        json_object_set_new(obj, "password_sealed", box_json(c->password_box));
        json_object_set_new(obj, "access_token_sealed",
                            box_json(c->access_token_box));
    } else {
        json_object_set_new(obj, "password_set",
                            json_boolean(c->password_box[0] != '\0'));
        json_object_set_new(obj, "access_token_set",
                            json_boolean(c->access_token_box[0] != '\0'));
    }
    return obj;
}

/* Reads "version" and "key_id" of the credential file. */
static bool store_header(json_t *root, char *key_id, size_t key_id_size,
                         struct gw_error *err)
{
    json_t *version = json_object_get(root, "version");
    json_t *id = json_object_get(root, "key_id");

    if (!json_is_integer(version) || json_integer_value(version) != 1) {
        gw_error_set(err, GW_EINVAL, "\"version\" must be 1");
        return false;
    }
    snprintf(key_id, key_id_size, "%s",
             json_is_string(id) ? json_string_value(id) : "");
    return true;
}

/* Reads every entry of "credentials" into a new array. */
static bool store_entries(json_t *creds, struct api_credential **out, size_t *n,
                          struct gw_error *err)
{
    struct api_field_error fe = {{0}, {0}};
    const char *name;
    json_t *v;
    size_t i = 0;

    if (!json_is_object(creds) || json_object_size(creds) > API_RECORDS_MAX) {
        gw_error_set(err, GW_EINVAL,
                     "\"credentials\" must be an object of at most %d "
                     "credentials",
                     API_RECORDS_MAX);
        return false;
    }
    *out = calloc(json_object_size(creds) + 1, sizeof(**out));
    if (*out == NULL) {
        gw_error_set(err, GW_ENOMEM, "out of memory");
        return false;
    }
    json_object_foreach(creds, name, v)
    {
        if (!api_name_valid(name)) {
            gw_error_set(err, GW_EINVAL, "credential \"%.64s\": not a name",
                         name);
            return false;
        }
        if (!api_cred_from_json(v, name, &(*out)[i++], NULL, &fe)) {
            gw_error_set(err, GW_EINVAL, "credential %s: %s: %s", name,
                         fe.field, fe.text);
            return false;
        }
    }
    *n = i;
    return true;
}

/* Parses `text` as a JSON object, or fails naming where it breaks. */
static json_t *load_object(const char *text, size_t len, struct gw_error *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);

    if (root == NULL) {
        gw_error_set(err, GW_EINVAL, "not JSON: line %d column %d: %s",
                     jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        gw_error_set(err, GW_EINVAL, "not a JSON object");
        return NULL;
    }
    return root;
}

enum gw_err api_store_decode(const char *text, size_t len, char *key_id,
                             size_t key_id_size, struct api_credential **out,
                             size_t *n, struct gw_error *err)
{
    json_t *root = load_object(text, len, err);
    bool ok;

    *out = NULL;
    *n = 0;
    if (root == NULL)
        return err->code;
    ok = store_header(root, key_id, key_id_size, err) &&
         store_entries(json_object_get(root, "credentials"), out, n, err);
    json_decref(root);
    if (!ok) {
        free(*out);
        *out = NULL;
        *n = 0;
        return err->code;
    }
    return GW_OK;
}

enum gw_err api_dump_file(json_t *doc, struct buf *out, struct gw_error *err)
{
    char *text = doc != NULL ? json_dumps(doc, JSON_INDENT(2)) : NULL;
    enum gw_err rc;

    json_decref(doc);
    if (text == NULL)
        return gw_error_set(err, GW_ENOMEM, "out of memory");
    rc = buf_puts(out, text);
    if (rc == GW_OK)
        rc = buf_putc(out, '\n');
    api_json_free(text);
    return rc == GW_OK ? GW_OK : gw_error_set(err, rc, "the file is too big");
}

enum gw_err api_store_encode(const char *key_id,
                             const struct api_credential *const *creds,
                             size_t n, struct buf *out, struct gw_error *err)
{
    json_t *all = json_object();
    json_t *doc = json_pack("{s:i, s:s, s:o}", "version", 1, "key_id", key_id,
                            "credentials", all);

    for (size_t i = 0; doc != NULL && i < n; i++)
        json_object_set_new(all, creds[i]->name,
                            api_cred_to_json(creds[i], true));
    return api_dump_file(doc, out, err);
}

const char *api_scope_name(enum api_scope scope)
{
    return scope == API_SCOPE_ADMIN ? "admin" : "send";
}

bool api_list_allows(const char *list, const char *item, bool nocase)
{
    size_t n = strlen(item);

    if (list[0] == '\0')
        return true;
    while (*list != '\0') {
        size_t k = strcspn(list, ",");

        if (k == n && (nocase ? strncasecmp(list, item, n) == 0
                              : strncmp(list, item, n) == 0))
            return true;
        list += k + (list[k] == ',');
    }
    return false;
}

/* A domain name: labels of letters, digits and '-', joined by dots. */
static bool domain_valid(const char *d, size_t n)
{
    if (n == 0 || n > 253 || d[0] == '.' || d[0] == '-' || d[n - 1] == '.' ||
        d[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (d[i] == '.' && i > 0 && d[i - 1] == '.')
            return false;
    }
    return strspn(d, "abcdefghijklmnopqrstuvwxyz"
                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") >= n;
}

/* One item of a list: a credential name or a domain. */
static bool item_valid(const char *p, size_t n, bool domains)
{
    char name[API_NAME_MAX + 1];

    if (domains)
        return domain_valid(p, n);
    if (n > API_NAME_MAX)
        return false;
    memcpy(name, p, n);
    name[n] = '\0';
    return api_name_valid(name);
}

enum gw_err api_list_check(const char *list, bool domains, struct gw_error *err)
{
    const char *p = list;

    if (strlen(list) >= API_LIST_MAX)
        return gw_error_set(err, GW_EINVAL, "the list is longer than %d bytes",
                            API_LIST_MAX - 1);
    while (*p != '\0') {
        size_t k = strcspn(p, ",");

        if (!item_valid(p, k, domains))
            return gw_error_set(err, GW_EINVAL, "\"%.*s\" is not a %s", (int)k,
                                p, domains ? "domain name" : "credential name");
        p += k + (p[k] == ',');
    }
    return GW_OK;
}

enum gw_err api_public_key_decode(const char *text, size_t len, char *key_id,
                                  size_t key_id_size, char *public_key,
                                  size_t public_key_size, struct gw_error *err)
{
    json_t *root = load_object(text, len, err);
    const char *id, *key;

    if (root == NULL)
        return err->code;
    id = json_string_value(json_object_get(root, "key_id"));
    key = json_string_value(json_object_get(root, "public_key"));
    if (id == NULL || key == NULL || strlen(id) >= key_id_size ||
        strlen(key) >= public_key_size) {
        json_decref(root);
        return gw_error_set(err, GW_EINVAL,
                            "not a public key document "
                            "({\"key_id\", \"public_key\"})");
    }
    memcpy(key_id, id, strlen(id) + 1);
    memcpy(public_key, key, strlen(key) + 1);
    json_decref(root);
    return GW_OK;
}
