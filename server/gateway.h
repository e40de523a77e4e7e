/*
 * The wiring of the modules: the store of records, the key pair (the
 * vault), the credentials with their pools and the tokens, opened from
 * the configuration at start-up and handed to the API (struct api_ctx).
 */
#ifndef GW_GATEWAY_H
#define GW_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>

#include "api/api.h"
#include "base/base.h"
#include "config.h"
#include "core/core.h"

/* The files of the gateway's state in its data directory. */
#define SRV_KEY_FILE         "gateway.key"      /* the secret key, 0600 */
#define SRV_PUBLIC_FILE      "gateway.pub"      /* the public key */
#define SRV_NEXT_KEY_FILE    "gateway.key.next" /* during a rekey */
#define SRV_TOKENS_FILE      "tokens.json"
#define SRV_CREDENTIALS_FILE "credentials.json"

/* Where each state file is, from the configuration. */
struct srv_paths {
    char key[4200];
    char public_key[4200];
    char next_key[4200];
    char tokens[4200];
    char credentials[4200];
};

/* Fills `out`; GW_EINVAL with one line in `err` when a path is too long. */
enum gw_err srv_paths_of(const struct srv_config *cfg, struct srv_paths *out,
                         struct gw_error *err);

/* The store of the credentials and tokens of `paths`. */
struct store *srv_store_open(const struct srv_paths *paths,
                             struct gw_error *err);

/*
 * The gateway's key pair, from the first of: GATEWAY_SECRET_KEY,
 * GATEWAY_SECRET_KEY_FILE, the data directory's key file. When none
 * exists there, `create` makes one (and its public key file), else it is
 * an error. A rekey that stopped half-way is finished or undone first.
 * `*source` names where the key came from ("GATEWAY_SECRET_KEY",
 * "GATEWAY_SECRET_KEY_FILE", "data_dir", or "data_dir_new" when it was
 * just made). NULL with `err` set.
 */
struct vault *srv_key_load(const struct srv_config *cfg,
                           const struct srv_paths *paths, bool create,
                           const char **source, struct gw_error *err);

struct srv_gateway;

/*
 * Loads the key pair (making one on first start), seals the `default`
 * credential's secrets given in the clear and wipes them from `cfg`,
 * opens the credential store and the tokens. NULL with `err` set.
 */
struct srv_gateway *srv_gateway_open(struct srv_config *cfg,
                                     struct gw_error *err);

/* Frees everything; no request may be running. Harmless on NULL. */
void srv_gateway_free(struct srv_gateway *gw);

/* The API's view of `gw`, valid while `gw` is. */
void srv_gateway_ctx(struct srv_gateway *gw, struct api_ctx *out);

#endif
