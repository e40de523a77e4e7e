/*
 * The send request of POST /v1/messages, checked field by field into the
 * composer's types and composed, without HTTP and without an SMTP server.
 * The route handler (messages.c) and the fuzz harness share this path.
 * The query of POST /v1/messages/raw (raw.c) is read by the same checks
 * into the same request, so that both routes take an address, a list of
 * recipients and auth_from alike, and make their envelopes alike.
 *
 *     struct api_request req;
 *     struct api_request_error re;
 *     struct buf msg;
 *     if (api_request_parse(body, len, &req, &re) != GW_OK) -> re.status
 *     if (api_request_compose(&req, &msg, &mres, &re) != GW_OK) -> ...
 *     ...
 *     buf_free(&msg);
 *     api_request_free(&req);
 */
#ifndef GW_API_REQUEST_H
#define GW_API_REQUEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "mime/mime.h"
#include "base/base.h"
#include "core/core.h"
#include "smtp/smtp.h"
#include "api.h"

/* Recipients of one request, over to, cc and bcc together. RFC 5321
   4.5.3.1.8 has servers take at least 100; 1000 covers real lists. */
#define API_MAX_RECIPIENTS 1000

/* Extra headers of one request. */
#define API_MAX_HEADERS 100

/* Attachments of one request; the body's size limit bounds their bytes. */
#define API_MAX_ATTACHMENTS 100

/* One address list of the request: to, cc, bcc or reply_to. */
struct api_addr_list {
    struct mime_addr *v; /* owned */
    size_t n;
};

/*
 * A request once checked. The strings are borrowed from `root`, which the
 * request owns with everything else; api_request_free() releases it all.
 */
struct api_request {
    json_t *root;           /* the parsed body */
    size_t body_len;        /* its size in bytes, which bounds the message */
    const char *credential; /* "default" when not given */
    struct mime_addr from;
    struct mime_addr sender; /* sender.mailbox is NULL when not given */
    struct api_addr_list to, cc, bcc, reply_to;
    const char *subject, *text, *html; /* NULL when not given */
    struct mime_header headers[API_MAX_HEADERS];
    size_t n_headers;
    struct mime_attachment *attachments; /* n_attachments of them */
    void **attachment_data;              /* the decoded bytes of each */
    size_t n_attachments;
    bool continue_after_bad_send, show_bcc, allow_header_encoding;
    bool dry_run;            /* compose and show, send nothing */
    bool allow_8bit;         /* text parts may go 8bit (RFC 6152) */
    char *auth_from;         /* AUTH= on MAIL FROM, in A-labels ("" for
                                <>); NULL: the credential's */
    struct mime_tz tz;       /* UT when not given */
    char *message_id_domain; /* in A-labels; NULL for the From domain */
};

/* Why a request was refused, ready for the error reply. */
struct api_request_error {
    unsigned status;                /* 400, or 500 when out of memory */
    char field[128];                /* the JSON path of the field at fault,
                                       such as "to[1]"; "" when none */
    char text[GW_ERROR_DETAIL_MAX]; /* the error, starting with the field
                                       and ": " when there is one */
};

/*
 * Parses the JSON body (`len` bytes) and checks every field into `req`,
 * which the caller releases with api_request_free() whatever the result.
 * GW_EINVAL (status 400) or GW_ENOMEM (500) with `re` filled on failure.
 */
enum gw_err api_request_parse(const char *body, size_t len,
                              struct api_request *req,
                              struct api_request_error *re);

/*
 * The same for a body in a buffer, which this takes over: its memory goes
 * back to the system page by page as it is parsed, and it is freed (left
 * empty) on return.
 */
enum gw_err api_request_parse_buf(struct buf *body, struct api_request *req,
                                  struct api_request_error *re);

/* The checked request as the send path takes it (core_compose()). It
   points into `req`, which must outlive it. */
void api_request_message(const struct api_request *req,
                         struct core_message *out);

/*
 * Composes the checked request: initialises `out` (the caller frees it
 * with buf_free() whatever the result) with a limit that follows from
 * the body's size, and appends the message as mime_compose() writes it.
 */
enum gw_err api_request_compose(const struct api_request *req, struct buf *out,
                                struct mime_result *res,
                                struct api_request_error *re);

/*
 * Reads the query of a raw send into `req` (which the caller releases
 * with api_request_free() whatever the result): credential, from (a
 * mailbox, or "" for the null sender), to (repeated, into req->to),
 * auth_from, continue_after_bad_send and show_bcc, each checked as its
 * JSON field is. A parameter with a NUL byte, one given twice (but to)
 * and an unknown one are refused. GW_EINVAL (400) or GW_ENOMEM (500)
 * with `re` filled, naming the parameter.
 */
enum gw_err api_request_from_query(const struct api_param *params, size_t n,
                                   struct api_request *req,
                                   struct api_request_error *re);

/*
 * Fills `env` with the envelope of `req`: from, the recipients of
 * api_request_rcpts(), auth_from, continue_after_bad_send and whether an
 * address needs SMTPUTF8 (the message's own needs are the caller's).
 * Returns the recipients, which the caller frees after the send, or NULL
 * when out of memory.
 */
const char **api_request_envelope(const struct api_request *req,
                                  struct smtp_envelope *env);

/*
 * The envelope's recipients: to, cc, then bcc, each mailbox once. Returns
 * an array of strings borrowed from `req`, which the caller frees (not
 * the strings), or NULL when out of memory. Sets `*utf8` when a mailbox
 * needs SMTPUTF8 and leaves it alone otherwise.
 */
const char **api_request_rcpts(const struct api_request *req, size_t *n_out,
                               bool *utf8);

/*
 * True when the header field `name` (`len` bytes, any letter case) is a
 * trace or authentication field, which only the gateway or a receiving
 * server may write and other systems trust: Received, Return-Path,
 * Resent-*, DKIM-Signature, ARC-*, Authentication-Results, Received-SPF.
 * Neither route lets a client send one.
 */
bool api_trace_field(const char *name, size_t len);

/* Frees what `req` holds; harmless on a zeroed request. */
void api_request_free(struct api_request *req);

#endif
