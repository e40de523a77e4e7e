/* Unit tests of the MIME composer (mime/compose.c and the files it calls). */
#include "mime/mime.h"
#include "base/base.h"
#include "check.h"

#include <stdio.h>
#include <stdlib.h>

/* Mon, 30 Nov 2026 20:31:07 UTC. */
#define FIXED_DATE ((time_t)1796070667)

#define BIG (1024 * 1024)

/* Japanese for "Japanese text", 8 characters of 3 bytes each. */
#define NIHONGO                                                                \
    "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE\xE3\x83\x86\xE3\x82"     \
    "\xAD\xE3\x82\xB9\xE3\x83\x88"
#define EMOJI "\xF0\x9F\x98\x80"

/* A string of `count` copies of `piece`; the caller frees it. */
static char *repeat(const char *piece, size_t count)
{
    size_t len = strlen(piece);
    char *s = malloc(len * count + 1);

    if (s == NULL)
        abort();
    for (size_t i = 0; i < count; i++)
        memcpy(s + i * len, piece, len);
    s[len * count] = '\0';
    return s;
}

/* Makes `a` from a name and a mailbox that must be valid. */
static void mk(struct mime_addr *a, const char *name, const char *mailbox)
{
    if (mime_addr_set(a, name, mailbox, NULL) != GW_OK)
        abort();
}

/*
 * Returns "" when `s` is fit for DATA: CRLF line ends only, no bare CR or
 * LF, no line over 998 bytes, no header line of only blanks, and a CRLF
 * at the end; otherwise what is wrong.
 */
static const char *wire_problem(const struct buf *b)
{
    const char *s = buf_cstr(b);
    size_t n = b->len, line = 0;

    if (n < 2 || s[n - 2] != '\r' || s[n - 1] != '\n')
        return "the message does not end in CRLF";
    for (const char *p = s; p < s + n && strncmp(p, "\r\n", 2) != 0;) {
        size_t blanks = strspn(p, " \t");

        /* RFC 5322 3.2.2: a fold may not leave a line of only blanks. */
        if (blanks > 0 && strncmp(p + blanks, "\r\n", 2) == 0)
            return "a header line of only whitespace";
        p = strstr(p, "\r\n");
        p = p != NULL ? p + 2 : s + n;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\r') {
            if (i + 1 == n || s[i + 1] != '\n')
                return "a bare CR";
            i++;
            line = 0;
        } else if (s[i] == '\n') {
            return "a bare LF";
        } else if (++line > 998) {
            return "a line longer than 998 bytes";
        }
    }
    return "";
}

/*
 * Composes into `dest` (emptied first); fails the test unless it works,
 * leaving through `out:` as CHECK does.
 */
#define COMPOSE(msg, opt, dest, res)                                           \
    do {                                                                       \
        struct gw_error e_ = {0};                                              \
        buf_reset(dest);                                                       \
        if (mime_compose(msg, opt, dest, res, &e_) != GW_OK) {                 \
            check_fail_str(__FILE__, __LINE__, "mime_compose", e_.detail,      \
                           "success");                                         \
            goto out;                                                          \
        }                                                                      \
        CHECK_STR(wire_problem(dest), "");                                     \
    } while (0)

/* Composes and expects the error `code` with the detail `want`. */
#define COMPOSE_FAILS(msg, opt, dest, res, code, want)                         \
    do {                                                                       \
        struct gw_error e_ = {0};                                              \
        buf_reset(dest);                                                       \
        CHECK(mime_compose(msg, opt, dest, res, &e_) == (code));               \
        CHECK_STR(e_.detail, want);                                            \
    } while (0)

static struct mime_options default_options(void)
{
    struct mime_options o = {0};

    o.date = FIXED_DATE;
    o.allow_header_encoding = true;
    return o;
}

/* The end of the header section, just after its last CRLF. */
static const char *header_end(const char *msg)
{
    const char *end = strstr(msg, "\r\n\r\n");

    return end != NULL ? end + 2 : msg + strlen(msg);
}

/*
 * Returns the unfolded body of the first `name` field of the header, from
 * after the space that follows the colon, or NULL. The caller frees it.
 */
static char *header_value(const char *msg, const char *name)
{
    const char *end = header_end(msg), *p = msg;
    size_t nl = strlen(name), len = 0;
    char *v;

    while (p < end && !(strncmp(p, name, nl) == 0 && p[nl] == ':'))
        p = strstr(p, "\r\n") + 2;
    if (p >= end)
        return NULL;
    p += nl + 1;
    if (*p == ' ')
        p++;
    v = malloc((size_t)(end - p) + 1);
    if (v == NULL)
        abort();
    for (; !(p[0] == '\r' && p[2] != ' ' && p[2] != '\t'); p++) {
        if (p[0] == '\r')
            p += 2;
        v[len++] = *p;
    }
    v[len] = '\0';
    return v;
}

/* The longest line of the header section, without its CRLF. */
static size_t longest_header_line(const char *msg)
{
    const char *end = header_end(msg), *p = msg;
    size_t max = 0;

    while (p < end) {
        const char *eol = strstr(p, "\r\n");

        if ((size_t)(eol - p) > max)
            max = (size_t)(eol - p);
        p = eol + 2;
    }
    return max;
}

/* The names of the header fields in order, joined by commas. */
static void header_names(const char *msg, char *out, size_t size)
{
    const char *end = header_end(msg), *p = msg;
    size_t len = 0;

    out[0] = '\0';
    for (; p < end; p = strstr(p, "\r\n") + 2) {
        size_t nl = strcspn(p, ":\r");

        if (*p == ' ' || *p == '\t')
            continue;
        len += (size_t)snprintf(out + len, size - len, "%s%.*s",
                                len > 0 ? "," : "", (int)nl, p);
    }
}

static int b64_value(char c)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c != '\0' ? strchr(alphabet, c) : NULL;

    return p != NULL ? (int)(p - alphabet) : -1;
}

/* Decodes padded base64 into `out`; returns the length or -1. */
static long b64_decode(const char *s, size_t n, char *out)
{
    long len = 0;

    if (n % 4 != 0)
        return -1;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];

        for (int k = 0; k < 4; k++)
            v[k] = s[i + k] == '=' ? 0 : b64_value(s[i + k]);
        if (v[0] < 0 || v[1] < 0 || v[2] < 0 || v[3] < 0)
            return -1;
        out[len++] = (char)(v[0] << 2 | v[1] >> 4);
        if (s[i + 2] != '=')
            out[len++] = (char)((v[1] & 15) << 4 | v[2] >> 2);
        if (s[i + 3] != '=')
            out[len++] = (char)((v[2] & 3) << 6 | v[3]);
    }
    return len;
}

/*
 * Decodes `s`, encoded-words separated by single spaces, and returns the
 * text, or NULL when a word is malformed, longer than 75 characters, or
 * does not decode to whole UTF-8 characters on its own. Frees nothing;
 * the caller frees the result.
 */
static char *decode_words(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    size_t len = 0, pos = 0;

    if (out == NULL)
        abort();
    while (pos < n) {
        const char *w = s + pos, *sp = memchr(w, ' ', n - pos);
        size_t wl = sp != NULL ? (size_t)(sp - w) : n - pos;
        long got;

        if (wl > 75 || wl < 12 || strncmp(w, "=?UTF-8?B?", 10) != 0 ||
            strncmp(w + wl - 2, "?=", 2) != 0)
            goto fail;
        got = b64_decode(w + 10, wl - 12, out + len);
        if (got < 0 || !gw_utf8_valid(out + len, (size_t)got))
            goto fail;
        len += (size_t)got;
        pos += wl + (sp != NULL ? 1 : 0);
    }
    out[len] = '\0';
    return out;
fail:
    free(out);
    return NULL;
}

/* Decodes a quoted-printable body; hard breaks stay CRLF. */
static char *qp_decode(const char *s)
{
    char *out = malloc(strlen(s) + 1);
    size_t len = 0;

    if (out == NULL)
        abort();
    while (*s != '\0') {
        if (s[0] == '=' && s[1] == '\r' && s[2] == '\n') {
            s += 3;
        } else if (s[0] == '=') {
            char hex[3] = {s[1], s[2], '\0'};

            out[len++] = (char)strtol(hex, NULL, 16);
            s += 3;
        } else {
            out[len++] = *s++;
        }
    }
    out[len] = '\0';
    return out;
}

/* The longest line of `s`, without its CRLF. */
static size_t longest_line(const char *s)
{
    size_t max = 0;

    while (*s != '\0') {
        size_t len = strcspn(s, "\r");

        if (len > max)
            max = len;
        s += len;
        s += *s != '\0' ? 2 : 0;
    }
    return max;
}

TEST(minimal_message_is_exact)
{
    struct mime_options opt = default_options();
    struct mime_message msg = {0};
    struct mime_result res = {0};
    struct mime_addr from;
    struct buf out;
    char want[512];

    mk(&from, NULL, "ada@example.com");
    msg.from = &from;
    buf_init(&out, BIG);
    COMPOSE(&msg, &opt, &out, &res);
    snprintf(want, sizeof(want),
             "Date: Mon, 30 Nov 2026 20:31:07 +0000\r\n"
             "From: ada@example.com\r\n"
             "Message-ID: %s\r\n"
             "MIME-Version: 1.0\r\n"
             "Content-Type: text/plain; charset=utf-8\r\n"
             "Content-Transfer-Encoding: 7bit\r\n"
             "\r\n",
             res.message_id);
    CHECK_STR(buf_cstr(&out), want);
    CHECK(!res.needs_smtputf8 && !res.is_8bit);
out:
    buf_free(&out);
    mime_addr_clear(&from);
}

TEST(headers_come_in_the_documented_order)
{
    struct mime_options opt = default_options();
    struct mime_message msg = {0};
    struct mime_header extra[] = {{"X-One", "1"}, {"x-two", "2"}};
    struct mime_result res = {0};
    struct mime_addr from, sender, reply, to[2], cc, bcc;
    struct buf out;
    char names[512];

    mk(&from, "Ada", "ada@example.com");
    mk(&sender, NULL, "bot@example.com");
    mk(&reply, NULL, "help@example.com");
    mk(&to[0], NULL, "t0@example.com");
    mk(&to[1], NULL, "t1@example.com");
    mk(&cc, NULL, "cc@example.com");
    mk(&bcc, NULL, "bcc@example.com");
    msg = (struct mime_message){.from = &from,
                                .sender = &sender,
                                .reply_to = &reply,
                                .n_reply_to = 1,
                                .to = to,
                                .n_to = 2,
                                .cc = &cc,
                                .n_cc = 1,
                                .bcc = &bcc,
                                .n_bcc = 1,
                                .subject = "Hi",
                                .text = "t",
                                .headers = extra,
                                .n_headers = 2};
    opt.show_bcc = true;
    buf_init(&out, BIG);
    COMPOSE(&msg, &opt, &out, &res);
    header_names(buf_cstr(&out), names, sizeof(names));
    CHECK_STR(names, "Date,From,Sender,Reply-To,To,Cc,Bcc,Subject,"
                     "Message-ID,MIME-Version,X-One,x-two,Content-Type,"
                     "Content-Transfer-Encoding");
    CHECK(check_contains(buf_cstr(&out),
                         "\r\nTo: t0@example.com, t1@example.com\r\n"));
out:
    buf_free(&out);
    mime_addr_clear(&from);
    mime_addr_clear(&sender);
    mime_addr_clear(&reply);
    mime_addr_clear(&to[0]);
    mime_addr_clear(&to[1]);
    mime_addr_clear(&cc);
    mime_addr_clear(&bcc);
}

