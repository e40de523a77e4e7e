/*
 * The composer's entry, mime_compose(): it checks the message, writes its
 * header fields and then its body, and words a failure of the output
 * buffer, which comes without a detail; see mime.h.
 */
#include "internal.h"

#include <string.h>

enum gw_err mime_compose(const struct mime_message *msg,
                         const struct mime_options *opt, struct buf *out,
                         struct mime_result *res, struct gw_error *err)
{
    struct compose c = {msg, opt, out, res, err};
    enum gw_err rc;

    memset(res, 0, sizeof(*res));
    rc = mime_check_message(&c);
    if (rc == GW_OK)
        rc = mime_put_headers(&c);
    if (rc == GW_OK)
        rc = mime_put_body(&c);
    /* The buffers fail without a detail; only here is the limit known. */
    if (rc == GW_ELIMIT)
        gw_error_set(err, rc, "the composed message exceeds %zu bytes",
                     out->max);
    else if (rc == GW_ENOMEM)
        gw_error_set(err, rc, "out of memory");
    return rc;
}
