/*
 * What the files of store/ share among themselves and nobody else sees:
 * the operations a back-end provides, and reading and writing the JSON
 * of the state files.
 */
#ifndef GW_STORE_INTERNAL_H
#define GW_STORE_INTERNAL_H

#include <jansson.h>

#include "store.h"

/*
 * A back-end: the operations behind store.h's store_*() functions, each
 * with the meaning given there. A back-end's own state follows the
 * struct store it embeds as its first member.
 */
struct store_backend {
    const char *name; /* "files" */
    const char *(*where)(const struct store *st, enum store_kind kind);
    enum gw_err (*lock)(struct store *st, enum store_kind kind,
                        struct gw_error *err);
    void (*unlock)(struct store *st, enum store_kind kind);
    bool (*changed)(struct store *st, enum store_kind kind);
    void (*forget)(struct store *st, enum store_kind kind);
    enum gw_err (*writable)(struct store *st, enum store_kind kind,
                            struct gw_error *err);
    enum gw_err (*creds_load)(struct store *st, char *key_id,
                              size_t key_id_size, struct store_credential **out,
                              size_t *n, struct gw_error *err);
    enum gw_err (*creds_save)(struct store *st, const char *key_id,
                              const struct store_credential *const *creds,
                              size_t n, struct gw_error *err);
    enum gw_err (*tokens_load)(struct store *st,
                               struct store_tokens_keying *keying,
                               struct store_token **out, size_t *n,
                               struct gw_error *err);
    enum gw_err (*tokens_save)(struct store *st,
                               const struct store_tokens_keying *keying,
                               const struct store_token *v, size_t n,
                               struct gw_error *err);
    void (*close)(struct store *st);
};

struct store {
    const struct store_backend *be;
};

/*
 * Parses `len` bytes of `text` as a JSON object (a key given twice is an
 * error). Returns it (the caller releases it with json_decref()), or NULL
 * with `err` (GW_EINVAL) saying where it breaks.
 */
json_t *store_json_load(const char *text, size_t len, struct gw_error *err);

/*
 * Appends `doc` (whose reference this takes, NULL meaning out of memory)
 * to `out` as indented JSON ending in a newline: a file's contents.
 */
enum gw_err store_json_dump(json_t *doc, struct buf *out, struct gw_error *err);

#endif
