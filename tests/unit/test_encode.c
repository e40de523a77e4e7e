/* Unit tests of the byte-level encoders (mime/encode.c). */
#include "mime/mime.h"
#include "check.h"

#include <stdio.h>
#include <stdlib.h>

typedef enum gw_err (*encoder)(struct buf *, const char *, size_t);

/* Empties `b`, encodes `in` into it and returns the text, NULL on error. */
static const char *run(struct buf *b, encoder fn, const char *in)
{
    buf_reset(b);
    if (fn(b, in, strlen(in)) != GW_OK)
        return NULL;
    return buf_cstr(b);
}

static enum gw_err base64(struct buf *b, const char *s, size_t n)
{
    return gw_base64(b, s, n);
}

static enum gw_err words75(struct buf *b, const char *s, size_t n)
{
    return mime_enc_words(b, s, n, MIME_ENC_WORD_MAX);
}

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

TEST(base64_matches_rfc4648_vectors)
{
    struct buf b;

    buf_init(&b, 1024);
    CHECK_STR(run(&b, base64, ""), "");
    CHECK_STR(run(&b, base64, "f"), "Zg==");
    CHECK_STR(run(&b, base64, "fo"), "Zm8=");
    CHECK_STR(run(&b, base64, "foo"), "Zm9v");
    CHECK_STR(run(&b, base64, "foob"), "Zm9vYg==");
    CHECK_STR(run(&b, base64, "fooba"), "Zm9vYmE=");
    CHECK_STR(run(&b, base64, "foobar"), "Zm9vYmFy");
    CHECK_STR(run(&b, base64, "\xFF\xFE\xFD"), "//79");
out:
    buf_free(&b);
}

TEST(words_encode_short_text_as_one_word)
{
    struct buf b;

    buf_init(&b, 1024);
    CHECK_STR(run(&b, words75, "caf\xC3\xA9"), "=?UTF-8?B?Y2Fmw6k=?=");
    CHECK_STR(run(&b, words75, ""), "");
out:
    buf_free(&b);
}

/* 30 four-byte emoji: 45 bytes fit a 75-character word, so 11 emoji. */
TEST(words_split_between_emoji)
{
    char *emoji = repeat("\xF0\x9F\x98\x80", 30);
    struct buf b;

    buf_init(&b, 4096);
    CHECK_STR(run(&b, words75, emoji),
              "=?UTF-8?B?8J+YgPCfmIDwn5iA8J+YgPCfmIDwn5iA8J+YgPCfmIDwn5iA8J+"
              "YgPCfmIA=?= "
              "=?UTF-8?B?8J+YgPCfmIDwn5iA8J+YgPCfmIDwn5iA8J+YgPCfmIDwn5iA8J+"
              "YgPCfmIA=?= "
              "=?UTF-8?B?8J+YgPCfmIDwn5iA8J+YgPCfmIDwn5iA8J+YgPCfmIA=?=");
out:
    buf_free(&b);
    free(emoji);
}

/* 43 ASCII bytes and a 4-byte emoji do not fit 45 bytes together. */
TEST(words_never_cut_a_character)
{
    char *text = repeat("a", 43);
    char *in = malloc(48);
    struct buf b;

    buf_init(&b, 4096);
    CHECK(in != NULL);
    memcpy(in, text, 43);
    memcpy(in + 43, "\xF0\x9F\x98\x80", 5);
    CHECK_STR(run(&b, words75, in),
              "=?UTF-8?B?YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFh"
              "YWFhYQ==?= =?UTF-8?B?8J+YgA==?=");
out:
    buf_free(&b);
    free(in);
    free(text);
}

TEST(words_first_word_fits_the_room_given)
{
    struct buf b;

    buf_init(&b, 1024);
    /* 5 is below the floor of 20, which holds two 3-byte characters. */
    CHECK(mime_enc_words(&b, "\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC", 9, 5) ==
          GW_OK);
    CHECK_STR(buf_cstr(&b), "=?UTF-8?B?4oKs4oKs?= =?UTF-8?B?4oKs?=");
out:
    buf_free(&b);
}

