/*
 * The store's functions, each handed to the back-end behind it; see
 * store.h and, for the back-ends, internal.h.
 */
#include "internal.h"

void store_close(struct store *st)
{
    if (st != NULL)
        st->be->close(st);
}

const char *store_where(const struct store *st, enum store_kind kind)
{
    return st->be->where(st, kind);
}

enum gw_err store_lock(struct store *st, enum store_kind kind,
                       struct gw_error *err)
{
    return st->be->lock(st, kind, err);
}

void store_unlock(struct store *st, enum store_kind kind)
{
    st->be->unlock(st, kind);
}

bool store_changed(struct store *st, enum store_kind kind)
{
    return st->be->changed(st, kind);
}

void store_forget(struct store *st, enum store_kind kind)
{
    st->be->forget(st, kind);
}

enum gw_err store_writable(struct store *st, enum store_kind kind,
                           struct gw_error *err)
{
    return st->be->writable(st, kind, err);
}

enum gw_err store_creds_load(struct store *st, char *key_id, size_t key_id_size,
                             struct store_credential **out, size_t *n,
                             struct gw_error *err)
{
    return st->be->creds_load(st, key_id, key_id_size, out, n, err);
}

enum gw_err store_creds_save(struct store *st, const char *key_id,
                             const struct store_credential *const *creds,
                             size_t n, struct gw_error *err)
{
    return st->be->creds_save(st, key_id, creds, n, err);
}

enum gw_err store_tokens_load(struct store *st,
                              struct store_tokens_keying *keying,
                              struct store_token **out, size_t *n,
                              struct gw_error *err)
{
    return st->be->tokens_load(st, keying, out, n, err);
}

enum gw_err store_tokens_save(struct store *st,
                              const struct store_tokens_keying *keying,
                              const struct store_token *v, size_t n,
                              struct gw_error *err)
{
    return st->be->tokens_save(st, keying, v, n, err);
}
