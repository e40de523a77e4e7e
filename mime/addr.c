/* E-mail address parsing and checks; see mime.h. */
#include "mime.h"

#include <arpa/inet.h>
#include <idn2.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/base.h"

/* The limits of RFC 5321 4.5.3.1, in bytes. */
#define LOCAL_MAX   64
#define MAILBOX_MAX 254
#define LABEL_MAX   63

/* The longest domain name as text (RFC 1035 2.3.4, without the root dot). */
#define DOMAIN_MAX 253

/* Long enough for any IPv6 address text, with room to spare. */
#define LITERAL_MAX 64

/*
 * The most a mailbox may have before its domain is converted to A-labels.
 * Only the converted form must fit in MAILBOX_MAX; this bound keeps the
 * conversion's work small for text that could never fit.
 */
#define MAILBOX_RAW_MAX (4 * MAILBOX_MAX)

/*
 * IDNA2008 with the UTS #46 mapping (non-transitional, so "ß" stays "ß"):
 * what browsers and mail clients do. The STD3 rules are checked by us
 * before the conversion, since libidn2 drops some ASCII it does not allow.
 */
#define IDN_FLAGS (IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL)

static bool is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_ctl(unsigned char c)
{
    return c < 0x20 || c == 0x7F;
}

static enum gw_err invalid(struct gw_error *err, const char *detail)
{
    return gw_error_set(err, GW_EINVAL, "%s", detail);
}

/*
 * The detail for a byte that no part of a mailbox may hold, quoted local
 * part included, or NULL. These are the bytes that could end an SMTP
 * command or a header, or split the address into more than one.
 */
static const char *bad_anywhere(unsigned char c)
{
    if (c == '\r' || c == '\n')
        return "the address has a line break";
    if (c == ' ')
        return "the address has a space";
    if (c == '\t')
        return "the address has a tab";
    if (is_ctl(c))
        return "the address has a control character";
    if (c == '<' || c == '>')
        return "the address has a < or >";
    if (c == '\\')
        return "the address has a backslash";
    return NULL;
}

/*
 * The detail for a byte that only a quoted local part (or, for brackets,
 * a domain literal) may hold, or NULL. A colon is refused too: in a
 * header "a:b@c" would read as a group named "a".
 */
static const char *bad_unquoted(unsigned char c)
{
    switch (c) {
    case '"':
        return "the address has a quote outside a quoted local part";
    case ',':
        return "the address has a comma";
    case ';':
        return "the address has a semicolon";
    case ':':
        return "the address has a colon";
    case '(':
    case ')':
        return "the address has a parenthesis";
    case '[':
    case ']':
        return "the address has a [ or ] outside a domain literal";
    }
    return NULL;
}

/* Finds the '@' that ends the local part, which may be quoted. */
static enum gw_err split_at(const char *m, size_t n, size_t *at,
                            struct gw_error *err)
{
    const char *p;

    if (m[0] == '"') {
        p = memchr(m + 1, '"', n - 1);
        if (p == NULL)
            return invalid(err, "the quoted local part has no closing quote");
        if ((size_t)(p - m) + 1 == n)
            return invalid(err, "the address has no @");
        if (p[1] != '@')
            return invalid(err, "the quoted local part must be followed "
                                "by @");
        p++;
    } else {
        p = memchr(m, '@', n);
        if (p == NULL)
            return invalid(err, "the address has no @");
    }
    *at = (size_t)(p - m);
    if (memchr(p + 1, '@', n - *at - 1) != NULL)
        return invalid(err, "the address has more than one @");
    return GW_OK;
}

static enum gw_err check_local(const char *l, size_t n, struct gw_error *err)
{
    bool quoted = n >= 2 && l[0] == '"';