/* Composes with `zone` and checks the Date header against `want`. */
static const char *date_in(const char *zone, const char *want)
{
    static char why[256];
    struct mime_options opt = default_options();
    struct mime_message msg = {0};
    struct mime_result res = {0};
    struct mime_addr from;
    struct buf out;
    char *date;

    if (mime_tz_parse(zone, &opt.tz, NULL) != GW_OK)
        return "the zone was refused";
    mk(&from, NULL, "ada@example.com");
    msg.from = &from;
    buf_init(&out, BIG);
    if (mime_compose(&msg, &opt, &out, &res, NULL) != GW_OK)
        return "compose failed";
    date = header_value(buf_cstr(&out), "Date");
    snprintf(why, sizeof(why), "%s", date != NULL ? date : "(none)");
    free(date);
    buf_free(&out);
    mime_addr_clear(&from);
    return strcmp(why, want) == 0 ? "" : why;
}

TEST(date_is_written_in_the_requested_zone)
{
    CHECK_STR(date_in("UT", "Mon, 30 Nov 2026 20:31:07 +0000"), "");
    CHECK_STR(date_in("+0000", "Mon, 30 Nov 2026 20:31:07 +0000"), "");
    CHECK_STR(date_in("EST", "Mon, 30 Nov 2026 15:31:07 -0500"), "");
    CHECK_STR(date_in("-0500", "Mon, 30 Nov 2026 15:31:07 -0500"), "");
    CHECK_STR(date_in("+0530", "Tue, 1 Dec 2026 02:01:07 +0530"), "");
    CHECK_STR(date_in("-0030", "Mon, 30 Nov 2026 20:01:07 -0030"), "");
out:;
}

TEST(date_in_the_local_zone_uses_its_offset)
{
    const char *old = getenv("TZ");
    char *saved = old != NULL ? strdup(old) : NULL;
    const char *got;

    /* A POSIX TZ string needs no zone database: 5:30 east of UTC. */
    setenv("TZ", "XST-5:30", 1);
    tzset();
    got = date_in("LOCAL", "Tue, 1 Dec 2026 02:01:07 +0530");
    if (saved != NULL)
        setenv("TZ", saved, 1);
    else
        unsetenv("TZ");
    tzset();
    free(saved);
    CHECK_STR(got, "");
out:;
}

TEST(date_zero_means_now)
{
    struct mime_options opt = default_options();
    struct mime_message msg = {0};
    struct mime_result res = {0};
    struct mime_addr from;
    struct buf out;
    time_t before = time(NULL), after;
    char *date = NULL, *year;
    struct tm tm;

    mk(&from, NULL, "ada@example.com");
    msg.from = &from;
    opt.date = 0;
    buf_init(&out, BIG);
    COMPOSE(&msg, &opt, &out, &res);
    after = time(NULL);
    date = header_value(buf_cstr(&out), "Date");
    CHECK(date != NULL);
    /* "Mon, 30 Nov 2026 ...": the year is the fourth word. */
    year = date;
    for (int i = 0; i < 3 && year != NULL; i++) {
        year = strchr(year, ' ');
        year = year != NULL ? year + 1 : NULL;
    }
    CHECK(year != NULL);
    /* The year of now, not of 1970, whichever second it was. */
    gmtime_r(&before, &tm);
    CHECK(strtol(year, NULL, 10) == tm.tm_year + 1900 ||
          (gmtime_r(&after, &tm) != NULL &&
           strtol(year, NULL, 10) == tm.tm_year + 1900));
out:
    free(date);
    buf_free(&out);
    mime_addr_clear(&from);
}

/* True when `id` is "<" + 32 lower-case hex digits + "@" + domain + ">". */
static bool id_shape(const char *id, const char *domain)
{
    size_t n = strlen(id), dl = strlen(domain);

    if (n != 35 + dl || id[0] != '<' || id[33] != '@' || id[n - 1] != '>')
        return false;
    for (size_t i = 1; i < 33; i++) {
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return false;
    }
    return strncmp(id + 34, domain, dl) == 0;
}

TEST(message_id_is_random_hex_at_the_from_domain)
{
    struct mime_options opt = default_options();
    struct mime_message msg = {0};
    struct mime_result res = {0};
    struct mime_addr from;
    struct buf out;
    char first[256], *hdr = NULL;

    mk(&from, NULL, "ada@Example.com");
    msg.from = &from;
    buf_init(&out, BIG);
    COMPOSE(&msg, &opt, &out, &res);
    CHECK(id_shape(res.message_id, "Example.com"));
    hdr = header_value(buf_cstr(&out), "Message-ID");
    CHECK_STR(hdr, res.message_id);
    memcpy(first, res.message_id, sizeof(first));
    COMPOSE(&msg, &opt, &out, &res);
    CHECK(strcmp(first, res.message_id) != 0);
out:
    free(hdr);
    buf_free(&out);
    mime_addr_clear(&from);
}

TEST(message_id_domain_option_and_fallback)
{
    struct mime_options opt = default_options();
    struct mime_message msg = {0};
    struct mime_result res = {0};
    struct mime_addr from;
    struct buf out;

    /* A domain that mime_addr_set() did not convert cannot serve. */
    static char box[] = "zoe@ex\xC3\xA4mple.de";
    struct mime_addr raw = {NULL, box};

    mk(&from, NULL, "zoe@ex\xC3\xA4mple.de");
    msg.from = &from;
    buf_init(&out, BIG);
    COMPOSE(&msg, &opt, &out, &res);
    CHECK(id_shape(res.message_id, "xn--exmple-cua.de"));
    msg.from = &raw;
    COMPOSE(&msg, &opt, &out, &res);
    CHECK(id_shape(res.message_id, "smtp-gateway.invalid"));
    opt.message_id_domain = "mail.example.net";
    COMPOSE(&msg, &opt, &out, &res);
    CHECK(id_shape(res.message_id, "mail.example.net"));
    opt.message_id_domain = "bad domain>";
    COMPOSE_FAILS(&msg, &opt, &out, &res, GW_EINVAL,
                  "the message id domain is not a valid domain");
out:
    buf_free(&out);
    mime_addr_clear(&from);
}

TEST(bcc_is_written_only_with_show_bcc)
{
    struct mime_options opt = default_options();
    struct mime_message msg = {0};
    struct mime_result res = {0};
    struct mime_addr from, to, bcc;
    struct buf out;
    char *v = NULL;

    mk(&from, NULL, "ada@example.com");
    mk(&to, NULL, "to@example.com");
    mk(&bcc, "Bea", "bea@example.com");
    msg = (struct mime_message){
        .from = &from, .to = &to, .n_to = 1, .bcc = &bcc, .n_bcc = 1};
    buf_init(&out, BIG);
    COMPOSE(&msg, &opt, &out, &res);
    CHECK(!check_contains(buf_cstr(&out), "Bcc"));
    CHECK(!check_contains(buf_cstr(&out), "bea@"));
    opt.show_bcc = true;
    COMPOSE(&msg, &opt, &out, &res);
    v = header_value(buf_cstr(&out), "Bcc");
    CHECK_STR(v, "Bea <bea@example.com>");
out:
    free(v);
    buf_free(&out);
    mime_addr_clear(&from);
    mime_addr_clear(&to);
    mime_addr_clear(&bcc);
}

TEST(names_are_atoms_or_quoted_strings)
{
    struct mime_options opt = default_options();
    struct mime_message msg = {0};
    struct mime_result res = {0};
    struct mime_addr from, to[4];
    struct buf out;
    char *v = NULL;

    mk(&from, NULL, "ada@example.com");
    mk(&to[0], "Ada O'Brien-Lovelace", "ada@example.com");
    mk(&to[1], "Doe, J.", "j@example.com");
    mk(&to[2], "Say \"hi\" \\ bye", "s@example.com");
    mk(&to[3], "a=?b", "q@example.com");
    msg = (struct mime_message){.from = &from, .to = to, .n_to = 4};
    buf_init(&out, BIG);
    COMPOSE(&msg, &opt, &out, &res);
    v = header_value(buf_cstr(&out), "To");
    CHECK_STR(v, "Ada O'Brien-Lovelace <ada@example.com>, "
                 "\"Doe, J.\" <j@example.com>, "
                 "\"Say \\\"hi\\\" \\\\ bye\" <s@example.com>, "
                 "\"a=?b\" <q@example.com>");
    CHECK(!res.needs_smtputf8);
out:
    free(v);
    buf_free(&out);
    mime_addr_clear(&from);
    for (size_t i = 0; i < 4; i++)
        mime_addr_clear(&to[i]);
}

/*
 * Returns "" when the `name` field of `msg` is "<encoded-words> <mbox>"
 * whose words decode to `want`; otherwise what is wrong.
 */
static const char *encoded_name_is(const char *msg, const char *name,
                                   const char *mbox, const char *want)
{
    static char why[128];
    char *v = header_value(msg, name), *text = NULL;
    const char *lt = v != NULL ? strstr(v, " <") : NULL;

    why[0] = '\0';
    if (lt == NULL || strcmp(lt + 2, mbox) != 0)
        snprintf(why, sizeof(why), "no %s header with that mailbox", name);
    else if ((text = decode_words(v, (size_t)(lt - v))) == NULL)
        snprintf(why, sizeof(why), "malformed encoded-words");
    else if (strcmp(text, want) != 0)
        snprintf(why, sizeof(why), "decodes to something else");
    free(text);
    free(v);
    return why;
}

TEST(non_ascii_names_become_encoded_words)
{
    struct mime_options opt = default_options();
    struct mime_message msg = {0};
    struct mime_result res = {0};
    struct mime_addr from, to;
    struct buf out;
    char *long_name = repeat(NIHONGO " ", 12);

    mk(&from, "Zo\xC3\xAB \xC3\x9Cnicode", "zoe@example.com");
    mk(&to, long_name, "taro@example.jp");
    msg = (struct mime_message){.from = &from, .to = &to, .n_to = 1};
    buf_init(&out, BIG);
    COMPOSE(&msg, &opt, &out, &res);
    CHECK_STR(encoded_name_is(buf_cstr(&out), "From", "zoe@example.com>",
                              "Zo\xC3\xAB \xC3\x9Cnicode"),
              "");
    /* mime_addr_set trimmed the last space of the long name. */
    long_name[strlen(long_name) - 1] = '\0';
    CHECK_STR(
        encoded_name_is(buf_cstr(&out), "To", "taro@example.jp>", long_name),
        "");
    CHECK(longest_header_line(buf_cstr(&out)) <= 78);
    CHECK(!res.needs_smtputf8);
out:
    buf_free(&out);
    mime_addr_clear(&from);
    mime_addr_clear(&to);
    free(long_name);
}

TEST(long_name_word_is_encoded_or_refused)
{
    struct mime_options opt = default_options();
    struct mime_message msg = {0};
    struct mime_result res = {0};
    struct mime_addr from;
    struct buf out;
    char *name = repeat("n", 1000);

    mk(&from, name, "ada@example.com");
    msg.from = &from;
    buf_init(&out, BIG);
    COMPOSE(&msg, &opt, &out, &res);
    CHECK(longest_header_line(buf_cstr(&out)) <= 78);
    CHECK_STR(encoded_name_is(buf_cstr(&out), "From", "ada@example.com>", name),
              "");
    opt.allow_header_encoding = false;
    COMPOSE_FAILS(&msg, &opt, &out, &res, GW_EINVAL,
                  "from: the name has a word too long for a header line "
                  "(998 bytes) and header encoding is off");
out:
    buf_free(&out);
    mime_addr_clear(&from);
    free(name);
}

