/* Unit tests of the store and its files back-end (store/store.c,
   store/backend_files.c). */
#include "store/store.h"
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* A store of files in a new temporary directory `dir`. */
static struct store *temp_store(char *dir, char *creds, char *tokens)
{
    if (mkdtemp(dir) == NULL)
        return NULL;
    snprintf(creds, 64, "%s/credentials.json", dir);
    snprintf(tokens, 64, "%s/tokens.json", dir);
    return store_open_files(creds, tokens, NULL);
}

static void remove_temp(const char *dir, const char *creds, const char *tokens)
{
    char lock[80];

    unlink(creds);
    unlink(tokens);
    snprintf(lock, sizeof(lock), "%s.lock", creds);
    unlink(lock);
    snprintf(lock, sizeof(lock), "%s.lock", tokens);
    unlink(lock);
    rmdir(dir);
}

TEST(credentials_round_trip_and_changes_are_seen)
{
    char dir[] = "/tmp/store-test-XXXXXX", creds[64], tokens[64];
    struct store *st = temp_store(dir, creds, tokens);
    struct store_credential c, *back = NULL;
    const struct store_credential *list[] = {&c};
    struct gw_error err = {0};
    char key_id[17];
    size_t n = 9;
    enum gw_err rc;

    CHECK(st != NULL);
    CHECK_STR(store_where(st, STORE_CREDENTIALS), creds);
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

    /* Another writer replaces the file: this store sees it. */
    CHECK(store_file_write(creds, "{}\n", 3, 0600, &err) == GW_OK);
    CHECK(store_changed(st, STORE_CREDENTIALS));
    CHECK(store_creds_load(st, key_id, sizeof(key_id), &back, &n, &err) ==
          GW_EINVAL);
    store_forget(st, STORE_CREDENTIALS);
    CHECK(store_changed(st, STORE_CREDENTIALS));

    store_close(st);
    remove_temp(dir, creds, tokens);
}

TEST(no_token_file_is_an_empty_list_of_version_0)
{
    char dir[] = "/tmp/store-test-XXXXXX", creds[64], tokens[64];
    struct store *st = temp_store(dir, creds, tokens);
    struct store_tokens_keying keying = {.version = 7};
    struct store_token t = {.name = "ci", .scope = STORE_SCOPE_SEND}, *v;
    struct gw_error err = {0};
    size_t n = 9;

    CHECK(st != NULL);
    CHECK(store_tokens_load(st, &keying, &v, &n, &err) == GW_OK);
    CHECK(n == 0 && v != NULL && keying.version == 0);
    free(v);

    memset(t.hash, 'a', 64);
    keying = (struct store_tokens_keying){2, "0011223344556677", "a2V5"};
    CHECK(store_lock(st, STORE_TOKENS, &err) == GW_OK);
    CHECK(store_tokens_save(st, &keying, &t, 1, &err) == GW_OK);
    store_unlock(st, STORE_TOKENS);
    /* The lock is free again, for this process and others. */
    CHECK(store_lock(st, STORE_TOKENS, &err) == GW_OK);
    store_unlock(st, STORE_TOKENS);
    CHECK(store_tokens_load(st, &keying, &v, &n, &err) == GW_OK);
    CHECK(n == 1 && keying.version == 2);
    CHECK_STR(v[0].name, "ci");
    CHECK_STR(keying.hash_key, "a2V5");
    free(v);

    store_close(st);
    remove_temp(dir, creds, tokens);
}

const struct unit_test store_tests[] = {
    UNIT(credentials_round_trip_and_changes_are_seen),
    UNIT(no_token_file_is_an_empty_list_of_version_0),
    {NULL, NULL},
};
