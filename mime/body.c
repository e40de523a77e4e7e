/*
 * The body of a composed message: a tree of multiparts (mixed, related,
 * alternative) only as deep as its parts need, each with a boundary that
 * no part holds, and under them the text parts and the attachments, each
 * with the transfer encoding it needs.
 */
#include "internal.h"

#include <string.h>
#include <strings.h>

/* "=_" before the random digits: a pair that QP and base64 never write. */
#define BOUNDARY_LEN   (2 + RANDOM_HEX)
#define BOUNDARY_TRIES 8

/* How a body is written (RFC 2045 6.1). */
enum cte {
    CTE_7BIT,
    CTE_8BIT,
    CTE_QP,
    CTE_BASE64,
};

static const char *const cte_names[] = {"7bit", "8bit", "quoted-printable",
                                        "base64"};

/*
 * The encoding of a text body: 7bit when it may go as it is, 8bit when
 * the caller allows it and only line ends must change, quoted-printable
 * otherwise. ASCII that is not 7bit (long lines, lone CRs) goes
 * quoted-printable even with 8bit allowed: nothing is gained by 8bit.
 */
static enum cte text_cte(const struct compose *c, const char *s, size_t n)
{
    if (mime_enc_is_7bit(s, n))
        return CTE_7BIT;
    if (c->opt->allow_8bit && has_8bit(s, n) && mime_enc_is_8bit(s, n))
        return CTE_8BIT;
    return CTE_QP;
}

/*
 * The type and encoding of an attachment: base64, except for a
 * message/rfc822, which RFC 2046 5.2.1 allows only as 7bit or 8bit. One
 * that can be neither goes as application/octet-stream in base64: the
 * bytes arrive intact, which matters more than the label.
 */
static enum cte attachment_cte(const struct compose *c,
                               const struct mime_attachment *a,
                               const char **type)
{
    const char *d = a->len > 0 ? a->data : "";

    *type = a->content_type != NULL ? a->content_type
                                    : mime_guess_type(a->filename);
    if (strcasecmp(*type, "message/rfc822") != 0)
        return CTE_BASE64;
    if (mime_enc_is_7bit(d, a->len))
        return CTE_7BIT;
    if (c->opt->allow_8bit && mime_enc_is_8bit(d, a->len))
        return CTE_8BIT;
    *type = "application/octet-stream";
    return CTE_BASE64;
}

/* The encoding of a multipart: 8bit when any part under it may be. */
static const char *multipart_cte(const struct compose *c)
{
    const struct mime_message *m = c->msg;
    const char *type;
    bool eight = false;

    if (m->text != NULL)
        eight |= text_cte(c, m->text, strlen(m->text)) == CTE_8BIT;
    if (m->html != NULL)
        eight |= text_cte(c, m->html, strlen(m->html)) == CTE_8BIT;
    for (size_t i = 0; i < m->n_attachments; i++)
        eight |= attachment_cte(c, &m->attachments[i], &type) == CTE_8BIT;
    return eight ? "8bit" : "7bit";
}

/*
 * Appends the Content-Type and Content-Transfer-Encoding of one text
 * body, the blank line after them and the body.
 */
static enum gw_err put_part(struct compose *c, const char *type,
                            const char *body)
{
    size_t n = strlen(body);
    enum cte cte = text_cte(c, body, n);
    enum gw_err rc;

    rc = buf_printf(c->out,
                    "Content-Type: %s; charset=utf-8\r\n"
                    "Content-Transfer-Encoding: %s\r\n\r\n",
                    type, cte_names[cte]);
    if (cte == CTE_8BIT)
        c->res->is_8bit = true;
    if (rc == GW_OK)
        rc = cte == CTE_QP ? mime_enc_qp(c->out, body, n)
                           : mime_enc_crlf(c->out, body, n);
    return rc;
}

/* True when `n` bytes at `p` hold the NUL-terminated `needle`. */
static bool holds(const void *p, size_t n, const char *needle)
{
    return p != NULL && memmem(p, n, needle, strlen(needle)) != NULL;
}