TEST(raw_utf8_without_header_encoding)
{
    struct mime_options opt = default_options();
    struct mime_message msg = {0};
    struct mime_result res = {0};
    struct mime_addr from, to;
    struct buf out;
    char *v = NULL;

    opt.allow_header_encoding = false;
    mk(&from, "Zo\xC3\xAB", "zoe@example.com");
    mk(&to, "M\xC3\xBCller, K.", "k@example.com");
    msg = (struct mime_message){.from = &from,
                                .to = &to,
                                .n_to = 1,
                                .subject = "Gr\xC3\xBC\xC3\x9F"
                                           "e"};
    buf_init(&out, BIG);
    COMPOSE(&msg, &opt, &out, &res);
    CHECK(!check_contains(buf_cstr(&out), "=?"));
    v = header_value(buf_cstr(&out), "From");
    CHECK_STR(v, "Zo\xC3\xAB <zoe@example.com>");
    free(v);
    v = header_value(buf_cstr(&out), "To");
    CHECK_STR(v, "\"M\xC3\xBCller, K.\" <k@example.com>");
    free(v);
    v = header_value(buf_cstr(&out), "Subject");
    CHECK_STR(v, "Gr\xC3\xBC\xC3\x9F"
                 "e");
    CHECK(res.needs_smtputf8);
out:
    free(v);
    buf_free(&out);
    mime_addr_clear(&from);
    mime_addr_clear(&to);
}

TEST(utf8_mailbox_needs_smtputf8)
{
    struct mime_options opt = default_options();
    struct mime_message msg = {0};
    struct mime_result res = {0};
    struct mime_addr from, to;
    struct buf out;

    mk(&from, NULL, "ada@example.com");
    mk(&to, NULL, "zo\xC3\xAB@ex\xC3\xA4mple.de");
    msg = (struct mime_message){.from = &from, .to = &to, .n_to = 1};
    buf_init(&out, BIG);
    COMPOSE(&msg, &opt, &out, &res);
    CHECK(res.needs_smtputf8);
    CHECK(check_contains(buf_cstr(&out),
                         "\r\nTo: zo\xC3\xAB@xn--exmple-cua.de\r\n"));
    mime_addr_clear(&to);
    /* An international domain alone needs nothing: it is in A-labels. */
    mk(&to, "Zo\xC3\xAB", "zoe@ex\xC3\xA4mple.de");
    COMPOSE(&msg, &opt, &out, &res);
    CHECK(!res.needs_smtputf8);
    CHECK(check_contains(buf_cstr(&out), " <zoe@xn--exmple-cua.de>\r\n"));
out:
    buf_free(&out);
    mime_addr_clear(&from);
    mime_addr_clear(&to);
}

TEST(many_recipients_fold_at_78)
{
    struct mime_options opt = default_options();
    struct mime_message msg = {0};
    struct mime_result res = {0};
    struct mime_addr from, to[30] = {0};
    struct buf out, want;
    char name[64], box[64], *v = NULL;

    mk(&from, NULL, "ada@example.com");
    buf_init(&out, BIG);
    buf_init(&want, BIG);
    for (size_t i = 0; i < 30; i++) {
        snprintf(name, sizeof(name), "Person Number %zu", i);
        snprintf(box, sizeof(box), "person%zu@example.com", i);
        mk(&to[i], name, box);
        CHECK(buf_printf(&want, "%s%s <%s>", i > 0 ? ", " : "", name, box) ==
              GW_OK);
    }
    msg = (struct mime_message){.from = &from, .to = to, .n_to = 30};
    COMPOSE(&msg, &opt, &out, &res);
    CHECK(longest_header_line(buf_cstr(&out)) <= 78);
    CHECK(check_contains(buf_cstr(&out), "\r\n "));
    v = header_value(buf_cstr(&out), "To");
    CHECK_STR(v, buf_cstr(&want));
out:
    free(v);
    buf_free(&out);
    buf_free(&want);
    mime_addr_clear(&from);
    for (size_t i = 0; i < 30; i++)
        mime_addr_clear(&to[i]);
}

/*
 * Composes a message with `subject` and returns "" when its Subject is
 * encoded-words of at most 75 characters, each whole UTF-8, on lines of
 * at most 78, that decode to the subject; otherwise what is wrong.
 */
static const char *subject_round_trip(const char *subject)
{
    struct mime_options opt = default_options();
    struct mime_message msg = {0};
    struct mime_result res = {0};
    struct mime_addr from;
    struct buf out;
    char *v = NULL, *text = NULL;
    const char *why = "";

    mk(&from, NULL, "ada@example.com");
    msg.from = &from;
    msg.subject = subject;
    buf_init(&out, BIG);
    if (mime_compose(&msg, &opt, &out, &res, NULL) != GW_OK)
        why = "compose failed";
    else if (strcmp(wire_problem(&out), "") != 0)
        why = wire_problem(&out);
    else if (longest_header_line(buf_cstr(&out)) > 78)
        why = "a header line is longer than 78";
    else if ((v = header_value(buf_cstr(&out), "Subject")) == NULL)
        why = "no Subject";
    else if ((text = decode_words(v, strlen(v))) == NULL)
        why = "malformed encoded-words";
    else if (strcmp(text, subject) != 0)
        why = "decodes to something else";
    free(text);
    free(v);
    buf_free(&out);
    mime_addr_clear(&from);
    return why;
}

TEST(japanese_subject_round_trips_through_encoded_words)
{
    char *subject = repeat(NIHONGO, 10);

    CHECK_STR(subject_round_trip(NIHONGO), "");
    CHECK_STR(subject_round_trip(subject), "");
out:
    free(subject);
}

TEST(emoji_subject_is_never_split_inside_a_character)
{
    char *emoji = repeat(EMOJI, 40);
    char *subject = malloc(strlen(emoji) + 4);

    CHECK(subject != NULL);
    memcpy(subject, "Hi ", 3);
    memcpy(subject + 3, emoji, strlen(emoji) + 1);
    CHECK_STR(subject_round_trip(subject), "");
    /* Shifting by one byte moves every split point. */
    subject[2] = 'x';
    CHECK_STR(subject_round_trip(subject + 1), "");
out:
    free(subject);
    free(emoji);
}

TEST(long_ascii_word_subject_is_encoded_or_refused)
{
    struct mime_options opt = default_options();
    struct mime_message msg = {0};
    struct mime_result res = {0};
    struct mime_addr from;
    struct buf out;
    char *word = repeat("w", 1200);

    mk(&from, NULL, "ada@example.com");
    buf_init(&out, BIG);
    CHECK_STR(subject_round_trip(word), "");
    msg.from = &from;
    msg.subject = word;
    opt.allow_header_encoding = false;
    COMPOSE_FAILS(&msg, &opt, &out, &res, GW_EINVAL,
                  "subject: the text has a word too long for a header line "
                  "(998 bytes) and header encoding is off");
out:
    buf_free(&out);
    mime_addr_clear(&from);
    free(word);
}

TEST(ascii_subject_folds_at_its_spaces)
{
    struct mime_options opt = default_options();
    struct mime_message msg = {0};
    struct mime_result res = {0};
    struct mime_addr from;
    struct buf out;
    char *subject = repeat("lorem  ipsum\tdolor ", 20), *v = NULL;
    const char *p;

    /* A blank at the end would be trimmed by readers: see below. */
    subject[strlen(subject) - 1] = '\0';
    mk(&from, NULL, "ada@example.com");
    msg.from = &from;
    msg.subject = subject;
    buf_init(&out, BIG);
    COMPOSE(&msg, &opt, &out, &res);
    CHECK(longest_header_line(buf_cstr(&out)) <= 78);
    CHECK(!check_contains(buf_cstr(&out), "=?"));
    v = header_value(buf_cstr(&out), "Subject");
    CHECK_STR(v, subject);
    /* Readers turn a line break and the blanks after it into one space:
     * every continuation starts with one space, then a word. */
    for (p = buf_cstr(&out); (p = strstr(p, "\r\n ")) != NULL; p += 3)
        CHECK(p[3] != ' ' && p[3] != '\t');
    CHECK(check_contains(buf_cstr(&out), "lorem \r\n ipsum"));
out:
    free(v);
    buf_free(&out);
    mime_addr_clear(&from);
    free(subject);
}

TEST(folds_never_follow_the_colon_or_strand_blanks)
{
    struct mime_options opt = default_options();
    struct mime_message msg = {0};
    struct mime_result res = {0};
    struct mime_addr from;
    struct buf out;
    char *word = repeat("w", 90), *tail = repeat("a", 68), *v = NULL;
    char subject[128], want[160];

    mk(&from, NULL, "ada@example.com");
    msg.from = &from;
    msg.subject = subject;
    buf_init(&out, BIG);
    /* A first word too long for the line stays after "Subject: ". */
    snprintf(subject, sizeof(subject), "%s end", word);
    COMPOSE(&msg, &opt, &out, &res);
    snprintf(want, sizeof(want), "\r\nSubject: %s\r\n end\r\n", word);
    CHECK(check_contains(buf_cstr(&out), want));
    /* Trailing blanks past column 78 stay on the line of the last word
     * (written as they are only without header encoding). */
    snprintf(subject, sizeof(subject), "%s      ", tail);
    opt.allow_header_encoding = false;
    COMPOSE(&msg, &opt, &out, &res);
    v = header_value(buf_cstr(&out), "Subject");
    CHECK_STR(v, subject);
out:
    free(v);
    buf_free(&out);
    mime_addr_clear(&from);
    free(word);
    free(tail);
}

/* Composes a message whose Subject and To name are `text` and returns the
 * unfolded Subject value; the caller frees it. */
static char *subject_as_written(const char *text, char **to)
{
    struct mime_options opt = default_options();
    struct mime_message msg = {0};
    struct mime_result res = {0};
    struct mime_addr from, rcpt;
    struct buf out;
    char *v;

    mk(&from, NULL, "ada@example.com");
    mk(&rcpt, text, "t@example.com");
    msg = (struct mime_message){
        .from = &from, .to = &rcpt, .n_to = 1, .subject = text};
    buf_init(&out, BIG);
    if (mime_compose(&msg, &opt, &out, &res, NULL) != GW_OK)
        abort();
    v = header_value(buf_cstr(&out), "Subject");
    *to = header_value(buf_cstr(&out), "To");
    buf_free(&out);
    mime_addr_clear(&from);
    mime_addr_clear(&rcpt);
    return v;
}

TEST(what_readers_would_misread_is_encoded_or_quoted)
{
    char *subject = NULL, *to = NULL;

    /* Something like an encoded-word would be decoded by a reader. */
    subject = subject_as_written("see =?utf-8?q?x?= here", &to);
    CHECK_STR(subject, "=?UTF-8?B?c2VlID0/dXRmLTg/cT94Pz0gaGVyZQ==?=");
    CHECK_STR(to, "=?UTF-8?B?c2VlID0/dXRmLTg/cT94Pz0gaGVyZQ==?= "
                  "<t@example.com>");
    free(subject);
    free(to);
    /* "=?" alone is no encoded-word: quoted in a name, plain otherwise. */
    subject = subject_as_written("a =? b", &to);
    CHECK_STR(subject, "a =? b");
    CHECK_STR(to, "\"a =? b\" <t@example.com>");
    free(subject);
    free(to);
    /* Readers trim the ends of a Subject and join atoms with one space. */
    subject = subject_as_written("  two  spaces", &to);
    CHECK_STR(subject, "=?UTF-8?B?ICB0d28gIHNwYWNlcw==?=");
    CHECK_STR(to, "\"two  spaces\" <t@example.com>");
out:
    free(subject);
    free(to);
}

TEST(control_bytes_in_header_text_are_encoded)
{
    struct mime_options opt = default_options();
    struct mime_message msg = {0};
    struct mime_result res = {0};
    struct mime_addr from;
    struct buf out;
    char *v = NULL;

    mk(&from, NULL, "ada@example.com");
    msg.from = &from;
    msg.subject = "a\x01z";
    buf_init(&out, BIG);
    COMPOSE(&msg, &opt, &out, &res);
    v = header_value(buf_cstr(&out), "Subject");
    CHECK_STR(v, "=?UTF-8?B?YQF6?=");
out:
    free(v);
    buf_free(&out);
    mime_addr_clear(&from);
}