TEST(seven_bit_needs_ascii_crlf_and_short_lines)
{
    char *line998 = repeat("x", 998), *line999 = repeat("x", 999);

    CHECK(mime_enc_is_7bit("hello\r\nworld\n", 13));
    CHECK(mime_enc_is_7bit("", 0));
    CHECK(!mime_enc_is_7bit("caf\xC3\xA9", 5));
    CHECK(!mime_enc_is_7bit("a\rb", 3));
    CHECK(!mime_enc_is_7bit("a\r", 2));
    CHECK(mime_enc_is_7bit(line998, 998));
    CHECK(!mime_enc_is_7bit(line999, 999));
out:
    free(line998);
    free(line999);
}

TEST(crlf_normalises_every_line_end)
{
    struct buf b;

    buf_init(&b, 1024);
    CHECK_STR(run(&b, mime_enc_crlf, "a\nb\r\nc\rd"), "a\r\nb\r\nc\r\nd");
    CHECK_STR(run(&b, mime_enc_crlf, "\n\n"), "\r\n\r\n");
    CHECK_STR(run(&b, mime_enc_crlf, "x\r"), "x\r\n");
    CHECK_STR(run(&b, mime_enc_crlf, "plain"), "plain");
out:
    buf_free(&b);
}

/*
 * An empty attachment's content is NULL (mime.h), as the data of an
 * empty buffer is: the encoders of its body take (NULL, 0) as the empty
 * input, without arithmetic on the NULL, which a sanitizer build stops at.
 */
TEST(body_encoders_take_null_as_empty)
{
    struct buf b, empty;

    buf_init(&b, 64);
    buf_init(&empty, 64);
    CHECK(empty.data == NULL && empty.len == 0);
    CHECK(buf_puts(&b, "kept") == GW_OK);
    CHECK(mime_enc_crlf(&b, empty.data, empty.len) == GW_OK);
    CHECK(mime_enc_qp(&b, empty.data, empty.len) == GW_OK);
    CHECK(gw_base64(&b, empty.data, empty.len) == GW_OK);
    CHECK(mime_enc_base64_lines(&b, empty.data, empty.len) == GW_OK);
    CHECK_STR(buf_cstr(&b), "kept");
out:
    buf_free(&b);
}

TEST(qp_escapes_what_rfc2045_requires)
{
    struct buf b;

    buf_init(&b, 4096);
    CHECK_STR(run(&b, mime_enc_qp, "caf\xC3\xA9"), "caf=C3=A9");
    CHECK_STR(run(&b, mime_enc_qp, "a=b"), "a=3Db");
    CHECK_STR(run(&b, mime_enc_qp, "a\x01\tb\x7F"), "a=01\tb=7F");
    CHECK_STR(run(&b, mime_enc_qp, "tail \nnext\t"), "tail=20\r\nnext=09");
    CHECK_STR(run(&b, mime_enc_qp, "a\rb\r\nc\n"), "a\r\nb\r\nc\r\n");
out:
    buf_free(&b);
}

TEST(qp_breaks_long_lines_softly)
{
    char *a76 = repeat("a", 76), *a77 = repeat("a", 77);
    char *a75 = repeat("a", 75), *a74 = repeat("a", 74);
    char want[200], in[200];
    struct buf b;

    buf_init(&b, 4096);
    /* The last character of a line may use the 76th column. */
    CHECK_STR(run(&b, mime_enc_qp, a76), a76);
    snprintf(want, sizeof(want), "%s=\r\naa", a75);
    CHECK_STR(run(&b, mime_enc_qp, a77), want);
    /* An "=XX" is never cut by a soft break. */
    snprintf(in, sizeof(in), "%s\xC3\xA9", a74);
    snprintf(want, sizeof(want), "%s=\r\n=C3=A9", a74);
    CHECK_STR(run(&b, mime_enc_qp, in), want);
    /* A trailing space becomes "=20", which may need a line of its own. */
    snprintf(in, sizeof(in), "%s ", a75);
    snprintf(want, sizeof(want), "%s=\r\n=20", a75);
    CHECK_STR(run(&b, mime_enc_qp, in), want);
out:
    buf_free(&b);
    free(a74);
    free(a75);
    free(a76);
    free(a77);
}

