/*
 * What the gateway does, free of HTTP: the vault (the key pair, sealed
 * boxes, token hashes), the registry of credentials with their pools, the
 * API tokens, and the key files with the rekey.
 */
#ifndef GW_CORE_H
#define GW_CORE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/base.h"
#include "mime/mime.h"
#include "smtp/smtp.h"
#include "store/store.h"

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

/*
 * The credential store: every named credential the API can send through,
 * each with its own upstream pool. The credentials are kept in the store
 * (store/store.h: credentials.json in the data directory, or
 * GATEWAY_CREDENTIALS_FILE) with their secrets only as sealed boxes; the
 * `default` credential of
 * GATEWAY_SMTP_* joins them, unless the file has its own `default`, which
 * wins.
 *
 * A pool's secrets stay sealed: they are opened by the vault for each
 * AUTH only (struct smtp_secrets). A credential whose box does not open
 * is reported at start-up and refused at use; the others keep working.
 * Sends hold a credential by reference, so a PUT or DELETE that replaces
 * it never frees a pool under a running send: the last holder does.
 */
/*
 * The settings of `c` as the SMTP client takes them, without secrets
 * (the caller adds a struct smtp_secrets); the strings stay owned by `c`.
 */
void core_credential_smtp(const struct store_credential *c,
                          struct smtp_server *out);

/* A credential as the admin routes see it. */
struct core_cred_info {
    struct store_credential cred;    /* its boxes are never shown */
    bool from_env;                   /* the `default` of GATEWAY_SMTP_* */
    bool usable;                     /* its secrets open; it has a pool */
    char error[GW_ERROR_DETAIL_MAX]; /* why not usable; "" otherwise */
};

struct core_creds;

/*
 * Reads the credentials of `store` (none yet is an empty registry) and
 * builds every one, logging each and why any is unusable. `env_default`
 * (copied; may be NULL) is the `default` of the environment. `store` and
 * `vault` must outlive the registry. NULL with `err` set when the
 * credentials cannot be read or are not valid.
 */
struct core_creds *core_creds_open(struct store *store,
                                   const struct vault *vault,
                                   const struct store_credential *env_default,
                                   struct gw_error *err);

/* Frees the store; no send may hold a credential any more. */
void core_creds_free(struct core_creds *st);

/*
 * Holds credential `name` for a send and returns its pool; `*hold` goes
 * to core_creds_put() when the send is over. NULL with `err` set:
 * GW_ENOTFOUND, or GW_ECONFLICT when the credential cannot be used.
 */
struct smtp_pool *core_creds_get(struct core_creds *st, const char *name,
                                 void **hold, struct gw_error *err);
void core_creds_put(struct core_creds *st, void *hold);

/* Copies of every credential (the admin views); free(*out) after. */
enum gw_err core_creds_list(struct core_creds *st, struct core_cred_info **out,
                            size_t *n, struct gw_error *err);
enum gw_err core_creds_info(struct core_creds *st, const char *name,
                            struct core_cred_info *out, struct gw_error *err);

/*
 * Creates or replaces credential c->name: its boxes must open and its
 * pool must build (GW_EINVAL naming the field otherwise); then the file
 * is rewritten and the new pool takes over. GW_ECONFLICT when the file
 * is read-only or changed on disk since it was read.
 */
enum gw_err core_creds_set(struct core_creds *st,
                           const struct store_credential *c, bool *created,
                           struct gw_error *err);

/* Removes a stored credential. GW_ENOTFOUND, or GW_ECONFLICT for the
   `default` of the environment, which only the environment changes. */
enum gw_err core_creds_delete(struct core_creds *st, const char *name,
                              struct gw_error *err);

/* Runs smtp_pool_verify() on credential `name` (or reports why it cannot
   be used). GW_ENOTFOUND when there is none. */
enum gw_err core_creds_verify(struct core_creds *st, const char *name,
                              struct smtp_verify *out, struct gw_error *err);

/*
 * For `smtp-gateway rekey`: re-seals every box of the credentials of
 * `store` from the key pair `from` to `to` and saves them, under the
 * store's lock. A
 * box that does not open stops everything (GW_EINVAL naming it), so no
 * secret is lost. `*n` is the number of secrets re-sealed.
 */
enum gw_err core_creds_rekey(struct store *store, const struct vault *from,
                             const struct vault *to, size_t *n,
                             struct gw_error *err);

/* The key id the credentials of `store` are sealed for, into `key_id`
   (VAULT_KEY_ID_LEN + 1 bytes); "" when none or none are stored. */