TEST(only_raw_utf8_text_needs_smtputf8)
{
    struct mime_options opt = default_options();
    struct mime_message msg = {0};
    struct mime_result res = {0};
    struct mime_addr from;
    struct buf out;

    opt.allow_header_encoding = false;
    mk(&from, "Ada", "ada@example.com");
    msg.from = &from;
    msg.subject = "plain";
    buf_init(&out, BIG);
    COMPOSE(&msg, &opt, &out, &res);
    CHECK(!res.needs_smtputf8);
    msg.subject = "caf\xC3\xA9";
    COMPOSE(&msg, &opt, &out, &res);
    CHECK(res.needs_smtputf8);
    CHECK(check_contains(buf_cstr(&out), "\r\nSubject: caf\xC3\xA9\r\n"));
out:
    buf_free(&out);
    mime_addr_clear(&from);
}

TEST(subject_and_names_cannot_break_a_header)
{
    static char bad_name[] = "Ann\r\nBcc: x@example.com";
    static char box[] = "ann@example.com";
    struct mime_options opt = default_options();
    struct mime_message msg = {0};
    struct mime_result res = {0};
    struct mime_addr from, to = {bad_name, box};
    struct buf out;

    mk(&from, NULL, "ada@example.com");
    msg.from = &from;
    msg.subject = "Hi\r\nBcc: x@example.com";
    buf_init(&out, BIG);
    COMPOSE_FAILS(&msg, &opt, &out, &res, GW_EINVAL,
                  "subject: the text has a line break");
    msg.subject = "Hi";
    msg.to = &to;
    msg.n_to = 1;
    COMPOSE_FAILS(&msg, &opt, &out, &res, GW_EINVAL,
                  "to[0]: the name has a line break");
    msg.from = NULL;
    COMPOSE_FAILS(&msg, &opt, &out, &res, GW_EINVAL,
                  "from: the address is missing");
out:
    buf_free(&out);
    mime_addr_clear(&from);
}

TEST(extra_headers_are_checked_and_encoded)
{
    struct mime_options opt = default_options();
    struct mime_message msg = {0};
    struct mime_header extra[] = {{"X-Campaign", "invoice-2026-11"},
                                  {"X-Empty", ""},
                                  {"X-Note", "caf\xC3\xA9"}};
    struct mime_header bad[] = {{"X-Ok", "1"}, {"content-type", "text/html"}};
    struct mime_result res = {0};
    struct mime_addr from;
    struct buf out;

    mk(&from, NULL, "ada@example.com");
    msg =
        (struct mime_message){.from = &from, .headers = extra, .n_headers = 3};
    buf_init(&out, BIG);
    COMPOSE(&msg, &opt, &out, &res);
    CHECK(check_contains(buf_cstr(&out), "\r\nMIME-Version: 1.0\r\n"
                                         "X-Campaign: invoice-2026-11\r\n"
                                         "X-Empty:\r\n"
                                         "X-Note: =?UTF-8?B?Y2Fmw6k=?=\r\n"
                                         "Content-Type: "));
    msg.headers = bad;
    msg.n_headers = 2;
    COMPOSE_FAILS(&msg, &opt, &out, &res, GW_EINVAL,
                  "headers[1]: Content-Type is set by the gateway and "
                  "cannot be given in headers");
out:
    buf_free(&out);
    mime_addr_clear(&from);
}

/* Returns "" when mime_check_header refuses the header with `detail`. */
static const char *header_refused(const char *name, const char *value,
                                  const char *detail)
{
    static char why[700];
    struct mime_header h = {name, value};
    struct gw_error err = {0};

    if (mime_check_header(&h, &err) == GW_EINVAL &&
        strcmp(err.detail, detail) == 0)
        return "";
    snprintf(why, sizeof(why), "%s: \"%s\"", name, err.detail);
    return why;
}

TEST(check_header_refuses_bad_and_owned_fields)
{
    struct mime_header ok = {"X-Campaign", "invoice \xE2\x82\xAC"};
    char *long_name = repeat("X", 77);

    CHECK(mime_check_header(&ok, NULL) == GW_OK);
    ok.name = long_name + 1;
    CHECK(mime_check_header(&ok, NULL) == GW_OK);
    CHECK_STR(header_refused(long_name, "v",
                             "the header name is longer than 76 characters"),
              "");
    CHECK_STR(header_refused("", "v", "the header name is empty"), "");
    CHECK_STR(header_refused("X:Y", "v", "the header name has a colon"), "");
    CHECK_STR(header_refused("X Y", "v", "the header name has a space"), "");
    CHECK_STR(header_refused("X-\xC3\xA9", "v",
                             "the header name has a character outside "
                             "printable ASCII"),
              "");
    CHECK_STR(header_refused("X-A", "a\r\nBcc: b", "the text has a line break"),
              "");
    CHECK_STR(header_refused("X-A", "a\nb", "the text has a line break"), "");
    CHECK_STR(header_refused("X-A", "\xC3", "the text is not valid UTF-8"), "");
    CHECK_STR(header_refused("X-A", NULL, "the header value is missing"), "");
    CHECK_STR(header_refused("CONTENT-TYPE", "x",
                             "Content-Type is set by the gateway and cannot "
                             "be given in headers"),
              "");
    CHECK_STR(header_refused("message-id", "x",
                             "Message-ID is set by the gateway and cannot "
                             "be given in headers"),
              "");
    CHECK_STR(header_refused("from", "x",
                             "From cannot be given in headers; use the from "
                             "field"),
              "");
    CHECK_STR(header_refused("Reply-to", "x",
                             "Reply-To cannot be given in headers; use the "
                             "reply_to field"),
              "");
    CHECK_STR(header_refused("subject", "x",
                             "Subject cannot be given in headers; use the "
                             "subject field"),
              "");
out:
    free(long_name);
}

/* The body: what follows the blank line after the header. */
static const char *body_of(const struct buf *out)
{
    const char *end = strstr(buf_cstr(out), "\r\n\r\n");

    return end != NULL ? end + 4 : "";
}

TEST(text_body_goes_7bit_with_crlf)
{
    struct mime_options opt = default_options();
    struct mime_message msg = {0};
    struct mime_result res = {0};
    struct mime_addr from;
    struct buf out;

    mk(&from, NULL, "ada@example.com");
    msg = (struct mime_message){.from = &from, .text = "Hello\nWorld\r\nEnd"};
    buf_init(&out, BIG);
    COMPOSE(&msg, &opt, &out, &res);
    CHECK(check_contains(buf_cstr(&out),
                         "\r\nContent-Type: text/plain; charset=utf-8\r\n"
                         "Content-Transfer-Encoding: 7bit\r\n\r\n"));
    CHECK_STR(body_of(&out), "Hello\r\nWorld\r\nEnd\r\n");
    msg.text = NULL;
    msg.html = "<p>Hi</p>\n";
    COMPOSE(&msg, &opt, &out, &res);
    CHECK(check_contains(buf_cstr(&out),
                         "\r\nContent-Type: text/html; charset=utf-8\r\n"
                         "Content-Transfer-Encoding: 7bit\r\n\r\n"));
    CHECK_STR(body_of(&out), "<p>Hi</p>\r\n");
out:
    buf_free(&out);
    mime_addr_clear(&from);
}

TEST(text_and_html_make_multipart_alternative)
{
    struct mime_options opt = default_options();
    struct mime_message msg = {0};
    struct mime_result res = {0};
    struct mime_addr from;
    struct buf out;
    char *ct = NULL, want[1024];
    const char *b;

    mk(&from, NULL, "ada@example.com");
    msg = (struct mime_message){
        .from = &from, .text = "plain\n", .html = "<p>caf\xC3\xA9</p>"};
    buf_init(&out, BIG);
    COMPOSE(&msg, &opt, &out, &res);
    CHECK(longest_header_line(buf_cstr(&out)) <= 78);
    ct = header_value(buf_cstr(&out), "Content-Type");
    CHECK(ct != NULL);
    CHECK(strncmp(ct, "multipart/alternative; boundary=\"=_", 35) == 0);
    CHECK(strlen(ct) == 35 + 32 + 1 && ct[strlen(ct) - 1] == '"');
    b = ct + 33;
    snprintf(want, sizeof(want),
             "--%.34s\r\n"
             "Content-Type: text/plain; charset=utf-8\r\n"
             "Content-Transfer-Encoding: 7bit\r\n\r\n"
             "plain\r\n"
             "\r\n--%.34s\r\n"
             "Content-Type: text/html; charset=utf-8\r\n"
             "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
             "<p>caf=C3=A9</p>"
             "\r\n--%.34s--\r\n",
             b, b, b);
    CHECK_STR(body_of(&out), want);
out:
    free(ct);
    buf_free(&out);
    mime_addr_clear(&from);
}

TEST(no_body_is_an_empty_text_part)
{
    struct mime_options opt = default_options();
    struct mime_message msg = {0};
    struct mime_result res = {0};
    struct mime_addr from;
    struct buf out;
    const char *s, *want = "\r\nContent-Type: text/plain; charset=utf-8\r\n"
                           "Content-Transfer-Encoding: 7bit\r\n\r\n";

    mk(&from, NULL, "ada@example.com");
    msg.from = &from;
    buf_init(&out, BIG);
    COMPOSE(&msg, &opt, &out, &res);
    s = buf_cstr(&out);
    CHECK(out.len > strlen(want));
    CHECK_STR(s + out.len - strlen(want), want);
out:
    buf_free(&out);
    mime_addr_clear(&from);
}

TEST(long_line_goes_quoted_printable_and_round_trips)
{
    struct mime_options opt = default_options();
    struct mime_message msg = {0};
    struct mime_result res = {0};
    struct mime_addr from;
    struct buf out;
    char *text = repeat("x", 2000), *decoded = NULL, *want = NULL;

    mk(&from, NULL, "ada@example.com");
    msg = (struct mime_message){.from = &from, .text = text};
    buf_init(&out, BIG);
    COMPOSE(&msg, &opt, &out, &res);
    CHECK(check_contains(buf_cstr(&out),
                         "Content-Transfer-Encoding: quoted-printable\r\n"));
    CHECK(longest_line(body_of(&out)) <= 76);
    CHECK(longest_line(body_of(&out)) >= 70);
    decoded = qp_decode(body_of(&out));
    want = repeat("x", 2000);
    CHECK(strlen(decoded) == 2002 && strncmp(decoded, want, 2000) == 0);
    CHECK_STR(decoded + 2000, "\r\n");
out:
    free(want);
    free(decoded);
    buf_free(&out);
    mime_addr_clear(&from);
    free(text);
}

TEST(non_ascii_and_bare_cr_go_quoted_printable)
{
    struct mime_options opt = default_options();
    struct mime_message msg = {0};
    struct mime_result res = {0};
    struct mime_addr from;
    struct buf out;

    mk(&from, NULL, "ada@example.com");
    msg = (struct mime_message){.from = &from, .text = "caf\xC3\xA9\n"};
    buf_init(&out, BIG);
    COMPOSE(&msg, &opt, &out, &res);
    CHECK_STR(body_of(&out), "caf=C3=A9\r\n");
    CHECK(!res.is_8bit);
    msg.text = "a\rb =\n";
    COMPOSE(&msg, &opt, &out, &res);
    CHECK(check_contains(buf_cstr(&out),
                         "Content-Transfer-Encoding: quoted-printable\r\n"));
    CHECK_STR(body_of(&out), "a\r\nb =3D\r\n");
out:
    buf_free(&out);
    mime_addr_clear(&from);
}

