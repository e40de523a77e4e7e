/* The key pair, sealed boxes and token hashes, on libsodium; see core.h. */
#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

#define B64 sodium_base64_VARIANT_ORIGINAL

/* The largest box, in bytes, before base64. */
#define BOX_BYTES_MAX (VAULT_SECRET_MAX + crypto_box_SEALBYTES)

/* The key of the first token hash: it ties hashes to this use alone. */
static const unsigned char token_hash_key[crypto_generichash_KEYBYTES] =
    "smtp-gateway api token hash v1";

/* What the key wrapping the hash key is derived with, from the secret key. */
static const char wrap_context[] = "smtp-gateway token hash key wrap v1";

#define HASH_KEY_BYTES 32
#define WRAPPED_BYTES                                                          \
    (crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + HASH_KEY_BYTES)

struct vault_hash_key {
    unsigned char *k; /* guarded memory, HASH_KEY_BYTES */
};

struct vault {
    unsigned char *sk; /* guarded memory, read-only once set */
    unsigned char pk[crypto_box_PUBLICKEYBYTES];
    char public_b64[VAULT_PUBLIC_MAX];
    char key_id[VAULT_KEY_ID_LEN + 1];
};

struct vault_secret {
    char *text; /* guarded memory, read-only */
    size_t len;
};

bool vault_init(void)
{
    return sodium_init() >= 0;
}

static void key_id_of(const unsigned char *pk, char *out)
{
    unsigned char h[crypto_generichash_BYTES];

    crypto_generichash(h, sizeof(h), pk, crypto_box_PUBLICKEYBYTES, NULL, 0);
    sodium_bin2hex(out, VAULT_KEY_ID_LEN + 1, h, VAULT_KEY_ID_LEN / 2);
}

/* A vault with room for a secret key, or NULL. */
static struct vault *vault_alloc(void)
{
    struct vault *v;

    if (!vault_init())
        return NULL;
    v = calloc(1, sizeof(*v));
    if (v == NULL)
        return NULL;
    v->sk = sodium_malloc(crypto_box_SECRETKEYBYTES);
    if (v->sk == NULL) {
        free(v);
        return NULL;
    }
    return v;
}

/* Derives the public half and the names of a vault whose sk is set. */
static void vault_finish(struct vault *v)
{
    crypto_scalarmult_base(v->pk, v->sk);
    sodium_bin2base64(v->public_b64, sizeof(v->public_b64), v->pk,
                      sizeof(v->pk), B64);
    key_id_of(v->pk, v->key_id);
    sodium_mprotect_readonly(v->sk);
}

struct vault *vault_generate(struct gw_error *err)
{
    struct vault *v = vault_alloc();

    if (v == NULL) {
        gw_error_set(err, GW_ENOMEM, "out of memory");
        return NULL;
    }
    crypto_box_keypair(v->pk, v->sk);
    vault_finish(v);
    return v;
}

struct vault *vault_from_base64(const char *b64, const char *what,
                                struct gw_error *err)
{
    struct vault *v = vault_alloc();
    size_t n = 0;

    if (v == NULL) {
        gw_error_set(err, GW_ENOMEM, "out of memory");
        return NULL;
    }
    if (sodium_base642bin(v->sk, crypto_box_SECRETKEYBYTES, b64, strlen(b64),
                          " \t\r\n", &n, NULL, B64) != 0 ||
        n != crypto_box_SECRETKEYBYTES) {
        vault_free(v);
        gw_error_set(err, GW_EINVAL,
                     "%s: not a secret key (32 bytes in base64, as "
                     "smtp-gateway keygen writes it)",
                     what);
        return NULL;
    }
    vault_finish(v);
    return v;
}

struct vault *vault_load(const char *path, struct gw_error *err)
{
    struct vault *v;
    struct buf text;
    enum gw_err rc;

    buf_init(&text, 1024);
    rc = store_file_read(path, &text, err);
    v = rc == GW_OK ? vault_from_base64(buf_cstr(&text), path, err) : NULL;
    if (text.data != NULL)
        sodium_memzero(text.data, text.len);
    buf_free(&text);
    return v;
}

