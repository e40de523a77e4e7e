/*
 * Credentials: the schema of the record, its defaults, its text and JSON
 * forms, and the credential file; see store.h.
 *
 * One table lists every setting with its JSON key, kind, limits, default
 * and help, and drives every direction: the file, a PUT body, a GET
 * reply, the defaults and the GATEWAY_SMTP_* settings of the `default`
 * credential, so that none of them can drift apart.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

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

/* A setting as the table holds it: what store.h shows, and where and how
   the value is kept. */
struct field {
    struct store_setting pub;
    enum kind kind;
    size_t off, size;
    unsigned lo, hi;
};

#define AT(f)                                                                  \
    offsetof(struct store_credential, f),                                      \
        sizeof(((struct store_credential *)0)->f)

/* Each timeout of one step of a send: "" (0) leaves it to `timeout`. */
#define STEP STORE_SECONDS | STORE_INHERIT

/* One row a setting: {key, default, help, flags}, kind, place, limits. */
// clang-format off
static const struct field fields[] = {
    {{"host", "localhost", "SMTP server of the default credential", 0},
     K_HOST, AT(host), 0, 0},
    {{"port", "25", "its port", 0}, K_UINT, AT(port), 1, 65535},
    {{"ip_version", "0", "0 (any), 4 or 6", 0}, K_IPV, AT(ip_version), 0, 6},
    {{"tls", "none", "none, starttls or implicit", 0}, K_TLS, AT(tls), 0, 0},
    {{"ca_file", "", "CA bundle (PEM) [system bundle]", STORE_FILE},
     K_TEXT, AT(ca_file), 0, 0},
    {{"verify_peer", "true", "check the server's certificate chain", 0},
     K_BOOL, AT(verify_peer), 0, 0},
    {{"check_server_identity", "true",
      "check the host name in the certificate", 0},
     K_BOOL, AT(check_server_identity), 0, 0},
    {{"client_cert", "", "client certificate (PEM)", STORE_FILE},
     K_TEXT, AT(client_cert), 0, 0},
    {{"client_key", "", "its private key (PEM)", STORE_FILE},
     K_TEXT, AT(client_key), 0, 0},
    {{"helo_name", "", "name sent in EHLO [host name]", 0},
     K_WORD, AT(helo_name), 0, 0},
    {{"username", "", "user name for AUTH", 0}, K_TEXT, AT(username), 0, 0},
    {{"mechanisms", "CRAM-MD5,XOAUTH2,LOGIN,PLAIN",
      "AUTH mechanisms, in order of preference", 0},
     K_MECHS, AT(mechanisms), 0, 0},
    {{"auth_from", "", "AUTH= parameter of MAIL FROM", 0},
     K_TEXT, AT(auth_from), 0, 0},
    {{"allow_plaintext_auth", "false",
      "allow AUTH (any mechanism) without TLS", 0},
     K_BOOL, AT(allow_plaintext_auth), 0, 0},
    {{"ignore_failed_auth", "false", "send unauthenticated when AUTH fails", 0},
     K_BOOL, AT(ignore_failed_auth), 0, 0},
    {{"timeout", "30", "seconds for each step, and for a free connection",
      STORE_SECONDS},
     K_UINT, AT(timeout_s), 1, 3600},
    {{"connect_timeout", "", "seconds to connect and for TLS", STEP},
     K_UINT, AT(connect_timeout_s), 0, 3600},
    {{"greeting_timeout", "", "seconds for the 220 greeting", STEP},
     K_UINT, AT(greeting_timeout_s), 0, 3600},
    {{"command_timeout", "", "seconds for each command's reply", STEP},
     K_UINT, AT(command_timeout_s), 0, 3600},
    {{"data_timeout", "", "seconds for writing each block of data", STEP},
     K_UINT, AT(data_timeout_s), 0, 3600},
    {{"dot_timeout", "", "seconds for the reply to the final dot", STEP},
     K_UINT, AT(dot_timeout_s), 0, 3600},
    {{"pool", "4", "most connections open to the SMTP server", 0},
     K_UINT, AT(pool), 1, 1024},
    {{"waiting", "", "sends that may wait for a connection; past it a send "
      "is refused at once [4 times pool]", STORE_INHERIT},
     K_UINT, AT(waiting), 0, 10000},
    {{"idle_timeout", "30",
      "seconds a connection stays open for reuse (0: none)", STORE_SECONDS},
     K_UINT, AT(idle_timeout_s), 0, 3600},
    {{"deadline", "",
      "seconds for a whole send [twice the longest step timeout]", STEP},
     K_UINT, AT(deadline_s), 0, 3600},
};
// clang-format on

