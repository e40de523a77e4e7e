/*
 * Key files and rekey: which key pair the gateway uses, where its files
 * are in the data directory, and the rekey that replaces it in steps a
 * crash can stop anywhere, finished or undone at the next load; see
 * core.h.
 */
#include "core.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "store/store.h"

/* The files of the gateway's state in its data directory. */
#define KEY_FILE         "gateway.key"      /* the secret key, 0600 */
#define PUBLIC_FILE      "gateway.pub"      /* the public key */
#define NEXT_KEY_FILE    "gateway.key.next" /* during a rekey */
#define TOKENS_FILE      "tokens.json"
#define CREDENTIALS_FILE "credentials.json"

enum gw_err core_keys_paths(const char *data_dir, const char *credentials_file,
                            struct core_key_paths *out, struct gw_error *err)
{
    const char *d = data_dir;
    bool ok = store_file_join(out->key, sizeof(out->key), d, KEY_FILE) &&
              store_file_join(out->public_key, sizeof(out->public_key), d,
                              PUBLIC_FILE) &&
              store_file_join(out->next_key, sizeof(out->next_key), d,
                              NEXT_KEY_FILE) &&
              store_file_join(out->tokens, sizeof(out->tokens), d, TOKENS_FILE);

    if (ok && credentials_file[0] != '\0')
        snprintf(out->credentials, sizeof(out->credentials), "%s",
                 credentials_file);
    else if (ok)
        ok = store_file_join(out->credentials, sizeof(out->credentials), d,
                             CREDENTIALS_FILE);
    if (!ok)
        return gw_error_set(err, GW_EINVAL, "the path is too long");
    return GW_OK;
}

/*
 * Seals for `next` what of the store and the token file a stopped rekey
 * left sealed for `old`; `store_id` and `tokens_id` say for which key
 * each is now.
 */
static enum gw_err carry_over(struct store *records, const struct vault *old,
                              const struct vault *next, const char *store_id,
                              const char *tokens_id, struct gw_error *err)
{
    struct core_tokens *tokens;
    enum gw_err rc;
    size_t n;

    if (strcmp(store_id, vault_key_id(old)) == 0 &&
        core_creds_rekey(records, old, next, &n, err) != GW_OK)
        return err->code;
    if (strcmp(tokens_id, vault_key_id(old)) != 0)
        return GW_OK;
    tokens = core_tokens_open(records, old, NULL, err);
    if (tokens == NULL)
        return err->code;
    rc = core_tokens_rekey(tokens, next, err);
    core_tokens_free(tokens);
    return rc;
}

/*
 * A rekey writes the new key beside the old one, seals the store and the
 * token file for it, one after the other, then renames the new key over
 * the old (rekey_data_dir() below). Stopped once either file is sealed
 * for the new key, the rekey is finished here: the other file is carried
 * over, the key renamed. Stopped before, every file still matches the old
 * key: the new one is dropped. Either way every file matches the one key
 * that stays.
 */
static void finish_rekey(const struct core_key_paths *paths,
                         struct store *records)
{
    char store_id[VAULT_KEY_ID_LEN + 1] = "";
    char tokens_id[VAULT_KEY_ID_LEN + 1] = "";
    struct gw_error err = {0};
    struct vault *old, *next;
    bool begun;

    if (access(paths->next_key, F_OK) != 0)
        return;
    next = vault_load(paths->next_key, &err);
    old = vault_load(paths->key, &err);
    core_creds_key_id(records, store_id);
    core_tokens_key_id(records, tokens_id);
    begun = next != NULL && old != NULL &&
            (strcmp(store_id, vault_key_id(next)) == 0 ||
             strcmp(tokens_id, vault_key_id(next)) == 0);
    if (!begun) {
        unlink(paths->next_key);
        log_warn("event=rekey_abandoned path=%s", paths->next_key);
    } else if (carry_over(records, old, next, store_id, tokens_id, &err) !=
                   GW_OK ||
               rename(paths->next_key, paths->key) != 0) {
        /* The new key stays: files are sealed for it. */
        log_error("event=rekey_unfinished path=%s detail=\"%s\"",
                  paths->next_key,
                  err.code != GW_OK ? err.detail : GW_ERRNO_TEXT(errno));
    } else {
        vault_save(next, NULL, paths->public_key, &err);
        log_warn("event=rekey_finished key_id=%s", vault_key_id(next));
    }
    vault_free(old);
    vault_free(next);
}