enum gw_err vault_save(const struct vault *v, const char *path,
                       const char *public_path, struct gw_error *err)
{
    char pub[VAULT_PUBLIC_MAX + 1];
    char *line;
    enum gw_err rc;
    size_t n;

    if (path != NULL) {
        line = sodium_malloc(VAULT_PUBLIC_MAX + 1);
        if (line == NULL)
            return gw_error_set(err, GW_ENOMEM, "out of memory");
        sodium_bin2base64(line, VAULT_PUBLIC_MAX, v->sk,
                          crypto_box_SECRETKEYBYTES, B64);
        n = strlen(line);
        line[n++] = '\n';
        rc = store_file_write(path, line, n, 0600, err);
        sodium_free(line);
        if (rc != GW_OK)
            return rc;
    }
    if (public_path == NULL)
        return GW_OK;
    n = (size_t)snprintf(pub, sizeof(pub), "%s\n", v->public_b64);
    return store_file_write(public_path, pub, n, 0644, err);
}

void vault_free(struct vault *v)
{
    if (v == NULL)
        return;
    sodium_free(v->sk);
    free(v);
}

const char *vault_key_id(const struct vault *v)
{
    return v->key_id;
}

const char *vault_public_key(const struct vault *v)
{
    return v->public_b64;
}

/* Decodes a base64 public key; false when it is not one. */
static bool parse_public(const char *b64, unsigned char *pk)
{
    size_t n = 0;

    return vault_init() &&
           sodium_base642bin(pk, crypto_box_PUBLICKEYBYTES, b64, strlen(b64),
                             " \t\r\n", &n, NULL, B64) == 0 &&
           n == crypto_box_PUBLICKEYBYTES;
}

enum gw_err vault_public_key_id(const char *b64, char *key_id,
                                struct gw_error *err)
{
    unsigned char pk[crypto_box_PUBLICKEYBYTES];

    if (!parse_public(b64, pk))
        return gw_error_set(err, GW_EINVAL,
                            "not a public key (32 bytes in base64)");
    key_id_of(pk, key_id);
    return GW_OK;
}

enum gw_err vault_seal(const char *public_b64, const void *secret, size_t len,
                       struct buf *out, struct gw_error *err)
{
    unsigned char pk[crypto_box_PUBLICKEYBYTES];
    size_t clen = len + crypto_box_SEALBYTES;
    size_t b64len = sodium_base64_encoded_len(clen, B64);
    unsigned char *c;
    char *b64;
    enum gw_err rc;

    if (!parse_public(public_b64, pk))
        return gw_error_set(err, GW_EINVAL,
                            "not a public key (32 bytes in base64)");
    if (len > VAULT_SECRET_MAX)
        return gw_error_set(err, GW_EINVAL,
                            "the secret is longer than %d bytes",
                            VAULT_SECRET_MAX);
    c = malloc(clen);
    b64 = malloc(b64len);
    if (c == NULL || b64 == NULL || crypto_box_seal(c, secret, len, pk) != 0) {
        free(c);
        free(b64);
        return gw_error_set(err, GW_ENOMEM, "out of memory");
    }
    sodium_bin2base64(b64, b64len, c, clen, B64);
    rc = buf_puts(out, b64);
    free(c);
    free(b64);
    return rc == GW_OK ? GW_OK : gw_error_set(err, rc, "the box is too long");
}

/* Decodes a base64 box into `c` (BOX_BYTES_MAX bytes); its length or 0. */
static size_t decode_box(const char *box, unsigned char *c)
{
    size_t n = 0;

    if (sodium_base642bin(c, BOX_BYTES_MAX, box, strlen(box), " \t\r\n", &n,
                          NULL, B64) != 0 ||
        n < crypto_box_SEALBYTES)
        return 0;
    return n;
}

/* The secret in a box `c` of `clen` bytes, opened into guarded memory. */
static struct vault_secret *open_box(const struct vault *v,
                                     const unsigned char *c, size_t clen,
                                     struct gw_error *err)
{
    struct vault_secret *s = calloc(1, sizeof(*s));
    size_t len = clen - crypto_box_SEALBYTES;