    if (n == 0 || (quoted && n == 2))
        return invalid(err, "the local part is empty");
    if (n > LOCAL_MAX)
        return invalid(err, "the local part is longer than 64 bytes");
    if (quoted)
        return GW_OK;
    for (size_t i = 0; i < n; i++) {
        const char *bad = bad_unquoted((unsigned char)l[i]);

        if (bad != NULL)
            return invalid(err, bad);
        if (l[i] == '.' && i + 1 < n && l[i + 1] == '.')
            return invalid(err, "the local part has two dots in a row");
    }
    if (l[0] == '.')
        return invalid(err, "the local part starts with a dot");
    if (l[n - 1] == '.')
        return invalid(err, "the local part ends with a dot");
    return GW_OK;
}

/* Checks "[1.2.3.4]" or "[IPv6:...]" (RFC 5321 4.1.3). */
static enum gw_err check_literal(const char *d, size_t n, struct gw_error *err)
{
    char text[LITERAL_MAX];
    unsigned char addr[16];
    int family = AF_INET;
    size_t len;

    if (d[n - 1] != ']')
        return invalid(err, "the domain literal has no closing ]");
    d++;
    len = n - 2;
    if (len >= 5 && strncasecmp(d, "IPv6:", 5) == 0) {
        family = AF_INET6;
        d += 5;
        len -= 5;
    }
    if (len < sizeof(text)) {
        memcpy(text, d, len);
        text[len] = '\0';
        if (inet_pton(family, text, addr) == 1)
            return GW_OK;
    }
    return invalid(err, "the domain literal is not an IPv4 or IPv6 address");
}

static bool has_8bit(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] >= 0x80)
            return true;
    }
    return false;
}

/*
 * Checks one label of a domain name. UTF-8 bytes (IDN) are allowed; the
 * length of such a label is checked once it is an A-label.
 */
static enum gw_err check_label(const char *l, size_t n, struct gw_error *err)
{
    if (n > LABEL_MAX && !has_8bit(l, n))
        return invalid(err, "a domain label is longer than 63 bytes");
    if (l[0] == '-' || l[n - 1] == '-')
        return invalid(err, "a domain label starts or ends with a hyphen");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)l[i];
        const char *bad = bad_unquoted(c);

        if (bad != NULL)
            return invalid(err, bad);
        if (c < 0x80 && c != '-' && !(c >= '0' && c <= '9') &&
            !((c | 0x20) >= 'a' && (c | 0x20) <= 'z'))
            return invalid(err, "the domain has a character other than "
                                "letters, digits, hyphens and dots");
    }
    return GW_OK;
}

static enum gw_err check_domain(const char *d, size_t n, struct gw_error *err)
{
    size_t start = 0;
    enum gw_err rc = GW_OK;

    if (n == 0)
        return invalid(err, "the domain is empty");
    if (d[0] == '[')
        return check_literal(d, n, err);
    if (d[0] == '.')
        return invalid(err, "the domain starts with a dot");
    if (d[n - 1] == '.')
        return invalid(err, "the domain ends with a dot");
    for (size_t i = 0; i <= n && rc == GW_OK; i++) {
        if (i < n && d[i] != '.')
            continue;
        if (i == start)
            return invalid(err, "the domain has two dots in a row");
        rc = check_label(d + start, i - start, err);
        start = i + 1;
    }
    return rc;
}

/*
 * Converts the UTF-8 domain `d` (`n` bytes, checked by check_domain) to
 * A-labels in a new string `*out`, which the caller frees, and checks the
 * result as an ASCII domain: the mapping may have made a label too long
 * or left one empty.
 */
static enum gw_err domain_to_ascii(const char *d, size_t n, char **out,
                                   struct gw_error *err)
{
    char *in = strndup(d, n), *ascii = NULL;
    enum gw_err rc;
    int irc;

