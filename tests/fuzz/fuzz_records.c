/*
 * libFuzzer harness for the credential and token files (store/store.h):
 * any bytes must be decoded or refused with a reason, never crash, leak
 * or read out of bounds, and whatever decodes must encode and decode
 * again to the very same records, so that the gateway rewriting its own
 * files never changes a credential or a token.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void credentials_round_trip(const char *text, size_t size)
{
    struct store_credential *v = NULL, *again = NULL;
    const struct store_credential **list;
    struct gw_error err = {0};
    char id[17], id2[17];
    size_t n = 0, n2 = 0;
    struct buf out;

    if (store_creds_decode(text, size, id, sizeof(id), &v, &n, &err) != GW_OK) {
        if (err.detail[0] == '\0' || v != NULL)
            abort();
        return;
    }
    list = calloc(n + 1, sizeof(*list));
    for (size_t i = 0; list != NULL && i < n; i++)
        list[i] = &v[i];
    buf_init(&out, STORE_FILE_MAX);
    if (list == NULL || store_creds_encode(id, list, n, &out, &err) != GW_OK ||
        store_creds_decode(out.data, out.len, id2, sizeof(id2), &again, &n2,
                           &err) != GW_OK ||
        n2 != n || strcmp(id, id2) != 0 ||
        (n > 0 && memcmp(v, again, n * sizeof(*v)) != 0))
        abort();
    buf_free(&out);
    free(list);
    free(v);
    free(again);
}

static void tokens_round_trip(const char *text, size_t size)
{
    struct store_token *v = NULL, *again = NULL;
    struct gw_error err = {0};
    size_t n = 0, n2 = 0;
    struct buf out;

    if (store_tokens_decode(text, size, &v, &n, &err) != GW_OK) {
        if (err.detail[0] == '\0' || v != NULL)
            abort();
        return;
    }
    buf_init(&out, STORE_FILE_MAX);
    if (store_tokens_encode(v, n, &out, &err) != GW_OK ||
        store_tokens_decode(out.data, out.len, &again, &n2, &err) != GW_OK ||
        n2 != n || (n > 0 && memcmp(v, again, n * sizeof(*v)) != 0))
        abort();
    buf_free(&out);
    free(v);
    free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    credentials_round_trip((const char *)data, size);
    tokens_round_trip((const char *)data, size);
    return 0;
}