/*
 * True when a body that goes as it is (7bit or 8bit) holds `boundary`.
 * Quoted-printable and base64 never write "=_", which every boundary
 * starts with.
 */
static bool boundary_clash(const struct compose *c, const char *boundary)
{
    const struct mime_message *m = c->msg;
    const char *type;

    if (m->text != NULL && holds(m->text, strlen(m->text), boundary))
        return true;
    if (m->html != NULL && holds(m->html, strlen(m->html), boundary))
        return true;
    for (size_t i = 0; i < m->n_attachments; i++) {
        const struct mime_attachment *a = &m->attachments[i];

        if (attachment_cte(c, a, &type) != CTE_BASE64 &&
            holds(a->data, a->len, boundary))
            return true;
    }
    return false;
}

/*
 * Picks a boundary that no body holds. The random digits make a clash all
 * but impossible, but a body could hold one on purpose.
 */
static enum gw_err pick_boundary(struct compose *c, char *boundary)
{
    for (int i = 0; i < BOUNDARY_TRIES; i++) {
        enum gw_err rc;

        boundary[0] = '=';
        boundary[1] = '_';
        rc = mime_random_hex(boundary + 2, c->err);
        if (rc != GW_OK)
            return rc;
        if (!boundary_clash(c, boundary))
            return GW_OK;
    }
    return invalid(c->err, "no MIME boundary could be found that the body "
                           "does not hold");
}

/* Appends one attachment: its header fields, a blank line and its body. */
static enum gw_err put_attachment(struct compose *c,
                                  const struct mime_attachment *a)
{
    const char *type;
    enum cte cte = attachment_cte(c, a, &type);
    struct hline h;
    enum gw_err rc;

    mime_hl_begin(&h, c, "Content-Type");
    mime_hl_unit(&h, false, type);
    mime_put_type_name_param(&h, a->filename);
    rc = mime_hl_end(&h);
    if (rc == GW_OK)
        rc = buf_printf(c->out, "Content-Transfer-Encoding: %s\r\n",
                        cte_names[cte]);
    if (rc != GW_OK)
        return rc;
    mime_hl_begin(&h, c, "Content-Disposition");
    mime_hl_unit(&h, false, a->is_inline ? "inline" : "attachment");
    mime_put_filename_param(&h, a->filename);
    rc = mime_hl_end(&h);
    if (rc == GW_OK && a->content_id != NULL)
        rc = buf_printf(c->out, "Content-ID: <%s>\r\n", a->content_id);
    if (rc == GW_OK)
        rc = buf_append(c->out, "\r\n", 2);
    if (cte == CTE_8BIT)
        c->res->is_8bit = true;
    if (rc == GW_OK && cte == CTE_BASE64)
        rc = mime_enc_base64_lines(c->out, a->data, a->len);
    else if (rc == GW_OK)
        rc = mime_enc_crlf(c->out, a->data, a->len);
    return rc;
}

/*
 * The levels of the tree, outermost first: multipart/mixed holds the
 * body and the attachments, multipart/related the HTML and what it
 * shows inline, multipart/alternative the text and the HTML. A level
 * without parts of its own is left out, so that a text alone stays a
 * single part.
 */
enum level {
    LEVEL_MIXED,
    LEVEL_RELATED,
    LEVEL_ALTERNATIVE,
};

/* True when the attachment goes with the HTML in multipart/related. */
static bool is_related(const struct compose *c, const struct mime_attachment *a)
{
    return c->msg->html != NULL && a->is_inline && a->content_id != NULL;
}

/* True when `lv` has parts of its own, which make it a multipart. */
static bool level_needed(const struct compose *c, enum level lv)
{
    const struct mime_message *m = c->msg;

    if (lv == LEVEL_ALTERNATIVE)
        return m->text != NULL && m->html != NULL;
    for (size_t i = 0; i < m->n_attachments; i++) {
        if (is_related(c, &m->attachments[i]) == (lv == LEVEL_RELATED))
            return true;
    }
    return false;
}

