/*
 * The credential store: every named credential the API can send through,
 * each with its own upstream pool. The credentials live in a JSON file
 * (credentials.json in the data directory, or GATEWAY_CREDENTIALS_FILE)
 * with their secrets only as sealed boxes; the `default` credential of
 * GATEWAY_SMTP_* joins them, unless the file has its own `default`, which
 * wins.
 *
 * A pool's secrets stay sealed: they are opened by the vault for each
 * AUTH only (struct smtp_secrets). A credential whose box does not open
 * is reported at start-up and refused at use; the others keep working.
 * Sends hold a credential by reference, so a PUT or DELETE that replaces
 * it never frees a pool under a running send: the last holder does.
 */
#ifndef GW_STORE_H
#define GW_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "api/api.h"
#include "store/records.h"
#include "base/base.h"
#include "vault.h"

struct srv_store;

/*
 * Reads the file at `path` (none yet is an empty store) and builds every
 * credential, logging each one and why any is unusable. `env_default`
 * (copied; may be NULL) is the `default` of the environment. `vault` must
 * outlive the store. NULL with `err` set when the file cannot be read or
 * is not a credential file.
 */
struct srv_store *srv_store_open(const char *path, const struct vault *vault,
                                 const struct api_credential *env_default,
                                 struct gw_error *err);

/* Frees the store; no send may hold a credential any more. */
void srv_store_free(struct srv_store *st);

/*
 * Holds credential `name` for a send and returns its pool; `*hold` goes
 * to srv_store_put() when the send is over. NULL with `err` set:
 * GW_ENOTFOUND, or GW_ECONFLICT when the credential cannot be used.
 */
struct smtp_pool *srv_store_get(struct srv_store *st, const char *name,
                                void **hold, struct gw_error *err);
void srv_store_put(struct srv_store *st, void *hold);

/* Copies of every credential (the admin views); free(*out) after. */
enum gw_err srv_store_list(struct srv_store *st, struct api_cred_info **out,
                           size_t *n, struct gw_error *err);
enum gw_err srv_store_info(struct srv_store *st, const char *name,
                           struct api_cred_info *out, struct gw_error *err);

/*
 * Creates or replaces credential c->name: its boxes must open and its
 * pool must build (GW_EINVAL naming the field otherwise); then the file
 * is rewritten and the new pool takes over. GW_ECONFLICT when the file
 * is read-only or changed on disk since it was read.
 */
enum gw_err srv_store_set(struct srv_store *st, const struct api_credential *c,
                          bool *created, struct gw_error *err);

/* Removes a stored credential. GW_ENOTFOUND, or GW_ECONFLICT for the
   `default` of the environment, which only the environment changes. */
enum gw_err srv_store_delete(struct srv_store *st, const char *name,
                             struct gw_error *err);

/* Runs smtp_pool_verify() on credential `name` (or reports why it cannot
   be used). GW_ENOTFOUND when there is none. */
enum gw_err srv_store_verify(struct srv_store *st, const char *name,
                             struct smtp_verify *out, struct gw_error *err);

/*
 * For `smtp-gateway rekey`: re-seals every box of the file at `path` from
 * the key pair `from` to `to` and rewrites it, under the file's lock. A
 * box that does not open stops everything (GW_EINVAL naming it), so no
 * secret is lost. `*n` is the number of secrets re-sealed.
 */
enum gw_err srv_store_rekey(const char *path, const struct vault *from,
                            const struct vault *to, size_t *n,
                            struct gw_error *err);

/* The key id the file at `path` says its boxes are sealed for, into
   `key_id` (VAULT_KEY_ID_LEN + 1 bytes); "" when none or no file. */
void srv_store_key_id(const char *path, char *key_id);

#endif
