/* Unit tests of the key pair, sealed boxes and token hashes (core/vault.c).
 */
#include "core/core.h"
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Seals `secret` for `v` into a new string the caller frees. */
static char *seal_for(const struct vault *v, const char *secret)
{
    struct buf b;

    buf_init(&b, VAULT_BOX_MAX);
    if (vault_seal(vault_public_key(v), secret, strlen(secret), &b, NULL) !=
        GW_OK) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b);
}

TEST(a_sealed_secret_opens_with_its_key_pair_only)
{
    struct gw_error err = {0};
    struct vault *v = vault_generate(&err), *other = vault_generate(&err);
    char *box = v && other ? seal_for(v, "hunter2 and more") : NULL;
    struct vault_secret *s = box ? vault_open(v, box, &err) : NULL;
    struct vault_secret *not_ours = box ? vault_open(other, box, &err) : NULL;

    CHECK(s != NULL);
    CHECK_STR(vault_secret_text(s), "hunter2 and more");
    CHECK(vault_secret_len(s) == 16);
    CHECK(strstr(box, "hunter2") == NULL);
    CHECK(not_ours == NULL && err.code == GW_EINVAL);
    CHECK(check_contains(err.detail, "does not open with the gateway's key"));
    CHECK(check_contains(err.detail, vault_key_id(other)));
    CHECK(!check_contains(err.detail, "hunter2"));
out:
    vault_secret_free(s);
    vault_secret_free(not_ours);
    vault_free(v);
    vault_free(other);
    free(box);
}

TEST(a_changed_byte_anywhere_in_the_box_fails)
{
    struct vault *v = vault_generate(NULL);
    char *box = v ? seal_for(v, "secret") : NULL;
    size_t n = box ? strlen(box) : 0;
    unsigned opened = 0;

    CHECK(box != NULL);
    /* Each base64 digit but the padding carries box bits. */
    for (size_t i = 0; i < n && box[i] != '='; i++) {
        struct gw_error err = {0};
        char keep = box[i];
        struct vault_secret *s;

        box[i] = keep == 'A' ? 'B' : 'A';
        s = vault_open(v, box, &err);
        opened += s != NULL;
        vault_secret_free(s);
        box[i] = keep;
    }
    CHECK(opened == 0);
out:
    free(box);
    vault_free(v);
}

TEST(garbage_is_not_a_box)
{
    struct vault *v = vault_generate(NULL);
    struct vault_secret *s = NULL;
    struct gw_error err = {0};

    CHECK(v != NULL);
    s = vault_open(v, "", &err);
    CHECK(s == NULL);
    CHECK(check_contains(err.detail, "not a sealed box"));
    s = vault_open(v, "not base64 at all!", &err);
    CHECK(s == NULL);
    s = vault_open(v, "AAAA", &err);
    CHECK(s == NULL);
out:
    vault_secret_free(s);
    vault_free(v);
}

TEST(sealing_needs_a_public_key_and_a_bounded_secret)
{
    struct gw_error err = {0};
    char *big = calloc(1, VAULT_SECRET_MAX + 2);
    struct vault *v = vault_generate(NULL);
    struct buf b;

    buf_init(&b, VAULT_BOX_MAX);
    CHECK(big != NULL && v != NULL);
    memset(big, 'x', VAULT_SECRET_MAX + 1);
    CHECK(vault_seal("short", "x", 1, &b, &err) == GW_EINVAL);
    CHECK(check_contains(err.detail, "not a public key"));
    CHECK(vault_seal(vault_public_key(v), big, VAULT_SECRET_MAX + 1, &b,
                     &err) == GW_EINVAL);
    CHECK(vault_seal(vault_public_key(v), big, VAULT_SECRET_MAX, &b, &err) ==
          GW_OK);
    CHECK(b.len < VAULT_BOX_MAX);
out:
    buf_free(&b);
    free(big);
    vault_free(v);
}

TEST(a_secret_with_a_nul_byte_is_refused_when_opened)
{
    struct vault *v = vault_generate(NULL);
    struct vault_secret *s = NULL;
    struct gw_error err = {0};
    struct buf b;

    buf_init(&b, VAULT_BOX_MAX);
    CHECK(v != NULL);
    CHECK(vault_seal(vault_public_key(v), "a\0b", 3, &b, NULL) == GW_OK);
    s = vault_open(v, buf_cstr(&b), &err);
    CHECK(s == NULL);
    CHECK(check_contains(err.detail, "NUL"));
out:
    vault_secret_free(s);
    buf_free(&b);
    vault_free(v);
}

