/* Unit tests of the store and its files back-end (store/store.c,
   store/backend_files.c). */
#include "store/store.h"
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The files of a store in the temporary directory `dir`. */
struct files {
    char creds[64], tokens[64];
};

/* A store of files in the directory `dir` (NULL: none made). */
static struct store *temp_store(const char *dir, struct files *f)
{
    if (dir == NULL)
        return NULL;
    snprintf(f->creds, sizeof(f->creds), "%s/credentials.json", dir);
    snprintf(f->tokens, sizeof(f->tokens), "%s/tokens.json", dir);
    return store_open_files(f->creds, f->tokens, NULL);
}

/* Removes the files a store of `dir` may have made, and `dir`. */
static void remove_temp(const char *dir, const struct files *f)
{
    char lock[80];

    if (dir == NULL)
        return;
    unlink(f->creds);
    unlink(f->tokens);
    snprintf(lock, sizeof(lock), "%s.lock", f->creds);
    unlink(lock);
    snprintf(lock, sizeof(lock), "%s.lock", f->tokens);
    unlink(lock);
    rmdir(dir);
}

TEST(credentials_round_trip_and_changes_are_seen)
{
    char tmpl[] = "/tmp/store-test-XXXXXX", key_id[17];
    char *dir = mkdtemp(tmpl);
    struct files f = {{0}, {0}};
    struct store *st = temp_store(dir, &f);
    struct store_credential c, *back = NULL;
    const struct store_credential *list[] = {&c};
    struct gw_error err = {0};
    size_t n = 9;
    enum gw_err rc;

    CHECK(st != NULL);
    CHECK_STR(store_where(st, STORE_CREDENTIALS), f.creds);
    /* Nothing stored yet: none, and nothing changes while it stays so. */
    CHECK(store_creds_load(st, key_id, sizeof(key_id), &back, &n, &err) ==
          GW_ENOTFOUND);
    CHECK(n == 0 && back == NULL && !store_changed(st, STORE_CREDENTIALS));

    store_credential_defaults(&c, "billing");
    CHECK(store_lock(st, STORE_CREDENTIALS, &err) == GW_OK);
    rc = store_creds_save(st, "0011223344556677", list, 1, &err);
    store_unlock(st, STORE_CREDENTIALS);
    CHECK(rc == GW_OK && !store_changed(st, STORE_CREDENTIALS));
    CHECK(store_creds_load(st, key_id, sizeof(key_id), &back, &n, &err) ==
          GW_OK);
    CHECK(n == 1 && back != NULL);
    CHECK_STR(back[0].name, "billing");
    CHECK_STR(key_id, "0011223344556677");
    free(back);
    back = NULL;

    /* Another writer replaces the file: this store sees it. */
    CHECK(store_file_write(f.creds, "{}\n", 3, 0600, &err) == GW_OK);
    CHECK(store_changed(st, STORE_CREDENTIALS));
    CHECK(store_creds_load(st, key_id, sizeof(key_id), &back, &n, &err) ==
          GW_EINVAL);
    CHECK(check_contains(err.detail, f.creds));
    store_forget(st, STORE_CREDENTIALS);
    CHECK(store_changed(st, STORE_CREDENTIALS));
out:
    free(back);
    store_close(st);
    remove_temp(dir, &f);
}

TEST(no_token_file_is_an_empty_list_of_version_0)
{
    char tmpl[] = "/tmp/store-test-XXXXXX";
    char *dir = mkdtemp(tmpl);
    struct files f = {{0}, {0}};
    struct store *st = temp_store(dir, &f);
    struct store_tokens_keying keying = {.version = 7};
    struct store_token t = {.name = "ci", .scope = STORE_SCOPE_SEND};
    struct store_token *v = NULL;
    struct gw_error err = {0};
    size_t n = 9;
    enum gw_err rc;

    CHECK(st != NULL);
    CHECK(store_tokens_load(st, &keying, &v, &n, &err) == GW_OK);
    CHECK(n == 0 && v != NULL && keying.version == 0);
    free(v);
    v = NULL;

    memset(t.hash, 'a', 64);
    keying = (struct store_tokens_keying){2, "0011223344556677", "a2V5"};
    CHECK(store_lock(st, STORE_TOKENS, &err) == GW_OK);
    rc = store_tokens_save(st, &keying, &t, 1, &err);
    store_unlock(st, STORE_TOKENS);
    CHECK(rc == GW_OK);
    /* The lock is free again, for this process and others. */
    CHECK(store_lock(st, STORE_TOKENS, &err) == GW_OK);
    store_unlock(st, STORE_TOKENS);
    CHECK(store_tokens_load(st, &keying, &v, &n, &err) == GW_OK);
    CHECK(n == 1 && keying.version == 2);
    CHECK_STR(v[0].name, "ci");
    CHECK_STR(keying.hash_key, "a2V5");
out:
    free(v);
    store_close(st);
    remove_temp(dir, &f);
}

const struct unit_test store_tests[] = {
    UNIT(credentials_round_trip_and_changes_are_seen),
    UNIT(no_token_file_is_an_empty_list_of_version_0),
    {NULL, NULL},
};
