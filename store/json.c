/*
 * The JSON of the state files; see internal.h.
 */
#include "internal.h"

enum gw_err store_json_dump(json_t *doc, struct buf *out, struct gw_error *err)
{
    char *text = doc != NULL ? json_dumps(doc, JSON_INDENT(2)) : NULL;
    json_free_t free_fn;
    enum gw_err rc;

    json_decref(doc);
    if (text == NULL)
        return gw_error_set(err, GW_ENOMEM, "out of memory");
    rc = buf_puts(out, text);
    if (rc == GW_OK)
        rc = buf_putc(out, '\n');
    /* The API may have given jansson an allocator of its own (one that
       wipes what it frees): the text goes back through it. */
    json_get_alloc_funcs(NULL, &free_fn);
    free_fn(text);
    return rc == GW_OK ? GW_OK : gw_error_set(err, rc, "the file is too big");
}

json_t *store_json_load(const char *text, size_t len, struct gw_error *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);

    if (root == NULL) {
        gw_error_set(err, GW_EINVAL, "not JSON: line %d column %d: %s",
                     jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        gw_error_set(err, GW_EINVAL, "not a JSON object");
        return NULL;
    }
    return root;
}