    if (s == NULL || (s->text = sodium_malloc(len + 1)) == NULL) {
        free(s);
        gw_error_set(err, GW_ENOMEM, "out of memory");
        return NULL;
    }
    s->len = len;
    if (crypto_box_seal_open((unsigned char *)s->text, c, clen, v->pk, v->sk) !=
        0) {
        vault_secret_free(s);
        gw_error_set(err, GW_EINVAL,
                     "the sealed box does not open with the gateway's "
                     "key (key id %s): it was sealed for another key, "
                     "or altered",
                     v->key_id);
        return NULL;
    }
    s->text[len] = '\0';
    if (strlen(s->text) != len) {
        vault_secret_free(s);
        gw_error_set(err, GW_EINVAL, "the sealed secret holds a NUL byte");
        return NULL;
    }
    sodium_mprotect_readonly(s->text);
    return s;
}

struct vault_secret *vault_open(const struct vault *v, const char *box,
                                struct gw_error *err)
{
    unsigned char *c = malloc(BOX_BYTES_MAX);
    struct vault_secret *s = NULL;
    size_t clen;

    if (c == NULL) {
        gw_error_set(err, GW_ENOMEM, "out of memory");
        return NULL;
    }
    clen = decode_box(box, c);
    if (clen == 0)
        gw_error_set(err, GW_EINVAL,
                     "not a sealed box (base64 of at least %d bytes, at most "
                     "%d)",
                     crypto_box_SEALBYTES, BOX_BYTES_MAX);
    else
        s = open_box(v, c, clen, err);
    free(c);
    return s;
}

const char *vault_secret_text(const struct vault_secret *s)
{
    return s->text;
}

size_t vault_secret_len(const struct vault_secret *s)
{
    return s->len;
}

void vault_secret_free(struct vault_secret *s)
{
    if (s == NULL)
        return;
    /* sodium_free() wipes the memory before it gives it back. */
    sodium_free(s->text);
    free(s);
}

enum gw_err vault_reseal(const struct vault *from, const char *to_public,
                         const char *box, struct buf *out, struct gw_error *err)
{
    struct vault_secret *s = vault_open(from, box, err);
    enum gw_err rc;

    if (s == NULL)
        return err->code;
    rc = vault_seal(to_public, s->text, s->len, out, err);
    vault_secret_free(s);
    return rc;
}