    if (in == NULL)
        return gw_error_set(err, GW_ENOMEM, "out of memory");
    irc = idn2_to_ascii_8z(in, &ascii, IDN_FLAGS);
    free(in);
    if (irc == IDN2_MALLOC)
        return gw_error_set(err, GW_ENOMEM, "out of memory");
    if (irc != IDN2_OK)
        return gw_error_set(err, GW_EINVAL,
                            "the domain is not a valid international domain "
                            "name (%s)",
                            idn2_strerror(irc));
    rc = check_domain(ascii, strlen(ascii), err);
    if (rc == GW_OK && (*out = strdup(ascii)) == NULL)
        rc = gw_error_set(err, GW_ENOMEM, "out of memory");
    idn2_free(ascii);
    return rc;
}

/*
 * Returns in `*out` a new string, which the caller frees: the local part
 * `m` (`at` bytes), "@" and the domain `d` (`n` bytes) in A-labels.
 */
static enum gw_err join_ascii(const char *m, size_t at, const char *d, size_t n,
                              char **out, struct gw_error *err)
{
    char *ascii = NULL;
    enum gw_err rc = domain_to_ascii(d, n, &ascii, err);
    size_t len;

    if (rc != GW_OK)
        return rc;
    len = strlen(ascii);
    *out = malloc(at + 1 + len + 1);
    if (*out == NULL) {
        free(ascii);
        return gw_error_set(err, GW_ENOMEM, "out of memory");
    }
    memcpy(*out, m, at);
    (*out)[at] = '@';
    memcpy(*out + at + 1, ascii, len + 1);
    free(ascii);
    return GW_OK;
}

/*
 * Checks the mailbox `m` of `n` bytes and, when `out` is not NULL, stores
 * in it a new string, which the caller frees: the mailbox with its domain
 * in A-labels (RFC 5890) when it was an international domain name.
 */
static enum gw_err check_mailbox(const char *m, size_t n, char **out,
                                 struct gw_error *err)
{
    size_t at = 0;
    char *ascii = NULL;
    enum gw_err rc;

    if (n == 0)
        return invalid(err, "the address is empty");
    for (size_t i = 0; i < n; i++) {
        const char *bad = bad_anywhere((unsigned char)m[i]);

        if (bad != NULL)
            return invalid(err, bad);
    }
    if (!gw_utf8_valid(m, n))
        return invalid(err, "the address is not valid UTF-8");
    if (n > (has_8bit(m, n) ? MAILBOX_RAW_MAX : MAILBOX_MAX))
        return invalid(err, "the address is longer than 254 bytes");
    rc = split_at(m, n, &at, err);
    if (rc == GW_OK)
        rc = check_local(m, at, err);
    if (rc == GW_OK)
        rc = check_domain(m + at + 1, n - at - 1, err);
    if (rc != GW_OK)
        return rc;
    /* Only an A-label domain spares the message SMTPUTF8 (RFC 6531). */
    if (has_8bit(m + at + 1, n - at - 1))
        rc = join_ascii(m, at, m + at + 1, n - at - 1, &ascii, err);
    else if ((ascii = strndup(m, n)) == NULL)
        rc = gw_error_set(err, GW_ENOMEM, "out of memory");
    if (rc == GW_OK && strlen(ascii) > MAILBOX_MAX)
        rc = invalid(err, "the address is longer than 254 bytes");
    if (rc == GW_OK && out != NULL) {
        *out = ascii;
        ascii = NULL;
    }
    free(ascii);
    return rc;
}

enum gw_err mime_addr_check_mailbox(const char *mailbox, struct gw_error *err)
{
    if (mailbox == NULL)
        return invalid(err, "the address is empty");
    return check_mailbox(mailbox, strlen(mailbox), NULL, err);
}

enum gw_err mime_addr_domain_ascii(const char *domain, char **out,
                                   struct gw_error *err)
{
    size_t n = domain != NULL ? strlen(domain) : 0;
    enum gw_err rc;