#define N_FIELDS (sizeof(fields) / sizeof(fields[0]))

static const char *const tls_names[] = {
    [STORE_TLS_NONE] = "none",
    [STORE_TLS_STARTTLS] = "starttls",
    [STORE_TLS_IMPLICIT] = "implicit",
};

/* The mechanisms the SMTP client speaks (tests/unit/test_sasl.c holds the
   two lists together). */
static const char *const mechanisms[] = {"CRAM-MD5", "XOAUTH2", "LOGIN",
                                         "PLAIN"};

const struct store_setting *store_credential_setting(size_t i)
{
    return i < N_FIELDS ? &fields[i].pub : NULL;
}

static const struct field *field_of(const struct store_setting *s)
{
    return (const struct field *)((const char *)s -
                                  offsetof(struct field, pub));
}

const char *store_tls_name(enum store_tls tls)
{
    return (unsigned)tls < 3 ? tls_names[tls] : "none";
}

enum gw_err store_mechanisms_check(const char *list, struct gw_error *err)
{
    return gw_words_check(list, mechanisms,
                          sizeof(mechanisms) / sizeof(mechanisms[0]),
                          "mechanism", err);
}

/* Checks a text value of the field `f` and copies it into `dst`. */
static bool take_text(const struct field *f, const char *v, char *dst,
                      struct gw_field_error *fe)
{
    const char *key = f->pub.key;
    struct gw_error err = {0};
    size_t n = strlen(v);

    for (const char *p = v; *p != '\0'; p++) {
        if ((unsigned char)*p < ' ' || *p == 0x7f)
            return gw_field_fail(fe, key,
                                 "must not contain control characters");
        if (*p == ' ' && (f->kind == K_HOST || f->kind == K_WORD))
            return gw_field_fail(fe, key, "must be one word without spaces");
    }
    if (f->kind == K_HOST && n == 0)
        return gw_field_fail(fe, key, "must be a host name or an IP address");
    if (f->kind == K_MECHS && store_mechanisms_check(v, &err) != GW_OK)
        return gw_field_fail(fe, key, "%s", err.detail);
    if (n >= f->size)
        return gw_field_fail(fe, key, "is longer than %zu bytes", f->size - 1);
    memcpy(dst, v, n + 1);
    return true;
}

static bool take_tls(const struct field *f, const char *v, void *dst,
                     struct gw_field_error *fe)
{
    for (size_t i = 0; i < 3; i++) {
        if (strcmp(v, tls_names[i]) == 0) {
            *(enum store_tls *)dst = (enum store_tls)i;
            return true;
        }
    }
    return gw_field_fail(fe, f->pub.key, "must be none, starttls or implicit");
}

/* Stores the number `n` if it is within the limits of `f`, which the text
   form tightens to 1 for a setting where 0 is written "". */
static bool take_uint(const struct field *f, long long n, bool text, void *dst,
                      struct gw_field_error *fe)
{
    unsigned lo = text && (f->pub.flags & STORE_INHERIT) ? 1 : f->lo;
    bool seconds = text && (f->pub.flags & STORE_SECONDS);

    if (n < lo || n > f->hi ||
        (f->kind == K_IPV && n != 0 && n != 4 && n != 6)) {
        if (f->kind == K_IPV)
            return gw_field_fail(fe, f->pub.key, "must be 0 (any), 4 or 6");
        return gw_field_fail(fe, f->pub.key, "must be a number%s from %u to %u",
                             seconds ? " of seconds" : "", lo, f->hi);
    }
    *(unsigned *)dst = (unsigned)n;
    return true;
}

/* A decimal number as text: digits only, no sign, no trailing text. */
static long long text_number(const char *v)
{
    long long n = 0;

    if (v[0] == '\0' || strspn(v, "0123456789") != strlen(v))
        return -1;
    for (; *v != '\0' && n <= 0xffffffffLL; v++)
        n = n * 10 + (*v - '0');
    return n;
}

static bool text_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};

    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0 || strcasecmp(v, no[i]) == 0) {
            *out = strcasecmp(v, yes[i]) == 0;
            return true;
        }
    }
    return false;
}

bool store_credential_set(struct store_credential *c,
                          const struct store_setting *s, const char *text,
                          struct gw_field_error *fe)
{
    const struct field *f = field_of(s);
    void *dst = (char *)c + f->off;

