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
#ifndef GW_TOKENS_H
#define GW_TOKENS_H

#include <stdbool.h>
#include <stddef.h>

#include "store/records.h"
#include "base/base.h"
#include "vault.h"

/* The caller name of the bootstrap token, which no stored token may use. */
#define SRV_BOOTSTRAP_NAME "bootstrap"

struct srv_tokens;

/*
 * Reads the token file at `path`, whose hashes are keyed with a key of
 * its own that only `vault`, which must outlive the result, can open.
 * A file of version 1 (hashes keyed with a constant), or none, is
 * carried over: a new hash key, every stored hash keyed with it, written
 * at once. `bootstrap`, when not NULL, is hashed; the caller wipes its
 * copy. NULL with `err` set when the file is not a token file or its hash
 * key does not open.
 */
struct srv_tokens *srv_tokens_open(const char *path, const struct vault *vault,
                                   const char *bootstrap, struct gw_error *err);

/*
 * Wraps the hash key for the key pair `next` (a rekey), which from now
 * on must outlive `t`, and rewrites the file: the stored hashes stay.
 */
enum gw_err srv_tokens_rekey(struct srv_tokens *t, const struct vault *next,
                             struct gw_error *err);
void srv_tokens_free(struct srv_tokens *t);

/* The key id the hash key of the token file at `path` is wrapped for,
   into `key_id` (VAULT_KEY_ID_LEN + 1 bytes); "" when none or no file. */
void srv_tokens_key_id(const char *path, char *key_id);

/*
 * True when `token` is the bootstrap token or a stored one, with who it
 * is in `caller` (hash left empty). Every stored hash is compared, in
 * time that does not depend on which one matches, if any.
 */
bool srv_tokens_check(struct srv_tokens *t, const char *token,
                      struct api_token *caller);

/*
 * Makes a new token with the name, scope and limits of `rec`, whose hash
 * and creation time are filled in; the token itself goes to `token`
 * (size >= VAULT_TOKEN_MAX) and nowhere else. GW_EINVAL for a name in
 * use; the file is re-read and rewritten under its lock.
 */
enum gw_err srv_tokens_create(struct srv_tokens *t, struct api_token *rec,
                              char *token, size_t size, struct gw_error *err);

/* Every stored token, hashes included; free(*out) after. */
enum gw_err srv_tokens_list(struct srv_tokens *t, struct api_token **out,
                            size_t *n, struct gw_error *err);

/* Deletes the token `name`. GW_ENOTFOUND when there is none. */
enum gw_err srv_tokens_delete(struct srv_tokens *t, const char *name,
                              struct gw_error *err);

#endif