static enum gw_err put_level(struct compose *c, enum level lv);

/* Appends the boundary line before a part; the first has no CRLF before. */
static enum gw_err put_delimiter(struct compose *c, const char *boundary,
                                 bool *first)
{
    enum gw_err rc =
        buf_printf(c->out, "%s--%s\r\n", *first ? "" : "\r\n", boundary);

    *first = false;
    return rc;
}

/* Appends the parts of the multipart of level `lv`. */
static enum gw_err put_children(struct compose *c, enum level lv,
                                const char *boundary)
{
    const struct mime_message *m = c->msg;
    bool first = true, body = m->text != NULL || m->html != NULL;
    enum gw_err rc = GW_OK;

    if (lv == LEVEL_ALTERNATIVE) {
        rc = put_delimiter(c, boundary, &first);
        if (rc == GW_OK)
            rc = put_part(c, "text/plain", m->text);
        if (rc == GW_OK)
            rc = put_delimiter(c, boundary, &first);
        return rc == GW_OK ? put_part(c, "text/html", m->html) : rc;
    }
    /* With attachments alone, mixed holds no empty text part. */
    if (lv == LEVEL_RELATED || body) {
        rc = put_delimiter(c, boundary, &first);
        if (rc == GW_OK)
            rc = put_level(c, (enum level)(lv + 1));
    }
    for (size_t i = 0; i < m->n_attachments && rc == GW_OK; i++) {
        const struct mime_attachment *a = &m->attachments[i];

        if (is_related(c, a) != (lv == LEVEL_RELATED))
            continue;
        rc = put_delimiter(c, boundary, &first);
        if (rc == GW_OK)
            rc = put_attachment(c, a);
    }
    return rc;
}

/* Appends the multipart of level `lv`: its header fields and its parts. */
static enum gw_err put_multipart(struct compose *c, enum level lv)
{
    static const char *const subtypes[] = {"mixed", "related", "alternative"};
    char boundary[BOUNDARY_LEN + 1];
    struct hline h;
    enum gw_err rc = pick_boundary(c, boundary);

    if (rc != GW_OK)
        return rc;
    mime_hl_begin(&h, c, "Content-Type");
    mime_hl_printf(&h, false, "multipart/%s", subtypes[lv]);
    /* RFC 2387 requires the type of the root part, which comes first. */
    if (lv == LEVEL_RELATED)
        mime_hl_printf(&h, true, "type=\"%s\"",
                       level_needed(c, LEVEL_ALTERNATIVE)
                           ? "multipart/alternative"
                           : "text/html");
    mime_hl_printf(&h, true, "boundary=\"%s\"", boundary);
    rc = mime_hl_end(&h);
    if (rc == GW_OK)
        rc = buf_printf(c->out, "Content-Transfer-Encoding: %s\r\n\r\n",
                        multipart_cte(c));
    if (rc == GW_OK)
        rc = put_children(c, lv, boundary);
    if (rc == GW_OK)
        rc = buf_printf(c->out, "\r\n--%s--\r\n", boundary);
    return rc;
}

static enum gw_err put_level(struct compose *c, enum level lv)
{
    const struct mime_message *m = c->msg;

    if (level_needed(c, lv))
        return put_multipart(c, lv);
    if (lv != LEVEL_ALTERNATIVE)
        return put_level(c, (enum level)(lv + 1));
    if (m->html != NULL)
        return put_part(c, "text/html", m->html);
    return put_part(c, "text/plain", m->text != NULL ? m->text : "");
}

enum gw_err mime_put_body(struct compose *c)
{
    enum gw_err rc = put_level(c, LEVEL_MIXED);

    /* The last line of a message needs its CRLF before the final dot. */
    if (rc == GW_OK && memcmp(c->out->data + c->out->len - 2, "\r\n", 2) != 0)
        rc = buf_append(c->out, "\r\n", 2);
    return rc;
}