void vault_token_new(char out[VAULT_TOKEN_MAX])
{
    unsigned char r[32];
    size_t n = strlen(VAULT_TOKEN_PREFIX);

    vault_init();
    randombytes_buf(r, sizeof(r));
    memcpy(out, VAULT_TOKEN_PREFIX, n);
    sodium_bin2base64(out + n, VAULT_TOKEN_MAX - n, r, sizeof(r),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(r, sizeof(r));
}

static struct vault_hash_key *hash_key_alloc(struct gw_error *err)
{
    struct vault_hash_key *k = vault_init() ? calloc(1, sizeof(*k)) : NULL;

    if (k != NULL && (k->k = sodium_malloc(HASH_KEY_BYTES)) == NULL) {
        free(k);
        k = NULL;
    }
    if (k == NULL)
        gw_error_set(err, GW_ENOMEM, "out of memory");
    return k;
}

struct vault_hash_key *vault_hash_key_new(struct gw_error *err)
{
    struct vault_hash_key *k = hash_key_alloc(err);

    if (k != NULL) {
        randombytes_buf(k->k, HASH_KEY_BYTES);
        sodium_mprotect_readonly(k->k);
    }
    return k;
}

/* The key that wraps hash keys, derived from the secret key of `v`. */
static void wrap_key(const struct vault *v,
                     unsigned char out[crypto_secretbox_KEYBYTES])
{
    crypto_generichash(
        out, crypto_secretbox_KEYBYTES, (const unsigned char *)wrap_context,
        sizeof(wrap_context) - 1, v->sk, crypto_box_SECRETKEYBYTES);
}

void vault_hash_key_wrap(const struct vault *v, const struct vault_hash_key *k,
                         char out[VAULT_HASH_KEY_MAX])
{
    unsigned char wk[crypto_secretbox_KEYBYTES];
    unsigned char w[WRAPPED_BYTES];

    wrap_key(v, wk);
    randombytes_buf(w, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(w + crypto_secretbox_NONCEBYTES, k->k, HASH_KEY_BYTES,
                          w, wk);
    sodium_bin2base64(out, VAULT_HASH_KEY_MAX, w, sizeof(w), B64);
    sodium_memzero(wk, sizeof(wk));
}

struct vault_hash_key *vault_hash_key_unwrap(const struct vault *v,
                                             const char *wrapped,
                                             struct gw_error *err)
{
    unsigned char wk[crypto_secretbox_KEYBYTES];
    unsigned char w[WRAPPED_BYTES];
    struct vault_hash_key *k;
    size_t n = 0;
    int rc;

    if (sodium_base642bin(w, sizeof(w), wrapped, strlen(wrapped), NULL, &n,
                          NULL, B64) != 0 ||
        n != sizeof(w)) {
        gw_error_set(err, GW_EINVAL,
                     "hash_key: not a wrapped key (%d bytes in base64)",
                     WRAPPED_BYTES);
        return NULL;
    }
    k = hash_key_alloc(err);
    if (k == NULL)
        return NULL;
    wrap_key(v, wk);
    rc = crypto_secretbox_open_easy(k->k, w + crypto_secretbox_NONCEBYTES,
                                    sizeof(w) - crypto_secretbox_NONCEBYTES, w,
                                    wk);
    sodium_memzero(wk, sizeof(wk));
    if (rc != 0) {
        vault_hash_key_free(k);
        gw_error_set(err, GW_EINVAL,
                     "hash_key: does not open with the gateway's key "
                     "(key id %s): it was made for another key, or "
                     "altered",
                     v->key_id);
        return NULL;
    }
    sodium_mprotect_readonly(k->k);
    return k;
}

void vault_hash_key_free(struct vault_hash_key *k)
{
    if (k == NULL)
        return;
    sodium_free(k->k);
    free(k);
}

/* The hash of `inner` (a first-version hash) with `k`, into `out`. */
static void keyed_hash(const struct vault_hash_key *k, unsigned char *inner,
                       char out[VAULT_HASH_MAX])
{
    unsigned char h[32];

    crypto_generichash(h, sizeof(h), inner, 32, k->k, HASH_KEY_BYTES);
    sodium_bin2hex(out, VAULT_HASH_MAX, h, sizeof(h));
    sodium_memzero(h, sizeof(h));
}

void vault_token_hash(const struct vault_hash_key *k, const char *token,
                      char out[VAULT_HASH_MAX])
{
    unsigned char h[32];

    vault_init();
    crypto_generichash(h, sizeof(h), (const unsigned char *)token,
                       strlen(token), token_hash_key, sizeof(token_hash_key));
    if (k != NULL)
        keyed_hash(k, h, out);
    else
        sodium_bin2hex(out, VAULT_HASH_MAX, h, sizeof(h));
    sodium_memzero(h, sizeof(h));
}

bool vault_token_rehash(const struct vault_hash_key *k, const char *v1_hex,
                        char out[VAULT_HASH_MAX])
{
    unsigned char h[32];
    size_t n = 0;

    if (strlen(v1_hex) != 64 ||
        sodium_hex2bin(h, sizeof(h), v1_hex, 64, NULL, &n, NULL) != 0 ||
        n != sizeof(h))
        return false;
    keyed_hash(k, h, out);
    sodium_memzero(h, sizeof(h));
    return true;
}

bool vault_hash_equal(const char *a, const char *b)
{
    /* Stored hashes all have 64 digits; the length is no secret. */
    if (strlen(a) != VAULT_HASH_MAX - 1 || strlen(b) != VAULT_HASH_MAX - 1)
        return false;
    return sodium_memcmp(a, b, VAULT_HASH_MAX - 1) == 0;
}