    switch (f->kind) {
    case K_UINT:
    case K_IPV:
        if (text[0] == '\0' && (s->flags & STORE_INHERIT)) {
            *(unsigned *)dst = 0;
            return true;
        }
        return take_uint(f, text_number(text), true, dst, fe);
    case K_BOOL:
        if (!text_bool(text, dst))
            return gw_field_fail(fe, s->key, "must be true or false");
        return true;
    case K_TLS:
        return take_tls(f, text, dst, fe);
    case K_HOST:
    case K_WORD:
    case K_TEXT:
    case K_MECHS:
        break;
    }
    return take_text(f, text, dst, fe);
}

void store_credential_defaults(struct store_credential *c, const char *name)
{
    struct gw_field_error fe;

    memset(c, 0, sizeof(*c));
    snprintf(c->name, sizeof(c->name), "%s", name);
    for (size_t i = 0; i < N_FIELDS; i++)
        store_credential_set(c, &fields[i].pub, fields[i].pub.def, &fe);
}

/* Reads the JSON value `v` of the field `f` into the credential. */
static bool take_json(const struct field *f, json_t *v,
                      struct store_credential *c, struct gw_field_error *fe)
{
    void *dst = (char *)c + f->off;
    const char *key = f->pub.key;

    switch (f->kind) {
    case K_UINT:
    case K_IPV:
        if (!json_is_integer(v))
            return take_uint(f, -1, false, dst, fe);
        return take_uint(f, json_integer_value(v), false, dst, fe);
    case K_BOOL:
        if (!json_is_boolean(v))
            return gw_field_fail(fe, key, "must be true or false");
        *(bool *)dst = json_is_true(v);
        return true;
    case K_TLS:
        if (!json_is_string(v))
            return gw_field_fail(fe, key, "must be none, starttls or implicit");
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
        return gw_field_fail(fe, key, "must be a string");
    return take_text(f, json_string_value(v), dst, fe);
}

static const struct field *find_field(const char *key)
{
    for (size_t i = 0; i < N_FIELDS; i++) {
        if (strcmp(fields[i].pub.key, key) == 0)
            return &fields[i];
    }
    return NULL;
}

/* A sealed box as a credential keeps it: base64 text of bounded size. */
static bool take_box(const char *key, json_t *v, char *dst, size_t size,
                     struct gw_field_error *fe)
{
    const char *s;
    size_t n;

    if (json_is_null(v)) {
        dst[0] = '\0';
        return true;
    }
    if (!json_is_string(v))
        return gw_field_fail(fe, key, "must be a sealed box in base64");
    s = json_string_value(v);
    n = strlen(s);
    if (n == 0 || n >= size ||
        strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                  "0123456789+/=") != n)
        return gw_field_fail(fe, key,
                             "must be a sealed box in base64 (smtp-gateway "
                             "seal prints one)");
    memcpy(dst, s, n + 1);
    return true;
}

/* A secret given in the clear: text, within the limit of a box. */
static bool take_plain(const char *key, json_t *v, const char **out,
                       struct gw_field_error *fe)
{
    const char *s;

    if (!json_is_string(v))
        return gw_field_fail(fe, key, "must be a string");
    s = json_string_value(v);
    if (s[0] == '\0')
        return gw_field_fail(fe, key, "must not be empty");
    if (strlen(s) > STORE_SECRET_MAX)
        return gw_field_fail(fe, key, "is longer than %d bytes",
                             STORE_SECRET_MAX);
    for (const char *p = s; *p != '\0'; p++) {
        if ((unsigned char)*p < ' ' || *p == 0x7f)
            return gw_field_fail(fe, key,
                                 "must not contain control characters");
    }
    *out = s;
    return true;
}

/* One key of a credential object other than a setting: a secret. */
static bool take_secret(const char *key, json_t *v, struct store_credential *c,
                        struct store_plain_secrets *plain,
                        struct gw_field_error *fe)
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
    return gw_field_fail(fe, key, "unknown field");
}

/* The rules between fields, once every field is read. */
static bool check_secrets(const struct store_credential *c,
                          const struct store_plain_secrets *plain,
                          struct gw_field_error *fe)
{
    bool pw = c->password_box[0] != '\0', tok = c->access_token_box[0] != '\0';