/* Copies `n` bytes of `s` into a new NUL-terminated string. */
static char *copy(const char *s, size_t n)
{
    char *t = malloc(n + 1);

    if (t == NULL)
        abort();
    memcpy(t, s, n);
    t[n] = '\0';
    return t;
}

/* The leaf entities of a message, header and body, in order. */
struct leaves {
    char *v[16];
    size_t n;
};

static void leaves_free(struct leaves *lv)
{
    for (size_t i = 0; i < lv->n; i++)
        free(lv->v[i]);
    lv->n = 0;
}

/* The media type of a Content-Type value, up to the first ";". */
static char *media_type(const char *ct)
{
    return copy(ct, strcspn(ct, "; "));
}

/* The boundary parameter of a multipart Content-Type value, or NULL. */
static char *boundary_of(const char *ct)
{
    const char *b = strstr(ct, "boundary=\"");

    return b != NULL ? copy(b + 10, strcspn(b + 10, "\"")) : NULL;
}

/*
 * Appends the shape of the entity `ent` to `out`, such as
 * "multipart/mixed(text/plain,image/png)", and copies its leaves into
 * `lv`. A malformed multipart shows as "?".
 */
static void walk(const char *ent, struct buf *out, struct leaves *lv)
{
    char *ct = header_value(ent, "Content-Type");
    char *type = media_type(ct != NULL ? ct : "text/plain");
    char *b = ct != NULL ? boundary_of(ct) : NULL, delim[80];
    const char *p = strstr(ent, "\r\n\r\n"), *next;

    buf_puts(out, type);
    if (strncmp(type, "multipart/", 10) != 0 || b == NULL || p == NULL) {
        if (lv->n < 16)
            lv->v[lv->n++] = strdup(ent);
        goto out;
    }
    snprintf(delim, sizeof(delim), "\r\n--%s", b);
    /* The body starts right at the first delimiter: no preamble. */
    p += 2;
    buf_putc(out, '(');
    while (strncmp(p, delim, strlen(delim)) == 0) {
        p += strlen(delim);
        if (strncmp(p, "--\r\n", 4) == 0)
            break;
        next = strncmp(p, "\r\n", 2) == 0 ? strstr(p + 2, delim) : NULL;
        if (next == NULL) {
            buf_puts(out, "?");
            break;
        }
        if (out->data[out->len - 1] != '(')
            buf_putc(out, ',');
        free(ct);
        ct = copy(p + 2, (size_t)(next - p - 2));
        walk(ct, out, lv);
        p = next;
    }
    buf_putc(out, ')');
out:
    free(ct);
    free(type);
    free(b);
}

/* Returns the shape of the composed message, and its leaves in `lv`. */
static const char *shape(const struct buf *msg, struct leaves *lv)
{
    static char text[512];
    struct buf out;

    buf_init(&out, sizeof(text) - 1);
    leaves_free(lv);
    walk(buf_cstr(msg), &out, lv);
    snprintf(text, sizeof(text), "%s", buf_cstr(&out));
    buf_free(&out);
    return text;
}

/* Decodes "%XX" escapes in place. */
static void pct_decode(char *s)
{
    char *w = s;

    for (; *s != '\0'; s++) {
        if (s[0] == '%' && s[1] != '\0' && s[2] != '\0') {
            char hex[3] = {s[1], s[2], '\0'};

            *w++ = (char)strtol(hex, NULL, 16);
            s += 2;
        } else {
            *w++ = *s;
        }
    }
    *w = '\0';
}

/*
 * Reads the parameter `key` of a header value as a reader would: the
 * quoted-string or token `key=...` with its escapes undone (and, when it
 * is encoded-words, decoded), or the RFC 2231 form (`key*=` or `key*0*=`,
 * `key*1*=`, ... joined and percent-decoded). Returns a new string, or
 * NULL when there is neither, or both: readers given both read different
 * ones.
 */
static char *param(const char *hv, const char *key)
{
    struct buf plain, ext;
    size_t kl = strlen(key);
    const char *p = strchr(hv, ';');
    bool has_plain = false;
    char *v = NULL;

    buf_init(&plain, 4096);
    buf_init(&ext, 4096);
    while (p != NULL && *p == ';') {
        const char *k = p + 1 + strspn(p + 1, " "), *eq = strchr(k, '=');
        bool named, exact;
        struct buf *to;

        if (eq == NULL)
            break;
        named = (size_t)(eq - k) >= kl && strncmp(k, key, kl) == 0;
        exact = named && (size_t)(eq - k) == kl;
        to = exact ? &plain : named && k[kl] == '*' ? &ext : NULL;
        has_plain |= exact;
        p = eq + 1;
        if (*p == '"') {
            for (p++; *p != '\0' && *p != '"'; p++) {
                if (*p == '\\' && p[1] != '\0')
                    p++;
                if (to != NULL)
                    buf_putc(to, *p);
            }
            p += *p == '"';
        } else {
            size_t vl = strcspn(p, ";");

            if (to != NULL)
                buf_append(to, p, vl);
            p += vl;
        }
        p += strspn(p, " ");
    }
    if (has_plain && ext.len == 0 && strncmp(buf_cstr(&plain), "=?", 2) == 0)
        v = decode_words(plain.data, plain.len);
    else if (has_plain && ext.len == 0)
        v = strdup(buf_cstr(&plain));
    if (!has_plain && ext.len > 0 &&
        strncmp(buf_cstr(&ext), "utf-8''", 7) == 0) {
        v = strdup(buf_cstr(&ext) + 7);
        pct_decode(v);
    }
    buf_free(&plain);
    buf_free(&ext);
    return v;
}

/* A part's body: what follows the blank line after its header. */
static const char *part_body(const char *ent)
{
    const char *p = strstr(ent, "\r\n\r\n");

    return p != NULL ? p + 4 : "";
}

TEST(sender_is_written_unless_it_is_the_author)
{
    struct mime_options opt = default_options();
    struct mime_message msg = {0};
    struct mime_result res = {0};
    struct mime_addr from, sender, same;
    struct buf out;
    char *v = NULL;

    mk(&from, "Ada", "ada@example.com");
    mk(&sender, "Mail Bot", "bot@example.com");
    mk(&same, NULL, "ada@EXAMPLE.com");
    msg = (struct mime_message){.from = &from, .sender = &sender};
    buf_init(&out, BIG);
    COMPOSE(&msg, &opt, &out, &res);
    v = header_value(buf_cstr(&out), "Sender");
    CHECK_STR(v, "Mail Bot <bot@example.com>");
    msg.sender = &same;
    COMPOSE(&msg, &opt, &out, &res);
    free(v);
    v = header_value(buf_cstr(&out), "Sender");
    CHECK(v == NULL);
    CHECK_STR(header_refused("sender", "x",
                             "Sender cannot be given in headers; use the "
                             "sender field"),
              "");
out:
    free(v);
    buf_free(&out);
    mime_addr_clear(&from);
    mime_addr_clear(&sender);
    mime_addr_clear(&same);
}

TEST(eight_bit_only_when_allowed_and_useful)
{
    struct mime_options opt = default_options();
    struct mime_message msg = {0};
    struct mime_result res = {0};
    struct mime_addr from;
    struct buf out;
    char *longline = repeat("\xC3\xA9", 600);

    mk(&from, NULL, "ada@example.com");
    msg = (struct mime_message){.from = &from, .text = "caf\xC3\xA9\nx"};
    opt.allow_8bit = true;
    buf_init(&out, BIG);
    COMPOSE(&msg, &opt, &out, &res);
    CHECK(
        check_contains(buf_cstr(&out), "Content-Transfer-Encoding: 8bit\r\n"));
    CHECK_STR(body_of(&out), "caf\xC3\xA9\r\nx\r\n");
    CHECK(res.is_8bit);
    /* ASCII gains nothing from 8bit; a line over 998 bytes cannot go. */
    msg.text = "a\rb";
    COMPOSE(&msg, &opt, &out, &res);
    CHECK(check_contains(buf_cstr(&out), "quoted-printable\r\n"));
    CHECK(!res.is_8bit);
    msg.text = longline;
    COMPOSE(&msg, &opt, &out, &res);
    CHECK(check_contains(buf_cstr(&out), "quoted-printable\r\n"));
    CHECK(!res.is_8bit);
    /* Not allowed: quoted-printable as before. */
    opt.allow_8bit = false;
    msg.text = "caf\xC3\xA9";
    COMPOSE(&msg, &opt, &out, &res);
    CHECK_STR(body_of(&out), "caf=C3=A9\r\n");
    CHECK(!res.is_8bit);
out:
    buf_free(&out);
    mime_addr_clear(&from);
    free(longline);
}

TEST(a_multipart_over_an_8bit_part_says_8bit)
{
    struct mime_options opt = default_options();
    struct mime_message msg = {0};
    struct mime_result res = {0};
    struct leaves lv = {0};
    struct mime_addr from;
    struct buf out;
    char *cte = NULL;

    mk(&from, NULL, "ada@example.com");
    msg = (struct mime_message){
        .from = &from, .text = "plain", .html = "<p>caf\xC3\xA9</p>"};
    opt.allow_8bit = true;
    buf_init(&out, BIG);
    COMPOSE(&msg, &opt, &out, &res);
    CHECK_STR(shape(&out, &lv), "multipart/alternative(text/plain,text/html)");
    CHECK(res.is_8bit);
    cte = header_value(buf_cstr(&out), "Content-Transfer-Encoding");
    CHECK_STR(cte, "8bit");
    CHECK(check_contains(lv.v[0], "Transfer-Encoding: 7bit\r\n"));
    CHECK(check_contains(lv.v[1], "Transfer-Encoding: 8bit\r\n"));
out:
    free(cte);
    leaves_free(&lv);
    buf_free(&out);
    mime_addr_clear(&from);
}

/* Attachments for the tree tests: a PDF, an inline logo, a plain photo. */
static const struct mime_attachment pdf = {"report.pdf", NULL, "%PDF", 4,
                                           false,        NULL};
static const struct mime_attachment logo = {
    "logo.png", NULL, "\x89PNG", 4, true, "logo@example.com"};
static const struct mime_attachment photo = {"photo.jpg", NULL, "\xFF\xD8",
                                             2,           true, NULL};

/* Composes `msg` with `n` of `atts` and returns the shape, or "error". */
static const char *tree_of(struct mime_message *msg,
                           const struct mime_attachment *atts, size_t n)
{
    static char text[512];
    struct mime_options opt = default_options();
    struct mime_result res = {0};
    struct leaves lv = {0};
    struct buf out;

    msg->attachments = atts;
    msg->n_attachments = n;
    buf_init(&out, BIG);
    if (mime_compose(msg, &opt, &out, &res, NULL) != GW_OK)
        snprintf(text, sizeof(text), "error");
    else if (strcmp(wire_problem(&out), "") != 0)
        snprintf(text, sizeof(text), "%s", wire_problem(&out));
    else
        snprintf(text, sizeof(text), "%s", shape(&out, &lv));
    leaves_free(&lv);
    buf_free(&out);
    return text;
}