/* The data directory's key pair, made on first start when allowed. */
static struct vault *data_dir_key(const struct core_key_paths *paths,
                                  struct store *records, bool create,
                                  enum core_key_source *source,
                                  struct gw_error *err)
{
    struct vault *v;

    finish_rekey(paths, records);
    if (access(paths->key, F_OK) == 0 || !create)
        return vault_load(paths->key, err);
    v = vault_generate(err);
    if (v != NULL &&
        vault_save(v, paths->key, paths->public_key, err) != GW_OK) {
        vault_free(v);
        return NULL;
    }
    *source = CORE_KEY_DATA_DIR_NEW;
    return v;
}

struct vault *core_keys_load(const struct core_key_given *given,
                             const struct core_key_paths *paths,
                             struct store *records, bool create,
                             enum core_key_source *source, struct gw_error *err)
{
    if (!vault_init()) {
        gw_error_set(err, GW_EINVAL, "libsodium cannot start");
        return NULL;
    }
    if (given->key[0] != '\0') {
        *source = CORE_KEY_GIVEN;
        return vault_from_base64(given->key, given->key_name, err);
    }
    if (given->file[0] != '\0') {
        *source = CORE_KEY_GIVEN_FILE;
        return vault_load(given->file, err);
    }
    *source = CORE_KEY_DATA_DIR;
    return data_dir_key(paths, records, create, source, err);
}

/*
 * The data directory's key is replaced in steps that a crash can stop
 * anywhere (finish_rekey() finishes or undoes them at the next load): the
 * new key beside the old, the store re-sealed, the token file's hash key
 * wrapped for it, the new key renamed over the old.
 */
static enum gw_err rekey_data_dir(const struct core_rekey *r,
                                  const struct vault *next,
                                  const struct core_key_paths *paths,
                                  struct core_tokens *tokens, size_t *n,
                                  struct gw_error *err)
{
    if (vault_save(next, paths->next_key, NULL, err) != GW_OK)
        return err->code;
    if (core_creds_rekey(r->records, r->old, next, n, err) != GW_OK) {
        unlink(paths->next_key);
        return err->code;
    }
    if (core_tokens_rekey(tokens, next, err) != GW_OK)
        return err->code;
    if (rename(paths->next_key, paths->key) != 0)
        return gw_error_set(err, GW_EIO, "cannot rename %s: %s",
                            paths->next_key, GW_ERRNO_TEXT(errno));
    return vault_save(next, NULL, paths->public_key, err);
}

/*
 * A key given from elsewhere is replaced by the operator: the new key
 * goes to a file of its own first, never over the old key's file nor any
 * other that exists, so the old key is never lost.
 */
static enum gw_err rekey_elsewhere(const struct core_rekey *r,
                                   const struct vault *next,
                                   struct core_tokens *tokens, size_t *n,
                                   struct gw_error *err)
{
    if (strcmp(r->new_key_file, r->old_key_file) == 0 ||
        access(r->new_key_file, F_OK) == 0)
        return gw_error_set(err, GW_EINVAL,
                            "--new-key-file %s exists already; name a new "
                            "file",
                            r->new_key_file);
    if (vault_save(next, r->new_key_file, NULL, err) != GW_OK ||
        core_creds_rekey(r->records, r->old, next, n, err) != GW_OK ||
        core_tokens_rekey(tokens, next, err) != GW_OK)
        return err->code;
    return GW_OK;
}

struct vault *core_keys_rekey(const struct core_rekey *r,
                              const struct core_key_paths *paths,
                              size_t *resealed, struct gw_error *err)
{
    bool data_dir =
        r->source == CORE_KEY_DATA_DIR || r->source == CORE_KEY_DATA_DIR_NEW;
    struct core_tokens *tokens;
    struct vault *next;
    enum gw_err rc;

    *resealed = 0;
    if (!data_dir && r->new_key_file == NULL) {
        gw_error_set(err, GW_EINVAL,
                     "the key is not the data directory's: the new one "
                     "needs a file of its own");
        return NULL;
    }
    /* The token file is read (and carried over) before anything
       changes: one whose hash key does not open stops the rekey. */
    tokens = core_tokens_open(r->records, r->old, NULL, err);
    next = tokens != NULL ? vault_generate(err) : NULL;
    if (next == NULL)
        rc = err->code;
    else if (data_dir)
        rc = rekey_data_dir(r, next, paths, tokens, resealed, err);
    else
        rc = rekey_elsewhere(r, next, tokens, resealed, err);
    core_tokens_free(tokens);
    if (rc != GW_OK) {
        vault_free(next);
        return NULL;
    }
    return next;
}