void core_creds_key_id(struct store *store, char *key_id);

/*
 * API tokens: who may call the gateway, and for what. A token is shown
 * once, when it is made (by `smtp-gateway token create` or POST
 * /v1/tokens); the token file (tokens.json in the data directory, mode
 * 0600) holds only its hash, its scope and its limits. GATEWAY_API_TOKEN
 * stays the bootstrap token, of the admin scope, kept only as a hash too.
 *
 * The server notices when the file is replaced (by the command line, say)
 * and reads it again before the next check, so a token made or deleted
 * there counts at once.
 */
/* The caller name of the bootstrap token, which no stored token may use. */
#define SRV_BOOTSTRAP_NAME "bootstrap"

struct core_tokens;

/*
 * Reads the tokens of `store`, which must outlive the result, whose
 * hashes are keyed with a key of
 * its own that only `vault`, which must outlive the result, can open.
 * A file of version 1 (hashes keyed with a constant), or none, is
 * carried over: a new hash key, every stored hash keyed with it, written
 * at once. `bootstrap`, when not NULL, is hashed; the caller wipes its
 * copy. NULL with `err` set when the file is not a token file or its hash
 * key does not open.
 */
struct core_tokens *core_tokens_open(struct store *store,
                                     const struct vault *vault,
                                     const char *bootstrap,
                                     struct gw_error *err);

/*
 * Wraps the hash key for the key pair `next` (a rekey), which from now
 * on must outlive `t`, and rewrites the file: the stored hashes stay.
 */
enum gw_err core_tokens_rekey(struct core_tokens *t, const struct vault *next,
                              struct gw_error *err);
void core_tokens_free(struct core_tokens *t);

/* The key id the hash key of the tokens of `store` is wrapped for, into
   `key_id` (VAULT_KEY_ID_LEN + 1 bytes); "" when none or no file. */
void core_tokens_key_id(struct store *store, char *key_id);

/*
 * True when `token` is the bootstrap token or a stored one, with who it
 * is in `caller` (hash left empty). Every stored hash is compared, in
 * time that does not depend on which one matches, if any.
 */
bool core_tokens_check(struct core_tokens *t, const char *token,
                       struct store_token *caller);

/*
 * Makes a new token with the name, scope and limits of `rec`, whose hash
 * and creation time are filled in; the token itself goes to `token`
 * (size >= VAULT_TOKEN_MAX) and nowhere else. GW_EINVAL for a name in
 * use; the file is re-read and rewritten under its lock.
 */
enum gw_err core_tokens_create(struct core_tokens *t, struct store_token *rec,
                               char *token, size_t size, struct gw_error *err);

/* Every stored token, hashes included; free(*out) after. */
enum gw_err core_tokens_list(struct core_tokens *t, struct store_token **out,
                             size_t *n, struct gw_error *err);

/* Deletes the token `name`. GW_ENOTFOUND when there is none. */
enum gw_err core_tokens_delete(struct core_tokens *t, const char *name,
                               struct gw_error *err);

/*
 * Key files and rekey: which key pair the gateway uses, where the files
 * of its state are in the data directory, and `smtp-gateway rekey`, which
 * replaces the key pair and everything sealed for it in steps that a
 * crash can stop anywhere; core_keys_load() finishes or undoes a stopped
 * rekey before it reads the data directory's key.
 */
/* Room for the path of a state file, with its NUL. */
#define CORE_KEY_PATH_MAX 4200

/* Where each state file is. */
struct core_key_paths {
    char key[CORE_KEY_PATH_MAX];         /* gateway.key: the secret key */
    char public_key[CORE_KEY_PATH_MAX];  /* gateway.pub: the public key */
    char next_key[CORE_KEY_PATH_MAX];    /* gateway.key.next: in a rekey */
    char tokens[CORE_KEY_PATH_MAX];      /* tokens.json */
    char credentials[CORE_KEY_PATH_MAX]; /* credentials.json, or as given */
};

/*
 * Fills `out` with the files of the data directory `data_dir`; the
 * credentials are at `credentials_file` instead when it is not "".
 * GW_EINVAL ("the path is too long") when a path does not fit.
 */
enum gw_err core_keys_paths(const char *data_dir, const char *credentials_file,
                            struct core_key_paths *out, struct gw_error *err);

/* A key pair given instead of the data directory's (the first set wins). */
struct core_key_given {
    const char *key;      /* a secret key in base64, or "" */
    const char *key_name; /* names `key` in an error */
    const char *file;     /* a file holding one, or "" */
};