TEST(the_tree_is_only_as_deep_as_needed)
{
    struct mime_attachment both[2] = {logo, pdf}, inl[2] = {photo, logo};
    struct mime_message msg = {0};
    struct mime_addr from;

    mk(&from, NULL, "ada@example.com");
    msg.from = &from;
    msg.text = "t";
    CHECK_STR(tree_of(&msg, NULL, 0), "text/plain");
    CHECK_STR(tree_of(&msg, &pdf, 1), "multipart/mixed(text/plain,"
                                      "application/pdf)");
    /* Without HTML an inline image has nothing to be related to. */
    CHECK_STR(tree_of(&msg, &logo, 1), "multipart/mixed(text/plain,"
                                       "image/png)");
    msg.text = NULL;
    msg.html = "<img src=\"cid:logo@example.com\">";
    CHECK_STR(tree_of(&msg, &logo, 1), "multipart/related(text/html,"
                                       "image/png)");
    msg.text = "t";
    CHECK_STR(tree_of(&msg, &logo, 1),
              "multipart/related(multipart/alternative(text/plain,"
              "text/html),image/png)");
    CHECK_STR(tree_of(&msg, both, 2),
              "multipart/mixed(multipart/related(multipart/alternative("
              "text/plain,text/html),image/png),application/pdf)");
    /* Inline without a Content-ID stays in mixed, shown after the body. */
    CHECK_STR(tree_of(&msg, inl, 2),
              "multipart/mixed(multipart/related(multipart/alternative("
              "text/plain,text/html),image/png),image/jpeg)");
    /* Attachments alone: no empty text part before them. */
    msg.text = NULL;
    msg.html = NULL;
    CHECK_STR(tree_of(&msg, &pdf, 1), "multipart/mixed(application/pdf)");
out:
    mime_addr_clear(&from);
}

TEST(related_names_its_root_type)
{
    struct mime_options opt = default_options();
    struct mime_message msg = {0};
    struct mime_result res = {0};
    struct mime_addr from;
    struct buf out;
    char *ct = NULL;

    mk(&from, NULL, "ada@example.com");
    msg = (struct mime_message){.from = &from,
                                .html = "<img src='cid:logo@example.com'>",
                                .attachments = &logo,
                                .n_attachments = 1};
    buf_init(&out, BIG);
    COMPOSE(&msg, &opt, &out, &res);
    ct = header_value(buf_cstr(&out), "Content-Type");
    CHECK(ct != NULL &&
          strncmp(ct, "multipart/related; type=\"text/html\";", 36) == 0);
    msg.text = "t";
    COMPOSE(&msg, &opt, &out, &res);
    free(ct);
    ct = header_value(buf_cstr(&out), "Content-Type");
    CHECK(ct != NULL && strncmp(ct,
                                "multipart/related; "
                                "type=\"multipart/alternative\";",
                                48) == 0);
    CHECK(longest_header_line(buf_cstr(&out)) <= 78);
out:
    free(ct);
    buf_free(&out);
    mime_addr_clear(&from);
}

TEST(attachment_parts_carry_their_bytes_and_headers)
{
    unsigned char all[300];
    struct mime_attachment bin = {"all.bin",   NULL,  all,
                                  sizeof(all), false, NULL},
                           parts[2] = {logo, bin};
    struct mime_options opt = default_options();
    struct mime_message msg = {0};
    struct mime_result res = {0};
    struct leaves lv = {0};
    struct mime_addr from;
    struct buf out, dec;
    const char *body;
    char *v = NULL;

    for (size_t i = 0; i < sizeof(all); i++)
        all[i] = (unsigned char)i;
    mk(&from, NULL, "ada@example.com");
    msg = (struct mime_message){.from = &from,
                                .html = "<img src=\"cid:logo@example.com\">",
                                .attachments = parts,
                                .n_attachments = 2};
    buf_init(&out, BIG);
    buf_init(&dec, BIG);
    COMPOSE(&msg, &opt, &out, &res);
    CHECK_STR(shape(&out, &lv), "multipart/mixed(multipart/related(text/"
                                "html,image/png),application/octet-stream)");
    CHECK(check_contains(lv.v[1], "Content-Type: image/png; "
                                  "name=\"logo.png\"\r\n"
                                  "Content-Transfer-Encoding: base64\r\n"
                                  "Content-Disposition: inline; "
                                  "filename=\"logo.png\"\r\n"
                                  "Content-ID: <logo@example.com>\r\n\r\n"
                                  "iVBORw=="));
    v = header_value(lv.v[2], "Content-Disposition");
    CHECK_STR(v, "attachment; filename=\"all.bin\"");
    free(v);
    v = header_value(lv.v[2], "Content-ID");
    CHECK(v == NULL);
    body = part_body(lv.v[2]);
    CHECK(longest_line(body) == 76);
    CHECK(gw_base64_decode(&dec, body, strlen(body), NULL) == GW_OK);
    CHECK(dec.len == sizeof(all) && memcmp(dec.data, all, sizeof(all)) == 0);
out:
    free(v);
    leaves_free(&lv);
    buf_free(&dec);
    buf_free(&out);
    mime_addr_clear(&from);
}

/*
 * Composes one attachment named `name` and returns "" when both its
 * filename (Content-Disposition) and name (Content-Type) read back as
 * `name`, each given in one form only, on header lines of at most 78
 * characters; otherwise what is wrong.
 */
static const char *filename_round_trip(const char *name)
{
    static char why[600];
    struct mime_attachment a = {name, "application/pdf", "x", 1, false, NULL};
    struct mime_options opt = default_options();
    struct mime_message msg = {0};
    struct mime_result res = {0};
    struct leaves lv = {0};
    struct mime_addr from;
    struct buf out;
    char *hv[2] = {NULL, NULL}, *got = NULL;
    const char *keys[2] = {"filename", "name"};

    mk(&from, NULL, "ada@example.com");
    msg = (struct mime_message){
        .from = &from, .attachments = &a, .n_attachments = 1};
    buf_init(&out, BIG);
    why[0] = '\0';
    if (mime_compose(&msg, &opt, &out, &res, NULL) != GW_OK ||
        strcmp(shape(&out, &lv), "multipart/mixed(application/pdf)") != 0) {
        snprintf(why, sizeof(why), "compose failed or bad shape");
        goto out;
    }
    hv[0] = header_value(lv.v[0], "Content-Disposition");
    hv[1] = header_value(lv.v[0], "Content-Type");
    for (int k = 0; k < 2 && why[0] == '\0'; k++) {
        got = hv[k] != NULL ? param(hv[k], keys[k]) : NULL;
        if (got == NULL || strcmp(got, name) != 0)
            snprintf(why, sizeof(why), "%s reads \"%s\"", keys[k],
                     got != NULL ? got : "(none, or two forms)");
        free(got);
    }
    if (why[0] == '\0' && longest_header_line(lv.v[0]) > 78)
        snprintf(why, sizeof(why), "a header line over 78");
    if (why[0] == '\0' && res.needs_smtputf8)
        snprintf(why, sizeof(why), "the name needs SMTPUTF8");
out:
    free(hv[0]);
    free(hv[1]);
    leaves_free(&lv);
    buf_free(&out);
    mime_addr_clear(&from);
    return why;
}

/* Composes one attachment named `name`; the caller frees the result. */
static char *attachment_header(const char *name, const char *type)
{
    struct mime_attachment a = {name, type, "x", 1, false, NULL};
    struct mime_options opt = default_options();
    struct mime_message msg = {0};
    struct mime_result res = {0};
    struct leaves lv = {0};
    struct mime_addr from;
    struct buf out;
    char *h = NULL;

    mk(&from, NULL, "ada@example.com");
    msg = (struct mime_message){
        .from = &from, .attachments = &a, .n_attachments = 1};
    buf_init(&out, BIG);
    if (mime_compose(&msg, &opt, &out, &res, NULL) == GW_OK &&
        strcmp(shape(&out, &lv), "multipart/mixed(?)") != 0 && lv.n == 1)
        h = copy(lv.v[0], (size_t)(header_end(lv.v[0]) - lv.v[0]));
    leaves_free(&lv);
    buf_free(&out);
    mime_addr_clear(&from);
    return h != NULL ? h : strdup("(compose failed)");
}

TEST(plain_file_names_go_as_quoted_strings)
{
    char *h = attachment_header("Q3 report (final).pdf", NULL);

    CHECK_STR(h, "Content-Type: application/pdf; "
                 "name=\"Q3 report (final).pdf\"\r\n"
                 "Content-Transfer-Encoding: base64\r\n"
                 "Content-Disposition: attachment; "
                 "filename=\"Q3 report (final).pdf\"\r\n");
    free(h);
    /* Specials stay, '"' and '\' escaped; nothing is altered or cut. */
    h = attachment_header("my file; name=\"x\" \\ y.txt", "text/plain");
    CHECK_STR(h, "Content-Type: text/plain; "
                 "name=\"my file; name=\\\"x\\\" \\\\ y.txt\"\r\n"
                 "Content-Transfer-Encoding: base64\r\n"
                 "Content-Disposition: attachment; "
                 "filename=\"my file; name=\\\"x\\\" \\\\ y.txt\"\r\n");
    CHECK_STR(filename_round_trip("a.pdf"), "");
    CHECK_STR(filename_round_trip("my file; name=\"x\" \\ y.txt"), "");
    CHECK_STR(filename_round_trip("two  spaces, (and) <more>.txt"), "");
    CHECK_STR(filename_round_trip("100%.txt"), "");
out:
    free(h);
}

TEST(non_ascii_file_names_go_only_as_rfc2231_and_encoded_words)
{
    char *h = attachment_header("Rechnung M\xC3\xA4rz.pdf", NULL);

    /* No ASCII stand-in before filename*: readers that find both take
     * the first or join the two. */
    CHECK_STR(h, "Content-Type: application/pdf; "
                 "name=\"=?UTF-8?B?UmVjaG51bmcgTcOkcnoucGRm?=\"\r\n"
                 "Content-Transfer-Encoding: base64\r\n"
                 "Content-Disposition: attachment; "
                 "filename*=utf-8''Rechnung%20M%C3%A4rz.pdf\r\n");
    CHECK_STR(filename_round_trip("Rechnung M\xC3\xA4rz.pdf"), "");
    CHECK_STR(filename_round_trip("Rechnung Ma\xCC\x88rz.pdf"), "");
    CHECK_STR(filename_round_trip("\xC3\x86gir \xC3\x9F \xC3\xB8.txt"), "");
    CHECK_STR(filename_round_trip(NIHONGO ".pdf"), "");
    CHECK_STR(filename_round_trip(EMOJI), "");
out:
    free(h);
}

TEST(what_readers_would_misread_goes_encoded)
{
    /* Readers decode encoded-words even inside quoted-strings. */
    char *h = attachment_header("=?utf-8?q?x?=.txt", "text/plain");

    CHECK_STR(h, "Content-Type: text/plain; "
                 "name=\"=?UTF-8?B?PT91dGYtOD9xP3g/PS50eHQ=?=\"\r\n"
                 "Content-Transfer-Encoding: base64\r\n"
                 "Content-Disposition: attachment;\r\n"
                 " filename*=utf-8''%3D%3Futf-8%3Fq%3Fx%3F%3D.txt\r\n");
    CHECK_STR(filename_round_trip("=?utf-8?q?x?=.txt"), "");
    /* Readers trim blanks at either end of a quoted-string. */
    CHECK_STR(filename_round_trip(" lead.txt"), "");
    CHECK_STR(filename_round_trip("trail.txt "), "");
out:
    free(h);
}