/* Decodes `in` into `b`; returns the bytes as text, or "EINVAL@<offset>". */
static const char *decode(struct buf *b, const char *in)
{
    static char why[32];
    size_t bad = 9999;
    enum gw_err rc;

    buf_reset(b);
    rc = gw_base64_decode(b, in, strlen(in), &bad);
    if (rc == GW_OK)
        return buf_cstr(b);
    snprintf(why, sizeof(why), "%s@%zu", rc == GW_EINVAL ? "EINVAL" : "other",
             bad);
    return why;
}

TEST(base64_decode_inverts_the_rfc4648_vectors)
{
    struct buf b;

    buf_init(&b, 1024);
    CHECK_STR(decode(&b, ""), "");
    CHECK_STR(decode(&b, "Zg=="), "f");
    CHECK_STR(decode(&b, "Zm8="), "fo");
    CHECK_STR(decode(&b, "Zm9v"), "foo");
    CHECK_STR(decode(&b, "Zm9vYg=="), "foob");
    CHECK_STR(decode(&b, "Zm9vYmE="), "fooba");
    CHECK_STR(decode(&b, "Zm9vYmFy"), "foobar");
    CHECK_STR(decode(&b, "//79"), "\xFF\xFE\xFD");
    CHECK_STR(decode(&b, "+/+/"), "\xFB\xFF\xBF");
out:
    buf_free(&b);
}

TEST(base64_decode_skips_whitespace_and_missing_padding)
{
    struct buf b;

    buf_init(&b, 1024);
    CHECK_STR(decode(&b, "Zm9v\r\nYmFy\r\n"), "foobar");
    CHECK_STR(decode(&b, " Zm 9v\tYg = = "), "foob");
    CHECK_STR(decode(&b, "Zm9vYg"), "foob");
    CHECK_STR(decode(&b, "Zm9vYmE"), "fooba");
out:
    buf_free(&b);
}

TEST(base64_decode_refuses_what_is_not_base64)
{
    struct buf b;

    buf_init(&b, 1024);
    CHECK_STR(decode(&b, "Zm9v!mFy"), "EINVAL@4");
    CHECK_STR(decode(&b, "Zm9v-_"), "EINVAL@4");
    CHECK_STR(decode(&b, "Zm9vY"), "EINVAL@4");
    CHECK_STR(decode(&b, "Zg==Zg=="), "EINVAL@4");
    CHECK_STR(decode(&b, "Zg==="), "EINVAL@4");
    CHECK_STR(decode(&b, "Zm8=="), "EINVAL@4");
    CHECK_STR(decode(&b, "=Zg="), "EINVAL@0");
    CHECK_STR(decode(&b, "Zg\xC3\xA9"), "EINVAL@2");
out:
    buf_free(&b);
}

TEST(base64_decode_round_trips_every_byte)
{
    unsigned char all[256];
    struct buf enc, dec;

    for (size_t i = 0; i < sizeof(all); i++)
        all[i] = (unsigned char)i;
    buf_init(&enc, 4096);
    buf_init(&dec, 4096);
    for (size_t n = 0; n <= sizeof(all); n += 37) {
        buf_reset(&enc);
        buf_reset(&dec);
        CHECK(mime_enc_base64_lines(&enc, all, n) == GW_OK);
        CHECK(gw_base64_decode(&dec, enc.data != NULL ? enc.data : "", enc.len,
                               NULL) == GW_OK);
        CHECK(dec.len == n && (n == 0 || memcmp(dec.data, all, n) == 0));
    }
out:
    buf_free(&enc);
    buf_free(&dec);
}

