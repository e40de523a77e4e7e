/*
 * The vault: the gateway's X25519 key pair and everything done with it,
 * and the only file of the gateway that sees libsodium.
 *
 * Secrets at rest are sealed boxes (crypto_box_seal): anyone holding the
 * public key can seal, only the holder of the secret key can open, and
 * the box says nothing about what it holds (the scheme GitHub uses for
 * repository secrets). An opened secret lives in guarded memory
 * (sodium_malloc: no swap, guard pages, wiped when freed) for as long as
 * its one use takes.
 *
 * What crosses this interface is text: keys and boxes in base64 (the
 * standard alphabet, padded), key ids and token hashes in hex. The secret
 * key itself never leaves the vault except into its key file.
 */
#ifndef GW_VAULT_H
#define GW_VAULT_H

#include <stdbool.h>
#include <stddef.h>

#include "base/base.h"

/* A key id: the first 8 bytes of BLAKE2b(public key), in hex. */
#define VAULT_KEY_ID_LEN 16

/* Room for a public key in base64, with its NUL. */
#define VAULT_PUBLIC_MAX 45

/* The longest secret that may be sealed (an OAuth token is the longest). */
#define VAULT_SECRET_MAX 4096

/* Room for the base64 box of the longest secret, with its NUL. */
#define VAULT_BOX_MAX 5600

/* Room for a token hash in hex, with its NUL. */
#define VAULT_HASH_MAX 65

/* Room for a new API token ("sgw_" and 43 characters), with its NUL. */
#define VAULT_TOKEN_MAX 48

/* Every API token the gateway makes starts with this. */
#define VAULT_TOKEN_PREFIX "sgw_"

struct vault;        /* a key pair */
struct vault_secret; /* an opened secret, in guarded memory */

/* Starts libsodium; false when it cannot (no entropy source). */
bool vault_init(void);

/* A new random key pair, or NULL with `err` set. Free with vault_free(). */
struct vault *vault_generate(struct gw_error *err);

/*
 * The key pair of the secret key `b64` (32 bytes in base64, surrounding
 * white space ignored), as GATEWAY_SECRET_KEY gives it; NULL with `err`
 * set when it is not one. `what` names the source in the error.
 */
struct vault *vault_from_base64(const char *b64, const char *what,
                                struct gw_error *err);

/* The key pair whose secret key the file `path` holds (as above). */
struct vault *vault_load(const char *path, struct gw_error *err);

/*
 * Writes the secret key to `path` (mode 0600, atomically) and the public
 * key to `public_path` (mode 0644); either may be NULL to skip it.
 */
enum gw_err vault_save(const struct vault *v, const char *path,
                       const char *public_path, struct gw_error *err);

/* Wipes and frees the key pair; harmless on NULL. */
void vault_free(struct vault *v);

/* The key id and the public key in base64, owned by `v`. */
const char *vault_key_id(const struct vault *v);
const char *vault_public_key(const struct vault *v);

/*
 * Checks that `b64` is a public key and writes its key id into `key_id`
 * (VAULT_KEY_ID_LEN + 1 bytes). GW_EINVAL when it is not one.
 */
enum gw_err vault_public_key_id(const char *b64, char *key_id,
                                struct gw_error *err);

/*
 * Seals `len` bytes of `secret` for the public key `public_b64` and
 * appends the box, in base64, to `out`. GW_EINVAL for a bad key or a
 * secret over VAULT_SECRET_MAX. The secret is not kept anywhere.
 */
enum gw_err vault_seal(const char *public_b64, const void *secret, size_t len,
                       struct buf *out, struct gw_error *err);

/*
 * Opens the base64 box `box` with the key pair: returns the secret, in
 * guarded memory, read-only, NUL-terminated, which the caller releases
 * with vault_secret_free() as soon as it is used. NULL with `err` set
 * (GW_EINVAL: not base64, not a box, sealed for another key, altered, or
 * holding a NUL byte); the error never quotes the box's content.
 */
struct vault_secret *vault_open(const struct vault *v, const char *box,
                                struct gw_error *err);

/* The secret as a string, and its length; valid until freed. */
const char *vault_secret_text(const struct vault_secret *s);
size_t vault_secret_len(const struct vault_secret *s);

/* Wipes and frees the secret; harmless on NULL. */
void vault_secret_free(struct vault_secret *s);

/*
 * Opens `box` with `from` and seals what it holds for `to_public`,
 * appending the new box to `out`; the secret is readable only in between.
 */
enum gw_err vault_reseal(const struct vault *from, const char *to_public,
                         const char *box, struct buf *out,
                         struct gw_error *err);

/* A new random API token: VAULT_TOKEN_PREFIX and 32 bytes in base64url. */
void vault_token_new(char out[VAULT_TOKEN_MAX]);

/* Room for a wrapped hash key in base64, with its NUL. */
#define VAULT_HASH_KEY_MAX 100

struct vault_hash_key; /* the key of the token hashes, in guarded memory */

/* A new random hash key, or NULL with `err` set; free with _free(). */
struct vault_hash_key *vault_hash_key_new(struct gw_error *err);

/*
 * The hash key `wrapped` holds, as vault_hash_key_wrap() made it with the
 * same key pair. NULL with `err` set (GW_EINVAL) when it was wrapped with
 * another key pair or altered: no one without the secret key can make a
 * hash key the gateway takes, and so no token hash.
 */
struct vault_hash_key *vault_hash_key_unwrap(const struct vault *v,
                                             const char *wrapped,
                                             struct gw_error *err);

/*
 * Encrypts the hash key with a key derived from the secret key of `v`
 * (XSalsa20-Poly1305, a random nonce) into `out`, in base64.
 */
void vault_hash_key_wrap(const struct vault *v, const struct vault_hash_key *k,
                         char out[VAULT_HASH_KEY_MAX]);

/* Wipes and frees the hash key; harmless on NULL. */
void vault_hash_key_free(struct vault_hash_key *k);

/*
 * The hash under which a token is stored, in hex: BLAKE2b-256 keyed with
 * `k` of the token's first-version hash, BLAKE2b-256 keyed with a
 * constant (which is the whole hash when `k` is NULL, as token files of
 * version 1 hold it). Tokens are 256 random bits, so a fast hash is
 * enough: no guessing can find one, and a stolen token file gives no
 * token; the secret key keeps anyone from making a hash of their own.
 */
void vault_token_hash(const struct vault_hash_key *k, const char *token,
                      char out[VAULT_HASH_MAX]);

/*
 * The hash with `k` of the token whose first-version hash is `v1_hex`:
 * how a token file of version 1 is carried over. False when `v1_hex` is
 * not 64 hex digits.
 */
bool vault_token_rehash(const struct vault_hash_key *k, const char *v1_hex,
                        char out[VAULT_HASH_MAX]);

/* Compares two token hashes in time independent of their content. */
bool vault_hash_equal(const char *a, const char *b);

#endif
