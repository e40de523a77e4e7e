/*
 * API tokens: their JSON (a POST /v1/tokens body, a reply, an entry of the
 * token file) and the token file; see store.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* A JSON array of strings from a comma-separated list. */
static json_t *list_json(const char *list)
{
    json_t *a = json_array();

    while (a != NULL && *list != '\0') {
        size_t k = strcspn(list, ",");

        json_array_append_new(a, json_stringn(list, k));
        list += k + (list[k] == ',');
    }
    return a;
}

/* A comma-separated list from a JSON array of names or domains. */
static bool list_from_json(json_t *a, const char *key, bool domains, char *out,
                           size_t size, struct gw_field_error *fe)
{
    struct gw_error err = {0};
    size_t i, at = 0;
    json_t *v;

    out[0] = '\0';
    if (a == NULL || json_is_null(a))
        return true;
    if (!json_is_array(a))
        return gw_field_fail(fe, key, "must be an array of strings");
    json_array_foreach(a, i, v)
    {
        const char *s = json_string_value(v);
        size_t n = s != NULL ? strlen(s) : 0;

        if (s == NULL || n == 0 || strchr(s, ',') != NULL ||
            store_list_check(s, domains, &err) != GW_OK)
            return gw_field_fail(fe, key, "[%zu] is not a %s", i,
                                 domains ? "domain name" : "credential name");
        if (at + n + 2 > size)
            return gw_field_fail(fe, key, "is longer than %zu bytes", size - 1);
        if (at > 0)
            out[at++] = ',';
        memcpy(out + at, s, n + 1);
        at += n;
    }
    return true;
}

static bool scope_from_json(json_t *v, enum store_scope *out,
                            struct gw_field_error *fe)
{
    const char *s = json_string_value(v);

    if (s != NULL && strcmp(s, "send") == 0)
        *out = STORE_SCOPE_SEND;
    else if (s != NULL && strcmp(s, "admin") == 0)
        *out = STORE_SCOPE_ADMIN;
    else
        return gw_field_fail(fe, "scope", "must be \"send\" or \"admin\"");
    return true;
}

json_t *store_token_to_json(const struct store_token *t)
{
    return json_pack("{s:s, s:s, s:o, s:o, s:s}", "name", t->name, "scope",
                     store_scope_name(t->scope), "credentials",
                     list_json(t->credentials), "from_domains",
                     list_json(t->from_domains), "created", t->created);
}

bool store_token_from_json(json_t *obj, struct store_token *t,
                           struct gw_field_error *fe)
{
    static const char *const keys[] = {
        "name", "scope",   "credentials", "from_domains",
        "hash", "created", NULL};
    const char *name = json_string_value(json_object_get(obj, "name"));
    const char *key;
    json_t *v;

    memset(t, 0, sizeof(*t));
    if (!json_is_object(obj))
        return gw_field_fail(fe, "", "a token must be a JSON object");
    json_object_foreach(obj, key, v)
    {
        const char *const *k = keys;

        while (*k != NULL && strcmp(*k, key) != 0)
            k++;
        if (*k == NULL)
            return gw_field_fail(fe, key, "unknown field");
    }
    if (name == NULL || !store_name_valid(name))
        return gw_field_fail(fe, "name",
                             "must be 1 to %d letters, digits, '.', '_' or '-'",
                             STORE_NAME_MAX);
    snprintf(t->name, sizeof(t->name), "%s", name);
    return scope_from_json(json_object_get(obj, "scope"), &t->scope, fe) &&
           list_from_json(json_object_get(obj, "credentials"), "credentials",
                          false, t->credentials, sizeof(t->credentials), fe) &&
           list_from_json(json_object_get(obj, "from_domains"), "from_domains",
                          true, t->from_domains, sizeof(t->from_domains), fe);
}

/* The hash and time of creation, which only the token file holds. */
static bool token_stored(json_t *obj, struct store_token *t,
                         struct gw_field_error *fe)
{
    const char *hash = json_string_value(json_object_get(obj, "hash"));
    const char *created = json_string_value(json_object_get(obj, "created"));