TEST(long_file_names_continue_on_lines_of_78)
{
    char *ascii = repeat("Quarterly-statement-", 5), name[300], *h = NULL;
    char *jp = repeat(NIHONGO, 10), *emoji = repeat(EMOJI, 60);

    /* 120 characters of ASCII: whole, never cut. */
    snprintf(name, sizeof(name), "%sABCDEFGHIJKLMNOP.csv", ascii);
    CHECK(strlen(name) == 120);
    h = attachment_header(name, NULL);
    CHECK_STR(h,
              "Content-Type: text/csv;\r\n"
              " name=\"=?UTF-8?B?UXVhcnRlcmx5LXN0YXRlbWVudC1RdWFydGVybHktc3Rh"
              "dGVtZW50LVF1?=\r\n"
              " =?UTF-8?B?YXJ0ZXJseS1zdGF0ZW1lbnQtUXVhcnRlcmx5LXN0YXRlbWVudC1R"
              "dWFydGVy?=\r\n"
              " =?UTF-8?B?bHktc3RhdGVtZW50LUFCQ0RFRkdISUpLTE1OT1AuY3N2?=\"\r\n"
              "Content-Transfer-Encoding: base64\r\n"
              "Content-Disposition: attachment;\r\n"
              " filename*0*=utf-8''Quarterly-statement-Quarterly-statement-"
              "Quarterly-state;\r\n"
              " filename*1*=ment-Quarterly-statement-Quarterly-statement-"
              "ABCDEFGHIJKLMNOP.;\r\n"
              " filename*2*=csv\r\n");
    CHECK_STR(filename_round_trip(name), "");
    free(h);
    h = attachment_header("Ein sehr langer Dateiname f\xC3\xBCr den "
                          "Jahresabschluss des Gesch\xC3\xA4"
                          "ftsjahres 2026 \xE2\x80\x93 endg\xC3\xBCltige "
                          "Fassung (v3).pdf",
                          NULL);
    CHECK_STR(h,
              "Content-Type: application/pdf;\r\n"
              " name=\"=?UTF-8?B?RWluIHNlaHIgbGFuZ2VyIERhdGVpbmFtZSBmw7xyIGRl"
              "biBKYWhyZXNh?=\r\n"
              " =?UTF-8?B?YnNjaGx1c3MgZGVzIEdlc2Now6RmdHNqYWhyZXMgMjAyNiDigJMg"
              "ZW5kZ8O8?=\r\n"
              " =?UTF-8?B?bHRpZ2UgRmFzc3VuZyAodjMpLnBkZg==?=\"\r\n"
              "Content-Transfer-Encoding: base64\r\n"
              "Content-Disposition: attachment;\r\n"
              " filename*0*=utf-8''Ein%20sehr%20langer%20Dateiname%20f%C3%BCr"
              "%20den%20Jahr;\r\n"
              " filename*1*=esabschluss%20des%20Gesch%C3%A4ftsjahres%202026"
              "%20%E2%80%93%20;\r\n"
              " filename*2*=endg%C3%BCltige%20Fassung%20%28v3%29.pdf\r\n");
    /* 78 3-byte characters, then 240 bytes of emoji: no continuation
     * and no encoded-word may cut one in two. */
    snprintf(name, sizeof(name), "%.234s.pdf", jp);
    CHECK_STR(filename_round_trip(name), "");
    CHECK_STR(filename_round_trip(emoji), "");
    /* The longest quoted-strings that fit a line, and one more: 65
     * characters for filename, 69 for name. */
    memset(name, 'n', 61);
    memcpy(name + 61, ".txt", 5);
    free(h);
    h = attachment_header(name, "text/plain");
    CHECK(check_contains(h, "\r\n filename=\"nnnn"));
    CHECK(check_contains(h, "\r\n name=\"nnnn"));
    CHECK_STR(filename_round_trip(name), "");
    memmove(name + 1, name, strlen(name) + 1);
    free(h);
    h = attachment_header(name, "text/plain");
    CHECK(check_contains(h, "\r\n filename*0*=utf-8''nnnn"));
    CHECK(check_contains(h, "\r\n name=\"nnnn"));
    memmove(name + 4, name, strlen(name) + 1);
    CHECK(strlen(name) == 70);
    free(h);
    h = attachment_header(name, "text/plain");
    CHECK(check_contains(h, "\r\n name=\"=?UTF-8?B?"));
    CHECK_STR(filename_round_trip(name), "");
out:
    free(h);
    free(ascii);
    free(jp);
    free(emoji);
}

TEST(inline_images_and_attached_messages_are_named_alike)
{
    static const char eml[] = "Subject: fwd\r\n\r\nhello\r\n";
    struct mime_attachment parts[2] = {{"Diagramm f\xC3\xBCr M\xC3\xA4rz.png",
                                        NULL, "\x89PNG", 4, true, "chart"},
                                       {"Weitergeleitet: Gr\xC3\xBC\xC3\x9F"
                                        "e.eml",
                                        NULL, eml, sizeof(eml) - 1, false,
                                        NULL}};
    struct mime_options opt = default_options();
    struct mime_message msg = {0};
    struct mime_result res = {0};
    struct leaves lv = {0};
    struct mime_addr from;
    struct buf out;

    mk(&from, NULL, "ada@example.com");
    msg = (struct mime_message){.from = &from,
                                .html = "<img src=\"cid:chart\">",
                                .attachments = parts,
                                .n_attachments = 2};
    buf_init(&out, BIG);
    COMPOSE(&msg, &opt, &out, &res);
    CHECK_STR(shape(&out, &lv), "multipart/mixed(multipart/related(text/"
                                "html,image/png),message/rfc822)");
    CHECK(check_contains(lv.v[1],
                         "Content-Type: image/png; "
                         "name=\"=?UTF-8?B?RGlhZ3JhbW0gZsO8ciBNw6Ryei5wbmc=?="
                         "\"\r\n"
                         "Content-Transfer-Encoding: base64\r\n"
                         "Content-Disposition: inline;\r\n"
                         " filename*=utf-8''Diagramm%20f%C3%BCr%20M%C3%A4rz."
                         "png\r\n"
                         "Content-ID: <chart>\r\n\r\n"));
    CHECK(check_contains(lv.v[2],
                         "Content-Type: message/rfc822;\r\n"
                         " name=\"=?UTF-8?B?V2VpdGVyZ2VsZWl0ZXQ6IEdyw7zDn2Uu"
                         "ZW1s?=\"\r\n"
                         "Content-Transfer-Encoding: 7bit\r\n"
                         "Content-Disposition: attachment;\r\n"
                         " filename*=utf-8''Weitergeleitet%3A%20Gr%C3%BC%C3%"
                         "9Fe.eml\r\n\r\n"));
out:
    leaves_free(&lv);
    buf_free(&out);
    mime_addr_clear(&from);
}

TEST(continuations_hold_whole_characters)
{
    char *jp = repeat(NIHONGO, 10);
    struct mime_attachment a = {jp, NULL, "x", 1, false, NULL};
    struct mime_options opt = default_options();
    struct mime_message msg = {0};
    struct mime_result res = {0};
    struct mime_addr from;
    struct buf out;
    const char *p;
    char *seg = NULL;
    int parts = 0;

    mk(&from, NULL, "ada@example.com");
    msg = (struct mime_message){
        .from = &from, .attachments = &a, .n_attachments = 1};
    buf_init(&out, BIG);
    COMPOSE(&msg, &opt, &out, &res);
    for (p = buf_cstr(&out); (p = strstr(p, " filename*")) != NULL; p++) {
        const char *v = strchr(p, '=') + 1;

        seg = copy(v, strcspn(v, ";\r"));
        if (strncmp(seg, "utf-8''", 7) == 0)
            memmove(seg, seg + 7, strlen(seg + 7) + 1);
        pct_decode(seg);
        CHECK(gw_utf8_valid(seg, strlen(seg)));
        free(seg);
        seg = NULL;
        parts++;
    }
    CHECK(parts >= 4);
    CHECK(longest_header_line(buf_cstr(&out)) <= 78);
out:
    free(seg);
    buf_free(&out);
    mime_addr_clear(&from);
    free(jp);
}

TEST(content_types_are_guessed_from_the_extension)
{
    CHECK_STR(mime_guess_type("a.pdf"), "application/pdf");
    CHECK_STR(mime_guess_type("A.PNG"), "image/png");
    CHECK_STR(mime_guess_type("x.y.JpEg"), "image/jpeg");
    CHECK_STR(mime_guess_type("p.jpg"), "image/jpeg");
    CHECK_STR(mime_guess_type("s.svg"), "image/svg+xml");
    CHECK_STR(mime_guess_type("d.docx"),
              "application/vnd.openxmlformats-officedocument."
              "wordprocessingml.document");
    CHECK_STR(mime_guess_type("m.eml"), "message/rfc822");
    CHECK_STR(mime_guess_type("c.ics"), "text/calendar");
    CHECK_STR(mime_guess_type("a.tar.gz"), "application/gzip");
    CHECK_STR(mime_guess_type("README"), "application/octet-stream");
    CHECK_STR(mime_guess_type("archive.7z"), "application/octet-stream");
    CHECK_STR(mime_guess_type("pdf"), "application/octet-stream");
    CHECK_STR(mime_guess_type("trailing."), "application/octet-stream");
    CHECK_STR(mime_guess_type(NULL), "application/octet-stream");
out:;
}

/* Returns "" when `rc` is GW_EINVAL with the detail `want`. */
static const char *refusal(enum gw_err rc, const struct gw_error *err,
                           const char *want)
{
    static char why[600];

    if (rc == GW_EINVAL && strcmp(err->detail, want) == 0)
        return "";
    snprintf(why, sizeof(why), "code %d: %s", (int)rc, err->detail);
    return why;
}

TEST(attachment_fields_are_checked)
{
    struct gw_error err = {0};
    char *long_name = repeat("n", 256), *long_id = repeat("i", 201);

    CHECK(mime_check_filename("Rechnung M\xC3\xA4rz.pdf", &err) == GW_OK);
    CHECK_STR(refusal(mime_check_filename("", &err), &err, "is empty"), "");
    CHECK_STR(refusal(mime_check_filename(long_name, &err), &err,
                      "is longer than 255 bytes"),
              "");
    CHECK_STR(refusal(mime_check_filename("a\r\nb", &err), &err,
                      "has a control character"),
              "");
    CHECK_STR(
        refusal(mime_check_filename("a\xC3", &err), &err, "is not valid UTF-8"),
        "");
    CHECK(mime_check_content_type("application/vnd.ms-excel", &err) == GW_OK);
    CHECK(mime_check_content_type("message/rfc822", &err) == GW_OK);
    CHECK_STR(refusal(mime_check_content_type("text/plain; charset=x", &err),
                      &err,
                      "must be a media type without parameters, such as "
                      "application/pdf"),
              "");
    CHECK(mime_check_content_type("pdf", &err) == GW_EINVAL);
    CHECK(mime_check_content_type("a/b/c", &err) == GW_EINVAL);
    CHECK(mime_check_content_type("/pdf", &err) == GW_EINVAL);
    CHECK(mime_check_content_type("text/", &err) == GW_EINVAL);
    CHECK(mime_check_content_type("text/pl\xC3\xA4in", &err) == GW_EINVAL);
    CHECK_STR(refusal(mime_check_content_type("Multipart/mixed", &err), &err,
                      "multipart types are made by the gateway"),
              "");
    CHECK(mime_check_content_type("message/partial", &err) == GW_EINVAL);
    CHECK(mime_check_content_id("logo", &err) == GW_OK);
    CHECK(mime_check_content_id("part1.x$y@example.com", &err) == GW_OK);
    CHECK_STR(refusal(mime_check_content_id("<logo>", &err), &err,
                      "has a < or >; give it without the angle brackets"),
              "");
    CHECK_STR(
        refusal(mime_check_content_id("my logo", &err), &err, "has a space"),
        "");
    CHECK_STR(refusal(mime_check_content_id("", &err), &err, "is empty"), "");
    CHECK_STR(refusal(mime_check_content_id(long_id, &err), &err,
                      "is longer than 200 characters"),
              "");
    CHECK(mime_check_content_id("a\"b", &err) == GW_EINVAL);
    CHECK(mime_check_content_id("a(b)", &err) == GW_EINVAL);
out:
    free(long_name);
    free(long_id);
}

