/*
 * What the records share: the names of credentials and tokens, the lists
 * of a token's scope, and the public-key document; see store.h.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

bool store_name_valid(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > STORE_NAME_MAX || name[0] == '.' || name[0] == '-')
        return false;
    return strspn(name, "abcdefghijklmnopqrstuvwxyz"
                        "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

const char *store_scope_name(enum store_scope scope)
{
    return scope == STORE_SCOPE_ADMIN ? "admin" : "send";
}

bool store_list_allows(const char *list, const char *item, bool nocase)
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
    char name[STORE_NAME_MAX + 1];

    if (domains)
        return domain_valid(p, n);
    if (n > STORE_NAME_MAX)
        return false;
    memcpy(name, p, n);
    name[n] = '\0';
    return store_name_valid(name);
}

enum gw_err store_list_check(const char *list, bool domains,
                             struct gw_error *err)
{
    const char *p = list;

    if (strlen(list) >= STORE_LIST_MAX)
        return gw_error_set(err, GW_EINVAL, "the list is longer than %d bytes",
                            STORE_LIST_MAX - 1);
    while (*p != '\0') {
        size_t k = strcspn(p, ",");

        if (!item_valid(p, k, domains))
            return gw_error_set(err, GW_EINVAL, "\"%.*s\" is not a %s", (int)k,
                                p, domains ? "domain name" : "credential name");
        p += k + (p[k] == ',');
    }
    return GW_OK;
}

enum gw_err store_public_key_decode(const char *text, size_t len, char *key_id,
                                    size_t key_id_size, char *public_key,
                                    size_t public_key_size,
                                    struct gw_error *err)
{
    json_t *root = store_json_load(text, len, err);
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
