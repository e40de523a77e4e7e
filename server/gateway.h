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

/*
 * The state files of `cfg` (core_keys_paths()); GW_EINVAL with one line
 * in `err` when a path is too long.
 */
enum gw_err srv_paths_of(const struct srv_config *cfg,
                         struct core_key_paths *out, struct gw_error *err);

/* The store of the credentials and tokens of `paths`. */
struct store *srv_store_open(const struct core_key_paths *paths,
                             struct gw_error *err);

/*
 * The gateway's key pair from the first of GATEWAY_SECRET_KEY,
 * GATEWAY_SECRET_KEY_FILE and the data directory (core_keys_load()).
 */
struct vault *srv_key_load(const struct srv_config *cfg,
                           const struct core_key_paths *paths,
                           struct store *records, bool create,
                           enum core_key_source *source, struct gw_error *err);

/*
 * How the configuration names `source`: "GATEWAY_SECRET_KEY",
 * "GATEWAY_SECRET_KEY_FILE" or "data_dir" (made just now or not).
 */
const char *srv_key_source_name(enum core_key_source source);

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