TEST(the_key_round_trips_through_its_file_and_base64)
{
    char tmpl[] = "/tmp/vault-test-XXXXXX", *dir = NULL, path[64], pub[64];
    struct gw_error err = {0};
    struct vault *v = vault_generate(&err), *back = NULL, *b64 = NULL;
    struct vault *bad = NULL;
    char line[128] = {0};
    char id[VAULT_KEY_ID_LEN + 1];
    struct stat st;
    FILE *f = NULL;

    CHECK(v != NULL && (dir = mkdtemp(tmpl)) != NULL);
    snprintf(path, sizeof(path), "%s/k", dir);
    snprintf(pub, sizeof(pub), "%s/k.pub", dir);
    CHECK(vault_save(v, path, pub, &err) == GW_OK);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    back = vault_load(path, &err);
    CHECK(back != NULL);
    CHECK_STR(vault_key_id(back), vault_key_id(v));
    CHECK_STR(vault_public_key(back), vault_public_key(v));
    f = fopen(path, "r");
    CHECK(f != NULL && fgets(line, sizeof(line), f) != NULL);
    b64 = vault_from_base64(line, "test", &err);
    CHECK(b64 != NULL && strcmp(vault_key_id(b64), vault_key_id(v)) == 0);
    CHECK(vault_public_key_id(vault_public_key(v), id, &err) == GW_OK);
    CHECK_STR(id, vault_key_id(v));
    CHECK(strlen(id) == VAULT_KEY_ID_LEN &&
          strspn(id, "0123456789abcdef") == VAULT_KEY_ID_LEN);
    bad = vault_from_base64("c2hvcnQ=", "GATEWAY_SECRET_KEY", &err);
    CHECK(bad == NULL);
    CHECK(check_contains(err.detail, "GATEWAY_SECRET_KEY: not a secret key"));
out:
    if (f != NULL)
        fclose(f);
    if (dir != NULL) {
        unlink(path);
        unlink(pub);
        rmdir(dir);
    }
    vault_free(v);
    vault_free(back);
    vault_free(b64);
    vault_free(bad);
}

TEST(reseal_moves_a_secret_to_another_key)
{
    struct vault *a = vault_generate(NULL), *b = vault_generate(NULL);
    char *box = a && b ? seal_for(a, "moving") : NULL;
    struct vault_secret *s = NULL, *old = NULL;
    struct buf out;

    buf_init(&out, VAULT_BOX_MAX);
    CHECK(box != NULL);
    CHECK(vault_reseal(a, vault_public_key(b), box, &out, NULL) == GW_OK);
    s = vault_open(b, buf_cstr(&out), NULL);
    CHECK(s != NULL);
    CHECK_STR(vault_secret_text(s), "moving");
    old = vault_open(a, buf_cstr(&out), NULL);
    CHECK(old == NULL);
out:
    vault_secret_free(s);
    vault_secret_free(old);
    buf_free(&out);
    free(box);
    vault_free(a);
    vault_free(b);
}

TEST(tokens_are_random_prefixed_and_stored_by_hash)
{
    char t1[VAULT_TOKEN_MAX], t2[VAULT_TOKEN_MAX];
    char h1[VAULT_HASH_MAX], h1b[VAULT_HASH_MAX], h2[VAULT_HASH_MAX];

    vault_token_new(t1);
    vault_token_new(t2);
    CHECK(strncmp(t1, VAULT_TOKEN_PREFIX, 4) == 0 && strlen(t1) == 47);
    CHECK(strcmp(t1, t2) != 0);
    vault_token_hash(NULL, t1, h1);
    vault_token_hash(NULL, t1, h1b);
    vault_token_hash(NULL, t2, h2);
    CHECK(strlen(h1) == 64 && strspn(h1, "0123456789abcdef") == 64);
    CHECK(strstr(h1, t1 + 4) == NULL);
    CHECK(vault_hash_equal(h1, h1b));
    CHECK(!vault_hash_equal(h1, h2));
    CHECK(!vault_hash_equal(h1, ""));
    CHECK(!vault_hash_equal("", ""));
out:;
}

/* A token and its hash with the constant key of token files of version 1
   (BLAKE2b-256 keyed with "smtp-gateway api token hash v1"). */
