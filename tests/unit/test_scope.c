/* Unit tests of what a token may put in a message (api/scope.c). */
#include "api/scope.h"
#include "check.h"

#include <string.h>

static const struct store_token scoped = {
    .name = "ci", .scope = STORE_SCOPE_SEND, .from_domains = "allowed.example"};

/* Feeds `text` in pieces of `piece` bytes; the status of the first
   refusal, or 0. */
static unsigned scan(const struct store_token *caller, const char *text,
                     size_t piece, struct gw_error *err)
{
    struct api_header_scan s;
    size_t n = strlen(text), at = 0;
    unsigned status = 0;

    api_header_scan_init(&s, caller);
    while (status == 0 && at < n) {
        size_t k = n - at < piece ? n - at : piece;

        status = api_header_scan_feed(&s, text + at, k, false, err);
        at += k;
    }
    if (status == 0)
        status = api_header_scan_feed(&s, "", 0, true, err);
    api_header_scan_free(&s);
    return status;
}

TEST(trace_fields_are_known_in_any_case)
{
    CHECK(api_trace_field("Received", 8));
    CHECK(api_trace_field("rEsEnT-fRoM", 11));
    CHECK(api_trace_field("ARC-Seal", 8));
    CHECK(api_trace_field("dkim-signature", 14));
    CHECK(!api_trace_field("Received-Foo", 12));
    CHECK(!api_trace_field("Resent", 6));
    CHECK(!api_trace_field("X-Received", 10));
out:;
}

TEST(a_bare_cr_cannot_hide_a_field_from_the_scan)
{
    struct gw_error err = {0};

    /* The DATA encoder ends a line at a bare CR, so the server sees a
       Received field here. */
    CHECK(scan(NULL, "Subject: x\rReceived: y\r\n\r\nbody\r\n", 1024, &err) ==
          400);
    CHECK(check_contains(err.detail, "Received:"));
    CHECK(scan(NULL, "Subject: x\r\rReceived: in the body\r\n", 1024, &err) ==
          0);
    CHECK(scan(NULL, "Subject: x\r\n\r\nReceived: body\r\n", 1024, &err) == 0);
out:;
}

TEST(a_scoped_from_is_read_whole_across_pieces)
{
    struct gw_error err = {0};
    const char *folded =
        "From: \"ceo@bank.example\"\r\n <a@allowed.example>\r\n"
        "Subject: x\r\n\r\nbody";

    for (size_t piece = 1; piece < 8; piece++) {
        CHECK(scan(&scoped, folded, piece, &err) == 403);
        CHECK(check_contains(err.detail, "the From field: the display name "
                                         "shows an address at bank.example"));
    }
    CHECK(scan(NULL, folded, 3, &err) == 0);
    CHECK(scan(&scoped, "From: A <a@allowed.example>\r\n\r\n", 2, &err) == 0);
    /* A header that ends without a line end is checked at the end. */
    CHECK(scan(&scoped, "From: x@bank.example", 5, &err) == 403);
out:;
}

TEST(encoded_words_and_lists_are_read_as_a_reader_would)
{
    struct gw_error err = {0};

    CHECK(scan(&scoped, "From: =?x?q?c=40bank.example?= <a@allowed.example>\n",
               64, &err) == 403);
    CHECK(scan(&scoped,
               "From: =?x?Q?c=00=40bank.example?= <a@allowed.example>\n", 64,
               &err) == 403);
    CHECK(scan(&scoped,
               "From: =?x?b?QGJhbmsuZXhhbXBsZQ?= <a@allowed.example>\n", 64,
               &err) == 403);
    CHECK(scan(&scoped,
               "From: \"Doe, J.\" <j@allowed.example>, k@allowed.example\n", 64,
               &err) == 0);
    CHECK(scan(&scoped, "From: j@allowed.example, k@bank.example\n", 64,
               &err) == 403);
    CHECK(scan(&scoped, "Reply-To: visitor@gmail.example\n", 64, &err) == 0);
    CHECK(scan(&scoped, "Reply-To: \"x@bank.example\" <v@gmail.example>\n", 64,
               &err) == 403);
    CHECK(scan(&scoped, "From: a@[192.0.2.1]\n", 64, &err) == 403);
out:;
}

const struct unit_test scope_tests[] = {
    UNIT(trace_fields_are_known_in_any_case),
    UNIT(a_bare_cr_cannot_hide_a_field_from_the_scan),
    UNIT(a_scoped_from_is_read_whole_across_pieces),
    UNIT(encoded_words_and_lists_are_read_as_a_reader_would),
    {NULL, NULL}};