TEST(cid_references_must_name_an_inline_attachment)
{
    struct mime_attachment att[2] = {logo, pdf};
    struct gw_error err = {0};

    att[1].content_id = "doc";
    CHECK(mime_check_cid_refs("<img src=\"cid:logo@example.com\">", att, 2,
                              &err) == GW_OK);
    /* RFC 2392: the reference is percent-encoded; any case of "cid:". */
    CHECK(mime_check_cid_refs("<img src=CID:logo%40example.com>", att, 2,
                              &err) == GW_OK);
    CHECK(mime_check_cid_refs("url(cid:logo@example.com) acid:x cid: x-cid:y",
                              att, 2, &err) == GW_OK);
    CHECK_STR(
        refusal(mime_check_cid_refs("<img src=\"cid:logo\">", att, 2, &err),
                &err,
                "references cid:logo but no attachment has that "
                "content_id"),
        "");
    CHECK_STR(refusal(mime_check_cid_refs("<a href='cid:doc'>", att, 2, &err),
                      &err,
                      "references cid:doc but attachments[1] is not inline"),
              "");
    CHECK_STR(refusal(mime_check_cid_refs("<img src=cid:x>", NULL, 0, &err),
                      &err,
                      "references cid:x but no attachment has that "
                      "content_id"),
              "");
out:;
}

TEST(compose_names_the_attachment_field_at_fault)
{
    struct mime_attachment att[3] = {pdf, logo, logo};
    struct mime_options opt = default_options();
    struct mime_message msg = {0};
    struct mime_result res = {0};
    struct mime_addr from;
    struct buf out;

    mk(&from, NULL, "ada@example.com");
    msg = (struct mime_message){
        .from = &from, .attachments = att, .n_attachments = 3};
    buf_init(&out, BIG);
    COMPOSE_FAILS(&msg, &opt, &out, &res, GW_EINVAL,
                  "attachments[2].content_id: is also the content_id of "
                  "attachments[1]");
    msg.n_attachments = 2;
    msg.html = "<img src=\"cid:nothere\">";
    COMPOSE_FAILS(&msg, &opt, &out, &res, GW_EINVAL,
                  "html: references cid:nothere but no attachment has that "
                  "content_id");
    att[1].filename = "";
    COMPOSE_FAILS(&msg, &opt, &out, &res, GW_EINVAL,
                  "attachments[1].filename: is empty");
    att[1].filename = "x.png";
    att[0].content_type = "multipart/mixed";
    COMPOSE_FAILS(&msg, &opt, &out, &res, GW_EINVAL,
                  "attachments[0].content_type: multipart types are made by "
                  "the gateway");
    att[0].content_type = NULL;
    att[0].data = NULL;
    COMPOSE_FAILS(&msg, &opt, &out, &res, GW_EINVAL,
                  "attachments[0].content: is missing");
out:
    buf_free(&out);
    mime_addr_clear(&from);
}

TEST(an_empty_attachment_is_an_empty_part)
{
    struct mime_attachment empty = {"empty.txt", NULL, NULL, 0, false, NULL};
    struct mime_options opt = default_options();
    struct mime_message msg = {0};
    struct mime_result res = {0};
    struct leaves lv = {0};
    struct mime_addr from;
    struct buf out;

    mk(&from, NULL, "ada@example.com");
    msg = (struct mime_message){
        .from = &from, .text = "t", .attachments = &empty, .n_attachments = 1};
    buf_init(&out, BIG);
    COMPOSE(&msg, &opt, &out, &res);
    CHECK_STR(shape(&out, &lv), "multipart/mixed(text/plain,text/plain)");
    CHECK_STR(part_body(lv.v[1]), "");
out:
    leaves_free(&lv);
    buf_free(&out);
    mime_addr_clear(&from);
}

TEST(an_attached_message_goes_7bit_or_8bit_or_as_plain_bytes)
{
    static const char eml[] = "Subject: fwd\r\n\r\nhello\r\n";
    static const char eml8[] = "Subject: fwd\r\n\r\ncaf\xC3\xA9\r\n";
    struct mime_attachment a = {"fwd.eml",       NULL,  eml,
                                sizeof(eml) - 1, false, NULL};
    struct mime_options opt = default_options();
    struct mime_message msg = {0};
    struct mime_result res = {0};
    struct leaves lv = {0};
    struct mime_addr from;
    struct buf out;

    mk(&from, NULL, "ada@example.com");
    msg = (struct mime_message){
        .from = &from, .text = "t", .attachments = &a, .n_attachments = 1};
    buf_init(&out, BIG);
    COMPOSE(&msg, &opt, &out, &res);
    CHECK_STR(shape(&out, &lv), "multipart/mixed(text/plain,message/rfc822)");
    CHECK(check_contains(lv.v[1], "Content-Transfer-Encoding: 7bit\r\n"));
    CHECK_STR(part_body(lv.v[1]), eml);
    /* RFC 2046 5.2.1 allows no base64 for message/rfc822. */
    a.data = eml8;
    a.len = sizeof(eml8) - 1;
    COMPOSE(&msg, &opt, &out, &res);
    CHECK_STR(shape(&out, &lv),
              "multipart/mixed(text/plain,application/octet-stream)");
    CHECK(check_contains(lv.v[1], "Content-Transfer-Encoding: base64\r\n"));
    CHECK(!res.is_8bit);
    opt.allow_8bit = true;
    COMPOSE(&msg, &opt, &out, &res);
    CHECK_STR(shape(&out, &lv), "multipart/mixed(text/plain,message/rfc822)");
    CHECK(check_contains(lv.v[1], "Content-Transfer-Encoding: 8bit\r\n"));
    CHECK_STR(part_body(lv.v[1]), eml8);
    CHECK(res.is_8bit);
out:
    leaves_free(&lv);
    buf_free(&out);
    mime_addr_clear(&from);
}

TEST(the_buffer_limit_gives_elimit)
{
    struct mime_options opt = default_options();
    struct mime_message msg = {0};
    struct mime_result res = {0};
    struct mime_addr from;
    struct buf out;
    char *text = repeat("y", 1000);

    mk(&from, NULL, "ada@example.com");
    msg = (struct mime_message){.from = &from, .text = text};
    buf_init(&out, 300);
    COMPOSE_FAILS(&msg, &opt, &out, &res, GW_ELIMIT,
                  "the composed message exceeds 300 bytes");
out:
    buf_free(&out);
    mime_addr_clear(&from);
    free(text);
}

TEST(tz_parse_takes_the_documented_zones)
{
    struct mime_tz tz;

    CHECK(mime_tz_parse("ut", &tz, NULL) == GW_OK && tz.offset_min == 0);
    CHECK(mime_tz_parse("GMT", &tz, NULL) == GW_OK && tz.offset_min == 0);
    CHECK(mime_tz_parse("Z", &tz, NULL) == GW_OK && !tz.local);
    CHECK(mime_tz_parse("EST", &tz, NULL) == GW_OK && tz.offset_min == -300);
    CHECK(mime_tz_parse("edt", &tz, NULL) == GW_OK && tz.offset_min == -240);
    CHECK(mime_tz_parse("CST", &tz, NULL) == GW_OK && tz.offset_min == -360);
    CHECK(mime_tz_parse("MDT", &tz, NULL) == GW_OK && tz.offset_min == -360);
    CHECK(mime_tz_parse("PST", &tz, NULL) == GW_OK && tz.offset_min == -480);
    CHECK(mime_tz_parse("PDT", &tz, NULL) == GW_OK && tz.offset_min == -420);
    CHECK(mime_tz_parse("+0530", &tz, NULL) == GW_OK && tz.offset_min == 330);
    CHECK(mime_tz_parse("-1200", &tz, NULL) == GW_OK && tz.offset_min == -720);
    CHECK(mime_tz_parse("+1400", &tz, NULL) == GW_OK && tz.offset_min == 840);
    CHECK(mime_tz_parse("Local", &tz, NULL) == GW_OK && tz.local);
out:;
}

TEST(tz_parse_refuses_anything_else)
{
    static const char *const bad[] = {"XYZ",    "+05:30", "+0560",  "+2400",
                                      "0530",   "+053",   "+05300", "-0a00",
                                      "LOCAL ", ""};
    struct gw_error err = {0};
    struct mime_tz tz;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(mime_tz_parse(bad[i], &tz, &err) == GW_EINVAL);
    CHECK(mime_tz_parse("XYZ", &tz, &err) == GW_EINVAL);
    CHECK_STR(err.detail, "unknown timezone \"XYZ\"; use UT, LOCAL, an RFC "
                          "822 zone such as EST, or +hhmm/-hhmm");
    CHECK(mime_tz_parse("\x01", &tz, &err) == GW_EINVAL);
    CHECK_STR(err.detail, "unknown timezone; use UT, LOCAL, an RFC 822 zone "
                          "such as EST, or +hhmm/-hhmm");
out:;
}

const struct unit_test mime_tests[] = {
    UNIT(minimal_message_is_exact),
    UNIT(headers_come_in_the_documented_order),
    UNIT(date_is_written_in_the_requested_zone),
    UNIT(date_in_the_local_zone_uses_its_offset),
    UNIT(date_zero_means_now),
    UNIT(message_id_is_random_hex_at_the_from_domain),
    UNIT(message_id_domain_option_and_fallback),
    UNIT(bcc_is_written_only_with_show_bcc),
    UNIT(names_are_atoms_or_quoted_strings),
    UNIT(non_ascii_names_become_encoded_words),
    UNIT(long_name_word_is_encoded_or_refused),
    UNIT(raw_utf8_without_header_encoding),
    UNIT(utf8_mailbox_needs_smtputf8),
    UNIT(many_recipients_fold_at_78),
    UNIT(japanese_subject_round_trips_through_encoded_words),
    UNIT(emoji_subject_is_never_split_inside_a_character),
    UNIT(long_ascii_word_subject_is_encoded_or_refused),
    UNIT(ascii_subject_folds_at_its_spaces),
    UNIT(folds_never_follow_the_colon_or_strand_blanks),
    UNIT(what_readers_would_misread_is_encoded_or_quoted),
    UNIT(control_bytes_in_header_text_are_encoded),
    UNIT(only_raw_utf8_text_needs_smtputf8),
    UNIT(subject_and_names_cannot_break_a_header),
    UNIT(extra_headers_are_checked_and_encoded),
    UNIT(check_header_refuses_bad_and_owned_fields),
    UNIT(text_body_goes_7bit_with_crlf),
    UNIT(text_and_html_make_multipart_alternative),
    UNIT(no_body_is_an_empty_text_part),
    UNIT(long_line_goes_quoted_printable_and_round_trips),
    UNIT(non_ascii_and_bare_cr_go_quoted_printable),
    UNIT(the_buffer_limit_gives_elimit),
    UNIT(tz_parse_takes_the_documented_zones),
    UNIT(tz_parse_refuses_anything_else),
    UNIT(sender_is_written_unless_it_is_the_author),
    UNIT(eight_bit_only_when_allowed_and_useful),
    UNIT(a_multipart_over_an_8bit_part_says_8bit),
    UNIT(the_tree_is_only_as_deep_as_needed),
    UNIT(related_names_its_root_type),
    UNIT(attachment_parts_carry_their_bytes_and_headers),
    UNIT(plain_file_names_go_as_quoted_strings),
    UNIT(non_ascii_file_names_go_only_as_rfc2231_and_encoded_words),
    UNIT(what_readers_would_misread_goes_encoded),
    UNIT(long_file_names_continue_on_lines_of_78),
    UNIT(inline_images_and_attached_messages_are_named_alike),
    UNIT(continuations_hold_whole_characters),
    UNIT(content_types_are_guessed_from_the_extension),
    UNIT(attachment_fields_are_checked),
    UNIT(cid_references_must_name_an_inline_attachment),
    UNIT(compose_names_the_attachment_field_at_fault),
    UNIT(an_empty_attachment_is_an_empty_part),
    UNIT(an_attached_message_goes_7bit_or_8bit_or_as_plain_bytes),
    {NULL, NULL},
};
