/*
 * What the files of store/ share among themselves and nobody else sees:
 * reading and writing the JSON of the state files.
 */
#ifndef GW_STORE_INTERNAL_H
#define GW_STORE_INTERNAL_H

#include <jansson.h>

#include "store.h"

/*
 * Parses `len` bytes of `text` as a JSON object (a key given twice is an
 * error). Returns it (the caller releases it with json_decref()), or NULL
 * with `err` (GW_EINVAL) saying where it breaks.
 */
json_t *store_json_load(const char *text, size_t len, struct gw_error *err);

/*
 * Appends `doc` (whose reference this takes, NULL meaning out of memory)
 * to `out` as indented JSON ending in a newline: a file's contents.
 */
enum gw_err store_json_dump(json_t *doc, struct buf *out, struct gw_error *err);

#endif