    *out = NULL;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)domain[i] <= ' ' || domain[i] == 0x7F)
            return invalid(err, "the domain has a space or a control "
                                "character");
    }
    if (!gw_utf8_valid(domain, n))
        return invalid(err, "the domain is not valid UTF-8");
    rc = check_domain(domain, n, err);
    if (rc != GW_OK)
        return rc;
    if (has_8bit(domain, n))
        rc = domain_to_ascii(domain, n, out, err);
    else if ((*out = strdup(domain)) == NULL)
        rc = gw_error_set(err, GW_ENOMEM, "out of memory");
    if (rc == GW_OK && strlen(*out) > DOMAIN_MAX)
        rc = invalid(err, "the domain is longer than 253 bytes");
    if (rc != GW_OK) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

/* Checks a name of `n` bytes; see mime_addr_check_name(). */
static enum gw_err check_name(const char *name, size_t n, struct gw_error *err)
{
    for (size_t i = 0; i < n; i++) {
        if (name[i] == '\r' || name[i] == '\n')
            return invalid(err, "the name has a line break");
        if (is_ctl((unsigned char)name[i]))
            return invalid(err, "the name has a control character");
    }
    if (!gw_utf8_valid(name, n))
        return invalid(err, "the name is not valid UTF-8");
    return GW_OK;
}

enum gw_err mime_addr_check_name(const char *name, struct gw_error *err)
{
    return name == NULL ? GW_OK : check_name(name, strlen(name), err);
}

/*
 * Checks and stores a name of `nlen` bytes (none when 0) and a mailbox of
 * `mlen` bytes, which need not be NUL-terminated.
 */
static enum gw_err store(struct mime_addr *out, const char *name, size_t nlen,
                         const char *mailbox, size_t mlen, struct gw_error *err)
{
    enum gw_err rc = check_name(name, nlen, err);

    if (rc != GW_OK)
        goto out;
    rc = check_mailbox(mailbox, mlen, &out->mailbox, err);
    if (rc != GW_OK || nlen == 0)
        goto out;
    out->name = strndup(name, nlen);
    if (out->name == NULL)
        rc = gw_error_set(err, GW_ENOMEM, "out of memory");
out:
    if (rc != GW_OK)
        mime_addr_clear(out);
    return rc;
}

/*
 * Stores the name (already unquoted) and the mailbox of "<mailbox>" that
 * starts at `lt`, with nothing but whitespace allowed after the '>'.
 */
static enum gw_err parse_angle(struct mime_addr *out, const char *name,
                               size_t nlen, const char *lt, const char *end,
                               struct gw_error *err)
{
    const char *gt = memchr(lt, '>', (size_t)(end - lt));
    const char *p;

    if (gt == NULL)
        return invalid(err, "the address has no closing >");
    for (p = gt + 1; p < end && is_wsp(*p); p++)
        ;
    if (p != end)
        return invalid(err, "the address has text after >");
    return store(out, name, nlen, lt + 1, (size_t)(gt - lt - 1), err);
}

/*
 * Parses "\"Quoted, Name\" <mailbox>", unescaping \" and \\, or, when an
 * '@' follows the closing quote, a mailbox with a quoted local part.
 */
static enum gw_err parse_quoted(struct mime_addr *out, const char *s,
                                const char *end, struct gw_error *err)
{
    char *name = malloc((size_t)(end - s));
    size_t len = 0;
    const char *p = s + 1;
    enum gw_err rc;

    if (name == NULL)
        return gw_error_set(err, GW_ENOMEM, "out of memory");
    for (; p < end && *p != '"'; p++) {
        if (*p == '\\' && p + 1 < end)
            p++;
        name[len++] = *p;
    }
    if (p == end) {
        rc = invalid(err, "the name has no closing quote");
        goto out;
    }
    if (p + 1 < end && p[1] == '@') {
        rc = store(out, NULL, 0, s, (size_t)(end - s), err);
        goto out;
    }
    for (p++; p < end && is_wsp(*p); p++)
        ;
    if (p == end || *p != '<') {
        rc = invalid(err, "the quoted name must be followed by <address>");
        goto out;
    }
    rc = parse_angle(out, name, len, p, end, err);
out:
    free(name);
    return rc;
}