    if (plain != NULL && plain->password != NULL && pw)
        return gw_field_fail(fe, "password",
                             "give password or password_sealed, not both");
    if (plain != NULL && plain->access_token != NULL && tok)
        return gw_field_fail(fe, "access_token",
                             "give access_token or access_token_sealed, not "
                             "both");
    pw = pw || (plain != NULL && plain->password != NULL);
    tok = tok || (plain != NULL && plain->access_token != NULL);
    if (c->username[0] == '\0' && (pw || tok))
        return gw_field_fail(fe, "username",
                             "is required with a password or an access token");
    if (c->username[0] != '\0' && !pw && !tok)
        return gw_field_fail(fe, "password",
                             "a username needs a password or an access token "
                             "(password, password_sealed, access_token or "
                             "access_token_sealed)");
    return true;
}

bool store_credential_from_json(json_t *obj, const char *name,
                                struct store_credential *c,
                                struct store_plain_secrets *plain,
                                struct gw_field_error *fe)
{
    const char *key;
    json_t *v;

    store_credential_defaults(c, name);
    if (plain != NULL)
        memset(plain, 0, sizeof(*plain));
    if (!json_is_object(obj))
        return gw_field_fail(fe, "", "a credential must be a JSON object");
    if (json_object_get(obj, "host") == NULL)
        return gw_field_fail(fe, "host", "is required");
    json_object_foreach(obj, key, v)
    {
        const struct field *f = find_field(key);
        bool ok = f != NULL ? take_json(f, v, c, fe)
                            : take_secret(key, v, c, plain, fe);

        if (!ok)
            return false;
    }
    return check_secrets(c, plain, fe);
}

/* A setting's value as JSON. */
static json_t *field_json(const struct field *f,
                          const struct store_credential *c)
{
    const void *src = (const char *)c + f->off;

    switch (f->kind) {
    case K_UINT:
    case K_IPV:
        return json_integer(*(const unsigned *)src);
    case K_BOOL:
        return json_boolean(*(const bool *)src);
    case K_TLS:
        return json_string(store_tls_name(*(const enum store_tls *)src));
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

json_t *store_credential_to_json(const struct store_credential *c,
                                 bool with_boxes)
{
    json_t *obj = json_object();

    for (size_t i = 0; obj != NULL && i < N_FIELDS; i++)
        json_object_set_new(obj, fields[i].pub.key, field_json(&fields[i], c));
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
static bool file_header(json_t *root, char *key_id, size_t key_id_size,
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
static bool file_entries(json_t *creds, struct store_credential **out,
                         size_t *n, struct gw_error *err)
{
    struct gw_field_error fe = {{0}, {0}};
    const char *name;
    json_t *v;
    size_t i = 0;

    if (!json_is_object(creds) || json_object_size(creds) > STORE_RECORDS_MAX) {
        gw_error_set(err, GW_EINVAL,
                     "\"credentials\" must be an object of at most %d "
                     "credentials",
                     STORE_RECORDS_MAX);
        return false;
    }
    *out = calloc(json_object_size(creds) + 1, sizeof(**out));
    if (*out == NULL) {
        gw_error_set(err, GW_ENOMEM, "out of memory");
        return false;
    }
    json_object_foreach(creds, name, v)
    {
        if (!store_name_valid(name)) {
            gw_error_set(err, GW_EINVAL, "credential \"%.64s\": not a name",
                         name);
            return false;
        }
        if (!store_credential_from_json(v, name, &(*out)[i++], NULL, &fe)) {
            gw_error_set(err, GW_EINVAL, "credential %s: %s: %s", name,
                         fe.field, fe.text);
            return false;
        }
    }
    *n = i;
    return true;
}

enum gw_err store_creds_decode(const char *text, size_t len, char *key_id,
                               size_t key_id_size,
                               struct store_credential **out, size_t *n,
                               struct gw_error *err)
{
    json_t *root = store_json_load(text, len, err);
    bool ok;

    *out = NULL;
    *n = 0;
    if (root == NULL)
        return err->code;
    ok = file_header(root, key_id, key_id_size, err) &&
         file_entries(json_object_get(root, "credentials"), out, n, err);
    json_decref(root);
    if (!ok) {
        free(*out);
        *out = NULL;
        *n = 0;
        return err->code;
    }
    return GW_OK;
}

enum gw_err store_creds_encode(const char *key_id,
                               const struct store_credential *const *creds,
                               size_t n, struct buf *out, struct gw_error *err)
{
    json_t *all = json_object();
    json_t *doc = json_pack("{s:i, s:s, s:o}", "version", 1, "key_id", key_id,
                            "credentials", all);

    for (size_t i = 0; doc != NULL && i < n; i++)
        json_object_set_new(all, creds[i]->name,
                            store_credential_to_json(creds[i], true));
    return store_json_dump(doc, out, err);
}
