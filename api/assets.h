/*
 * The documents the gateway serves as they are, embedded in the binary at
 * build time by scripts/embed.sh (the file is build/gen/assets.c): the
 * OpenAPI description, the /docs page and the Redoc bundle it loads.
 */
#ifndef GW_ASSETS_H
#define GW_ASSETS_H

#include <stddef.h>

extern const unsigned char asset_openapi_yaml[];
extern const size_t asset_openapi_yaml_len;
extern const unsigned char asset_docs_html[];
extern const size_t asset_docs_html_len;
extern const unsigned char asset_redoc_js[];
extern const size_t asset_redoc_js_len;

#endif