    if (hash == NULL || strlen(hash) != sizeof(t->hash) - 1 ||
        strspn(hash, "0123456789abcdef") != sizeof(t->hash) - 1)
        return gw_field_fail(fe, "hash", "must be 64 hexadecimal digits");
    memcpy(t->hash, hash, sizeof(t->hash));
    snprintf(t->created, sizeof(t->created), "%s", created ? created : "");
    return true;
}

enum gw_err store_tokens_decode(const char *text, size_t len,
                                struct store_token **out, size_t *n,
                                struct gw_error *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *list = json_object_get(root, "tokens"), *v;
    struct gw_field_error fe = {{0}, {0}};
    json_int_t version = json_integer_value(json_object_get(root, "version"));
    bool ok = true;
    size_t i;

    *out = NULL;
    *n = 0;
    if (!json_is_array(list) || json_array_size(list) > STORE_RECORDS_MAX ||
        (version != 1 && version != 2)) {
        json_decref(root);
        return gw_error_set(err, GW_EINVAL,
                            "not a token file ({\"version\":1,\"tokens\":[]})");
    }
    *out = calloc(json_array_size(list) + 1, sizeof(**out));
    if (*out == NULL) {
        json_decref(root);
        return gw_error_set(err, GW_ENOMEM, "out of memory");
    }
    json_array_foreach(list, i, v)
    {
        if (!store_token_from_json(v, &(*out)[i], &fe) ||
            !token_stored(v, &(*out)[i], &fe)) {
            gw_error_set(err, GW_EINVAL, "tokens[%zu]: %s: %s", i, fe.field,
                         fe.text);
            ok = false;
            break;
        }
    }
    *n = i;
    json_decref(root);
    if (!ok) {
        free(*out);
        *out = NULL;
        *n = 0;
        return err->code;
    }
    return GW_OK;
}

enum gw_err store_tokens_keying_decode(const char *text, size_t len,
                                       struct store_tokens_keying *out,
                                       struct gw_error *err)
{
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    json_int_t version = json_integer_value(json_object_get(root, "version"));
    const char *id = json_string_value(json_object_get(root, "key_id"));
    const char *key = json_string_value(json_object_get(root, "hash_key"));
    enum gw_err rc = GW_OK;

    memset(out, 0, sizeof(*out));
    out->version = (int)version;
    if (version == 2 &&
        (id == NULL || key == NULL || strlen(id) >= sizeof(out->key_id) ||
         strlen(key) >= sizeof(out->hash_key)))
        rc = gw_error_set(err, GW_EINVAL,
                          "a token file of version 2 needs \"key_id\" and "
                          "\"hash_key\"");
    else if (version == 2) {
        memcpy(out->key_id, id, strlen(id) + 1);
        memcpy(out->hash_key, key, strlen(key) + 1);
    } else if (version != 1)
        rc = gw_error_set(err, GW_EINVAL,
                          "not a token file ({\"version\":2,...})");
    json_decref(root);
    return rc;
}

enum gw_err store_tokens_encode(const struct store_token *tokens, size_t n,
                                struct buf *out, struct gw_error *err)
{
    return store_tokens_encode_keyed(tokens, n, NULL, out, err);
}

enum gw_err store_tokens_encode_keyed(const struct store_token *tokens,
                                      size_t n,
                                      const struct store_tokens_keying *k,
                                      struct buf *out, struct gw_error *err)
{
    json_t *list = json_array();
    json_t *doc =
        k == NULL
            ? json_pack("{s:i, s:o}", "version", 1, "tokens", list)
            : json_pack("{s:i, s:s, s:s, s:o}", "version", 2, "key_id",
                        k->key_id, "hash_key", k->hash_key, "tokens", list);

    for (size_t i = 0; doc != NULL && i < n; i++) {
        json_t *t = store_token_to_json(&tokens[i]);

        json_object_set_new(t, "hash", json_string(tokens[i].hash));
        json_array_append_new(list, t);
    }
    return store_json_dump(doc, out, err);
}