/* Parses "Name <mailbox>", the name unquoted and trimmed. */
static enum gw_err parse_named(struct mime_addr *out, const char *s,
                               const char *lt, const char *end,
                               struct gw_error *err)
{
    const char *e = lt;

    while (e > s && is_wsp(e[-1]))
        e--;
    for (const char *p = s; p < e; p++) {
        if (*p == '"')
            return invalid(err, "the name has a quote; put the whole name "
                                "in quotes");
        if (*p == '>')
            return invalid(err, "the name has a >; put the whole name in "
                                "quotes");
    }
    return parse_angle(out, s, (size_t)(e - s), lt, end, err);
}

enum gw_err mime_addr_parse(const char *text, struct mime_addr *out,
                            struct gw_error *err)
{
    const char *s = text, *end, *lt;

    out->name = NULL;
    out->mailbox = NULL;
    if (text == NULL)
        return invalid(err, "the address is empty");
    end = s + strlen(s);
    while (s < end && is_wsp(*s))
        s++;
    while (end > s && is_wsp(end[-1]))
        end--;
    if (s == end)
        return invalid(err, "the address is empty");
    /* A line break is refused first: it is the one byte that could turn
     * the rest of the text into a header of its own. */
    if (strpbrk(text, "\r\n") != NULL)
        return invalid(err, "the address has a line break");
    if (*s == '"')
        return parse_quoted(out, s, end, err);
    lt = memchr(s, '<', (size_t)(end - s));
    if (lt != NULL)
        return parse_named(out, s, lt, end, err);
    return store(out, NULL, 0, s, (size_t)(end - s), err);
}

enum gw_err mime_addr_set(struct mime_addr *out, const char *name,
                          const char *mailbox, struct gw_error *err)
{
    const char *end;

    out->name = NULL;
    out->mailbox = NULL;
    if (mailbox == NULL)
        return invalid(err, "the address is empty");
    if (name == NULL)
        name = "";
    end = name + strlen(name);
    while (name < end && is_wsp(*name))
        name++;
    while (end > name && is_wsp(end[-1]))
        end--;
    return store(out, name, (size_t)(end - name), mailbox, strlen(mailbox),
                 err);
}

bool mime_addr_needs_utf8(const char *mailbox)
{
    /* A stored domain is ASCII, so in practice this is the local part. */
    for (const char *p = mailbox; p != NULL && *p != '\0'; p++) {
        if ((unsigned char)*p >= 0x80)
            return true;
    }
    return false;
}

bool mime_addr_same_mailbox(const char *a, const char *b)
{
    const char *at_a, *at_b;

    if (a == NULL || b == NULL)
        return false;
    /* The last '@' ends the local part: only a quoted one may hold '@'. */
    at_a = strrchr(a, '@');
    at_b = strrchr(b, '@');
    if (at_a == NULL || at_b == NULL)
        return strcmp(a, b) == 0;
    if (at_a - a != at_b - b || memcmp(a, b, (size_t)(at_a - a)) != 0)
        return false;
    for (at_a++, at_b++; *at_a != '\0' && *at_b != '\0'; at_a++, at_b++) {
        char ca = *at_a, cb = *at_b;

        if (ca >= 'A' && ca <= 'Z')
            ca = (char)(ca - 'A' + 'a');
        if (cb >= 'A' && cb <= 'Z')
            cb = (char)(cb - 'A' + 'a');
        if (ca != cb)
            return false;
    }
    return *at_a == *at_b;
}

void mime_addr_clear(struct mime_addr *a)
{
    free(a->name);
    free(a->mailbox);
    a->name = NULL;
    a->mailbox = NULL;
}