#define OLD_TOKEN "sgw_oldconstantkeyedtoken0123456789abcdefghij"
#define OLD_HASH                                                               \
    "fed1b6debf02a80844f8a62d9d1c0b0edfa89068e54dea6a68a48ee1cdb18030"

TEST(the_token_hash_is_keyed_with_a_secret_and_carries_old_hashes_over)
{
    struct gw_error err = {0};
    struct vault_hash_key *k1 = vault_hash_key_new(&err);
    struct vault_hash_key *k2 = vault_hash_key_new(&err);
    char h[VAULT_HASH_MAX], h2[VAULT_HASH_MAX], moved[VAULT_HASH_MAX];

    CHECK(k1 != NULL && k2 != NULL);
    vault_token_hash(NULL, OLD_TOKEN, h);
    CHECK(strcmp(h, OLD_HASH) == 0);
    /* With a key, the hash is another, and another for another key. */
    vault_token_hash(k1, OLD_TOKEN, h);
    vault_token_hash(k2, OLD_TOKEN, h2);
    CHECK(strlen(h) == 64 && strcmp(h, OLD_HASH) != 0);
    CHECK(strcmp(h, h2) != 0);
    /* An old hash carried over is the hash the token now has. */
    CHECK(vault_token_rehash(k1, OLD_HASH, moved));
    CHECK(vault_hash_equal(moved, h));
    CHECK(!vault_token_rehash(k1, "not hex", moved));
out:
    vault_hash_key_free(k1);
    vault_hash_key_free(k2);
}

TEST(the_hash_key_opens_only_with_the_key_pair_it_was_wrapped_with)
{
    struct gw_error err = {0};
    struct vault *a = vault_generate(&err), *b = vault_generate(&err);
    struct vault_hash_key *k = vault_hash_key_new(&err), *back = NULL;
    char wrapped[VAULT_HASH_KEY_MAX], again[VAULT_HASH_KEY_MAX];
    char h[VAULT_HASH_MAX], hb[VAULT_HASH_MAX];

    CHECK(a != NULL && b != NULL && k != NULL);
    vault_hash_key_wrap(a, k, wrapped);
    vault_hash_key_wrap(a, k, again);
    CHECK(strcmp(wrapped, again) != 0); /* a fresh nonce each time */
    back = vault_hash_key_unwrap(a, wrapped, &err);
    CHECK(back != NULL);
    vault_token_hash(k, OLD_TOKEN, h);
    vault_token_hash(back, OLD_TOKEN, hb);
    CHECK(vault_hash_equal(h, hb));
    vault_hash_key_free(back);
    /* Another key pair, or one changed character, does not open it. */
    back = vault_hash_key_unwrap(b, wrapped, &err);
    CHECK(back == NULL);
    CHECK(err.code == GW_EINVAL && strstr(err.detail, vault_key_id(b)));
    wrapped[10] = wrapped[10] == 'A' ? 'B' : 'A';
    back = vault_hash_key_unwrap(a, wrapped, &err);
    CHECK(back == NULL);
    back = vault_hash_key_unwrap(a, "c2hvcnQ=", &err);
    CHECK(back == NULL);
    /* A rekey wraps the same key for the new pair. */
    vault_hash_key_wrap(b, k, wrapped);
    back = vault_hash_key_unwrap(b, wrapped, &err);
    CHECK(back != NULL);
    vault_token_hash(back, OLD_TOKEN, hb);
    CHECK(vault_hash_equal(h, hb));
out:
    vault_hash_key_free(back);
    vault_hash_key_free(k);
    vault_free(a);
    vault_free(b);
}

const struct unit_test vault_tests[] = {
    UNIT(a_sealed_secret_opens_with_its_key_pair_only),
    UNIT(a_changed_byte_anywhere_in_the_box_fails),
    UNIT(garbage_is_not_a_box),
    UNIT(sealing_needs_a_public_key_and_a_bounded_secret),
    UNIT(a_secret_with_a_nul_byte_is_refused_when_opened),
    UNIT(the_key_round_trips_through_its_file_and_base64),
    UNIT(reseal_moves_a_secret_to_another_key),
    UNIT(tokens_are_random_prefixed_and_stored_by_hash),
    UNIT(the_token_hash_is_keyed_with_a_secret_and_carries_old_hashes_over),
    UNIT(the_hash_key_opens_only_with_the_key_pair_it_was_wrapped_with),
    {NULL, NULL}};