TEST(base64_lines_are_76_characters)
{
    char *bytes = repeat("\xAB", 57 * 3 + 1);
    const char *s, *eol;
    struct buf b;

    buf_init(&b, 4096);
    CHECK(mime_enc_base64_lines(&b, bytes, 57) == GW_OK);
    CHECK(b.len == 76 && strchr(buf_cstr(&b), '\r') == NULL);
    buf_reset(&b);
    CHECK(mime_enc_base64_lines(&b, bytes, strlen(bytes)) == GW_OK);
    s = buf_cstr(&b);
    for (int line = 0; line < 3; line++) {
        eol = strstr(s, "\r\n");
        CHECK(eol != NULL && eol - s == 76);
        s = eol + 2;
    }
    CHECK_STR(s, "qw==");
out:
    buf_free(&b);
    free(bytes);
}

TEST(eight_bit_allows_utf8_and_any_line_end)
{
    char *line998 = repeat("\xC3\xA9", 499), *line1000 = repeat("x", 1000);

    CHECK(mime_enc_is_8bit("caf\xC3\xA9\r\nline\rb\n", 14));
    CHECK(mime_enc_is_8bit("", 0));
    CHECK(!mime_enc_is_8bit("a\0b", 3));
    CHECK(mime_enc_is_8bit(line998, 998));
    CHECK(!mime_enc_is_8bit(line1000, 1000));
    CHECK(!mime_enc_is_8bit(line1000, 999));
out:
    free(line998);
    free(line1000);
}

TEST(pct_keeps_attribute_chars_and_escapes_the_rest)
{
    struct buf b;

    buf_init(&b, 1024);
    CHECK(mime_enc_pct(&b, "M\xC3\xA4rz 1.pdf", 11) == GW_OK);
    CHECK_STR(buf_cstr(&b), "M%C3%A4rz%201.pdf");
    buf_reset(&b);
    CHECK(mime_enc_pct(&b, "a*'%()<>@,;:\\\"/[]?=b!#$&+-^_`{|}~", 33) == GW_OK);
    CHECK_STR(buf_cstr(&b), "a%2A%27%25%28%29%3C%3E%40%2C%3B%3A%5C%22%2F%5B"
                            "%5D%3F%3Db!#$&+-^_`{|}~");
    CHECK(mime_enc_pct_len('a') == 1 && mime_enc_pct_len(' ') == 3);
    CHECK(mime_enc_pct_len(0xC3) == 3 && mime_enc_pct_len('%') == 3);
out:
    buf_free(&b);
}

const struct unit_test encode_tests[] = {
    UNIT(base64_matches_rfc4648_vectors),
    UNIT(words_encode_short_text_as_one_word),
    UNIT(words_split_between_emoji),
    UNIT(words_never_cut_a_character),
    UNIT(words_first_word_fits_the_room_given),
    UNIT(seven_bit_needs_ascii_crlf_and_short_lines),
    UNIT(crlf_normalises_every_line_end),
    UNIT(body_encoders_take_null_as_empty),
    UNIT(qp_escapes_what_rfc2045_requires),
    UNIT(qp_breaks_long_lines_softly),
    UNIT(base64_decode_inverts_the_rfc4648_vectors),
    UNIT(base64_decode_skips_whitespace_and_missing_padding),
    UNIT(base64_decode_refuses_what_is_not_base64),
    UNIT(base64_decode_round_trips_every_byte),
    UNIT(base64_lines_are_76_characters),
    UNIT(eight_bit_allows_utf8_and_any_line_end),
    UNIT(pct_keeps_attribute_chars_and_escapes_the_rest),
    {NULL, NULL},
};