/* Where a key pair came from. */
enum core_key_source {
    CORE_KEY_GIVEN,        /* given->key */
    CORE_KEY_GIVEN_FILE,   /* given->file */
    CORE_KEY_DATA_DIR,     /* the data directory's key file */
    CORE_KEY_DATA_DIR_NEW, /* the same, made just now */
};

/*
 * The gateway's key pair: the one `given`, else the data directory's, in
 * `paths`. A rekey of the data directory's key that stopped half-way is
 * finished or undone first, on the credentials and tokens of `records`
 * (logged as event=rekey_finished,
 * rekey_abandoned, or rekey_unfinished when it cannot be either). When
 * the data directory has no key, `create` makes one and its public key
 * file, else it is an error. Returns the key pair, which the caller frees
 * with vault_free(), and where it came from in `*source`; NULL with `err`
 * set.
 */
struct vault *core_keys_load(const struct core_key_given *given,
                             const struct core_key_paths *paths,
                             struct store *records, bool create,
                             enum core_key_source *source,
                             struct gw_error *err);

/* What core_keys_rekey() replaces. */
struct core_rekey {
    struct store *records;       /* the credentials and tokens to carry */
    const struct vault *old;     /* the key pair of core_keys_load() */
    enum core_key_source source; /* where it came from */
    const char *old_key_file;    /* the file given for it, or "" */
    const char *new_key_file;    /* for a key not of the data directory:
                                    a new file for the new key; else unused */
};

/*
 * Replaces r->old with a new key pair: the tokens of r->records are read
 * first (their hash key must open), then every box of its credentials is
 * re-sealed for the new key and the tokens' hash key wrapped for it.
 * The data directory's key goes beside the old one and is renamed over
 * it last, with a new public key file; any other key stays, and the new
 * one goes to r->new_key_file, which must not exist yet. Returns the new
 * key pair, which the caller frees with vault_free(), and the number of
 * secrets re-sealed in `*resealed`; NULL with `err` set.
 */
struct vault *core_keys_rekey(const struct core_rekey *r,
                              const struct core_key_paths *paths,
                              size_t *resealed, struct gw_error *err);

/*
 * The send path, free of HTTP: what a route checked and a queue worker
 * will load, composed and sent through a credential's pool.
 */

/* A message ready to compose: the composer's description and options. */
struct core_message {
    struct mime_message msg;
    struct mime_options opt; /* allow_8bit as the sender asked */
    size_t body_len;         /* the request's size, a hint for the buffer */
};

/*
 * Composes `m`: initialises `out` (the caller frees it with buf_free()
 * whatever the result) with a limit that follows from m->body_len, and
 * appends the message as mime_compose() writes it, filling `mres`.
 */
enum gw_err core_compose(const struct core_message *m, struct buf *out,
                         struct mime_result *mres, struct gw_error *err);

/*
 * Sends `msg`, composed from `m` into `mres`, to the envelope `env` (its
 * needs for 8BITMIME and SMTPUTF8 joined by the message's own)
 * through `pool`, the outcome into `res` (smtp_result_free() after). A
 * message with 8bit parts that the server cannot take (no 8BITMIME;
 * nothing was sent) is composed again in 7-bit encodings into `msg` and
 * sent again. Returns GW_OK when `res` holds the outcome; an error with
 * `err` only when the second composition failed, and nothing was sent.
 * The send is on the list core_log_running_sends() reads while it runs.
 */
enum gw_err core_send(struct smtp_pool *pool, const char *credential,
                      struct core_message *m, struct smtp_envelope *env,
                      struct buf *msg, struct mime_result *mres,
                      struct smtp_result *res, struct gw_error *err);

/*
 * A send in progress, on the list that core_log_running_sends() reads. It
 * lives in the caller's memory, from core_running_begin() (before the
 * first byte goes upstream) to core_running_end(), which must come before
 * that memory goes.
 */
struct core_running {
    struct core_running *prev, *next;
    char credential[STORE_NAME_MAX + 1];
    char message_id[300]; /* "" while not known */
};

void core_running_begin(struct core_running *r, const char *credential,
                        const char *message_id);
/* Records the Message-ID once known (a raw message's headers). */
void core_running_set_id(struct core_running *r, const char *message_id);
void core_running_end(struct core_running *r);

/*
 * Logs one line for each send in progress (event=send_cut_off), for a
 * stop that cannot wait for them any more; returns how many there were.
 */
size_t core_log_running_sends(void);

#endif
